"""The feeds domain's door: a merchant's Google review feeds — the Product Reviews feed
(schema 2.3) and the Merchant Reviews feed (seller ratings, schema 5.0) — kept up to date
incrementally and served with a strong ETag.

Only published reviews of verified purchases go in (reviews.feed_source); trustseal does
not vouch for imported ones, so they stay out. A removed review leaves the feeds.

Each review's rendered entry is kept in ``feed_entries``, shared by every process, with
per merchant and feed a watermark in ``feed_states``: the merchant's latest transparency-log
leaf the entries reflect, and the merchant's ``public_version`` then. Every change to what
a review shows appends a leaf naming the review (``data.review_id``): a request that finds
new leaves renders again only the reviews they name. A privacy erasure appends no leaf but
bumps the public version: then the entries that still show the words of an erased review
are rendered again too. A new rendering ``FORMAT``, or more new leaves than a rebuild
costs, rebuilds the feed whole. The document's head (the shop's name and addresses, the
publisher) is rendered on every request and compared by digest, so it is never stale.
The entries live in the database rather than in each process's memory: Google's fetches
are rare and land on any process of any machine, so a per-process copy would mostly be cold
and rebuild the whole feed; a table shares one rendering (and one lock) among them all.

The assembled document is remembered per process under its ETag (the SHA-256 of its
bytes): an unchanged feed costs four small indexed reads, and ``If-None-Match`` a 304.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING, Any

from flask import current_app
from flask_babel import gettext
from sqlalchemy import delete, func, select

from trustseal import i18n
from trustseal.clock import utcnow
from trustseal.dbutil import insert_ignoring_duplicate, insert_rows
from trustseal.errors import DomainError
from trustseal.extensions import db
from trustseal.feeds import xml
from trustseal.feeds.models import FeedEntry, FeedState
from trustseal.memo import TtlMemo
from trustseal.merchants import service as merchants
from trustseal.reviews import feed_source
from trustseal.reviews import products as product_ratings
from trustseal.transparency import service as log

if TYPE_CHECKING:
    from trustseal.merchants.models import Merchant

PRODUCT, MERCHANT = "product", "merchant"
FEEDS = (PRODUCT, MERCHANT)
# The rendering's version: raise it whenever an entry or the head is rendered differently,
# and every kept feed is rebuilt on its next request.
FORMAT = 1
# Past this many new leaves since the watermark, a whole rebuild costs less than reading
# them all.
REBUILD_AFTER = log.MAX_ENTRIES_PER_PAGE
_BATCH = 500  # entries per INSERT, review ids per IN list
DOCUMENT_SECONDS = 3600.0
DOCUMENT_MEMO_BYTES = 4 * 1024 * 1024  # a larger document is assembled again each time

logger = logging.getLogger(__name__)


class FeedError(DomainError):
    """A feed that cannot be made (503: the service has no public address to link to)."""


@dataclass(frozen=True)
class Current:
    """A merchant's feed as it stands: its ETag (quoted when served) and entry count."""

    merchant: Merchant
    feed: str
    etag: str
    entries: int


@dataclass(frozen=True)
class Rendered:
    """One review's entry, ready to keep: ``entry_id`` the product review (product feed)
    or the review (merchant feed); a product entry's product and the digest of how it
    names it."""

    entry_id: int
    review_id: int
    written_at: datetime
    has_text: bool
    xml: bytes
    product_id: str | None = None
    product_sha256: str | None = None


def urls(merchant: Merchant) -> dict[str, str]:
    """The addresses of a merchant's two feeds (to give Google Merchant Center)."""
    base = current_app.config["TRUSTSEAL_BASE_URL"]
    return {
        PRODUCT: f"{base}/feeds/{merchant.slug}/product-reviews.xml",
        MERCHANT: f"{base}/feeds/{merchant.slug}/merchant-reviews.xml",
    }


def _base() -> str:
    return str(current_app.config["TRUSTSEAL_BASE_URL"])


def review_url(slug: str, review_id: int) -> str:
    """The public page that shows a review, at the review."""
    return f"{_base()}/m/{slug}#r{review_id}"


# --- rendering -------------------------------------------------------------------------


def _words(review: feed_source.FeedReview) -> str:
    """All the reviewer wrote, as the page shows it: the review, then the later update
    (labelled in the review's language); empty once erased."""
    if review.body and review.update:
        with i18n.in_language(review.locale):
            update = gettext("Update: %(words)s", words=review.update)
        return f"{review.body}\n\n{update}"
    return review.body or review.update or ""


