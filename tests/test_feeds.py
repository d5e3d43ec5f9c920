"""Google feeds (#19 part 3): a shop's Product Reviews feed (schema 2.3) and Merchant
Reviews feed (schema 5.0), valid against the schemas written down in tests/schemas/, kept
up to date incrementally (one new review renders one entry) and served with a strong ETag.
"""

from __future__ import annotations

import html
import threading
from collections import Counter
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree
from sqlalchemy import update

from tests.helpers import bearer, make_merchant, make_staff
from tests.reviewing import publish_review
from tests.signing_in import make_merchant_user, sign_in
from trustseal.extensions import db
from trustseal.feeds import service as feeds
from trustseal.feeds import xml as feed_xml
from trustseal.merchants.models import Merchant
from trustseal.resolutions.service import Outcome
from trustseal.reviews import service as reviews

SCHEMAS = Path(__file__).parent / "schemas"
PRODUCT_URL = "/feeds/bodega/product-reviews.xml"
MERCHANT_URL = "/feeds/bodega/merchant-reviews.xml"
NS = {"m": feed_xml.MERCHANT_NAMESPACE}

COFFEE = {
    "product_id": "cafe-500",
    "title": "Café & <Villa Rica> 500 g",
    "quantity": 1,
    "sku": "CVR-500",
    "url": "https://bodega.pe/p/cafe-500?x=1&y=2",
}
CUP = {"product_id": "taza-1", "title": "Taza", "quantity": 1, "url": "https://bodega.pe/p/taza"}
NO_URL = {"product_id": "bolsa", "title": "Bolsa de tela", "quantity": 1}


@cache
def _schema(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMAS / name)))


def valid(body: bytes, schema: str) -> etree._Element:
    """The parsed feed, asserted valid against Google's schema as written down."""
    document = etree.fromstring(body)
    checker = _schema(schema)
    assert checker.validate(document), checker.error_log
    return document


def product_feed(client: FlaskClient, slug: str = "bodega") -> etree._Element:
    answer = client.get(f"/feeds/{slug}/product-reviews.xml")
    assert answer.status_code == 200, answer.data
    return valid(answer.data, "product_reviews_2.3.xsd")


def merchant_feed(client: FlaskClient, slug: str = "bodega") -> etree._Element:
    answer = client.get(f"/feeds/{slug}/merchant-reviews.xml")
    assert answer.status_code == 200, answer.data
    return valid(answer.data, "merchant_reviews_5.0.xsd")


def product_entries(document: etree._Element) -> dict[str, etree._Element]:
    return {review.findtext("review_id"): review for review in document.iterfind("reviews/review")}


def merchant_entries(document: etree._Element) -> dict[str, etree._Element]:
    return {review.get("id"): review for review in document.iterfind("m:reviews/m:review", NS)}


@pytest.fixture
def key(app: Flask) -> str:
    return make_merchant(app)[1]


def rate(
    client: FlaskClient, key: str, external_id: str, *ratings: dict[str, Any], **more: Any
) -> int:
    """A published review of a new purchase of coffee, a cup and a bag, rating ``ratings``."""
    return publish_review(
        client, key, external_id, items=[COFFEE, CUP, NO_URL], products=list(ratings), **more
    )


def erase(app: Flask, review_id: int) -> None:
    with app.app_context():
        review = reviews.get(review_id)
        assert review is not None
        assert reviews.erase_personal_data([review.purchase_id]) == 1
        db.session.commit()


def moderate(app: Flask, client: FlaskClient, review_id: int, action: str) -> None:
    moderator = make_staff(app, "moderator", email=f"mod-{action}@cert.pe")
    answer = client.post(
        f"/api/v1/reviews/{review_id}/moderation",
        json={"action": action, "reason": "spam"},
        headers=bearer(moderator),
    )
    assert answer.status_code == 200, answer.json


