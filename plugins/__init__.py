"""Platform plugins (Shopify, WooCommerce, VTEX), found through the entry-point group
``trustseal.platforms`` exactly as a third-party plugin would be."""
