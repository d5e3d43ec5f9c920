"""The score: the published formula, O(1) running sums equal to a full recomputation."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.helpers import make_staff
from tests.reviewing import review_link, shop
from trustseal.extensions import db
from trustseal.reviews import score, service
from trustseal.reviews.models import Review, ReviewResponse, ScoreAggregate
from trustseal.staff.models import StaffUser
from trustseal.transparency import numbers
from trustseal.transparency import service as transparency

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def facts(*ratings_and_ages: tuple[int, float]) -> list[score.ReviewFacts]:
    return [score.ReviewFacts(r, 4, NOW - timedelta(days=age), True) for r, age in ratings_and_ages]


def test_formula_examples():
    assert score.recompute(facts(*[(5, 0)] * 4), NOW)["score"] is None  # below 5 reviews
    fresh = score.recompute(facts(*[(5, 0)] * 5), NOW)
    assert fresh["score"] == numbers.one_decimal((7 * 3.5 + 25) / 12) == 4.1
    # a review one half-life old weighs half as much
    aged = score.recompute(facts(*[(5, 365)] * 5), NOW)["score"]
    assert aged == numbers.one_decimal((24.5 + 12.5) / 9.5)
    mixed = score.recompute(facts((1, 0), (1, 0), (5, 730), (5, 730), (5, 730)), NOW)
    assert mixed["score"] == numbers.one_decimal((24.5 + 2 + 3 * 5 * 0.25) / (7 + 2 + 0.75))
    assert mixed["distribution"] == {"1": 2, "2": 0, "3": 0, "4": 0, "5": 3}


def test_rounding_is_half_up():
    assert numbers.one_decimal(4.25) == 4.3 and numbers.one_decimal(4.249999) == 4.2


def test_history_is_twelve_months_oldest_first():
    months = numbers.last_months(datetime(2026, 2, 3, tzinfo=UTC))
    assert months[0] == "2025-03" and months[-1] == "2026-02" and len(months) == 12


def test_median_response_hours_from_buckets():
    assert numbers.median_from_buckets({}) is None
    assert numbers.median_from_buckets({0: 1, 5: 1, 10: 1}) == 5.5
    assert numbers.response_bucket(47.9) == 47 and numbers.response_bucket(48) == 48
    assert numbers.response_bucket(10_000) == numbers.HOURLY_BUCKETS + numbers.DAILY_BUCKETS


def _db_facts(now: datetime) -> list[score.ReviewFacts]:
    rows = db.session.execute(
        select(Review, ReviewResponse.created_at).outerjoin(ReviewResponse)
    ).all()
    return [
        score.ReviewFacts(
            r.rating,
            r.process_rating,
            score.logged_time(r),  # to the second, as the leaf says
            r.status == "published",
            None if answered is None else (answered - score.logged_time(r)).total_seconds() / 3600,
            declared=r.verification_level == "declared",
        )
        for r, answered in rows
    ]


def test_running_sums_equal_a_full_recomputation(app, client, monkeypatch):
    key = shop(app)
    make_staff(app, "moderator")
    rng = random.Random(7)
    tokens = [review_link(client, key, f"S-{n}") for n in range(24)]
    with app.app_context():
        staff = db.session.scalars(select(StaffUser)).one()
        merchant_id = None
        for n, token in enumerate(tokens):
            moment = NOW - timedelta(days=rng.uniform(0, 900), hours=rng.uniform(0, 24))
            monkeypatch.setattr(service, "utcnow", lambda moment=moment: moment)
            submitted = service.submit(
                token,
                rating=rng.randint(1, 5),
                process_rating=rng.randint(1, 5),
                body=f"opinión {n}",
            )
            merchant_id = submitted.review.merchant_id
            if rng.random() < 0.4:
                answer_at = moment + timedelta(hours=rng.uniform(0, 300))
                monkeypatch.setattr(service, "utcnow", lambda a=answer_at: a)
                service.respond(submitted.review.id, merchant_id, "Gracias")
            db.session.commit()
        ids = list(db.session.scalars(select(Review.id)))
        for _ in range(30):
            review = db.session.get(Review, rng.choice(ids))
            action = "remove" if review.status == "published" else "restore"
            service.moderate(review.id, staff, action, "spam" if action == "remove" else "appeal")
            db.session.commit()
        running = score.score_of(merchant_id, NOW)
        full = score.recompute(_db_facts(NOW), NOW)
        assert {k: v for k, v in running.items() if k != "score"} == {
            k: v for k, v in full.items() if k != "score"
        }
        aggregate = db.session.get(ScoreAggregate, merchant_id)
        published = [f for f in _db_facts(NOW) if f.published]
        assert math.isclose(
            aggregate.decay_weight,
            sum(numbers.growth(f.created_at) for f in published),
            rel_tol=1e-9,
        )
        assert math.isclose(
            aggregate.decay_rating,
            sum(f.rating * numbers.growth(f.created_at) for f in published),
            rel_tol=1e-9,
        )
        assert running["score"] == full["score"]
        assert running["rating_count"] + running["removed_count"] == 24
        # the log's replay, kept as each leaf is appended, says exactly the same
        replayed = transparency.replayed("bodega").numbers(NOW)
        assert {k: replayed[k] for k in running} == running
        assert transparency.replay("bodega") == (transparency.replayed("bodega"), None)


def test_score_endpoint_shape(app, client):
    key = shop(app)
    answer = client.get("/api/v1/merchants/bodega/score")
    assert answer.status_code == 200
    body = answer.json
    assert body["score"] is None and body["rating_count"] == 0 and body["formula_version"]
    assert len(body["history"]) == 12 and body["history"][-1]["month"] == datetime.now(
        UTC
    ).strftime("%Y-%m")
    assert body["complaints"] == {
        "received_12m": 0,
        "reclamos_12m": 0,
        "quejas_12m": 0,
        "answered_on_time_rate": None,
    }
    assert body["seal"]["status"] == "none"
    for n in range(5):
        client.post(
            "/api/v1/reviews",
            json={
                "token": review_link(client, key, f"X-{n}"),
                "rating": 5,
                "process_rating": 4,
                "body": "bien",
            },
        )
    body = client.get("/api/v1/merchants/bodega/score").json
    assert body["score"] == 4.1 and body["process_score"] == 4.0
    assert body["history"][-1]["count"] == 5 and body["history"][-1]["average"] == 5.0
    assert client.get("/api/v1/merchants/bodega").json["score"] == {"score": 4.1, "rating_count": 5}
    assert client.get("/api/v1/merchants/nadie/score").status_code == 404


@pytest.mark.parametrize("page", ["/score", "/score?lang=en"])
def test_formula_page(client, page):
    html = client.get(page).get_data(as_text=True)
    assert score.FORMULA_VERSION in html and "0.5 ^ (age_in_days / 365)" in html
