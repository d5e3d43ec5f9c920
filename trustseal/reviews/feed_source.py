"""What the Google review feeds read of the reviews domain: a merchant's published,
purchase-verified reviews as its public page shows them, and which of them were erased.

A removed review is not published, so it is not read here: it leaves the feeds. An erased
one is (its rating still counts), without its words and under the generic name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

from sqlalchemy import Select, select

from trustseal.extensions import db
from trustseal.reviews.models import Review
from trustseal.reviews.service import ERASED_NAME

# The provenance of the reviews trustseal vouches for: a purchase attested by a platform or
# declared by the shop, each reviewed through its own invitation after delivery. Anything
# else (an imported review, which nobody invited) stays out of the feeds.
FEED_LEVELS = ("platform", "declared")
# The leaves that can change what a review shows (each names its ``review_id``).
CHANGING_LEAVES = frozenset(
    {
        "review.published",
        "review.removed",
        "review.restored",
        "review.redacted",
        "review.updated",
        "response.created",
        "response.edited",
        "product.rated",
    }
)
_CHUNK = 500  # ids per IN list


@dataclass(frozen=True)
class FeedReview:
    """A published review as the feeds show it. ``rating`` is the one the score counts
    (the reviewer's update, else the original); ``title`` and ``body`` are None once
    erased; ``update`` is the reviewer's later words, if any; ``anonymous`` when the
    review is shown under the generic name (no name given, or erased)."""

    id: int
    rating: int
    title: str | None
    body: str | None
    update: str | None
    display_name: str
    anonymous: bool
    locale: str
    created_at: datetime
    updated_at: datetime
    erased: bool


def vouched_for(verification_level: str) -> bool:
    """Whether a review of this provenance goes in the feeds (:data:`FEED_LEVELS`)."""
    return verification_level in FEED_LEVELS


def is_anonymous(display_name: str) -> bool:
    """Whether a review shown under this name is shown under no name of the reviewer's
    (the generic one: none was given, or it was erased)."""
    return display_name == ERASED_NAME


def _feed_review(review: Review) -> FeedReview:
    return FeedReview(
        id=review.id,
        rating=review.current_rating,
        title=review.title,
        body=review.body,
        update=review.update_body,
        display_name=review.display_name,
        anonymous=is_anonymous(review.display_name),
        locale=review.locale,
        created_at=review.created_at,
        updated_at=max(review.created_at, review.updated_at or review.created_at),
        erased=review.erased_at is not None,
    )


def _published(merchant_id: int) -> Select[Review]:
    return select(Review).where(
        Review.merchant_id == merchant_id,
        Review.status == "published",
        Review.verification_level.in_(FEED_LEVELS),
    )


def published_reviews(merchant_id: int) -> Iterator[FeedReview]:
    """Every published, purchase-verified review of a merchant, newest first, streamed."""
    rows = db.session.scalars(
        _published(merchant_id)
        .order_by(Review.created_at.desc(), Review.id.desc())
        .execution_options(yield_per=1_000)
    )
    for review in rows:
        yield _feed_review(review)


def published_among(merchant_id: int, review_ids: Iterable[int]) -> list[FeedReview]:
    """Those of ``review_ids`` that are published, purchase-verified reviews of the
    merchant (a removed or unknown one is left out)."""
    wanted = iter(sorted(set(review_ids)))
    found: list[FeedReview] = []
    while chunk := list(islice(wanted, _CHUNK)):
        found.extend(
            _feed_review(review)
            for review in db.session.scalars(_published(merchant_id).where(Review.id.in_(chunk)))
        )
    return found


def erased_review_ids(merchant_id: int) -> set[int]:
    """The ids of the merchant's reviews whose words were erased (a privacy request
    appends no log leaf: this is how a reader that follows the log learns of it)."""
    return set(
        db.session.scalars(
            select(Review.id).where(
                Review.merchant_id == merchant_id, Review.erased_at.is_not(None)
            )
        )
    )
