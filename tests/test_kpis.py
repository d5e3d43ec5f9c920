"""The service KPIs (API.md "Delivery, resolution and satisfaction") against hand-computed
examples: each one folded leaf by leaf from the log, null below the published minimum
sample, and the score of formula 2026-12 counting a reviewer's updated rating."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from trustseal.transparency import numbers
from trustseal.transparency.numbers import MerchantState, Replay

START = datetime(2026, 10, 1, 10, tzinfo=UTC)
SLUG = "bodega"


def at(days: float = 0, hours: float = 0) -> str:
    """An RFC 3339 time ``days`` and ``hours`` after START."""
    moment = START + timedelta(days=days, hours=hours)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def published(review_id: int, rating: int, time: str, **extra: Any) -> dict[str, Any]:
    level = extra.pop("level", "platform")
    return {
        "type": "review.published",
        "merchant": SLUG,
        "time": time,
        "review_id": review_id,
        "rating": rating,
        "process_rating": rating,
        "verification": {"level": level, "source": "shopify"},
        **extra,
    }


def later(kind: str, review_id: int, time: str, **extra: Any) -> dict[str, Any]:
    """A later review leaf without its effect fields (Replay fills them, as for an old leaf)."""
    return {"type": kind, "merchant": SLUG, "time": time, "review_id": review_id, **extra}


def book(kind: str, number: str, time: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "merchant": SLUG,
        "time": time,
        "number": number,
        "kind": "reclamo",
        **extra,
    }


def replayed(leaves: list[dict[str, Any]]) -> MerchantState:
    run = Replay()
    for index, leaf in enumerate(leaves):
        assert run.feed(index, leaf) is None
    return run.states[SLUG]


# Twelve reviews: ratings, "would you recommend?" for ten, delivery facts.
RATINGS = [5, 5, 4, 4, 4, 3, 2, 1, 5, 5, 4, 3]
RECOMMEND = [10, 9, 8, 7, 6, 3, 10, 9, 0, 9]  # promoters 5 (10, 9, 10, 9, 9), detractors 3
DAYS_TO_DELIVER = [1, 2, 2, 3, 3, 3, 4, 5, 6, 10]  # lower median: 3
LATE = {3, 8}  # delivered the day after the promised day


def twelve_reviews() -> list[dict[str, Any]]:
    leaves = []
    for i, rating in enumerate(RATINGS):
        extra: dict[str, Any] = {}
        if i < 10:
            placed = START.date() + timedelta(days=i)
            delivered = placed + timedelta(days=DAYS_TO_DELIVER[i])
            promised = delivered - timedelta(days=1) if i in LATE else delivered
            extra["recommend"] = RECOMMEND[i]
            extra["delivery"] = {
                "placed_on": placed.isoformat(),
                "delivered_on": delivered.isoformat(),
                "promised_by": promised.isoformat(),
            }
            extra["on_time"] = i in LATE  # the platform's dates win over the reviewer's word
        else:  # declared purchases: only the reviewer's answer counts, never their dates
            extra["level"] = "declared"
            extra["on_time"] = i == 10
            extra["delivery"] = {"placed_on": "2026-10-01", "delivered_on": "2026-10-30"}
        leaves.append(published(i + 1, rating, at(days=i), **extra))
    return leaves


def test_satisfaction_and_delivery_by_hand() -> None:
    kpis = replayed(twelve_reviews()).numbers(START)["kpis"]
    # CSAT: 8 of 12 ratings are 4 or 5. NPS: (5 - 3) / 10 → 20.
    assert kpis["satisfaction"] == {"csat": 0.667, "measured": 12, "nps": 20, "nps_measured": 10}
    # On time: 8 of 10 by the platform's dates, and the two reviewers' own answers (1 yes).
    assert kpis["delivery"] == {
        "on_time_rate": 0.75,
        "measured": 12,
        "median_days_to_deliver": 3,
        "days_measured": 10,
    }


def test_a_removal_takes_back_what_its_review_added() -> None:
    leaves = [*twelve_reviews(), later("review.removed", 12, at(days=20), answered=False)]
    kpis = replayed(leaves).numbers(START)["kpis"]
    assert kpis["satisfaction"]["csat"] == round(8 / 11, 3)
    assert kpis["delivery"]["on_time_rate"] == round(9 / 11, 3)
    restored = replayed([*leaves, later("review.restored", 12, at(days=21), answered=False)])
    assert restored.numbers(START)["kpis"] == replayed(twelve_reviews()).numbers(START)["kpis"]


RESPONSE_HOURS = [1, 2, 3, 5, 10, 20, 23.5, 30, 50, 100]


def test_first_response_counts_reviews_and_complaints_by_hand() -> None:
    leaves = twelve_reviews()
    for i, hours in enumerate(RESPONSE_HOURS):
        leaves.append(later("response.created", i + 1, at(days=i, hours=hours)))
    leaves.append(book("book.filed", "2026-000001", at(days=30)))
    leaves.append(book("book.answered", "2026-000001", at(days=30, hours=5)))
    kpis = replayed(leaves).numbers(START)["kpis"]
    # 11 answers; 8 within 24 h (the book's included). Median: the 6th of the sorted
    # buckets 1 2 3 5 5 10 20 23 30 48 50 is the 10-11 h bucket: 10.5.
    assert kpis["first_response"] == {
        "median_hours": 10.5,
        "within_24h_rate": 0.727,
        "measured": 11,
    }


def test_every_kpi_is_null_below_the_minimum_sample() -> None:
    leaves = twelve_reviews()[:9]
    leaves.append(later("response.created", 1, at(hours=2)))
    kpis = replayed(leaves).numbers(START)["kpis"]
    assert numbers.KPI_MIN_SAMPLE == 10
    assert kpis["satisfaction"] == {"csat": None, "measured": 9, "nps": None, "nps_measured": 9}
    assert kpis["delivery"] == {
        "on_time_rate": None,
        "measured": 9,
        "median_days_to_deliver": None,
        "days_measured": 9,
    }
    assert kpis["first_response"] == {"median_hours": None, "within_24h_rate": None, "measured": 1}
    assert kpis["resolution"] == {"rate": None, "median_days": None, "measured": 0}


def test_resolution_rate_and_median_days_by_hand() -> None:
    leaves: list[dict[str, Any]] = []
    resolved_after = [1, 1, 2, 2, 3, 5, 8]  # days from filing; lower median of 7 → 2
    for i in range(10):
        number = f"2026-{i + 1:06d}"
        leaves.append(book("book.filed", number, at(days=i)))
        leaves.append(book("book.answered", number, at(days=i, hours=3)))
        days = resolved_after[i] if i < 7 else 4
        leaves.append(book("book.confirmed", number, at(days=i + days, hours=1), resolved=i < 7))
    kpis = replayed(leaves).numbers(START)["kpis"]
    assert kpis["resolution"] == {"rate": 0.7, "median_days": None, "measured": 10}
    # the median needs ten resolved cases: three more
    for i in range(10, 13):
        number = f"2026-{i + 1:06d}"
        leaves.append(book("book.filed", number, at(days=i)))
        leaves.append(book("book.answered", number, at(days=i, hours=3)))
        leaves.append(book("book.confirmed", number, at(days=i + 9), resolved=True))
    kpis = replayed(leaves).numbers(START)["kpis"]
    # resolved after 1 1 2 2 3 5 8 9 9 9 days: the 5th of 10 is 3
    assert kpis["resolution"] == {"rate": round(10 / 13, 3), "median_days": 3, "measured": 13}


def test_the_score_counts_an_updated_rating_under_formula_2026_12() -> None:
    assert numbers.FORMULA_VERSION == "2026-12"
    leaves = twelve_reviews()
    leaves.append(later("response.created", 7, at(days=6, hours=2)))
    before = replayed(leaves).numbers(START)
    leaves.append(later("review.updated", 7, at(days=9), new_rating=4, resolved=True))
    after = replayed(leaves).numbers(START)
    assert after["distribution"]["2"] == before["distribution"]["2"] - 1
    assert after["distribution"]["4"] == before["distribution"]["4"] + 1
    assert after["average"] == numbers.one_decimal((sum(RATINGS) + 2) / 12)
    assert after["rating_count"] == 12
    # the same review in the same month: its count stays, its average follows the update
    assert [m["count"] for m in after["history"]] == [m["count"] for m in before["history"]]
    assert after["kpis"]["satisfaction"]["csat"] == 0.75  # 9 of 12 now
    assert after["kpis"]["resolution"]["measured"] == 1
    # Hand-computed: every review is in October 2026, so at START each weight is
    # g(t)/g(now) = 2^((t - now)/365 d); the update moves 2 stars of review 7's weight.
    weight = sum(2 ** (i / 365) for i in range(12))
    weighted = sum(r * 2 ** (i / 365) for i, r in enumerate(RATINGS)) + 2 * 2 ** (6 / 365)
    assert after["score"] == numbers.one_decimal((7 * 3.5 + weighted) / (7 + weight))
    # a later removal takes away the updated rating, as its leaf repeats it
    removed = replayed([*leaves, later("review.removed", 7, at(days=10), answered=True)])
    assert removed.numbers(START)["distribution"]["4"] == before["distribution"]["4"]


def test_the_kept_state_folds_leaves_as_the_full_replay_does() -> None:
    """The appender folds each leaf as written (with its effect fields); the replay fills
    them from the review's own leaf: the two agree, and the state survives JSON."""
    leaves = twelve_reviews()
    run = Replay()
    kept = MerchantState()
    extra = [
        later("response.created", 7, at(days=6, hours=2)),
        later("review.updated", 7, at(days=9), new_rating=5, resolved=False),
        later("review.removed", 3, at(days=10), answered=False),
        book("book.filed", "2026-000001", at(days=30)),
        book("book.answered", "2026-000001", at(days=30, hours=30)),
        book("book.confirmed", "2026-000001", at(days=33), resolved=True),
    ]
    for index, leaf in enumerate([*leaves, *extra]):
        assert run.feed(index, leaf) is None
    # what the service writes: the later leaves with their effect fields filled
    completing = Replay()
    for index, leaf in enumerate([*leaves, *extra]):
        kind = leaf["type"]
        full, problem = dict(leaf), None
        if kind in numbers.REVIEW_TYPES:
            full, problem = completing._complete(index, leaf)
        elif kind in numbers.BOOK_TYPES:
            full, problem = completing._complete_book(index, leaf)
        assert problem is None
        kept.apply(index, full)
    assert MerchantState.from_json(kept.to_json()).numbers(START) == run.states[SLUG].numbers(START)


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (
            [
                later("response.created", 2, at(days=1, hours=1)),
                later("review.updated", 2, at(days=3), new_rating=1, resolved=False),
                later("review.updated", 2, at(days=4), new_rating=5, resolved=True),
            ],
            "was updated before",
        ),
        (
            [
                later("review.removed", 2, at(days=3), answered=False),
                later("review.updated", 2, at(days=4), new_rating=5, resolved=True),
            ],
            "is removed, it cannot be updated",
        ),
        (
            [later("review.updated", 2, at(days=4), new_rating=5, resolved=True, rating=1)],
            "rating is 1, but its review's leaf says 5",
        ),
        ([book("book.answered", "2026-000009", at(days=3))], "has no book.filed leaf"),
        (
            [
                book("book.filed", "2026-000009", at(days=3)),
                book("book.answered", "2026-000009", at(days=3, hours=1), filed_at=at(days=1)),
            ],
            "filed_at is",
        ),
        (
            [
                book("book.filed", "2026-000009", at(days=3)),
                book("book.confirmed", "2026-000009", at(days=4), resolved=True),
            ],
            "cannot be confirmed now",
        ),
    ],
)
def test_the_replay_names_a_leaf_that_contradicts_an_earlier_one(
    extra: list[dict[str, Any]], problem: str
) -> None:
    run = Replay()
    found = None
    for index, leaf in enumerate([*twelve_reviews(), *extra]):
        found = found or run.feed(index, leaf)
    assert found is not None and problem in found, found
