"""Product reviews: a reviewer's rating (and optional words) of each product of the
purchase, with each product's running sums and lists.

A product review belongs to its shop review: it is published with it (one
``product.rated`` leaf per product, after the review's ``review.published`` leaf, in the
same transaction), leaves the product's numbers and lists when staff remove the review
and comes back when they restore it, and its words are erased with the review's. Only
reviews of verified purchases rate products; imported reviews never do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, case, func, select, update
from sqlalchemy.orm import selectinload

from trustseal.api.pagination import keyset_page
from trustseal.dbutil import upsert
from trustseal.errors import DomainError
from trustseal.extensions import db
from trustseal.reviews import personal_data
from trustseal.reviews.models import ProductAggregate, ProductReview, Review
from trustseal.transparency import service as log
from trustseal.transparency.verify import LoggedClaim

if TYPE_CHECKING:
    from trustseal.orders.models import Purchase, PurchaseItem

MAX_COMMENT = 2000
PRODUCT_ID_MAX = 100
EVENT = "product.rated"


def valid_product_id(product_id: str) -> bool:
    """Whether ``product_id`` can name a product: 1 to :data:`PRODUCT_ID_MAX` characters,
    printable (what the orders API accepts)."""
    return 0 < len(product_id) <= PRODUCT_ID_MAX and product_id.isprintable()


class ProductRatingError(DomainError):
    """A product rating refused (422, field ``products``)."""


@dataclass(frozen=True)
class ProductRating:
    """What the reviewer says of one product of the purchase."""

    product_id: str
    rating: int
    comment: str | None = None


@dataclass(frozen=True)
class ProductSummary:
    """A product's numbers: its mean rating (one decimal; None without ratings), how
    many published reviews rated it, and how many gave each star; named and pictured as
    the latest order item reviewed."""

    product_id: str
    title: str
    image_url: str | None
    url: str | None
    sku: str | None
    rating: float | None
    count: int
    distribution: dict[int, int]


@dataclass(frozen=True)
class ProductReviewItem:
    """One published product review as the public sees it."""

    id: int
    review_id: int
    product_id: str
    product_title: str
    product_url: str | None
    product_image_url: str | None
    sku: str | None
    rating: int
    comment: str | None
    review_title: str | None
    review_body: str | None
    display_name: str
    created_at: datetime
    verification_level: str
    response: str | None
    log_index: int


def _items_by_product(purchase: Purchase) -> dict[str, PurchaseItem]:
    """The purchase's lines by product id (the first line of a product names it)."""
    lines: dict[str, PurchaseItem] = {}
    for item in purchase.items:
        lines.setdefault(item.product_id, item)
    return lines


def products_of(purchase: Purchase) -> list[PurchaseItem]:
    """The products a reviewer of this purchase may rate, one line each, in order."""
    return list(_items_by_product(purchase).values())


def checked(
    purchase: Purchase, ratings: Sequence[Mapping[str, Any]] | None
) -> tuple[list[ProductRating], frozenset[personal_data.Kind]]:
    """The ratings of the API body or the form (``product_id``, ``rating`` 1-5, optional
    ``comment``) checked against the purchase: each product once, and only products it
    holds. Comments have their personal data masked; the kinds masked are returned.

    Raises :class:`ProductRatingError` (422, field ``products``).
    """
    lines = _items_by_product(purchase)
    seen: set[str] = set()
    accepted: list[ProductRating] = []
    kinds: set[personal_data.Kind] = set()
    for given in ratings or ():
        product_id = given["product_id"]
        if product_id not in lines:
            raise ProductRatingError(
                422, f"The purchase holds no product {product_id!r}.", field="products"
            )
        if product_id in seen:
            raise ProductRatingError(
                422, f"Product {product_id!r} is rated twice.", field="products"
            )
        seen.add(product_id)
        comment = given.get("comment") or None
        if comment is not None:
            masked = personal_data.mask(comment)
            comment, kinds = masked.text, kinds | masked.kinds
        accepted.append(ProductRating(product_id, given["rating"], comment))
    return accepted, frozenset(kinds)


