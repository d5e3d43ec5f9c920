"""The public numbers recomputed from the log: the published score formula (version
:data:`FORMULA_VERSION`) and the replay of a merchant's leaves.

Pure functions over plain values — the standard library only — so the same code keeps the
service's replay-checked state (:mod:`trustseal.transparency.service` folds each appended
leaf into it), checks the database in ``trustseal log verify``, and recomputes a badge from
public data in ``trustseal log audit``. docs/verify.md writes the algorithm out.

score = (7·3.5 + Σ w·r) / (7 + Σ w), w = 0.5^(age_days / 365), one decimal, null below
5 published reviews. The decay is kept exact in O(1): with g(t) = 2^(days(t) / 365)
against a fixed epoch, Σ w·r = Σ r·g(t) / g(now) and Σ w = Σ g(t) / g(now), so each
review adds r·g(t) and g(t) once, and a read divides by g(now).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

FORMULA_VERSION = "2026-11"
PRIOR_COUNT = 7
PRIOR_MEAN = 3.5
HALF_LIFE_DAYS = 365
MIN_REVIEWS = 5
NEGATIVE_MAX = 2
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
HOURLY_BUCKETS = 48  # answer times: by hour up to 48 h, then by day up to 90 days
DAILY_BUCKETS = 88

REVIEW_TYPES = frozenset(
    {"review.published", "review.removed", "review.restored", "response.created"}
)
SEAL_TYPES = frozenset(
    {
        "seal.applied",
        "seal.approved",
        "seal.suspended",
        "seal.revoked",
        "seal.reinstated",
        "seal.expired",
        "seal.criterion",
    }
)
NUMBER_TYPES = REVIEW_TYPES | SEAL_TYPES  # the event types that move a public number
# what a removal, restore or first answer repeats of its review's review.published leaf
REVIEW_EFFECT = ("published_index", "rating", "process_rating", "reviewed_at", "level")


# -- the formula ----------------------------------------------------------------------


def growth(moment: datetime) -> float:
    """g(t) = 2^(days since the epoch / half-life)."""
    days = (moment - EPOCH).total_seconds() / 86400
    return float(2.0 ** (days / HALF_LIFE_DAYS))


def one_decimal(value: float) -> float:
    """Round half up to one decimal (4.25 → 4.3), as the formula page says: the decimal
    digits of the shortest repr of the double, not its binary value."""
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
    """The ``count`` calendar months up to ``now``'s (UTC), oldest first."""
    now = now.astimezone(UTC)
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


def median_from_buckets(counts: Mapping[int, int]) -> float | None:
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


def criteria_digest(passed: Iterable[str], version: str) -> str:
    """The hex SHA-256 a badge assertion carries for the verdicts: of the UTF-8 text
    ``trustseal-criteria/<version>`` followed by one ``\\n<id>`` per passed criterion, in
    byte order."""
    text = f"trustseal-criteria/{version}" + "".join(f"\n{cid}" for cid in sorted(set(passed)))
    return hashlib.sha256(text.encode()).hexdigest()