def _shop_entry(merchant: Merchant, review: feed_source.FeedReview) -> Rendered:
    words = _words(review)
    entry = xml.ShopReview(
        id=str(review.id),
        reviewer=review.display_name,
        written_at=review.created_at,
        updated_at=review.updated_at,
        country=merchant.country,
        title=review.title,
        content=words,
        rating=review.rating,
    )
    return Rendered(
        review.id,
        review.id,
        review.created_at,
        xml.text_or_none(words) is not None,
        xml.merchant_entry(merchant.slug, entry),
    )


def _product_sha256(item: product_ratings.ProductReviewItem) -> str:
    """How an entry names its product: what a newer order line may change."""
    naming = json.dumps([item.product_id, item.product_title, item.product_url, item.sku])
    return hashlib.sha256(naming.encode()).hexdigest()


def _showable(item: product_ratings.ProductReviewItem) -> bool:
    """Whether a product rating can be an entry: a verified purchase's, with words (its
    own, else its review's: an erased review has none) and a product address Google can
    match (the schema requires one; a product no order line gave one is left out)."""
    words = xml.text_or_none(item.comment) or xml.text_or_none(item.review_body)
    return (
        feed_source.vouched_for(item.verification_level)
        and words is not None
        and xml.is_http_url(item.product_url)
    )


def _product_entry(merchant: Merchant, item: product_ratings.ProductReviewItem) -> Rendered:
    """A product rating's entry: the reviewer's words about the product, else (with its
    title) the review of the purchase it belongs to."""
    own = xml.text_or_none(item.comment) is not None
    entry = xml.ProductReview(
        id=str(item.id),
        transaction_id=str(item.review_id),
        reviewer=item.display_name,
        anonymous=feed_source.is_anonymous(item.display_name),
        written_at=item.created_at,
        title=None if own else item.review_title,
        content=(item.comment if own else item.review_body) or "",
        url=review_url(merchant.slug, item.review_id),
        rating=item.rating,
        product_name=item.product_title,
        product_url=item.product_url or "",
        sku=item.sku,
    )
    return Rendered(
        item.id,
        item.review_id,
        item.created_at,
        True,
        xml.product_entry(entry),
        item.product_id,
        _product_sha256(item),
    )


def _renderable(
    render: Callable[[Any], Rendered], items: Iterable[Any], what: str
) -> Iterator[Rendered]:
    """Each item rendered, less those the schema cannot take (logged, never a 500: one bad
    product address must not take a shop's feed down)."""
    for item in items:
        try:
            yield render(item)
        except ValueError as problem:
            logger.warning(
                "feed entry left out (%s %s): %s", what, getattr(item, "id", "?"), problem
            )


def _all_entries(merchant: Merchant, feed: str) -> Iterator[Rendered]:
    if feed == MERCHANT:
        return _renderable(
            lambda review: _shop_entry(merchant, review),
            feed_source.published_reviews(merchant.id),
            "review",
        )
    return _renderable(
        lambda item: _product_entry(merchant, item),
        filter(_showable, product_ratings.all_reviews(merchant.id)),
        "product review",
    )


def _entries_of(merchant: Merchant, feed: str, review_ids: set[int]) -> Iterator[Rendered]:
    if feed == MERCHANT:
        return _renderable(
            lambda review: _shop_entry(merchant, review),
            feed_source.published_among(merchant.id, review_ids),
            "review",
        )
    items: list[product_ratings.ProductReviewItem] = []
    wanted = iter(sorted(review_ids))
    while chunk := list(islice(wanted, _BATCH)):
        items.extend(product_ratings.reviews_of(merchant.id, chunk))
    return _renderable(
        lambda item: _product_entry(merchant, item), filter(_showable, items), "product review"
    )


def _document(merchant: Merchant, feed: str, entries: Iterable[bytes]) -> Iterator[bytes]:
    """The whole document around ``entries``; 503 when the service's own address cannot
    be linked to (a base URL a feed cannot carry)."""
    try:
        if not xml.is_http_url(review_url(merchant.slug, 0)):  # every entry links to it
            raise ValueError(f"the service's address {_base()!r} cannot be linked to")
        if feed == MERCHANT:
            return xml.merchant_feed(_shop(merchant), entries)
        return xml.product_feed(xml.Source(current_app.config["TRUSTSEAL_CERTIFIER_NAME"]), entries)
    except ValueError as problem:
        raise FeedError(503, f"This feed cannot be made here: {problem}") from problem


def _shop(merchant: Merchant) -> xml.Shop:
    rating_url = f"{_base()}/m/{merchant.slug}"
    site = f"https://{merchant.domain}"
    return xml.Shop(
        id=merchant.slug,
        name=merchant.name,
        url=site if xml.is_http_url(site) else rating_url,
        rating_url=rating_url,
        created_at=merchant.created_at,
        updated_at=merchant.domain_verified_at or merchant.created_at,
    )


