"""The published score formula (version :data:`FORMULA_VERSION`) and its running sums.

score = (7·3.5 + Σ w·r) / (7 + Σ w), w = 0.5^(age_days / 365), one decimal, null below
5 published reviews. The decay is kept exact in O(1): with g(t) = 2^(days(t) / 365)
against a fixed epoch, Σ w·r = Σ r·g(t) / g(now) and Σ w = Σ g(t) / g(now), so each
review adds r·g(t) and g(t) once, and a read divides by g(now).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select, update

from trustseal.dbutil import insert_ignoring_duplicate
from trustseal.extensions import db
from trustseal.reviews.models import ResponseTimeBucket, Review, ScoreAggregate, ScoreMonth

FORMULA_VERSION = "2026-11"
PRIOR_COUNT = 7
PRIOR_MEAN = 3.5
HALF_LIFE_DAYS = 365
MIN_REVIEWS = 5
NEGATIVE_MAX = 2
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
HOURLY_BUCKETS = 48  # answer times: by hour up to 48 h, then by day up to 90 days
DAILY_BUCKETS = 88


def growth(moment: datetime) -> float:
    """g(t) = 2^(days since the epoch / half-life)."""
    days = (moment - EPOCH).total_seconds() / 86400
    return float(2.0 ** (days / HALF_LIFE_DAYS))


def one_decimal(value: float) -> float:
    """Round half up to one decimal (4.25 → 4.3), as the formula page says."""
    return float(Decimal(repr(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def bayesian(decay_weight: float, decay_rating: float, count: int, now: datetime) -> float | None:
    """The score from the running decay sums; None below :data:`MIN_REVIEWS`."""
    if count < MIN_REVIEWS:
        return None
    scale = growth(now)
    weight, weighted = decay_weight / scale, decay_rating / scale
    return one_decimal((PRIOR_COUNT * PRIOR_MEAN + weighted) / (PRIOR_COUNT + weight))


def month_of(moment: datetime) -> str:
    """``YYYY-MM`` of a moment, in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m")


def last_months(now: datetime, count: int = 12) -> list[str]:
    """The ``count`` calendar months up to ``now``'s, oldest first."""
    year, month = now.year, now.month
    months = []
    for _ in range(count):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


def response_bucket(hours: float) -> int:
    """The histogram bucket of an answer time."""
    if hours < HOURLY_BUCKETS:
        return max(0, int(hours))
    return HOURLY_BUCKETS + min(DAILY_BUCKETS, int((hours - HOURLY_BUCKETS) // 24))


def bucket_hours(bucket: int) -> float:
    """The middle of a bucket, in hours."""
    if bucket < HOURLY_BUCKETS:
        return bucket + 0.5
    return HOURLY_BUCKETS + (bucket - HOURLY_BUCKETS) * 24 + 12


def median_from_buckets(counts: dict[int, int]) -> float | None:
    """The median answer time from the histogram (bucket resolution)."""
    total = sum(counts.values())
    if total == 0:
        return None
    seen = 0
    for bucket in sorted(counts):
        seen += counts[bucket]
        if seen * 2 >= total:
            return bucket_hours(bucket)
    return None  # unreachable


# -- running sums -------------------------------------------------------------------


def _ensure_rows(merchant_id: int, month: str | None = None) -> None:
    insert_ignoring_duplicate(ScoreAggregate, {"merchant_id": merchant_id}, ["merchant_id"])
    if month is not None:
        insert_ignoring_duplicate(
            ScoreMonth, {"merchant_id": merchant_id, "month": month}, ["merchant_id", "month"]
        )


def _count_review(review: Review, sign: int, answered: bool, removed_delta: int) -> None:
    """Add (sign=1) or take away (sign=-1) a review's part of the sums, atomically."""
    month = month_of(review.created_at)
    _ensure_rows(review.merchant_id, month)
    g = growth(review.created_at)
    negative = review.rating <= NEGATIVE_MAX
    agg = ScoreAggregate
    dist = getattr(agg, f"dist_{review.rating}")
    db.session.execute(
        update(agg)
        .where(agg.merchant_id == review.merchant_id)
        .values(
            {
                agg.published: agg.published + sign,
                agg.removed: agg.removed + removed_delta,
                agg.rating_sum: agg.rating_sum + sign * review.rating,
                agg.process_sum: agg.process_sum + sign * review.process_rating,
                dist: dist + sign,
                agg.decay_weight: agg.decay_weight + sign * g,
                agg.decay_rating: agg.decay_rating + sign * review.rating * g,
                agg.negative: agg.negative + (sign if negative else 0),
                agg.negative_answered: agg.negative_answered
                + (sign if negative and answered else 0),
                agg.declared: agg.declared
                + (sign if review.verification_level == "declared" else 0),
            }
        )
    )
    db.session.execute(
        update(ScoreMonth)
        .where(ScoreMonth.merchant_id == review.merchant_id, ScoreMonth.month == month)
        .values(
            count=ScoreMonth.count + sign, rating_sum=ScoreMonth.rating_sum + sign * review.rating
        )
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


def count_first_answer(review: Review, hours: float) -> None:
    """The merchant answered a review for the first time, ``hours`` after it was posted."""
    _ensure_rows(review.merchant_id)
    bucket = response_bucket(hours)
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
    if review.status == "published" and review.rating <= NEGATIVE_MAX:
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


def summarize(
    aggregate: Any, months: dict[str, tuple[int, int]], buckets: dict[int, int], now: datetime
) -> dict[str, Any]:
    """The score answer from running sums (``aggregate`` may be None for no reviews)."""
    published = aggregate.published if aggregate else 0
    dist = {str(r): (getattr(aggregate, f"dist_{r}") if aggregate else 0) for r in range(1, 6)}
    negative = aggregate.negative if aggregate else 0
    history = []
    for month in last_months(now):
        count, rating_sum = months.get(month, (0, 0))
        history.append(
            {
                "month": month,
                "count": count,
                "average": one_decimal(rating_sum / count) if count else None,
            }
        )
    return {
        "score": bayesian(aggregate.decay_weight, aggregate.decay_rating, published, now)
        if aggregate
        else None,
        "rating_count": published,
        "removed_count": aggregate.removed if aggregate else 0,
        "distribution": dist,
        "average": one_decimal(aggregate.rating_sum / published) if published else None,
        "process_score": one_decimal(aggregate.process_sum / published)
        if published >= MIN_REVIEWS
        else None,
        "response_rate": round(aggregate.negative_answered / negative, 3) if negative else None,
        "median_response_hours": median_from_buckets(buckets),
        "history": history,
        "provenance": {
            "platform": published - (aggregate.declared if aggregate else 0),
            "declared": aggregate.declared if aggregate else 0,
        },
        "formula_version": FORMULA_VERSION,
    }


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

    @dataclass
    class Sums:
        published: int = 0
        removed: int = 0
        rating_sum: int = 0
        process_sum: int = 0
        decay_weight: float = 0.0
        decay_rating: float = 0.0
        negative: int = 0
        negative_answered: int = 0
        declared: int = 0
        dist_1: int = 0
        dist_2: int = 0
        dist_3: int = 0
        dist_4: int = 0
        dist_5: int = 0

    sums = Sums()
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