def record(
    review: Review, purchase: Purchase, ratings: Iterable[ProductRating], merchant_slug: str
) -> list[ProductReview]:
    """Publish the product ratings of a review just published (its leaf appended): one
    row and one ``product.rated`` leaf each, and the products' sums, in the caller's
    transaction."""
    lines = _items_by_product(purchase)
    rows = [
        ProductReview(
            review_id=review.id,
            merchant_id=review.merchant_id,
            product_id=rating.product_id,
            rating=rating.rating,
            comment=rating.comment,
            created_at=review.created_at,
        )
        for rating in ratings
    ]
    if not rows:
        return rows
    db.session.add_all(rows)
    db.session.flush()
    appended = log.append_many(
        log.Event(
            EVENT,
            merchant=merchant_slug,
            data={
                "review_id": review.id,
                "product_review_id": row.id,
                "product_id": row.product_id,
                "rating": row.rating,
            },
            texts={"comment": row.comment} if row.comment else {},
            at=review.created_at,
        )
        for row in rows
    )
    for row, leaf in zip(rows, appended, strict=True):
        row.log_index = leaf.index
        _describe(review.merchant_id, lines[row.product_id])
        _count(row, 1)
    return rows


def _describe(merchant_id: int, line: PurchaseItem) -> None:
    """Name and picture the product as this order line does (the latest line wins; what it
    leaves out, the product keeps)."""
    upsert(
        ProductAggregate,
        {
            "merchant_id": merchant_id,
            "product_id": line.product_id,
            "title": line.title[:500],
            "sku": line.sku,
            "url": line.url,
            "image_url": line.image_url,
        },
        ["merchant_id", "product_id"],
        # An order line without an address, SKU or picture does not erase the product's.
        keep_if_null=frozenset({"sku", "url", "image_url"}),
    )


def _count(row: ProductReview, sign: int) -> None:
    agg = ProductAggregate
    dist = getattr(agg, f"dist_{row.rating}")
    db.session.execute(
        update(agg)
        .where(agg.merchant_id == row.merchant_id, agg.product_id == row.product_id)
        .values(
            {
                agg.count: agg.count + sign,
                agg.rating_sum: agg.rating_sum + sign * row.rating,
                dist: dist + sign,
            }
        )
    )


def _rows_of(review_id: int) -> list[ProductReview]:
    return list(
        db.session.scalars(select(ProductReview).where(ProductReview.review_id == review_id))
    )


def count_removed(review: Review) -> None:
    """A review was removed: its product ratings leave their products' numbers."""
    for row in _rows_of(review.id):
        _count(row, -1)


def count_restored(review: Review) -> None:
    """A removed review was restored: its product ratings count again."""
    for row in _rows_of(review.id):
        _count(row, 1)


def erase(review_ids: Iterable[int]) -> None:
    """Erase the words of these reviews' product ratings (a privacy request) and the
    salts of their commitments; ratings and leaves stay."""
    rows = db.session.scalars(
        select(ProductReview).where(ProductReview.review_id.in_(list(review_ids)))
    )
    for row in rows:
        if row.comment is not None and row.log_index is not None:
            log.forget_text(row.log_index)
        row.comment = None


# --- reading ---


def _summary(agg: ProductAggregate) -> ProductSummary:
    distribution = {stars: getattr(agg, f"dist_{stars}") for stars in range(1, 6)}
    return ProductSummary(
        product_id=agg.product_id,
        title=agg.title,
        image_url=agg.image_url,
        url=agg.url,
        sku=agg.sku,
        rating=round(agg.rating_sum / agg.count, 1) if agg.count > 0 else None,
        count=agg.count,
        distribution=distribution,
    )


def summary(merchant_id: int, product_id: str) -> ProductSummary | None:
    """A product's numbers, or None for a product no review has rated."""
    agg = db.session.get(ProductAggregate, (merchant_id, product_id))
    return _summary(agg) if agg is not None else None