def parse_time(value: str) -> datetime:
    """An RFC 3339 UTC time as the log writes it (``2026-11-02T10:00:00Z``)."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


@dataclass
class ReviewSums:
    """The running sums of a merchant's published reviews (the score's whole state)."""

    published: int = 0
    removed: int = 0
    rating_sum: int = 0
    process_sum: int = 0
    dist_1: int = 0
    dist_2: int = 0
    dist_3: int = 0
    dist_4: int = 0
    dist_5: int = 0
    decay_weight: float = 0.0
    decay_rating: float = 0.0
    negative: int = 0
    negative_answered: int = 0
    declared: int = 0


def summarize(
    aggregate: Any, months: Mapping[str, tuple[int, int]], buckets: Mapping[int, int], now: datetime
) -> dict[str, Any]:
    """The score answer from running sums (``aggregate``: the attributes of
    :class:`ReviewSums`, or None for no reviews), at ``now``."""
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


# -- one merchant's state, folded leaf by leaf ------------------------------------------


@dataclass
class MerchantState:
    """What a merchant's leaves add up to: the review sums, reviews and answer times per
    month, the seal's last decision and the criteria verdicts. ``last_index`` is the
    index of the last leaf folded in (-1: none)."""

    sums: ReviewSums = field(default_factory=ReviewSums)
    months: dict[str, list[int]] = field(default_factory=dict)  # month → [count, rating sum]
    buckets: dict[int, int] = field(default_factory=dict)  # answer-time bucket → answers
    seal_status: str = "none"
    seal_valid_until: str | None = None
    criteria: dict[str, str] = field(default_factory=dict)  # criterion → verdict
    criteria_version: str | None = None
    last_index: int = -1

    def apply(self, index: int, leaf: Mapping[str, Any]) -> None:
        """Fold one leaf in. A removal, restore or first answer must carry its review's
        effect fields (:data:`REVIEW_EFFECT`, and ``answered``): :class:`Replay` fills them
        for leaves written before they existed."""
        kind = leaf["type"]
        if kind == "review.published":
            level = (leaf.get("verification") or {}).get("level", "declared")
            self._count(leaf["rating"], leaf["process_rating"], leaf["time"], level, 1, False)
        elif kind in ("review.removed", "review.restored"):
            sign = -1 if kind == "review.removed" else 1
            self._count(
                leaf["rating"],
                leaf["process_rating"],
                leaf["reviewed_at"],
                leaf["level"],
                sign,
                bool(leaf["answered"]),
            )
            self.sums.removed -= sign
        elif kind == "response.created":
            hours = (
                parse_time(leaf["time"]) - parse_time(leaf["reviewed_at"])
            ).total_seconds() / 3600
            bucket = response_bucket(hours)
            self.buckets[bucket] = self.buckets.get(bucket, 0) + 1
            if leaf["rating"] <= NEGATIVE_MAX:
                self.sums.negative_answered += 1
        elif kind == "seal.criterion":
            self.criteria[leaf["criterion"]] = leaf["verdict"]
            self.criteria_version = leaf.get("criteria_version", self.criteria_version)
        elif kind in SEAL_TYPES:
            self.seal_status = leaf["status"]
            self.seal_valid_until = leaf.get("valid_until")
        self.last_index = index

    def _count(
        self, rating: int, process: int, reviewed_at: str, level: str, sign: int, answered: bool
    ) -> None:
        """Add (sign 1) or take away (sign -1) a review's part of the sums — the same
        operations, in the same order, as the service's running aggregates."""
        moment = parse_time(reviewed_at)
        g = growth(moment)
        s = self.sums
        s.published += sign
        s.rating_sum += sign * rating
        s.process_sum += sign * process
        setattr(s, f"dist_{rating}", getattr(s, f"dist_{rating}") + sign)
        s.decay_weight += sign * g
        s.decay_rating += sign * rating * g
        if rating <= NEGATIVE_MAX:
            s.negative += sign
            s.negative_answered += sign if answered else 0
        s.declared += sign if level != "platform" else 0
        month = self.months.setdefault(month_of(moment), [0, 0])
        month[0] += sign
        month[1] += sign * rating

    def seal(self, now: datetime) -> dict[str, Any]:
        """``{status, valid_until}`` at ``now``: an active seal past its date is expired."""
        status = self.seal_status
        until = self.seal_valid_until
        if status == "active" and until is not None and parse_time(until) <= now:
            status = "expired"
        return {"status": status, "valid_until": until}

    def passed_criteria(self) -> list[str]:
        """The criteria whose last verdict is ``pass``, sorted."""
        return sorted(c for c, verdict in self.criteria.items() if verdict == "pass")

    def numbers(self, now: datetime) -> dict[str, Any]:
        """Every public number at ``now``: the score answer, the seal, the criteria."""
        months = {m: (c, r) for m, (c, r) in self.months.items()}
        result = summarize(self.sums, months, self.buckets, now)
        result["seal"] = self.seal(now)
        result["criteria_passed"] = self.passed_criteria()
        return result

    def to_json(self) -> str:
        """The state as JSON text (how the service stores it)."""
        data = asdict(self)
        data["buckets"] = {str(k): v for k, v in self.buckets.items()}
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> MerchantState:
        """A state read back from :meth:`to_json`."""
        data = json.loads(text)
        data["sums"] = ReviewSums(**data["sums"])
        data["buckets"] = {int(k): v for k, v in data["buckets"].items()}
        return cls(**data)


