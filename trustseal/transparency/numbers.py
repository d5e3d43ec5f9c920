"""The public numbers recomputed from the log: the published score formula (version
:data:`FORMULA_VERSION`) and the replay of a merchant's leaves.

Pure functions over plain values — the standard library only — so the same code keeps the
service's replay-checked state (:mod:`trustseal.transparency.service` folds each appended
leaf into it), checks the database in ``trustseal log verify``, and recomputes a badge from
public data in ``trustseal log audit``. docs/verify.md writes the algorithm out.

score = (7·3.5 + Σ w·r) / (7 + Σ w), w = 0.5^(age_days / 365), one decimal, null below
5 published reviews. The decay is kept exact in O(1): with g(t) = 2^(days(t) / 365)
against a fixed epoch, Σ w·r = Σ r·g(t) / g(now) and Σ w = Σ g(t) / g(now), so each
review adds r·g(t) and g(t) once, and a read divides by g(now). Since version 2026-12 a
review that its author updated through the resolution loop (a ``review.updated`` leaf with
a ``new_rating``) counts with the updated rating.

The service KPIs (:class:`KpiSums`: delivery, satisfaction, first response, resolution)
exist only as this replay: every one of them is a count or a histogram moved by a leaf,
each null below :data:`KPI_MIN_SAMPLE`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

FORMULA_VERSION = "2026-12"
PRIOR_COUNT = 7
PRIOR_MEAN = 3.5
HALF_LIFE_DAYS = 365
MIN_REVIEWS = 5
NEGATIVE_MAX = 2
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
HOURLY_BUCKETS = 48  # answer times: by hour up to 48 h, then by day up to 90 days
DAILY_BUCKETS = 88
KPI_MIN_SAMPLE = 10  # a KPI is null until this many events measure it
FIRST_RESPONSE_TARGET_HOURS = 24
MAX_DAYS = 90  # day histograms (delivery, resolution) keep 0..89 and "90 or more"
PROMOTER_MIN = 9  # "¿Recomendarías esta tienda?" 9-10: promoter; 0-6: detractor
DETRACTOR_MAX = 6
SATISFIED_MIN = 4  # CSAT: the share of ratings of 4 or 5
KPI_GROUPS = ("delivery", "satisfaction", "first_response", "resolution")

REVIEW_TYPES = frozenset(
    {
        "review.published",
        "review.removed",
        "review.restored",
        "response.created",
        "review.updated",
    }
)
BOOK_TYPES = frozenset({"book.filed", "book.answered", "book.confirmed"})
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
NUMBER_TYPES = REVIEW_TYPES | SEAL_TYPES | BOOK_TYPES  # the types that move a public number
# what a removal, restore, first answer or update repeats of its review's published leaf
REVIEW_EFFECT = (
    "published_index",
    "rating",
    "process_rating",
    "reviewed_at",
    "level",
    "recommend",
    "delivered_on_time",
    "delivery_days",
)


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


def lower_median(counts: Mapping[int, int]) -> int | None:
    """The lower median of a histogram of whole values (value → count), or None."""
    total = sum(counts.values())
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if seen * 2 >= total > 0:
            return value
    return None


def measured_share(hits: int, total: int) -> float | None:
    """``hits / total`` to three decimals, or None below :data:`KPI_MIN_SAMPLE`."""
    return round(hits / total, 3) if total >= KPI_MIN_SAMPLE else None


def day_bucket(days: int) -> int:
    """The bucket of a number of days in a day histogram: 0 .. :data:`MAX_DAYS`."""
    return min(max(0, days), MAX_DAYS)


def days_between(start: str, end: str) -> int:
    """Whole days from one RFC 3339 time (or ``YYYY-MM-DD`` date) to another (UTC)."""
    return (_moment(end) - _moment(start)).days


def _moment(value: str) -> datetime:
    if len(value) == 10:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return parse_time(value)


def delivery_facts(published: Mapping[str, Any]) -> tuple[bool | None, int | None]:
    """``(delivered_on_time, delivery_days)`` of a ``review.published`` leaf.

    On time: a platform-attested purchase with a promised date and a delivery date says
    it (delivered on or before the promised day, Lima dates); else the reviewer's own
    ``on_time`` answer; else unknown (None). Days to deliver: only a platform-attested
    purchase's order and delivery dates — what a merchant declares is never measured."""
    level = (published.get("verification") or {}).get("level", "declared")
    delivery = published.get("delivery") or {}
    attested = level == "platform"
    placed, delivered, promised = (
        delivery.get("placed_on"),
        delivery.get("delivered_on"),
        delivery.get("promised_by"),
    )
    on_time: bool | None = None
    if attested and delivered and promised:
        on_time = delivered <= promised  # ISO dates compare as text
    elif isinstance(published.get("on_time"), bool):
        on_time = published["on_time"]
    days = days_between(placed, delivered) if attested and placed and delivered else None
    return on_time, (max(0, days) if days is not None else None)


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