def summaries(merchant_id: int) -> list[ProductSummary]:
    """Every product of the merchant a review has rated, by product id."""
    rows = db.session.scalars(
        select(ProductAggregate)
        .where(ProductAggregate.merchant_id == merchant_id)
        .order_by(ProductAggregate.product_id)
    )
    return [_summary(agg) for agg in rows]


def _published(merchant_id: int) -> Select[ProductReview]:
    return (
        select(ProductReview)
        .join(Review, Review.id == ProductReview.review_id)
        .where(ProductReview.merchant_id == merchant_id, Review.status == "published")
        .options(selectinload(ProductReview.review).selectinload(Review.response))
    )


def _items(merchant_id: int, rows: Iterable[ProductReview]) -> list[ProductReviewItem]:
    rows = list(rows)
    products = {row.product_id for row in rows}
    aggregates = {
        agg.product_id: agg
        for agg in db.session.scalars(
            select(ProductAggregate).where(
                ProductAggregate.merchant_id == merchant_id,
                ProductAggregate.product_id.in_(sorted(products)),
            )
        )
    }
    return [_item(row, aggregates[row.product_id]) for row in rows]


def _item(row: ProductReview, agg: ProductAggregate) -> ProductReviewItem:
    review = row.review
    withheld = review.erased_at is not None
    assert row.log_index is not None
    return ProductReviewItem(
        id=row.id,
        review_id=review.id,
        product_id=row.product_id,
        product_title=agg.title,
        product_url=agg.url,
        product_image_url=agg.image_url,
        sku=agg.sku,
        rating=row.rating,
        comment=row.comment,
        review_title=None if withheld else review.title,
        review_body=None if withheld else review.body,
        display_name=review.display_name,
        created_at=review.created_at,
        verification_level=review.verification_level,
        response=review.response.body if review.response is not None else None,
        log_index=row.log_index,
    )


def reviews_page(
    merchant_id: int, product_id: str, limit: int, cursor: str | None
) -> tuple[list[ProductReviewItem], str | None]:
    """One page of a product's published reviews, newest first, and the next page's
    cursor (None on the last page). Raises ``InvalidCursor`` for a bad cursor."""
    stmt = _published(merchant_id).where(ProductReview.product_id == product_id)
    page = keyset_page(stmt, ProductReview.id, limit, cursor)
    return _items(merchant_id, page["items"]), page["next_cursor"]


def reviews_of(merchant_id: int, review_ids: Iterable[int]) -> list[ProductReviewItem]:
    """The published product reviews of these shop reviews, by id."""
    stmt = _published(merchant_id).where(ProductReview.review_id.in_(list(review_ids)))
    return _items(merchant_id, db.session.scalars(stmt.order_by(ProductReview.id)))


def all_reviews(merchant_id: int, batch: int = 500) -> Iterator[ProductReviewItem]:
    """Every published product review of the merchant, by id, read in batches."""
    after = 0
    while True:
        rows = list(
            db.session.scalars(
                _published(merchant_id)
                .where(ProductReview.id > after)
                .order_by(ProductReview.id)
                .limit(batch)
            )
        )
        if not rows:
            return
        yield from _items(merchant_id, rows)
        after = rows[-1].id


@dataclass(frozen=True)
class RatedProduct:
    """A product rating as a review shows it: the product's name, the stars, the words."""

    product_id: str
    title: str
    rating: int
    comment: str | None


def rated_products(merchant_id: int, review_ids: Iterable[int]) -> dict[int, list[RatedProduct]]:
    """The product ratings of these reviews of the merchant, by review id, in order."""
    found: dict[int, list[RatedProduct]] = {}
    rows = db.session.execute(
        select(ProductReview, ProductAggregate.title)
        .join(
            ProductAggregate,
            (ProductAggregate.merchant_id == ProductReview.merchant_id)
            & (ProductAggregate.product_id == ProductReview.product_id),
        )
        .where(
            ProductReview.merchant_id == merchant_id,
            ProductReview.review_id.in_(list(review_ids)),
        )
        .order_by(ProductReview.id)
    )
    for row, title in rows:
        shown = RatedProduct(row.product_id, title, row.rating, row.comment)
        found.setdefault(row.review_id, []).append(shown)
    return found