def review_effect(published_index: int, published: Mapping[str, Any]) -> dict[str, Any]:
    """The effect fields a removal, restore or first answer repeats from its review's
    ``review.published`` leaf (at ``published_index``)."""
    return {
        "published_index": published_index,
        "rating": published["rating"],
        "process_rating": published["process_rating"],
        "reviewed_at": published["time"],
        "level": (published.get("verification") or {}).get("level", "declared"),
    }


# -- the whole log, checked as it is replayed -------------------------------------------


@dataclass
class _Review:
    effect: dict[str, Any]
    removed: bool = False
    answered: bool = False


class Replay:
    """Replay leaves in index order into one :class:`MerchantState` per merchant,
    checking each review event against the review's own ``review.published`` leaf."""

    def __init__(self) -> None:
        self.states: dict[str, MerchantState] = {}
        self._reviews: dict[tuple[str, int | None], _Review] = {}

    def feed(self, index: int, leaf: Mapping[str, Any]) -> str | None:
        """Fold one leaf in; a problem (text naming the leaf) when it contradicts an
        earlier one, or None."""
        kind, merchant = leaf.get("type"), leaf.get("merchant")
        if kind not in NUMBER_TYPES or merchant is None:
            return None
        state = self.states.setdefault(merchant, MerchantState())
        if kind in REVIEW_TYPES:
            completed, problem = self._complete(index, leaf)
            if problem:
                return problem
            leaf = completed
        try:
            state.apply(index, leaf)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            return f"leaf {index} ({kind}) lacks or garbles {error}"
        return None

    def _complete(self, index: int, leaf: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
        kind = leaf["type"]
        key = (leaf["merchant"], leaf.get("review_id"))
        review = self._reviews.get(key)
        if kind == "review.published":
            if review is not None:
                return {}, f"leaf {index}: review {key[1]} was published before"
            self._reviews[key] = _Review(review_effect(index, leaf))
            return dict(leaf), None
        if review is None:
            return {}, f"leaf {index} ({kind}): review {key[1]} has no review.published leaf"
        expected = {**review.effect, "answered": review.answered}
        if kind == "response.created":
            expected.pop("answered")
            if review.answered:
                return {}, f"leaf {index}: review {key[1]} was answered before"
            review.answered = True
        elif kind == "review.removed":
            if review.removed:
                return {}, f"leaf {index}: review {key[1]} is removed already"
            review.removed = True
        elif not review.removed:
            return {}, f"leaf {index}: review {key[1]} is not removed, it cannot be restored"
        else:
            review.removed = False
        for name, value in expected.items():
            if name in leaf and leaf[name] != value:
                return {}, (
                    f"leaf {index} ({kind}): {name} is {json.dumps(leaf[name])}, but its "
                    f"review's leaf says {json.dumps(value)}"
                )
        return {**leaf, **expected}, None


def first_difference(
    expected: Mapping[str, Any], found: Mapping[str, Any], prefix: str = ""
) -> tuple[str, Any, Any] | None:
    """The first key (a dotted path, keys in sorted order) whose value differs, with the
    two values (``expected`` first), or None when they are equal."""
    for name in sorted(set(expected) | set(found)):
        left, right = expected.get(name), found.get(name)
        if isinstance(left, Mapping) and isinstance(right, Mapping):
            inner = first_difference(left, right, f"{prefix}{name}.")
            if inner:
                return inner
        elif left != right:
            return f"{prefix}{name}", left, right
    return None