def test_both_feeds_are_valid_and_say_what_the_reviews_show(
    app: Flask, client: FlaskClient, key: str
) -> None:
    """Product ratings with and without words of their own, an answer, odd characters, a
    product with no address, a removed review and an erased one: both feeds valid."""
    odd = rate(
        client,
        key,
        "A-1",
        {"product_id": "cafe-500", "rating": 5, "comment": "Rico & <fuerte> ☕😀 قهوة ممتازة"},
        {"product_id": "taza-1", "rating": 3},
        {"product_id": "bolsa", "rating": 4, "comment": "Resistente"},
        title="Todo bien & rápido",
        body="Pedido completo <sin> problemas 👍",
        display_name="Ana & <Luis>",
    )
    answered = client.put(
        f"/api/v1/reviews/{odd}/response", json={"body": "¡Gracias!"}, headers=bearer(key)
    )
    assert answered.status_code == 200
    removed = rate(client, key, "A-2", {"product_id": "cafe-500", "rating": 1, "comment": "Mal"})
    moderate(app, client, removed, "remove")
    erased = rate(client, key, "A-3", {"product_id": "taza-1", "rating": 2, "comment": "Rota"})
    erase(app, erased)
    plain = rate(client, key, "A-4", rating=5, title=None, body="Sin productos calificados.")

    products = product_entries(product_feed(client))
    # Coffee and cup of the first review; the bag has no address Google could match; the
    # removed and the erased reviews are not there; the last review rated no product.
    assert sorted(products) == ["1", "2"]
    coffee, cup = products["1"], products["2"]
    assert coffee.findtext("content") == "Rico & <fuerte> ☕😀 قهوة ممتازة"
    assert coffee.find("title") is None  # its own words: the review's title is not theirs
    assert coffee.findtext("reviewer/name") == "Ana & <Luis>"
    assert coffee.find("reviewer/name").get("is_anonymous") is None
    assert coffee.findtext("ratings/overall") == "5"
    assert coffee.findtext("review_url") == f"http://trustseal.test/m/bodega#r{odd}"
    assert coffee.find("review_url").get("type") == "group"
    assert coffee.findtext("products/product/product_url") == COFFEE["url"]
    assert coffee.findtext("products/product/product_name") == COFFEE["title"]
    assert coffee.findtext("products/product/product_ids/skus/sku") == "CVR-500"
    assert coffee.findtext("collection_method") == "post_fulfillment"
    assert coffee.findtext("transaction_id") == str(odd)
    # No words of its own: the words and title of the purchase's review.
    assert cup.findtext("content") == "Pedido completo <sin> problemas 👍"
    assert cup.findtext("title") == "Todo bien & rápido"
    assert cup.find("products/product/product_ids") is None  # no SKU given

    shop = merchant_feed(client)
    merchant = shop.find("m:merchants/m:merchant", NS)
    assert merchant.get("id") == "bodega"
    assert merchant.findtext("m:name", namespaces=NS) == "Bodega Ñandú"
    assert merchant.findtext("m:merchant_url", namespaces=NS) == "https://bodega.pe"
    assert merchant.findtext("m:rating_url", namespaces=NS) == "http://trustseal.test/m/bodega"
    entries = merchant_entries(shop)
    assert sorted(entries, key=int) == [str(odd), str(erased), str(plain)]
    first = entries[str(odd)]
    assert first.get("mid") == "bodega"
    assert first.findtext("m:reviewer_name", namespaces=NS) == "Ana & <Luis>"
    assert first.findtext("m:title", namespaces=NS) == "Todo bien & rápido"
    assert first.findtext("m:content", namespaces=NS) == "Pedido completo <sin> problemas 👍"
    assert first.findtext("m:ratings/m:overall", namespaces=NS) == "4"
    assert first.findtext("m:country_code", namespaces=NS) == "PE"
    assert first.findtext("m:collection_method", namespaces=NS) == "after_fulfillment"
    # An erased review keeps its rating, under the generic name, without words.
    gone = entries[str(erased)]
    assert gone.findtext("m:content", namespaces=NS) in ("", None)
    assert gone.find("m:title", NS) is None
    assert gone.findtext("m:reviewer_name", namespaces=NS) == reviews.ERASED_NAME
    assert "Rota" not in etree.tostring(shop, encoding="unicode")
    # No email, ever.
    for body in (client.get(PRODUCT_URL).data, client.get(MERCHANT_URL).data):
        assert b"@" not in body


def test_a_shop_without_reviews_gets_valid_feeds_without_reviews(
    client: FlaskClient, key: str
) -> None:
    products = product_feed(client)
    assert products.findtext("version") == "2.3"
    assert products.findtext("publisher/name") == "trustseal.test"  # the certifier
    assert products.findtext("aggregator/name") == "trustseal"
    assert products.find("reviews") is None
    shop = merchant_feed(client)
    assert shop.find("m:reviews", NS) is None
    assert shop.find("m:merchants/m:merchant", NS).get("id") == "bodega"