@dataclass
class KpiSums:
    """The running counts behind the service KPIs (each moved only by leaves).

    ``months`` keeps the same counts per calendar month (UTC) for the merchant's charts:
    a review's counts in its month, an answer's and a confirmation's in theirs."""

    recommend_n: int = 0
    promoters: int = 0
    detractors: int = 0
    on_time_n: int = 0
    on_time_yes: int = 0
    delivery_days: dict[int, int] = field(default_factory=dict)  # days → reviews
    responses: dict[int, int] = field(default_factory=dict)  # answer-time bucket → answers
    resolution_n: int = 0
    resolved: int = 0
    resolution_days: dict[int, int] = field(default_factory=dict)  # days → resolved
    months: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, month: str, name: str, amount: int = 1) -> None:
        """Add to a monthly count."""
        counts = self.months.setdefault(month, {})
        counts[name] = counts.get(name, 0) + amount


MONTH_COUNTS = (
    "reviews",
    "satisfied",
    "recommend_n",
    "promoters",
    "detractors",
    "on_time_n",
    "on_time_yes",
    "responses",
    "within_target",
    "resolution_n",
    "resolved",
)


def _add(histogram: dict[int, int], key: int, amount: int = 1) -> None:
    histogram[key] = histogram.get(key, 0) + amount
    if histogram[key] == 0:
        del histogram[key]


