"""Product widgets for a merchant's own pages: a product's stars (SVG), its verified
reviews as a page for an iframe, and its schema.org JSON-LD — no JavaScript, no cookies,
cached like the badge. Rendering of the stars lives in the top-level ``badges`` package;
the products' numbers and reviews come through the reviews domain's door."""