def _head_sha256(merchant: Merchant, feed: str) -> str:
    """The digest of everything in the document that is not an entry, with the format."""
    head = b"".join(_document(merchant, feed, ()))
    return hashlib.sha256(f"{FORMAT}\n".encode() + head).hexdigest()


# --- keeping ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Mark:
    """Where the merchant's public facts stand: its latest leaf (-1: none) and version."""

    log_index: int
    public_version: int


def _mark(merchant: Merchant) -> _Mark:
    latest = log.merchant_entries(merchant.slug, limit=1)
    # A column read, not the (possibly older) Merchant object of this session.
    row = db.session.execute(merchants.version_query(), {"slug": merchant.slug}).first()
    return _Mark(latest[0].index if latest else -1, row[1] if row is not None else 0)


def _up_to_date(state: FeedState | None, mark: _Mark, head: str) -> bool:
    return (
        state is not None
        and state.format == FORMAT
        and state.log_index == mark.log_index
        and state.public_version == mark.public_version
        and state.head_sha256 == head
    )


def current(slug: str, feed: str) -> Current | None:
    """A public merchant's ``feed`` (:data:`PRODUCT` or :data:`MERCHANT`), first brought up
    to date if the merchant's log or public version moved; None for an unknown or
    non-public shop."""
    merchant = merchants.get_public(slug)
    if merchant is None:
        return None
    head = _head_sha256(merchant, feed)
    state = db.session.get(FeedState, (merchant.id, feed))
    if _up_to_date(state, _mark(merchant), head):
        assert state is not None
        return Current(merchant, feed, state.etag, state.entries)
    return _bring_up_to_date(merchant, feed, head)


