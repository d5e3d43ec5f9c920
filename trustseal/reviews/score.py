"""The score's running sums in the database: O(1) per review and per read.

The formula itself (version :data:`FORMULA_VERSION`) is published and pure, in
:mod:`trustseal.transparency.numbers`, where the log's replay uses it too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from trustseal.dbutil import insert_ignoring_duplicate
from trustseal.extensions import db
from trustseal.merchants import service as merchants
from trustseal.reviews.models import ResponseTimeBucket, Review, ScoreAggregate, ScoreMonth
from trustseal.transparency.numbers import (
    FORMULA_VERSION,
    NEGATIVE_MAX,
    ReviewSums,
    growth,
    last_months,
    month_of,
    response_bucket,
    summarize,
)

__all__ = ["FORMULA_VERSION", "ReviewFacts", "recompute", "score_of", "summarize"]

# -- running sums -------------------------------------------------------------------


def _ensure_rows(merchant_id: int, month: str | None = None) -> None:
    insert_ignoring_duplicate(ScoreAggregate, {"merchant_id": merchant_id}, ["merchant_id"])
    if month is not None:
        insert_ignoring_duplicate(
            ScoreMonth, {"merchant_id": merchant_id, "month": month}, ["merchant_id", "month"]
        )


def logged_time(review: Review) -> datetime:
    """A review's time as its leaf says it, to the second: the score counts it so, and
    the log's replay (:mod:`trustseal.transparency.numbers`) gives the same sums."""
    return review.created_at.replace(microsecond=0)


def _count_review(
    review: Review, sign: int, answered: bool, removed_delta: int, rating: int | None = None
) -> None:
    """Add (sign=1) or take away (sign=-1) a review's part of the sums, atomically, with
    its current rating (or ``rating``)."""
    rating = review.current_rating if rating is None else rating
    moment = logged_time(review)
    month = month_of(moment)
    _ensure_rows(review.merchant_id, month)
    g = growth(moment)
    negative = rating <= NEGATIVE_MAX
    agg = ScoreAggregate
    dist = getattr(agg, f"dist_{rating}")
    db.session.execute(
        update(agg)
        .where(agg.merchant_id == review.merchant_id)
        .values(
            {
                agg.published: agg.published + sign,
                agg.removed: agg.removed + removed_delta,
                agg.rating_sum: agg.rating_sum + sign * rating,
                agg.process_sum: agg.process_sum + sign * review.process_rating,
                dist: dist + sign,
                agg.decay_weight: agg.decay_weight + sign * g,
                agg.decay_rating: agg.decay_rating + sign * rating * g,
                agg.negative: agg.negative + (sign if negative else 0),
                agg.negative_answered: agg.negative_answered
                + (sign if negative and answered else 0),
                agg.declared: agg.declared
                + (sign if review.verification_level == "declared" else 0),
            }
        )
    )
    merchants.bump_public_version(review.merchant_id)
    db.session.execute(
        update(ScoreMonth)
        .where(ScoreMonth.merchant_id == review.merchant_id, ScoreMonth.month == month)
        .values(count=ScoreMonth.count + sign, rating_sum=ScoreMonth.rating_sum + sign * rating)
    )


def count_published(review: Review) -> None:
    """A new review was published."""
    _count_review(review, 1, answered=False, removed_delta=0)


def count_removed(review: Review) -> None:
    """A published review was removed by moderation."""
    _count_review(review, -1, answered=review.response is not None, removed_delta=1)


def count_restored(review: Review) -> None:
    """A removed review was restored."""
    _count_review(review, 1, answered=review.response is not None, removed_delta=-1)


def count_update(review: Review, previous_rating: int) -> None:
    """The reviewer updated the rating of a published, answered review (formula 2026-12:
    the score counts the update): its part moves from the previous rating to the new."""
    if review.current_rating == previous_rating:
        merchants.bump_public_version(review.merchant_id)  # the resolution numbers moved
        return
    answered = review.response is not None
    _count_review(review, -1, answered, 0, rating=previous_rating)
    _count_review(review, 1, answered, 0)


def count_first_answer(review: Review, at: datetime) -> None:
    """The merchant answered a review for the first time, at ``at`` (whole seconds)."""
    _ensure_rows(review.merchant_id)
    merchants.bump_public_version(review.merchant_id)
    bucket = response_bucket((at - logged_time(review)).total_seconds() / 3600)
    insert_ignoring_duplicate(
        ResponseTimeBucket,
        {"merchant_id": review.merchant_id, "bucket": bucket},
        ["merchant_id", "bucket"],
    )
    db.session.execute(
        update(ResponseTimeBucket)
        .where(
            ResponseTimeBucket.merchant_id == review.merchant_id,
            ResponseTimeBucket.bucket == bucket,
        )
        .values(count=ResponseTimeBucket.count + 1)
    )
    if review.status == "published" and review.current_rating <= NEGATIVE_MAX:
        db.session.execute(
            update(ScoreAggregate)
            .where(ScoreAggregate.merchant_id == review.merchant_id)
            .values(negative_answered=ScoreAggregate.negative_answered + 1)
        )


# -- reading ------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewFacts:
    """What the score needs of one review (all of it is in the public log)."""

    rating: int
    process_rating: int
    created_at: datetime
    published: bool
    answered_after_hours: float | None = None
    declared: bool = False  # the purchase was declared by the merchant, not a platform


def score_of(merchant_id: int, now: datetime) -> dict[str, Any]:
    """The merchant's score, read from the running sums: a constant number of rows."""
    aggregate = db.session.get(ScoreAggregate, merchant_id)
    months_wanted = last_months(now)
    months = {
        m.month: (m.count, m.rating_sum)
        for m in db.session.scalars(
            select(ScoreMonth).where(
                ScoreMonth.merchant_id == merchant_id, ScoreMonth.month.in_(months_wanted)
            )
        )
    }
    buckets = {
        b.bucket: b.count
        for b in db.session.scalars(
            select(ResponseTimeBucket).where(ResponseTimeBucket.merchant_id == merchant_id)
        )
        if b.count
    }
    return summarize(aggregate, months, buckets, now)


def recompute(facts: Iterable[ReviewFacts], now: datetime) -> dict[str, Any]:
    """The same answer computed from scratch (tests, and anyone replaying the log)."""
    rows = list(facts)

    sums = ReviewSums()
    months: dict[str, tuple[int, int]] = {}
    buckets: dict[int, int] = {}
    for fact in rows:
        if fact.answered_after_hours is not None:
            bucket = response_bucket(fact.answered_after_hours)
            buckets[bucket] = buckets.get(bucket, 0) + 1
        if not fact.published:
            sums.removed += 1
            continue
        g = growth(fact.created_at)
        sums.published += 1
        sums.rating_sum += fact.rating
        sums.process_sum += fact.process_rating
        sums.decay_weight += g
        sums.decay_rating += fact.rating * g
        sums.declared += fact.declared
        setattr(sums, f"dist_{fact.rating}", getattr(sums, f"dist_{fact.rating}") + 1)
        if fact.rating <= NEGATIVE_MAX:
            sums.negative += 1
            sums.negative_answered += fact.answered_after_hours is not None
        count, rating_sum = months.get(month_of(fact.created_at), (0, 0))
        months[month_of(fact.created_at)] = (count + 1, rating_sum + fact.rating)
    return summarize(sums if rows else None, months, buckets, now)
