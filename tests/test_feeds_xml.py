"""The pure builders of the Google feeds (trustseal/feeds/xml.py): golden files, escaping of
any text, and what each schema refuses — no app, no database.

The golden files are tests/data/feeds/*.xml; after a deliberate change to the rendering,
write them again with ``PYTHONPATH=. python -m tests.test_feeds_xml`` and read the diff.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from trustseal.feeds import xml as feed_xml
from trustseal.feeds.xml import ProductReview, Shop, ShopReview, Source

HERE = Path(__file__).parent
GOLDEN = HERE / "data" / "feeds"
SCHEMAS = HERE / "schemas"
WHEN = datetime(2026, 11, 2, 15, 4, 5, tzinfo=UTC)
LATER = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)
# What reviewers and shops write: markup, entities, quotes, emoji, Arabic and Hebrew, the
# right-to-left mark and override, a vertical tab and a NUL (no XML can carry those two).
ODD = "Rico & <b>fuerte</b> \"sí\" 'ok' ☕😀 قهوة שלום \u200f\u202e fin\x0b\x00."

PRODUCTS = [
    ProductReview(
        id="11",
        transaction_id="7",
        reviewer="Ana & <Luis>",
        anonymous=False,
        written_at=WHEN,
        title=None,
        content=ODD,
        url="https://sello.example/m/bodega#r7",
        rating=5,
        product_name="Café & <Villa Rica> 500 g",
        product_url="https://bodega.pe/p/cafe?x=1&y=2",
        sku="CVR-500",
    ),
    ProductReview(
        id="12",
        transaction_id="8",
        reviewer="Cliente verificado",
        anonymous=True,
        written_at=LATER,
        title="  Todo bien  ",
        content="Llegó a tiempo.\nBien empacado.",
        url="https://sello.example/m/bodega#r8",
        rating=1,
        product_name=None,
        product_url="https://bodega.pe/p/taza",
        sku="   ",
    ),
]
SHOP = Shop(
    id="bodega",
    name="Bodega Ñandú & Hijos",
    url="https://bodega.pe",
    rating_url="https://sello.example/m/bodega",
    created_at=WHEN,
    updated_at=LATER,
)
SHOP_REVIEWS = [
    ShopReview(
        id="7",
        reviewer="Ana & <Luis>",
        written_at=WHEN,
        updated_at=LATER,
        country="PE",
        title=ODD,
        content=ODD,
        rating=4,
    ),
    ShopReview(
        id="8",
        reviewer=None,
        written_at=LATER,
        updated_at=WHEN,  # never before it was written
        country="BR",
        title=None,
        content="",
        rating=2,
    ),
]


def product_document() -> bytes:
    entries = [feed_xml.product_entry(review) for review in PRODUCTS]
    return b"".join(feed_xml.product_feed(Source("Certificadora Andina"), entries))


def merchant_document() -> bytes:
    entries = [feed_xml.merchant_entry(SHOP.id, review) for review in SHOP_REVIEWS]
    return b"".join(feed_xml.merchant_feed(SHOP, entries))


@cache
def schema(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMAS / name)))


def assert_valid(body: bytes, name: str) -> etree._Element:
    document = etree.fromstring(body)
    checker = schema(name)
    assert checker.validate(document), checker.error_log
    return document


def test_the_product_feed_is_its_golden_file_and_valid() -> None:
    body = product_document()
    assert body == (GOLDEN / "product_reviews.xml").read_bytes()
    document = assert_valid(body, "product_reviews_2.3.xsd")
    first, second = document.iterfind("reviews/review")
    assert first.findtext("content") == ODD.replace("\x0b", "").replace("\x00", "")
    assert first.findtext("reviewer/name") == "Ana & <Luis>"
    assert second.find("reviewer/name").get("is_anonymous") == "true"
    assert second.findtext("title") == "  Todo bien  "
    assert second.find("products/product/product_ids") is None  # a blank SKU is none


def test_the_merchant_feed_is_its_golden_file_and_valid() -> None:
    body = merchant_document()
    assert body == (GOLDEN / "merchant_reviews.xml").read_bytes()
    document = assert_valid(body, "merchant_reviews_5.0.xsd")
    ns = {"m": feed_xml.MERCHANT_NAMESPACE}
    first, second = document.iterfind("m:reviews/m:review", ns)
    assert first.findtext("m:last_update_timestamp", namespaces=ns) == "2026-11-20T09:00:00Z"
    assert second.findtext("m:last_update_timestamp", namespaces=ns) == "2026-11-20T09:00:00Z"
    assert second.find("m:reviewer_name", ns) is None
    assert second.findtext("m:content", namespaces=ns) in ("", None)


def test_feeds_without_reviews_are_valid_and_have_no_reviews_element() -> None:
    products = b"".join(feed_xml.product_feed(Source("C"), []))
    assert assert_valid(products, "product_reviews_2.3.xsd").find("reviews") is None
    shop = b"".join(feed_xml.merchant_feed(SHOP, iter(())))
    assert b"<reviews>" not in shop
    assert_valid(shop, "merchant_reviews_5.0.xsd")


texts = st.text(st.characters(codec="utf-8"), max_size=60)


@settings(max_examples=60, deadline=None)
@given(name=texts, title=texts, content=texts, product=texts, sku=texts)
def test_any_text_makes_a_valid_feed_or_a_clear_refusal(
    name: str, title: str, content: str, product: str, sku: str
) -> None:
    """Whatever a reviewer or an order line holds, the entry is valid XML of the schema
    and keeps the text (less what XML cannot carry); blank words are refused by name."""
    review = ProductReview(
        id="1",
        transaction_id="1",
        reviewer=name,
        anonymous=False,
        written_at=WHEN,
        title=title,
        content=content,
        url="https://sello.example/m/b#r1",
        rating=3,
        product_name=product,
        product_url="https://b.pe/p",
        sku=sku,
    )
    if feed_xml.text_or_none(content) is None or feed_xml.text_or_none(name) is None:
        with pytest.raises(ValueError, match="needs"):
            feed_xml.product_entry(review)
        return
    body = b"".join(feed_xml.product_feed(Source("C"), [feed_xml.product_entry(review)]))
    entry = assert_valid(body, "product_reviews_2.3.xsd").find("reviews/review")
    # XML turns a carriage return into a line feed on reading: compare as a parser sees it.
    seen = feed_xml.clean(content).replace("\r\n", "\n").replace("\r", "\n")
    assert entry.findtext("content") == seen

    shop_review = ShopReview("1", name, WHEN, WHEN, "PE", title, content, 3)
    shop_body = b"".join(
        feed_xml.merchant_feed(SHOP, [feed_xml.merchant_entry("bodega", shop_review)])
    )
    assert_valid(shop_body, "merchant_reviews_5.0.xsd")


@pytest.mark.parametrize(
    ("text", "cleaned"),
    [
        ("a\x00b\x01c\x1fd", "abcd"),
        ("tab\tline\nreturn\r", "tab\tline\nreturn\r"),
        ("\ufffe\uffff\ud800x", "x"),
        ("😀 \u200f \u202e", "😀 \u200f \u202e"),
    ],
)
def test_clean_drops_only_what_xml_cannot_carry(text: str, cleaned: str) -> None:
    assert feed_xml.clean(text) == cleaned


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (None, None),
        ("", None),
        (" \t\r\n", None),
        ("\x00 ", None),
        ("\u00a0", "\u00a0"),
        (" a ", " a "),
    ],
)
def test_text_or_none_is_the_schemas_non_empty_string(text: str | None, kept: str | None) -> None:
    assert feed_xml.text_or_none(text) == kept


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://bodega.pe/p?a=1&b=2", True),
        ("http://127.0.0.1:8000/m/x", True),
        ("ftp://bodega.pe/p", False),
        ("https://localhost/p", False),
        ("https://bodega.pe/a b", False),
        ("bodega.pe/p", False),
        ("https://bodega.pe/\x00", False),
        (None, False),
    ],
)
def test_urls_the_schemas_take(url: str | None, ok: bool) -> None:
    assert feed_xml.is_http_url(url) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("bodega", True),
        ("123", True),
        ("a.b-c_d", True),
        ("", False),
        ("a b", False),
        ("x" * 256, False),
        ("ñandú", False),
    ],
)
def test_ids_the_merchant_feed_takes(value: str, ok: bool) -> None:
    assert feed_xml.is_feed_id(value) is ok


def test_what_the_schemas_cannot_take_is_refused_with_a_reason() -> None:
    good = PRODUCTS[0]
    for bad, reason in (
        (good.__class__(**{**good.__dict__, "content": " \n"}), "needs words"),
        (good.__class__(**{**good.__dict__, "rating": 6}), "1 to 5"),
        (good.__class__(**{**good.__dict__, "rating": 0}), "1 to 5"),
        (good.__class__(**{**good.__dict__, "product_url": "bodega.pe"}), "URL"),
        (good.__class__(**{**good.__dict__, "url": "https://localhost/m"}), "URL"),
    ):
        with pytest.raises(ValueError, match=reason):
            feed_xml.product_entry(bad)
    with pytest.raises(ValueError, match="country"):
        feed_xml.merchant_entry("bodega", ShopReview("1", None, WHEN, WHEN, "pe", None, "", 3))
    with pytest.raises(ValueError, match="ids"):
        feed_xml.merchant_entry("bo dega", SHOP_REVIEWS[1])
    with pytest.raises(ValueError, match="publisher"):
        feed_xml.product_feed(Source(" "), [])
    with pytest.raises(ValueError, match="URL"):
        feed_xml.merchant_feed(Shop("b", "B", "https://b", "https://s.pe/m/b", WHEN, WHEN), [])


if __name__ == "__main__":  # write the golden files again (after a deliberate change)
    GOLDEN.mkdir(parents=True, exist_ok=True)
    (GOLDEN / "product_reviews.xml").write_bytes(product_document())
    (GOLDEN / "merchant_reviews.xml").write_bytes(merchant_document())