def test_the_publisher_is_the_certifier_when_named(
    app: Flask, client: FlaskClient, key: str
) -> None:
    app.config["TRUSTSEAL_CERTIFIER_NAME"] = "Certificadora Andina & Co."
    assert product_feed(client).findtext("publisher/name") == "Certificadora Andina & Co."


def test_feeds_are_served_with_a_strong_etag_and_answer_304(client: FlaskClient, key: str) -> None:
    rate(client, key, "A-1", {"product_id": "cafe-500", "rating": 5, "comment": "Rico"})
    for url in (PRODUCT_URL, MERCHANT_URL):
        first = client.get(url)
        assert first.status_code == 200
        assert first.headers["Content-Type"] == "application/xml; charset=utf-8"
        assert first.headers["Cache-Control"] == "public, max-age=300, stale-while-revalidate=60"
        assert first.headers["X-Content-Type-Options"] == "nosniff"
        etag = first.headers["ETag"]
        assert etag.startswith('"') and not etag.startswith("W/")
        again = client.get(url)
        assert again.headers["ETag"] == etag and again.data == first.data
        unchanged = client.get(url, headers={"If-None-Match": etag})
        assert unchanged.status_code == 304 and unchanged.data == b""
        assert unchanged.headers["ETag"] == etag
        assert client.get(url, headers={"If-None-Match": f'"x", {etag}'}).status_code == 304
        assert client.head(url).headers["ETag"] == etag

    etags = {url: client.get(url).headers["ETag"] for url in (PRODUCT_URL, MERCHANT_URL)}
    rate(client, key, "A-2", {"product_id": "taza-1", "rating": 4, "comment": "Linda"})
    for url, etag in etags.items():
        moved = client.get(url, headers={"If-None-Match": etag})
        assert moved.status_code == 200 and moved.headers["ETag"] != etag


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How many entries each feed rendered (the builder's calls)."""
    counted: Counter[str] = Counter()

    def counting(name: str, render: Callable[..., bytes]) -> Callable[..., bytes]:
        def wrapped(*args: Any) -> bytes:
            counted[name] += 1
            return render(*args)

        return wrapped

    monkeypatch.setattr(feed_xml, "product_entry", counting("product", feed_xml.product_entry))
    monkeypatch.setattr(feed_xml, "merchant_entry", counting("merchant", feed_xml.merchant_entry))
    return counted


def fetch_both(client: FlaskClient) -> tuple[bytes, bytes]:
    return client.get(PRODUCT_URL).data, client.get(MERCHANT_URL).data


def test_one_more_review_renders_one_entry_and_nothing_renders_nothing(
    app: Flask, client: FlaskClient, key: str, renders: Counter[str]
) -> None:
    first = rate(client, key, "A-1", {"product_id": "cafe-500", "rating": 5, "comment": "Rico"})
    for n in range(2, 5):
        rate(client, key, f"A-{n}", {"product_id": "taza-1", "rating": 4, "comment": "Linda"})
    fetch_both(client)
    assert renders == {"product": 4, "merchant": 4}  # built whole, once

    renders.clear()
    kept = fetch_both(client)
    feeds._documents.clear()  # another process: it shares the kept entries
    assert fetch_both(client) == kept
    assert renders == {}

    rate(client, key, "A-5", {"product_id": "taza-1", "rating": 2, "comment": "Pequeña"})
    fetch_both(client)
    assert renders == {"product": 1, "merchant": 1}

    renders.clear()  # an answer appends a leaf naming its review: that review alone
    client.put(f"/api/v1/reviews/{first}/response", json={"body": "Gracias"}, headers=bearer(key))
    fetch_both(client)
    assert renders == {"product": 1, "merchant": 1}

    renders.clear()  # an erasure appends no leaf: its review, found by the public version
    erase(app, first)
    products, shop = fetch_both(client)
    assert renders == {"merchant": 1}  # and the product entry is gone (it had no words left)
    assert b"Rico" not in products and b"Rico" not in shop
    assert len(product_entries(valid(products, "product_reviews_2.3.xsd"))) == 4


def test_kept_entries_equal_a_rebuild_after_every_kind_of_change(
    app: Flask, client: FlaskClient, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Served incrementally after publication, answer, removal, restoration, erasure and a
    product renamed by a newer order line: the same bytes as a feed built whole."""
    a = rate(client, key, "A-1", {"product_id": "cafe-500", "rating": 5, "comment": "Rico"})
    b = rate(client, key, "A-2", {"product_id": "taza-1", "rating": 4})
    fetch_both(client)
    client.put(f"/api/v1/reviews/{a}/response", json={"body": "Gracias"}, headers=bearer(key))
    fetch_both(client)
    moderate(app, client, b, "remove")
    fetch_both(client)
    moderate(app, client, b, "restore")
    fetch_both(client)
    c = rate(client, key, "A-3", {"product_id": "cafe-500", "rating": 3, "comment": "Normal"})
    fetch_both(client)
    erase(app, c)
    fetch_both(client)
    renamed = {**COFFEE, "title": "Café Villa Rica (nuevo)", "url": "https://bodega.pe/cafe"}
    publish_review(
        client, key, "A-4", items=[renamed], products=[{"product_id": "cafe-500", "rating": 4}]
    )
    incremental = fetch_both(client)
    products = product_entries(valid(incremental[0], "product_reviews_2.3.xsd"))
    # Every entry of the coffee names it as its latest order line does.
    coffee = [e for e in products.values() if e.findtext(".//product_url") == renamed["url"]]
    assert len(coffee) == 2 and b"Villa Rica 500 g" not in incremental[0]

    monkeypatch.setattr(feeds, "FORMAT", feeds.FORMAT + 1)  # a new rendering: built whole
    assert fetch_both(client) == incremental


def test_a_removed_review_leaves_both_feeds_and_comes_back_restored(
    app: Flask, client: FlaskClient, key: str
) -> None:
    review = rate(client, key, "A-1", {"product_id": "cafe-500", "rating": 1, "comment": "Malo"})
    assert len(product_entries(product_feed(client))) == 1
    assert list(merchant_entries(merchant_feed(client))) == [str(review)]
    moderate(app, client, review, "remove")
    assert product_entries(product_feed(client)) == {}
    assert merchant_entries(merchant_feed(client)) == {}
    moderate(app, client, review, "restore")
    assert len(product_entries(product_feed(client))) == 1
    assert list(merchant_entries(merchant_feed(client))) == [str(review)]


def test_the_shops_own_details_are_never_stale(app: Flask, client: FlaskClient, key: str) -> None:
    """A change that is no review's (the shop's name) shows at once."""
    merchant_feed(client)
    with app.app_context():
        db.session.execute(update(Merchant).values(name="Bodega Nueva & Cía"))
        db.session.commit()
    name = merchant_feed(client).findtext("m:merchants/m:merchant/m:name", namespaces=NS)
    assert name == "Bodega Nueva & Cía"


@pytest.mark.parametrize("feed", ["product-reviews.xml", "merchant-reviews.xml"])
def test_unknown_and_unproven_shops_have_no_feed(
    app: Flask, client: FlaskClient, key: str, feed: str
) -> None:
    for slug in ("nadie", "x" * 300, "%C3%B1and%C3%BA", "BODEGA", "bodega%00"):
        missing = client.get(f"/feeds/{slug}/{feed}")
        assert missing.status_code in (400, 404)
        assert missing.json["code"] == missing.status_code  # JSON, as every machine-read path
    assert client.get(f"/feeds/nadie/{feed}").json["message"] == "No such shop."
    assert client.get(f"/feeds/..%2F..%2Fetc/{feed}").status_code == 404
    with app.app_context():
        db.session.execute(update(Merchant).values(domain_status="pending"))
        db.session.commit()
    assert client.get(f"/feeds/bodega/{feed}").status_code == 404
    assert client.post(f"/feeds/bodega/{feed}").status_code == 405


def test_an_update_by_the_reviewer_is_in_the_merchant_feed_in_their_language(
    app: Flask, client: FlaskClient, key: str
) -> None:
    review = publish_review(client, key, "A-1", rating=2, body="Llegó roto.")
    with app.app_context():
        reviews.record_update(review, Outcome(resolved=True, rating=5, comment="Me lo cambiaron."))
        db.session.commit()
    entry = merchant_entries(merchant_feed(client))[str(review)]
    assert entry.findtext("m:ratings/m:overall", namespaces=NS) == "5"  # what the score counts
    words = entry.findtext("m:content", namespaces=NS)
    assert words == "Llegó roto.\n\nActualización: Me lo cambiaron."
    created = entry.findtext("m:create_timestamp", namespaces=NS)
    assert entry.findtext("m:last_update_timestamp", namespaces=NS) >= created


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("es", "Feeds de reseñas para Google"),
        ("en", "Google review feeds"),
        ("pt", "Feeds de avaliações para o Google"),
    ],
)
def test_the_dashboard_gives_the_two_feed_addresses(app: Flask, lang: str, words: str) -> None:
    make_merchant_user(app)
    dashboard = app.test_client()
    sign_in(dashboard, "duena@bodega.pe", "clave-segura-123")
    text = html.unescape(dashboard.get(f"/dashboard/badge?lang={lang}").get_data(as_text=True))
    assert words in text
    for url in ("http://trustseal.test" + PRODUCT_URL, "http://trustseal.test" + MERCHANT_URL):
        assert text.count(url) == 2  # shown, and on its copy button


@pytest.mark.postgres_only
def test_servers_fetching_at_once_render_each_change_once_and_agree(
    app: Flask, client: FlaskClient, key: str, renders: Counter[str]
) -> None:
    """Eight requests at once, on a new feed and then after a new review: one of them
    renders (the others wait on the feed's lock, then find it done), all serve one ETag."""
    for n in range(1, 4):
        rate(client, key, f"A-{n}", {"product_id": "taza-1", "rating": 4, "comment": "Linda"})

    def fetch_at_once() -> set[tuple[int, str]]:
        barrier = threading.Barrier(8)
        answers: list[tuple[int, str]] = []

        def fetch() -> None:
            local = app.test_client()
            barrier.wait()
            answer = local.get(PRODUCT_URL)
            answers.append((answer.status_code, answer.headers.get("ETag", "")))

        threads = [threading.Thread(target=fetch) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(answers) == 8
        return set(answers)

    (first,) = fetch_at_once()
    assert first[0] == 200 and renders == {"product": 3}
    rate(client, key, "A-4", {"product_id": "taza-1", "rating": 2, "comment": "Pequeña"})
    renders.clear()
    (second,) = fetch_at_once()
    assert second[0] == 200 and second[1] != first[1] and renders == {"product": 1}


def test_a_service_without_a_public_address_says_so_instead_of_a_broken_feed(
    app: Flask, client: FlaskClient, key: str
) -> None:
    app.config["TRUSTSEAL_BASE_URL"] = "http://localhost:8000"  # no host Google could reach
    for url in (PRODUCT_URL, MERCHANT_URL):
        refused = client.get(url)
        assert refused.status_code == 503
        assert "cannot be linked to" in refused.json["message"]


def test_feeds_never_set_a_cookie_even_for_a_signed_in_merchant(
    app: Flask, client: FlaskClient
) -> None:
    make_merchant(app)
    make_merchant_user(app)
    assert sign_in(client, "duena@bodega.pe", "clave-segura-123").status_code == 302
    assert "Set-Cookie" in client.get("/dashboard").headers  # the session is refreshed there
    for url in ("/feeds/bodega/product-reviews.xml", "/feeds/bodega/merchant-reviews.xml"):
        answer = client.get(url)
        assert answer.status_code == 200 and "public" in answer.headers["Cache-Control"]
        assert "Set-Cookie" not in answer.headers, url


def test_an_import_of_thousands_of_reviews_renders_no_entry(
    app: Flask,
    client: FlaskClient,
    key: str,
    renders: Counter[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Imported reviews are in no feed, and their thousands of leaves change no entry: no
    rebuild at the next fetch (a rebuild renders every review in one request)."""
    from tests.test_imports import generic_rows, run_jobs, upload

    rate(client, key, "A-1", {"product_id": "cafe-500", "rating": 5, "comment": "Rico"})
    kept = fetch_both(client)
    renders.clear()
    monkeypatch.setattr(feeds, "REBUILD_AFTER", 10)  # an import of 30 rows is "thousands"
    assert upload(client, key, generic_rows(30)).status_code == 202
    run_jobs(app)
    assert fetch_both(client) == kept
    assert renders == {}