def logged_claims(slug: Callable[[int], str | None]) -> Iterator[LoggedClaim]:
    """Each product review's ``product.rated`` leaf: ids, product, rating and words
    (while not erased). A product review without a leaf is reported: every one is
    published with its leaf, so a row without one was added behind the log's back."""
    rows = db.session.execute(
        select(
            ProductReview.id,
            ProductReview.review_id,
            ProductReview.merchant_id,
            ProductReview.product_id,
            ProductReview.rating,
            ProductReview.comment,
            ProductReview.log_index,
            Review.erased_at,
        )
        .join(Review, Review.id == ProductReview.review_id)
        .order_by(ProductReview.id)
        .execution_options(yield_per=5_000)
    )
    for row in rows:
        if row.log_index is None:
            yield LoggedClaim(
                name=f"product review {row.id}",
                kind=EVENT,
                index=0,
                merchant_slug=slug(row.merchant_id),
                record_problem="it names no product.rated leaf (every rating is published "
                "with one)",
            )
            continue
        yield LoggedClaim(
            name=f"product review {row.id}",
            kind=EVENT,
            index=row.log_index,
            merchant_slug=slug(row.merchant_id),
            ids={"product_review_id": row.id},
            fields={
                "review_id": row.review_id,
                "product_id": row.product_id,
                "rating": row.rating,
            },
            texts={} if row.erased_at else {"comment": row.comment},
        )


def _kept_numbers(agg: ProductAggregate) -> tuple[int, ...]:
    return (agg.count, agg.rating_sum, *(getattr(agg, f"dist_{n}") for n in range(1, 6)))


def numbers_claims(slug: Callable[[int], str | None]) -> Iterator[LoggedClaim]:
    """A product whose kept numbers (count, sum, distribution) are not those of its
    published ratings — each rating checked against its leaf by :func:`logged_claims` —
    as a claim on one of its ``product.rated`` leaves that reports the difference."""
    stars = [func.sum(case((ProductReview.rating == n, 1), else_=0)) for n in range(1, 6)]
    counted = {
        (row[0], row[1]): (tuple(int(v or 0) for v in row[2:-1]), row[-1])
        for row in db.session.execute(
            select(
                ProductReview.merchant_id,
                ProductReview.product_id,
                func.count(),
                func.sum(ProductReview.rating),
                *stars,
                func.max(ProductReview.log_index),
            )
            .join(Review, Review.id == ProductReview.review_id)
            .where(Review.status == "published")
            .group_by(ProductReview.merchant_id, ProductReview.product_id)
        )
    }
    for agg in db.session.scalars(select(ProductAggregate)):
        published, leaf = counted.pop((agg.merchant_id, agg.product_id), ((0,) * 7, None))
        kept = _kept_numbers(agg)
        if kept != published:
            yield _numbers_claim(slug, agg.merchant_id, agg.product_id, kept, published, leaf)
    for (merchant_id, product_id), (published, leaf) in counted.items():
        yield _numbers_claim(slug, merchant_id, product_id, None, published, leaf)


def _numbers_claim(
    slug: Callable[[int], str | None],
    merchant_id: int,
    product_id: str,
    kept: tuple[int, ...] | None,
    published: tuple[int, ...],
    leaf: int | None,
) -> LoggedClaim:
    shown = "none" if kept is None else f"count {kept[0]}, sum {kept[1]}, stars {kept[2:]}"
    return LoggedClaim(
        name=f"product {product_id!r} of {slug(merchant_id)}",
        kind=EVENT,
        index=leaf or 0,
        merchant_slug=slug(merchant_id),
        record_problem=(
            f"its kept numbers ({shown}) are not its published ratings' "
            f"(count {published[0]}, sum {published[1]}, stars {published[2:]})"
        ),
    )