def _locked_state(merchant_id: int, feed: str) -> FeedState:
    """The feed's state row, locked until the transaction ends (one process brings a feed
    up to date at a time; the others wait, then find it done). A new row has format 0,
    which no rendering has: it is built whole."""
    insert_ignoring_duplicate(
        FeedState,
        {
            "merchant_id": merchant_id,
            "feed": feed,
            "format": 0,
            "log_index": -1,
            "public_version": -1,
            "head_sha256": "",
            "etag": "",
            "entries": 0,
            "updated_at": utcnow(),
        },
        ["merchant_id", "feed"],
    )
    return db.session.scalars(
        select(FeedState)
        .where(FeedState.merchant_id == merchant_id, FeedState.feed == feed)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def _bring_up_to_date(merchant: Merchant, feed: str, head: str) -> Current:
    state = _locked_state(merchant.id, feed)
    mark = _mark(merchant)  # read again under the lock: another process may have moved on
    if not _up_to_date(state, mark, head):
        since = _named_since(merchant, state)
        if since is None:
            _rebuild(merchant, feed)
            watermark = mark.log_index
        else:
            named, watermark = since
            if mark.public_version != state.public_version:
                named |= _erased_with_words(merchant.id, feed)
            _render_again(merchant, feed, named)
        body = _assemble(merchant, feed)
        state.format, state.head_sha256 = FORMAT, head
        # Leaves appended after ``mark`` was read were read too: their reviews are rendered.
        state.log_index = max(mark.log_index, watermark)
        state.public_version = mark.public_version
        state.etag = hashlib.sha256(body).hexdigest()
        state.entries = _count(merchant.id, feed)
        state.updated_at = utcnow()
        _remember(merchant.id, feed, state.etag, body)
    answer = Current(merchant, feed, state.etag, state.entries)
    db.session.commit()
    return answer


def _named_since(merchant: Merchant, state: FeedState) -> tuple[set[int], int] | None:
    """The reviews named by the merchant's leaves after the state's watermark (those that
    can change an entry: an import's thousands of leaves change none), and the last leaf
    read; None when the feed is to be rebuilt whole (new, of an older format, or
    more leaves than a rebuild costs)."""
    if state.format != FORMAT:
        return None
    leaves = log.merchant_entries_after(
        merchant.slug, state.log_index, REBUILD_AFTER + 1, feed_source.CHANGING_LEAVES
    )
    if len(leaves) > REBUILD_AFTER:
        return None
    named: set[int] = set()
    for leaf in leaves:
        review_id = json.loads(leaf.leaf).get("review_id")
        if isinstance(review_id, int):
            named.add(review_id)
    return named, (leaves[-1].index if leaves else state.log_index)


def _erased_with_words(merchant_id: int, feed: str) -> set[int]:
    """Erased reviews whose kept entries still show their words."""
    erased = feed_source.erased_review_ids(merchant_id)
    if not erased:
        return set()
    showing: set[int] = set()
    wanted = iter(sorted(erased))
    while chunk := list(islice(wanted, _BATCH)):
        showing.update(
            db.session.scalars(
                select(FeedEntry.review_id).where(
                    FeedEntry.merchant_id == merchant_id,
                    FeedEntry.feed == feed,
                    FeedEntry.has_text.is_(True),
                    FeedEntry.review_id.in_(chunk),
                )
            )
        )
    return showing


def _keep(merchant_id: int, feed: str, rendered: Iterable[Rendered]) -> None:
    rows = (
        {
            "merchant_id": merchant_id,
            "feed": feed,
            "entry_id": entry.entry_id,
            "review_id": entry.review_id,
            "written_at": entry.written_at,
            "has_text": entry.has_text,
            "product_id": entry.product_id,
            "product_sha256": entry.product_sha256,
            "xml": entry.xml.decode(),
        }
        for entry in rendered
    )
    while batch := list(islice(rows, _BATCH)):
        insert_rows(FeedEntry, batch)


def _rebuild(merchant: Merchant, feed: str) -> None:
    db.session.execute(
        delete(FeedEntry).where(FeedEntry.merchant_id == merchant.id, FeedEntry.feed == feed)
    )
    _keep(merchant.id, feed, _all_entries(merchant, feed))


def _render_again(merchant: Merchant, feed: str, review_ids: set[int]) -> None:
    """Render again the entries of these reviews; then, in the product feed, those that
    still name a product the way it was named before one of them renamed it."""
    if not review_ids:
        return
    wanted = iter(sorted(review_ids))
    while chunk := list(islice(wanted, _BATCH)):
        db.session.execute(
            delete(FeedEntry).where(
                FeedEntry.merchant_id == merchant.id,
                FeedEntry.feed == feed,
                FeedEntry.review_id.in_(chunk),
            )
        )
    rendered = list(_entries_of(merchant, feed, review_ids))
    _keep(merchant.id, feed, rendered)
    renamed = _named_otherwise(merchant.id, feed, rendered) - review_ids
    if renamed:
        _render_again(merchant, feed, renamed)


def _named_otherwise(merchant_id: int, feed: str, rendered: list[Rendered]) -> set[int]:
    """The reviews whose kept entries name a product of ``rendered`` otherwise than these
    new entries do (the product's latest order line renamed it, or moved its address)."""
    naming = {e.product_id: e.product_sha256 for e in rendered if e.product_id is not None}
    stale: set[int] = set()
    for product_id, digest in naming.items():
        stale.update(
            db.session.scalars(
                select(FeedEntry.review_id).where(
                    FeedEntry.merchant_id == merchant_id,
                    FeedEntry.feed == feed,
                    FeedEntry.product_id == product_id,
                    FeedEntry.product_sha256 != digest,
                )
            )
        )
    return stale


def _count(merchant_id: int, feed: str) -> int:
    return int(
        db.session.scalar(
            select(func.count())
            .select_from(FeedEntry)
            .where(FeedEntry.merchant_id == merchant_id, FeedEntry.feed == feed)
        )
        or 0
    )


# --- serving ---------------------------------------------------------------------------


def _assemble(merchant: Merchant, feed: str) -> bytes:
    """The document from the kept entries, newest review first."""
    fragments = db.session.scalars(
        select(FeedEntry.xml)
        .where(FeedEntry.merchant_id == merchant.id, FeedEntry.feed == feed)
        .order_by(FeedEntry.written_at.desc(), FeedEntry.entry_id.desc())
        .execution_options(yield_per=1_000)
    )
    return b"".join(_document(merchant, feed, (fragment.encode() for fragment in fragments)))


_documents: TtlMemo[bytes] = TtlMemo(max_entries=64)


def _remember(merchant_id: int, feed: str, etag: str, body: bytes) -> None:
    _documents.get_or_load(
        (id(current_app), merchant_id, feed, etag),
        DOCUMENT_SECONDS,
        lambda: body,
        keep=lambda kept: len(kept) <= DOCUMENT_MEMO_BYTES,
    )


def document(feed: Current) -> tuple[bytes, str]:
    """The feed's bytes and their ETag: this process's copy when it has one, else
    assembled from the kept entries (the ETag then differs from ``feed.etag`` if another
    process moved the feed on in between: it is always the digest of what is served)."""
    body = _documents.get_or_load(
        (id(current_app), feed.merchant.id, feed.feed, feed.etag),
        DOCUMENT_SECONDS,
        lambda: _assemble(feed.merchant, feed.feed),
        keep=lambda kept: (
            len(kept) <= DOCUMENT_MEMO_BYTES and hashlib.sha256(kept).hexdigest() == feed.etag
        ),
    )
    return body, hashlib.sha256(body).hexdigest()
