"""Product widgets (#19 part 2): a product's stars as SVG, its verified reviews as a page
for an iframe that only the shop's verified domain may frame, and its schema.org JSON-LD
(validated with extruct as Google reads review snippets) — no script, no cookies, cached
like the badge. On SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from typing import Any

import extruct
import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape

from badges import product as product_stars
from badges import text as badge_text
from badges.layout import rating_stars
from tests.helpers import bearer, make_merchant, make_staff
from tests.reviewing import publish_review
from tests.signing_in import make_merchant_user, sign_in
from trustseal.extensions import db
from trustseal.merchants import service as merchants
from trustseal.widgets import service as widgets

SVG = "{http://www.w3.org/2000/svg}"
COFFEE = {
    "product_id": "cafe-500",
    "title": "Café de Villa Rica 500 g",
    "quantity": 1,
    "sku": "CVR-500",
    "url": "https://bodega.pe/p/cafe-500",
    "image_url": "https://cdn.bodega.pe/cafe-500.jpg",
}
CUP = {"product_id": "taza-1", "title": "Taza de cerámica", "quantity": 1}
STARS = "/widgets/bodega/product/cafe-500.svg"
PAGE = "/widgets/bodega/reviews?product_id=cafe-500"
JSONLD = "/widgets/bodega/products/cafe-500/jsonld"
HOSTILE = 'Café <script>alert("x")</script> & "más"'


@pytest.fixture
def key(app: Flask) -> str:
    return make_merchant(app)[1]


def rate(client: FlaskClient, key: str, n: int, rating: int, **changes: Any) -> int:
    """A published review of order ``P-n`` rating the coffee ``rating`` stars."""
    items = changes.pop("items", [COFFEE, CUP])
    product = {"product_id": items[0]["product_id"], "rating": rating}
    if "comment" in changes:
        product["comment"] = changes.pop("comment")
    return publish_review(client, key, f"P-{n}", items=items, products=[product], **changes)


@pytest.fixture
def rated(client: FlaskClient, key: str) -> list[int]:
    """Three reviews of the coffee: 5, 4 and 5 stars (mean 4.7)."""
    return [
        rate(client, key, 1, 5, comment="Aroma intenso, molienda fina.", display_name="Lucía Q."),
        rate(client, key, 2, 4, title="Buen café", body="Llegó a tiempo."),
        rate(client, key, 3, 5, comment="El mejor de Villa Rica."),
    ]


def svg_root(answer: Any) -> ET.Element:
    """The SVG document of an answer, parsed (fails on anything but well-formed XML)."""
    assert answer.mimetype == "image/svg+xml"
    return ET.fromstring(answer.data)


def filled(root: ET.Element, colour: str) -> list[ET.Element]:
    return [p for p in root.iter(f"{SVG}polygon") if p.get("fill") == colour]


# --- the stars ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "label"),
    [
        ("es", "Café de Villa Rica 500 g: 4,7 de 5 estrellas, 3 opiniones verificadas"),
        ("en", "Café de Villa Rica 500 g: 4.7 out of 5 stars, 3 verified reviews"),
        ("pt", "Café de Villa Rica 500 g: 4,7 de 5 estrelas, 3 avaliações verificadas"),
    ],
)
def test_stars_show_the_mean_and_count_in_each_language(
    client: FlaskClient, rated: list[int], lang: str, label: str
) -> None:
    answer = client.get(f"{STARS}?lang={lang}")
    assert answer.status_code == 200
    root = svg_root(answer)
    assert root.get("role") == "img" and root.get("aria-label") == label
    assert root.find(f"{SVG}title").text == label
    words = [t.text for t in root.iter(f"{SVG}text")]
    assert words == [label.split(": ")[1].split(" ")[0], label.split(", ")[-1]]
    # four gold stars and a fifth filled to 70 % of its width, over an empty one
    gold = filled(root, product_stars.PALETTES["light"].on)
    assert len(gold) == 5 and len(filled(root, product_stars.PALETTES["light"].off)) == 1
    xs = [float(point.split(",")[0]) for point in gold[-1].get("points").split()]
    assert max(xs) == pytest.approx(4 * (14 + 2) + 0.7 * 14, abs=0.01)
    # nothing fetched, nothing run
    assert b"<script" not in answer.data and b"href" not in answer.data
    assert b"@import" not in answer.data and b"url(" not in answer.data


def test_a_product_without_reviews_says_so_and_an_unknown_shop_is_404(
    app: Flask, client: FlaskClient, key: str
) -> None:
    none_yet = client.get("/widgets/bodega/product/nuevo-1.svg")
    assert none_yet.status_code == 200
    root = svg_root(none_yet)
    assert root.get("aria-label") == "Sin opiniones aún"
    assert filled(root, product_stars.PALETTES["light"].on) == []
    with app.app_context():
        merchants.create_merchant(
            name="Tienda Nueva",
            domain="nueva.pe",
            contact_email="hola@nueva.pe",
            slug="nueva",
            signed_up=True,  # has not proved its domain: not public
        )
        db.session.commit()
    for slug in ("nadie", "nueva"):
        unknown = client.get(f"/widgets/{slug}/product/cafe-500.svg?lang=en")
        assert unknown.status_code == 404
        assert svg_root(unknown).get("aria-label") == "Reviews unavailable"
        for url in (f"/widgets/{slug}/reviews?product_id=x", f"/widgets/{slug}/products/x/jsonld"):
            refused = client.get(url)
            assert refused.status_code == 404 and refused.is_json, url
            assert refused.json["message"] == "No public shop has this address."
        framed = client.get(f"/widgets/{slug}/reviews?product_id=x")
        assert framed.headers["Content-Security-Policy"] == "frame-ancestors 'none'"


def test_dark_theme_and_language_tags(client: FlaskClient, rated: list[int]) -> None:
    dark = svg_root(client.get(f"{STARS}?theme=dark&lang=pt-BR"))
    palette = product_stars.PALETTES["dark"]
    assert len(filled(dark, palette.on)) == 5
    assert {t.get("fill") for t in dark.iter(f"{SVG}text")} == {palette.text, palette.muted}
    assert "estrelas" in dark.get("aria-label")  # pt-BR is Portuguese, as everywhere


@pytest.mark.parametrize(
    ("query", "field"),
    [("lang=fr", "lang"), ("theme=auto", "theme"), ("theme=", "theme"), ("lang=", "lang")],
)
def test_unknown_options_are_422_listing_the_allowed_values(
    client: FlaskClient, key: str, query: str, field: str
) -> None:
    answer = client.get(f"{STARS}?{query}")
    assert answer.status_code == 422 and answer.is_json
    assert answer.json["errors"]["query"][field][0].startswith("One of: ")


def test_hostile_titles_and_names_are_escaped_everywhere(app: Flask, client: FlaskClient) -> None:
    _, key = make_merchant(app, name='Bodega <b>&"Ñandú"</b>')
    item = {**COFFEE, "title": HOSTILE}
    rate(client, key, 1, 4, items=[item], comment='</script><img src=x onerror="alert(1)">')
    root = svg_root(client.get(STARS))
    assert root.get("aria-label").startswith(f"{HOSTILE}: 4,0 de 5 estrellas")
    page = client.get(PAGE).get_data(as_text=True)
    assert "<script" not in page and "<img src=x" not in page and "<b>&" not in page
    assert str(escape(HOSTILE)) in page
    assert "Respuesta" not in page  # no answer yet
    served = client.get(JSONLD)
    assert b"<" not in served.data and b">" not in served.data  # safe inside <script>
    (product,) = jsonld_of(served.get_data(as_text=True))
    assert product["name"] == HOSTILE
    assert product["review"][0]["reviewBody"] == '</script><img src=x onerror="alert(1)">'


def test_long_portuguese_words_fit_the_picture(client: FlaskClient, rated: list[int]) -> None:
    """Every run of text keeps its measured width (textLength) and ends inside the picture,
    in the language with the longest words, and with a four-digit count too."""
    for root in (
        svg_root(client.get(f"{STARS}?lang=pt")),
        ET.fromstring(
            widgets.svg.render(
                product_stars.stars_layout(
                    product_stars.ProductStars(
                        3.25, "3,3", "1.234 avaliações verificadas", "x", "light"
                    )
                ),
                "t",
            )
        ),
    ):
        width = float(root.get("width"))
        for text in root.iter(f"{SVG}text"):
            measured = badge_text.width(text.text, 11, bold=text.get("font-weight") == "bold")
            assert float(text.get("textLength")) == pytest.approx(measured, abs=0.01)
            assert float(text.get("x")) + measured <= width
        stars_end = max(
            float(point.split(",")[0])
            for polygon in root.iter(f"{SVG}polygon")
            for point in polygon.get("points").split()
        )
        first_text = min(float(t.get("x")) for t in root.iter(f"{SVG}text"))
        assert stars_end < first_text  # the words never overlap the stars


def test_partial_stars_are_clipped_at_their_fraction() -> None:
    shapes = rating_stars(0, 0, 10, 2.5, "on", "off", 2)
    ons = [s for s in shapes if s.fill == "on"]
    assert len(ons) == 3 and len([s for s in shapes if s.fill == "off"]) == 3
    assert max(x for x, _ in ons[-1].points) == pytest.approx(24 + 5)
    assert all(x <= 29 for x, _ in ons[-1].points)
    assert [s.fill for s in rating_stars(0, 0, 10, None, "on", "off", 2)] == ["off"] * 5


# --- headers, caching, cookies --------------------------------------------------------

EMBEDDED = (STARS, f"{STARS}?theme=dark", PAGE, JSONLD)


def test_cacheable_like_the_badge_with_strong_etags_and_304(
    client: FlaskClient, key: str, rated: list[int]
) -> None:
    for url in EMBEDDED:
        answer = client.get(url)
        assert answer.status_code == 200, url
        headers = answer.headers
        assert headers["Cache-Control"].startswith("public, max-age=300"), url
        assert headers["X-Content-Type-Options"] == "nosniff", url
        assert headers["Cross-Origin-Resource-Policy"] == "cross-origin", url
        etag = headers["ETag"]
        assert etag.startswith('"') and not etag.startswith('W/"'), url
        again = client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.data == b"", url
        assert again.headers["ETag"] == etag
    assert client.get(STARS).headers["Content-Security-Policy"] == (
        "default-src 'none'; style-src 'unsafe-inline'"
    )
    assert "Access-Control-Allow-Origin" not in client.get(STARS).headers  # an <img> needs none
    assert client.get(JSONLD).headers["Access-Control-Allow-Origin"] == "*"
    assert client.get(JSONLD).mimetype == "application/ld+json"

    # A new review changes every widget of the product, at once.
    before = {url: client.get(url).headers["ETag"] for url in EMBEDDED}
    rate(client, key, 9, 1)
    after = {url: client.get(url).headers["ETag"] for url in EMBEDDED}
    assert all(before[url] != after[url] for url in EMBEDDED)
    assert client.get(STARS, headers={"If-None-Match": before[STARS]}).status_code == 200
    assert "4 opiniones verificadas" in svg_root(client.get(STARS)).get("aria-label")


def test_rendered_once_per_version_unrated_products_too(
    client: FlaskClient, key: str, rated: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    summary = widgets.products.summary

    def counted(merchant_id: int, product_id: str) -> Any:
        asked.append(product_id)
        return summary(merchant_id, product_id)

    monkeypatch.setattr(widgets.products, "summary", counted)
    for _ in range(3):
        assert client.get(STARS).status_code == 200
        assert client.get("/widgets/bodega/product/nuevo-1.svg").status_code == 200
    assert asked == ["cafe-500", "nuevo-1"]
    rate(client, key, 9, 2)  # a new version: rendered again
    client.get(STARS)
    assert asked[-1] == "cafe-500" and len(asked) == 3


def test_no_widget_ever_sets_a_cookie_even_for_a_signed_in_visitor(
    app: Flask, client: FlaskClient, rated: list[int]
) -> None:
    make_merchant_user(app)
    assert sign_in(client, "duena@bodega.pe", "clave-segura-123").status_code == 302
    assert "Set-Cookie" in client.get("/dashboard").headers  # Flask refreshes the session
    urls = [*EMBEDDED, "/widgets/bodega/product/nuevo.svg", "/widgets/nadie/product/x.svg"]
    urls += [f"{PAGE}&limit=0", "/badges/bodega.svg", "/badges/bodega.png"]
    for url in urls:
        answer = client.get(url)
        assert "Set-Cookie" not in answer.headers, url
        assert "Cookie" not in answer.headers.get("Vary", ""), url


def test_removed_review_leaves_the_counts(
    app: Flask, client: FlaskClient, rated: list[int]
) -> None:
    staff = bearer(make_staff(app, "moderator"))
    removed = client.post(
        f"/api/v1/reviews/{rated[0]}/moderation",
        json={"action": "remove", "reason": "spam"},
        headers=staff,
    )
    assert removed.status_code == 200
    assert (
        svg_root(client.get(STARS))
        .get("aria-label")
        .endswith("4,5 de 5 estrellas, 2 opiniones verificadas")
    )
    page = client.get(PAGE).get_data(as_text=True)
    assert "Aroma intenso" not in page and "El mejor de Villa Rica" in page
    (product,) = jsonld_of(client.get(JSONLD).get_data(as_text=True))
    assert product["aggregateRating"]["reviewCount"] == 2
    assert len(product["review"]) == 2


# --- the reviews page -----------------------------------------------------------------


def csp(answer: Any) -> dict[str, str]:
    policy = answer.headers["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


def test_the_reviews_page_shows_summary_distribution_reviews_and_answers(
    client: FlaskClient, key: str, rated: list[int]
) -> None:
    answered = client.put(
        f"/api/v1/reviews/{rated[0]}/response",
        json={"body": "¡Gracias, Lucía! Tostamos cada semana."},
        headers=bearer(key),
    )
    assert answered.status_code == 200
    answer = client.get(PAGE)
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    page = answer.get_data(as_text=True)
    assert '<html lang="es" class="theme-auto">' in page
    assert 'alt="Café de Villa Rica 500 g: 4,7 de 5 estrellas, 3 opiniones verificadas"' in page
    meters = re.findall(r'<meter min="0" max="3" value="(\d)"', page)
    assert meters == ["2", "1", "0", "0", "0"]  # 5, 4, 3, 2, 1 stars
    # newest first: the product's own words, else the review's title and text
    assert page.index("El mejor de Villa Rica") < page.index("Buen café") < page.index("Aroma")
    assert "Llegó a tiempo." in page and "Lucía Q." in page
    assert "Compra informada por la tienda" in page  # orders through the API are declared
    assert "Respuesta de Bodega Ñandú" in page and "Tostamos cada semana." in page
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT[\d:]+Z">\d+ \w+ \d{4}</time>', page)
    assert (
        'href="http://trustseal.test/m/bodega" target="_blank" rel="noopener"' in page
    )  # the shop's page on trustseal, in a new tab
    assert "<script" not in page and "<form" not in page and " style=" not in page
    assert "<style" not in page and "csrf" not in page


def test_the_page_is_framed_by_the_shop_s_verified_domain_only(
    client: FlaskClient, rated: list[int]
) -> None:
    answer = client.get(PAGE)
    policy = csp(answer)
    assert policy["frame-ancestors"] == "https://bodega.pe https://*.bodega.pe"
    assert policy["script-src"] == "'none'" and policy["default-src"] == "'none'"
    assert policy["style-src"] == "'self'" and policy["img-src"] == "'self'"
    assert policy["form-action"] == "'none'" and policy["base-uri"] == "'none'"
    assert "X-Frame-Options" not in answer.headers
    # every other page keeps X-Frame-Options: DENY and frame-ancestors 'none'
    profile = client.get("/m/bodega")
    assert profile.headers["X-Frame-Options"] == "DENY"
    assert csp(profile)["frame-ancestors"] == "'none'"
    assert widgets.frame_ancestors("Tienda.PE.") == "https://tienda.pe https://*.tienda.pe"
    assert widgets.frame_ancestors("café.pe") == "https://xn--caf-dma.pe https://*.xn--caf-dma.pe"
    for odd in ("tienda.pe; script-src *", "tienda.pe *", "localhost", "", "a..pe"):
        assert widgets.frame_ancestors(odd) == "'none'", odd


@pytest.mark.parametrize(
    ("theme", "shown"),
    [("light", "theme=light"), ("dark", "theme=dark"), ("auto", "prefers-color-scheme: dark")],
)
def test_light_dark_and_the_visitor_s_preference(
    client: FlaskClient, rated: list[int], theme: str, shown: str
) -> None:
    page = client.get(f"{PAGE}&theme={theme}&lang=en").get_data(as_text=True)
    assert f'<html lang="en" class="theme-{theme}">' in page
    assert shown in page
    assert "✓ Verified purchase" not in page and "Purchase reported by the shop" in page


def test_more_reviews_is_a_plain_link_to_the_next_page_in_the_same_frame(
    client: FlaskClient, key: str
) -> None:
    for n in range(5):
        rate(client, key, n, 1 + n % 5, comment=f"Opinión número {n}")
    first = client.get(f"{PAGE}&limit=2&lang=pt&theme=dark").get_data(as_text=True)
    assert '<html lang="pt-BR" class="theme-dark">' in first
    assert "Opinión número 4" in first and "Opinión número 3" in first
    assert "Opinión número 2" not in first
    link = re.search(r'<p class="more"><a href="([^"]+)">Mais avaliações</a>', first)
    assert link is not None and "target" not in link.group(0)
    seen = []
    url = html.unescape(link.group(1))
    while url:
        assert "lang=pt" in url and "theme=dark" in url and "limit=2" in url
        page = client.get(url).get_data(as_text=True)
        seen += re.findall(r"Opinión número (\d)", page)
        more = re.search(r'<p class="more"><a href="([^"]+)">', page)
        url = html.unescape(more.group(1)) if more else ""
    assert seen == ["2", "1", "0"]


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ("", 422, "product_id"),
        ("product_id=", 422, "product_id"),
        ("product_id=cafe-500&limit=0", 422, "limit"),
        ("product_id=cafe-500&limit=21", 422, "limit"),
        ("product_id=cafe-500&limit=dos", 422, "limit"),
        ("product_id=cafe-500&limit=%EF%BC%93", 422, "limit"),  # a full-width digit
        ("product_id=cafe-500&lang=fr", 422, "lang"),
        ("product_id=cafe-500&theme=sepia", 422, "theme"),
        ("product_id=cafe-500&cursor=not-a-cursor", 422, "cursor"),
        ("product_id=cafe-500&cursor=" + "x" * 201, 422, "cursor"),
        ("product_id=" + "x" * 101, 404, None),
    ],
)
def test_bad_page_options_are_clear_errors(
    client: FlaskClient, rated: list[int], query: str, status: int, field: str | None
) -> None:
    answer = client.get(f"/widgets/bodega/reviews?{query}")
    assert answer.status_code == status and answer.is_json
    if field:
        assert field in answer.json["errors"]["query"]


def test_impossible_product_ids_are_404_on_every_widget(client: FlaskClient, key: str) -> None:
    long_id = "x" * 101
    for url in (
        f"/widgets/bodega/product/{long_id}.svg",
        f"/widgets/bodega/products/{long_id}/jsonld",
        "/widgets/bodega/product/a%01b.svg",
    ):
        answer = client.get(url)
        assert answer.status_code == 404 and answer.is_json, url
    ok = client.get("/widgets/bodega/product/" + "x" * 100 + ".svg")
    assert ok.status_code == 200
    slashed = client.get("/widgets/bodega/product/linea/cafe%2F500.svg")
    assert slashed.status_code == 200  # a platform's id may hold a slash


# --- the JSON-LD ----------------------------------------------------------------------


def jsonld_of(served: str) -> list[dict[str, Any]]:
    """The JSON-LD items of the served JSON pasted in a page, as extruct reads them."""
    page = f'<html><head><script type="application/ld+json">{served}</script></head></html>'
    return extruct.extract(page, syntaxes=["json-ld"], uniform=True)["json-ld"]


def assert_google_review_snippet(product: dict[str, Any]) -> None:
    """What Google's review snippet guidance requires of a Product with an aggregate
    rating and reviews, and recommends (the scale's bounds)."""
    assert product["@context"] in ("https://schema.org", "http://schema.org")
    assert product["@type"] == "Product" and product["name"]
    rating = product["aggregateRating"]
    assert rating["@type"] == "AggregateRating"
    assert rating["bestRating"] == 5 and rating["worstRating"] == 1
    assert 1 <= rating["ratingValue"] <= 5
    assert isinstance(rating["reviewCount"], int) and rating["reviewCount"] >= 1
    assert rating["ratingCount"] == rating["reviewCount"]
    assert product["review"], "a review snippet needs at least one review"
    for review in product["review"]:
        assert review["@type"] == "Review"
        author = review["author"]
        assert author["@type"] == "Person" and 0 < len(author["name"]) < 100
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", review["datePublished"])
        stars = review["reviewRating"]
        assert stars["@type"] == "Rating" and stars["bestRating"] == 5
        assert stars["worstRating"] <= stars["ratingValue"] <= stars["bestRating"]


def test_jsonld_is_a_product_with_its_aggregate_and_latest_reviews(
    client: FlaskClient, rated: list[int]
) -> None:
    served = client.get(JSONLD)
    assert served.status_code == 200
    (product,) = jsonld_of(served.get_data(as_text=True))
    assert_google_review_snippet(product)
    assert product["name"] == "Café de Villa Rica 500 g"
    assert product["sku"] == "CVR-500" and product["productID"] == "cafe-500"
    assert product["url"] == "https://bodega.pe/p/cafe-500"
    assert product["image"] == "https://cdn.bodega.pe/cafe-500.jpg"
    assert product["aggregateRating"]["ratingValue"] == 4.7
    assert product["aggregateRating"]["reviewCount"] == 3
    bodies = [r.get("reviewBody") for r in product["review"]]
    assert bodies == ["El mejor de Villa Rica.", "Llegó a tiempo.", "Aroma intenso, molienda fina."]
    assert product["review"][1]["name"] == "Buen café"  # the review's title with its text
    assert product["review"][2]["author"]["name"] == "Lucía Q."
    none_yet = client.get("/widgets/bodega/products/nuevo-1/jsonld")
    assert none_yet.status_code == 404 and none_yet.is_json


def test_the_dashboard_lists_each_product_with_its_three_snippets(
    app: Flask, client: FlaskClient, rated: list[int]
) -> None:
    make_merchant_user(app)
    assert sign_in(client, "duena@bodega.pe", "clave-segura-123").status_code == 302
    page = client.get("/dashboard/badge")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    section = text[text.index('id="widgets"') :]
    assert "Widgets de producto" in section and "Café de Villa Rica 500 g" in section
    snippets = [
        html.unescape(s) for s in re.findall(r'<pre class="wrap-all">(.*?)</pre>', section, re.S)
    ]
    stars, frame, data = snippets[:3]
    assert stars.startswith('<img src="http://trustseal.test/widgets/bodega/product/cafe-500.svg')
    assert 'alt="Café de Villa Rica 500 g: 4,7 de 5 estrellas, 3 opiniones verificadas"' in stars
    assert frame.startswith(
        '<iframe src="http://trustseal.test/widgets/bodega/reviews?product_id=cafe-500&amp;lang=es"'
    )
    assert 'title="Opiniones verificadas de Café de Villa Rica 500 g"' in frame
    (product,) = extruct.extract(f"<html>{data}</html>", syntaxes=["json-ld"])["json-ld"]
    assert_google_review_snippet(product)
    assert "http://trustseal.test/widgets/bodega/products/cafe-500/jsonld" in section
    # the taza was never rated: it has no widgets to list
    assert "Taza de cerámica" not in section


def test_the_page_shows_the_product_s_imported_reviews_apart_and_outside_the_stars(
    app: Flask, client: FlaskClient, key: str, rated: list[int]
) -> None:
    from trustseal.imports import service as imports
    from trustseal.jobs import service as jobs

    csv = (
        "date,rating,title,body,author,product_id\n"
        "2025-03-02,1,Malo,Llegó <molido> grueso.,Rosa Díaz,cafe-500\n"
        "2025-03-03,5,Otro,De otro producto.,Rosa Díaz,taza-1\n"
    )
    with app.app_context():
        merchant = merchants.get_by_slug("bodega")
        assert merchant is not None
        imports.start(merchant.id, "antes.csv", csv.encode())
        db.session.commit()
        jobs.run_due_jobs()
        db.session.remove()
    widgets.clear_cache()
    for lang, heading, label in [
        ("es", "Reseñas importadas · no verificadas", "Importada · no verificada"),
        ("pt", "Avaliações importadas · não verificadas", "Importada · não verificada"),
    ]:
        page = client.get(f"{PAGE}&lang={lang}").get_data(as_text=True)
        section = page[page.index('<section class="imported"') :]
        assert heading in section and label in section
        assert "Llegó &lt;molido&gt; grueso." in section and "Rosa D." in section
        assert "De otro producto" not in page  # another product's
        # The stars and the counts above are the verified reviews' alone.
        assert re.findall(r'<meter min="0" max="3" value="(\d)"', page) == ["2", "1", "0", "0", "0"]
    # Further pages are the verified list's; the imported ones are on the first only.
    assert client.get(f"{PAGE}&limit=1").status_code == 200
    page = client.get(PAGE).get_data(as_text=True)
    assert 'alt="Café de Villa Rica 500 g: 4,7 de 5 estrellas, 3 opiniones verificadas"' in page