def net_promoter(
    promoters: int, detractors: int, total: int, minimum: int = KPI_MIN_SAMPLE
) -> int | None:
    """NPS: the percentage of promoters minus that of detractors, a whole number from -100
    to 100 (half away from zero), or None below ``minimum`` answers (at least one)."""
    if total < max(1, minimum):
        return None
    value = Decimal(100 * (promoters - detractors)) / Decimal(total)
    return int(value.quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def within(counts: Mapping[int, int], hours: int) -> int:
    """How many answers of an answer-time histogram came in under ``hours`` hours."""
    return sum(n for bucket, n in counts.items() if bucket < min(hours, HOURLY_BUCKETS))


def kpis(sums: ReviewSums, kpi: KpiSums) -> dict[str, Any]:
    """The signed service KPIs, from the running counts: API.md "Delivery, resolution and
    satisfaction". Each group says how many events measured it; a value is null while its
    sample is below :data:`KPI_MIN_SAMPLE`."""
    days_measured = sum(kpi.delivery_days.values())
    answers = sum(kpi.responses.values())
    satisfied = sums.dist_4 + sums.dist_5
    median_hours = median_from_buckets(kpi.responses) if answers >= KPI_MIN_SAMPLE else None
    enough_days = days_measured >= KPI_MIN_SAMPLE
    enough_resolved = sum(kpi.resolution_days.values()) >= KPI_MIN_SAMPLE
    return {
        "delivery": {
            "on_time_rate": measured_share(kpi.on_time_yes, kpi.on_time_n),
            "measured": kpi.on_time_n,
            "median_days_to_deliver": lower_median(kpi.delivery_days) if enough_days else None,
            "days_measured": days_measured,
        },
        "satisfaction": {
            "csat": measured_share(satisfied, sums.published),
            "measured": sums.published,
            "nps": net_promoter(kpi.promoters, kpi.detractors, kpi.recommend_n),
            "nps_measured": kpi.recommend_n,
        },
        "first_response": {
            "median_hours": median_hours,
            "within_24h_rate": measured_share(
                within(kpi.responses, FIRST_RESPONSE_TARGET_HOURS), answers
            ),
            "measured": answers,
        },
        "resolution": {
            "rate": measured_share(kpi.resolved, kpi.resolution_n),
            "median_days": lower_median(kpi.resolution_days) if enough_resolved else None,
            "measured": kpi.resolution_n,
        },
        "min_sample": KPI_MIN_SAMPLE,
    }


# -- one merchant's state, folded leaf by leaf ------------------------------------------


@dataclass
class MerchantState:
    """What a merchant's leaves add up to: the review sums, reviews and answer times per
    month, the service KPIs' counts, the seal's last decision and the criteria verdicts.
    ``last_index`` is the index of the last leaf folded in (-1: none)."""

    sums: ReviewSums = field(default_factory=ReviewSums)
    months: dict[str, list[int]] = field(default_factory=dict)  # month → [count, rating sum]
    buckets: dict[int, int] = field(default_factory=dict)  # answer-time bucket → answers
    kpi: KpiSums = field(default_factory=KpiSums)
    seal_status: str = "none"
    seal_valid_until: str | None = None
    criteria: dict[str, str] = field(default_factory=dict)  # criterion → verdict
    criteria_version: str | None = None
    last_index: int = -1

    def apply(self, index: int, leaf: Mapping[str, Any]) -> None:
        """Fold one leaf in. A removal, restore, first answer or update must carry its
        review's effect fields (:data:`REVIEW_EFFECT`, and ``answered``), and a book answer
        or confirmation its entry's ``filed_at``: :class:`Replay` fills them for leaves
        written before they existed."""
        kind = leaf["type"]
        if kind == "review.published":
            effect = review_effect(index, leaf)
            self._count(effect, 1, False)
        elif kind in ("review.removed", "review.restored"):
            sign = -1 if kind == "review.removed" else 1
            self._count(leaf, sign, bool(leaf["answered"]))
            self.sums.removed -= sign
        elif kind == "response.created":
            hours = (
                parse_time(leaf["time"]) - parse_time(leaf["reviewed_at"])
            ).total_seconds() / 3600
            bucket = response_bucket(hours)
            self.buckets[bucket] = self.buckets.get(bucket, 0) + 1
            self._first_response(leaf["time"], hours)
            if leaf["rating"] <= NEGATIVE_MAX:
                self.sums.negative_answered += 1
        elif kind == "review.updated":
            self._resolution(leaf["time"], leaf["reviewed_at"], bool(leaf["resolved"]))
            new_rating = leaf.get("new_rating")
            if new_rating is not None and new_rating != leaf["rating"]:
                answered = bool(leaf["answered"])
                self._count(leaf, -1, answered)
                self._count({**leaf, "rating": new_rating}, 1, answered)
        elif kind == "book.answered":
            hours = (parse_time(leaf["time"]) - parse_time(leaf["filed_at"])).total_seconds()
            self._first_response(leaf["time"], hours / 3600)
        elif kind == "book.confirmed":
            self._resolution(leaf["time"], leaf["filed_at"], bool(leaf["resolved"]))
        elif kind == "seal.criterion":
            self.criteria[leaf["criterion"]] = leaf["verdict"]
            self.criteria_version = leaf.get("criteria_version", self.criteria_version)
        elif kind in SEAL_TYPES:
            self.seal_status = leaf["status"]
            self.seal_valid_until = leaf.get("valid_until")
        self.last_index = index

    def _count(self, effect: Mapping[str, Any], sign: int, answered: bool) -> None:
        """Add (sign 1) or take away (sign -1) a review's part of the sums — the same
        operations, in the same order, as the service's running aggregates — and of the
        KPI counts."""
        rating, reviewed_at = effect["rating"], effect["reviewed_at"]
        moment = parse_time(reviewed_at)
        g = growth(moment)
        s = self.sums
        s.published += sign
        s.rating_sum += sign * rating
        s.process_sum += sign * effect["process_rating"]
        setattr(s, f"dist_{rating}", getattr(s, f"dist_{rating}") + sign)
        s.decay_weight += sign * g
        s.decay_rating += sign * rating * g
        if rating <= NEGATIVE_MAX:
            s.negative += sign
            s.negative_answered += sign if answered else 0
        s.declared += sign if effect["level"] != "platform" else 0
        month_name = month_of(moment)
        month = self.months.setdefault(month_name, [0, 0])
        month[0] += sign
        month[1] += sign * rating
        self._count_kpis(effect, month_name, sign)

    def _count_kpis(self, effect: Mapping[str, Any], month: str, sign: int) -> None:
        kpi = self.kpi
        kpi.add(month, "reviews", sign)
        kpi.add(month, "satisfied", sign if effect["rating"] >= SATISFIED_MIN else 0)
        recommend = effect.get("recommend")
        if recommend is not None:
            promoter, detractor = recommend >= PROMOTER_MIN, recommend <= DETRACTOR_MAX
            kpi.recommend_n += sign
            kpi.promoters += sign if promoter else 0
            kpi.detractors += sign if detractor else 0
            kpi.add(month, "recommend_n", sign)
            kpi.add(month, "promoters", sign if promoter else 0)
            kpi.add(month, "detractors", sign if detractor else 0)
        on_time = effect.get("delivered_on_time")
        if on_time is not None:
            kpi.on_time_n += sign
            kpi.on_time_yes += sign if on_time else 0
            kpi.add(month, "on_time_n", sign)
            kpi.add(month, "on_time_yes", sign if on_time else 0)
        days = effect.get("delivery_days")
        if days is not None:
            _add(kpi.delivery_days, day_bucket(days), sign)

    def _first_response(self, answered_at: str, hours: float) -> None:
        month = month_of(parse_time(answered_at))
        _add(self.kpi.responses, response_bucket(hours))
        self.kpi.add(month, "responses")
        self.kpi.add(month, "within_target", int(hours < FIRST_RESPONSE_TARGET_HOURS))

    def _resolution(self, confirmed_at: str, since: str, resolved: bool) -> None:
        kpi = self.kpi
        month = month_of(parse_time(confirmed_at))
        kpi.resolution_n += 1
        kpi.add(month, "resolution_n")
        if resolved:
            kpi.resolved += 1
            kpi.add(month, "resolved")
            _add(kpi.resolution_days, day_bucket(days_between(since, confirmed_at)))

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
        result["kpis"] = kpis(self.sums, self.kpi)
        return result

    def to_json(self) -> str:
        """The state as JSON text (how the service stores it)."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> MerchantState:
        """A state read back from :meth:`to_json`."""
        data = json.loads(text)
        data["sums"] = ReviewSums(**data["sums"])
        data["buckets"] = _int_keys(data["buckets"])
        kpi = data.get("kpi") or {}
        for name in ("delivery_days", "responses", "resolution_days"):
            kpi[name] = _int_keys(kpi.get(name) or {})
        data["kpi"] = KpiSums(**kpi)
        return cls(**data)


def _int_keys(histogram: Mapping[str, int]) -> dict[int, int]:
    """A histogram read back from JSON, whose object keys are text."""
    return {int(k): v for k, v in histogram.items()}


def review_effect(published_index: int, published: Mapping[str, Any]) -> dict[str, Any]:
    """The effect fields a removal, restore, first answer or update repeats from its
    review's ``review.published`` leaf (at ``published_index``): :data:`REVIEW_EFFECT`."""
    on_time, days = delivery_facts(published)
    return {
        "published_index": published_index,
        "rating": published["rating"],
        "process_rating": published["process_rating"],
        "reviewed_at": published["time"],
        "level": (published.get("verification") or {}).get("level", "declared"),
        "recommend": published.get("recommend"),
        "delivered_on_time": on_time,
        "delivery_days": days,
    }


# -- the whole log, checked as it is replayed -------------------------------------------


@dataclass
class _Review:
    effect: dict[str, Any]
    removed: bool = False
    answered: bool = False
    updated: bool = False


@dataclass
class _BookEntry:
    filed_at: str
    complaint: bool
    answered: bool = False
    confirmed: bool = False


class Replay:
    """Replay leaves in index order into one :class:`MerchantState` per merchant,
    checking each review event against the review's own ``review.published`` leaf and
    each book answer or confirmation against its entry's ``book.filed`` leaf."""

    def __init__(self) -> None:
        self.states: dict[str, MerchantState] = {}
        self._reviews: dict[tuple[str, int | None], _Review] = {}
        self._entries: dict[tuple[str, str | None], _BookEntry] = {}

    def feed(self, index: int, leaf: Mapping[str, Any]) -> str | None:
        """Fold one leaf in; a problem (text naming the leaf) when it contradicts an
        earlier one, or None."""
        kind, merchant = leaf.get("type"), leaf.get("merchant")
        if kind not in NUMBER_TYPES or merchant is None:
            return None
        state = self.states.setdefault(merchant, MerchantState())
        try:
            if kind in REVIEW_TYPES:
                leaf, problem = self._complete(index, leaf)
            elif kind in BOOK_TYPES:
                leaf, problem = self._complete_book(index, leaf)
            else:
                problem = None
            if problem:
                return problem
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
        problem = _differs(index, kind, leaf, expected, "its review's leaf says")
        if problem:
            return {}, problem
        if kind == "response.created":
            if review.answered:
                return {}, f"leaf {index}: review {key[1]} was answered before"
            review.answered = True
        elif kind == "review.updated":
            if review.updated:
                return {}, f"leaf {index}: review {key[1]} was updated before"
            if review.removed:
                return {}, f"leaf {index}: review {key[1]} is removed, it cannot be updated"
            review.updated = True
            new_rating = leaf.get("new_rating")
            if new_rating is not None:
                review.effect["rating"] = new_rating
        elif kind == "review.removed":
            if review.removed:
                return {}, f"leaf {index}: review {key[1]} is removed already"
            review.removed = True
        elif not review.removed:
            return {}, f"leaf {index}: review {key[1]} is not removed, it cannot be restored"
        else:
            review.removed = False
        return {**leaf, **expected}, None

    def _complete_book(
        self, index: int, leaf: Mapping[str, Any]
    ) -> tuple[dict[str, Any], str | None]:
        kind = leaf["type"]
        key = (leaf["merchant"], leaf.get("number"))
        entry = self._entries.get(key)
        if kind == "book.filed":
            if entry is not None:
                return {}, f"leaf {index}: book entry {key[1]} was filed before"
            complaint = leaf.get("kind") in ("reclamo", "queja")
            self._entries[key] = _BookEntry(leaf["time"], complaint)
            return dict(leaf), None
        if entry is None:
            return {}, f"leaf {index} ({kind}): book entry {key[1]} has no book.filed leaf"
        expected = {"filed_at": entry.filed_at}
        problem = _differs(index, kind, leaf, expected, "its book.filed leaf says")
        if problem:
            return {}, problem
        if not entry.complaint:
            return {}, f"leaf {index} ({kind}): book entry {key[1]} is not a complaint"
        if kind == "book.answered":
            if entry.answered:
                return {}, f"leaf {index}: book entry {key[1]} was answered before"
            entry.answered = True
        else:
            if entry.confirmed or not entry.answered:
                return {}, f"leaf {index}: book entry {key[1]} cannot be confirmed now"
            entry.confirmed = True
        return {**leaf, **expected}, None


def _differs(
    index: int, kind: str, leaf: Mapping[str, Any], expected: Mapping[str, Any], source: str
) -> str | None:
    """The first field a leaf repeats differently from ``expected`` (as a problem)."""
    for name, value in expected.items():
        if name in leaf and leaf[name] != value:
            return (
                f"leaf {index} ({kind}): {name} is {json.dumps(leaf[name])}, but {source} "
                f"{json.dumps(value)}"
            )
    return None


def kept_twice(values: Mapping[str, Any]) -> dict[str, Any]:
    """The part of :meth:`MerchantState.numbers` the database also keeps, in its running
    sums and tables, to be compared with the log's replay. The ``kpis`` are left out: they
    are kept only as this replay (checked against a full replay of the leaves by ``log
    verify``, and recomputable by anyone from the public log)."""
    return {name: value for name, value in values.items() if name != "kpis"}


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
