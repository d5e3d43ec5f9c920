"""Google's review feeds as XML: the Product Reviews feed (schema 2.3) and the Merchant
Reviews feed (seller ratings, schema 5.0).

Pure: no app, no database; the standard library's ElementTree escapes every text and
attribute (no string concatenation of user text), and :func:`clean` first drops the
characters XML 1.0 cannot carry at all. Each review is rendered on its own into a
fragment (:func:`product_entry`, :func:`merchant_entry`), so a feed can keep its fragments
and render again only the reviews that changed; :func:`product_feed` and
:func:`merchant_feed` wrap any sequence of fragments into the whole document, a valid one
with no reviews too. The schemas as written down for the tests, with their sources:
tests/schemas/.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from trustseal.clock import rfc3339

__all__ = [
    "MERCHANT_NAMESPACE",
    "MERCHANT_SCHEMA_URL",
    "PRODUCT_SCHEMA_URL",
    "PRODUCT_SCHEMA_VERSION",
    "ProductReview",
    "Shop",
    "ShopReview",
    "Source",
    "clean",
    "is_feed_id",
    "is_http_url",
    "merchant_entry",
    "merchant_feed",
    "product_entry",
    "product_feed",
    "text_or_none",
]

PRODUCT_SCHEMA_VERSION = "2.3"
PRODUCT_SCHEMA_URL = "http://www.google.com/shopping/reviews/schema/product/2.3/product_reviews.xsd"
MERCHANT_NAMESPACE = "http://schemas.google.com/merchant_reviews/5.0"
MERCHANT_SCHEMA_URL = "http://www.gstatic.com/productsearch/static/reviews/5.0/merchant_reviews.xsd"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_VC = "http://www.w3.org/2007/XMLSchema-versioning"
RATING_MIN, RATING_MAX = 1, 5  # every rating trustseal collects is 1 to 5 stars
POST_FULFILLMENT = "post_fulfillment"  # 2.3: asked for after the order was fulfilled
AFTER_FULFILLMENT = "after_fulfillment"  # 5.0: the same, in that schema's words

# XML 1.0 (section 2.2) allows tab, newline, carriage return and the characters from U+0020
# on, less the surrogates and U+FFFE, U+FFFF; nothing else can appear even escaped.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# White space as XML Schema's regular expressions mean it (\s): a "non-empty" text of both
# schemas needs one character outside these.
_XSD_SPACE = frozenset(" \t\n\r")
# Both schemas' URLs (the merchant feed's stricter form: with its scheme).
_HTTP_URL = re.compile(r"https?://[^ \t\n\r]+\.[^ \t\n\r]+")
# The merchant feed's ``Id``: under 256 characters, letters, digits and "-._" (ASCII ones
# here: slugs and numbers).
_FEED_ID = re.compile(r"[A-Za-z0-9._-]{1,255}")
_COUNTRY = re.compile(r"[A-Z]{2}")


def clean(value: str) -> str:
    """``value`` without the characters XML 1.0 cannot carry (control characters other than
    tab and line breaks, lone surrogates, U+FFFE and U+FFFF)."""
    return _NOT_XML.sub("", value)


def text_or_none(value: str | None) -> str | None:
    """:func:`clean` text, or None when nothing but white space would be left (what the
    schemas' non-empty strings refuse)."""
    if value is None:
        return None
    cleaned = clean(value)
    return cleaned if any(c not in _XSD_SPACE for c in cleaned) else None


def is_http_url(value: str | None) -> bool:
    """Whether both schemas accept ``value`` as a URL (``http(s)://`` and a dotted host,
    no white space, nothing XML cannot carry)."""
    return (
        value is not None
        and _HTTP_URL.fullmatch(value) is not None
        and _NOT_XML.search(value) is None
    )


def is_feed_id(value: str) -> bool:
    """Whether the merchant feed accepts ``value`` as an ``Id`` (1-255 letters, digits,
    ``-``, ``.``, ``_``)."""
    return _FEED_ID.fullmatch(value) is not None


@dataclass(frozen=True)
class Source:
    """Who publishes the reviews (the certifier, whose pages show them) and the service
    that gathers them and serves the feed."""

    publisher: str
    aggregator: str = "trustseal"


@dataclass(frozen=True)
class ProductReview:
    """One product's rating in one verified purchase's review, as the product feed says it.

    ``url`` is the public page that shows the review; ``transaction_id`` groups the
    ratings of one purchase; ``anonymous`` when the reviewer is shown by no name of theirs.
    """

    id: str
    transaction_id: str
    reviewer: str
    anonymous: bool
    written_at: datetime
    title: str | None
    content: str
    url: str
    rating: int
    product_name: str | None
    product_url: str
    sku: str | None


@dataclass(frozen=True)
class Shop:
    """The shop a merchant reviews feed is about: ``id`` stable across feeds (its slug),
    ``url`` its site, ``rating_url`` the public page of its reviews."""

    id: str
    name: str
    url: str
    rating_url: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ShopReview:
    """One verified purchase's review of the shop, as the merchant feed says it; ``content``
    may be empty (a rating whose words were erased)."""

    id: str
    reviewer: str | None
    written_at: datetime
    updated_at: datetime
    country: str
    title: str | None
    content: str
    rating: int


def _child(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    element.text = text
    return element


def _timestamp(moment: datetime) -> str:
    stamp = rfc3339(moment)
    assert stamp is not None
    return stamp


def _rating(value: int) -> str:
    if not RATING_MIN <= value <= RATING_MAX:
        raise ValueError(f"a rating is {RATING_MIN} to {RATING_MAX}, not {value}")
    return str(value)


def _fragment(element: ET.Element) -> bytes:
    """One entry on its own lines, indented as a child of ``<reviews>``."""
    ET.indent(element, space="  ", level=2)
    return b"    " + ET.tostring(element, encoding="utf-8", xml_declaration=False) + b"\n"


def product_entry(review: ProductReview) -> bytes:
    """The ``<review>`` element of one product rating (schema 2.3, elements in the schema's
    order). Raises ``ValueError`` for what the schema cannot take: no words, a rating out of
    1-5, a URL that is not http(s)."""
    content = text_or_none(review.content)
    if content is None:
        raise ValueError("a product review needs words (the schema's <content>)")
    for url in (review.url, review.product_url):
        if not is_http_url(url):
            raise ValueError(f"not an http(s) URL the schema takes: {url!r}")
    entry = ET.Element("review")
    _child(entry, "review_id", clean(review.id))
    reviewer = _child(entry, "reviewer")
    name = text_or_none(review.reviewer)
    if name is None:
        raise ValueError("a product review needs the name it is shown under")
    if review.anonymous:
        _child(reviewer, "name", name, is_anonymous="true")
    else:
        _child(reviewer, "name", name)
    _child(entry, "review_timestamp", _timestamp(review.written_at))
    title = text_or_none(review.title)
    if title is not None:
        _child(entry, "title", title)
    _child(entry, "content", content)
    _child(entry, "review_url", review.url, type="group")
    ratings = _child(entry, "ratings")
    _child(ratings, "overall", _rating(review.rating), min=str(RATING_MIN), max=str(RATING_MAX))
    product = _child(_child(entry, "products"), "product")
    sku = text_or_none(review.sku)
    if sku is not None:
        _child(_child(_child(product, "product_ids"), "skus"), "sku", sku)
    product_name = text_or_none(review.product_name)
    if product_name is not None:
        _child(product, "product_name", product_name)
    _child(product, "product_url", review.product_url)
    _child(entry, "collection_method", POST_FULFILLMENT)
    _child(entry, "transaction_id", clean(review.transaction_id))
    return _fragment(entry)


def _declaration_and(opening: str) -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{opening}\n'.encode()


def _block(element: ET.Element) -> bytes:
    ET.indent(element, space="  ", level=1)
    return b"  " + ET.tostring(element, encoding="utf-8", xml_declaration=False) + b"\n"


def _wrapped(head: bytes, container: str, entries: Iterable[bytes], tail: bytes) -> Iterator[bytes]:
    """``head``, then the entries inside ``<container>`` (left out when there are none:
    both schemas want at least one review in it), then ``tail``."""
    yield head
    opened = False
    for entry in entries:
        if not opened:
            yield f"  <{container}>\n".encode()
            opened = True
        yield entry
    if opened:
        yield f"  </{container}>\n".encode()
    yield tail


def product_feed(source: Source, entries: Iterable[bytes]) -> Iterator[bytes]:
    """The Product Reviews feed (schema 2.3) around ``entries`` (from :func:`product_entry`),
    in chunks to write or join: the certifier as publisher, trustseal as aggregator."""
    publisher = text_or_none(source.publisher)
    aggregator = text_or_none(source.aggregator)
    if publisher is None or aggregator is None:
        raise ValueError("the feed names its publisher and aggregator")
    opening = (
        f'<feed xmlns:vc="{_VC}" xmlns:xsi="{_XSI}" '
        f'xsi:noNamespaceSchemaLocation="{PRODUCT_SCHEMA_URL}">'
    )
    agg = ET.Element("aggregator")
    _child(agg, "name", aggregator)
    pub = ET.Element("publisher")
    _child(pub, "name", publisher)
    head = b"".join(
        (
            _declaration_and(opening),
            f"  <version>{PRODUCT_SCHEMA_VERSION}</version>\n".encode(),
            _block(agg),
            _block(pub),
        )
    )
    return _wrapped(head, "reviews", entries, b"</feed>\n")


def merchant_entry(shop_id: str, review: ShopReview) -> bytes:
    """The ``<review>`` element of one review of the shop ``shop_id`` (schema 5.0, in the
    namespace of the feed it goes into). Raises ``ValueError`` for what the schema cannot
    take (an id it refuses, a rating out of 1-5, a country that is not two letters)."""
    if not (is_feed_id(review.id) and is_feed_id(shop_id)):
        raise ValueError(f"not ids the merchant feed takes: {review.id!r}, {shop_id!r}")
    if _COUNTRY.fullmatch(review.country) is None:
        raise ValueError(f"not an ISO 3166-1 alpha-2 country code: {review.country!r}")
    entry = ET.Element("review", {"id": review.id, "mid": shop_id})
    reviewer = text_or_none(review.reviewer)
    if reviewer is not None:
        _child(entry, "reviewer_name", reviewer)
    _child(entry, "create_timestamp", _timestamp(review.written_at))
    _child(entry, "last_update_timestamp", _timestamp(max(review.written_at, review.updated_at)))
    _child(entry, "country_code", review.country)
    title = text_or_none(review.title)
    if title is not None:
        _child(entry, "title", title)
    _child(entry, "content", clean(review.content) if text_or_none(review.content) else "")
    ratings = _child(entry, "ratings")
    _child(ratings, "overall", _rating(review.rating), min=str(RATING_MIN), max=str(RATING_MAX))
    _child(entry, "collection_method", AFTER_FULFILLMENT)
    return _fragment(entry)


def merchant_feed(shop: Shop, entries: Iterable[bytes]) -> Iterator[bytes]:
    """The Merchant Reviews feed (schema 5.0) of one shop around ``entries`` (from
    :func:`merchant_entry` with this shop's id), in chunks to write or join."""
    name = text_or_none(shop.name)
    if name is None or not is_feed_id(shop.id):
        raise ValueError("the shop needs a name and an id the merchant feed takes")
    for url in (shop.url, shop.rating_url):
        if not is_http_url(url):
            raise ValueError(f"not an http(s) URL the schema takes: {url!r}")
    opening = (
        f'<feed xmlns="{MERCHANT_NAMESPACE}" xmlns:xsi="{_XSI}" '
        f'xsi:schemaLocation="{MERCHANT_NAMESPACE} {MERCHANT_SCHEMA_URL}">'
    )
    merchants = ET.Element("merchants")
    merchant = _child(merchants, "merchant", id=shop.id)
    _child(merchant, "name", name)
    _child(merchant, "merchant_url", shop.url)
    _child(merchant, "rating_url", shop.rating_url)
    _child(merchant, "create_timestamp", _timestamp(shop.created_at))
    _child(merchant, "last_update_timestamp", _timestamp(max(shop.created_at, shop.updated_at)))
    head = _declaration_and(opening) + _block(merchants)
    return _wrapped(head, "reviews", entries, b"</feed>\n")
