"""Where the service KPIs are shown: the score endpoint, the profile, the /score page, the
signed assertion (``kpis``, equal to the log's replay) and the card badge (at most two,
the first measured ones)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from badges import layout as layouts
from tests.helpers import bearer, make_staff, pass_all_criteria
from tests.reviewing import post_review, review_link, shop
from trustseal.badging import service as badging
from trustseal.signing import jws
from trustseal.transparency import numbers

ON_TIME = [True] * 8 + [False, True]  # 9 of 10
RATINGS = [5, 5, 5, 4, 4, 4, 3, 3, 2, 5]  # 7 of 10 rated 4 or 5


def _certified_with_reviews(app: Flask, client: FlaskClient, count: int) -> None:
    key = shop(app)
    for n in range(count):
        token = review_link(client, key, f"K-{n}")
        posted = post_review(client, token, rating=RATINGS[n], on_time=ON_TIME[n], recommend=9)
        assert posted.status_code == 201, posted.json
    pass_all_criteria(app, "bodega")
    approved = client.post(
        "/api/v1/merchants/bodega/seal",
        json={"action": "approve", "reason": "Cumple los criterios"},
        headers=bearer(make_staff(app, "certifier", "cert@sello.pe")),
    )
    assert approved.status_code == 200, approved.json
    badging.clear_cache()


def _claims(client: FlaskClient) -> dict[str, Any]:
    token = client.get("/badges/bodega/assertion").get_data(as_text=True)
    return json.loads(jws.b64url_decode(token.strip().split(".")[1]))


def test_measured_kpis_are_served_signed_and_on_the_card(app: Flask, client: FlaskClient) -> None:
    _certified_with_reviews(app, client, 10)
    score = client.get("/api/v1/merchants/bodega/score").json
    assert score["delivery"]["on_time_rate"] == 0.9 and score["delivery"]["measured"] == 10
    assert score["satisfaction"] == {"csat": 0.7, "measured": 10, "nps": 100, "nps_measured": 10}
    assert score["first_response"]["median_hours"] is None
    kpis = _claims(client)["kpis"]
    assert kpis == {
        **{group: score[group] for group in numbers.KPI_GROUPS},
        "min_sample": numbers.KPI_MIN_SAMPLE,
    }
    card = client.get("/badges/bodega.svg?style=card&lang=en").get_data(as_text=True)
    assert "90% delivered on time" in card and "70% rate it 4 or 5 stars" in card
    spanish = client.get("/badges/bodega.svg?style=card").get_data(as_text=True)
    assert "90 % entregado a tiempo" in spanish or "90% entregado a tiempo" in spanish
    profile = client.get("/m/bodega?lang=en").get_data(as_text=True)
    assert "Delivered on time" in profile and "90%" in profile


def test_below_the_minimum_nothing_is_claimed(app: Flask, client: FlaskClient) -> None:
    _certified_with_reviews(app, client, 9)
    score = client.get("/api/v1/merchants/bodega/score").json
    assert score["delivery"] == {
        "on_time_rate": None,
        "measured": 9,
        "median_days_to_deliver": None,
        "days_measured": 0,
    }
    assert _claims(client)["kpis"]["satisfaction"]["csat"] is None
    card = client.get("/badges/bodega.svg?style=card&lang=en").get_data(as_text=True)
    assert "delivered on time" not in card
    profile = client.get("/m/bodega?lang=en").get_data(as_text=True)
    assert "not enough data yet (9 of 10)" in profile


def test_the_score_page_defines_each_kpi_and_its_minimum(client: FlaskClient) -> None:
    page = client.get("/score?lang=en").get_data(as_text=True)
    for words in ("Delivered on time", "Satisfaction (CSAT)", "NPS", "First answer", "Resolution"):
        assert words in page
    assert "at least 10 events" in page


WORDS = {
    "kpi_on_time": "{rate}% on time",
    "kpi_resolved": "{rate}% resolved",
    "kpi_first_response": "{rate}% in 24 h",
    "kpi_csat": "{rate}% happy",
}


@pytest.mark.parametrize(
    ("kpis", "lines"),
    [
        (None, ()),
        (numbers.kpis(numbers.ReviewSums(), numbers.KpiSums()), ()),
        (
            {
                "delivery": {"on_time_rate": 0.912},
                "resolution": {"rate": 0.5},
                "first_response": {"within_24h_rate": 1.0},
                "satisfaction": {"csat": 0.8},
            },
            ("91% on time", "50% resolved"),
        ),
        (
            {
                "delivery": {"on_time_rate": None},
                "resolution": {"rate": None},
                "first_response": {"within_24h_rate": 0.25},
                "satisfaction": {"csat": 0.8},
            },
            ("25% in 24 h", "80% happy"),
        ),
    ],
)
def test_the_card_shows_the_first_two_measured_kpis(
    kpis: dict[str, Any] | None, lines: tuple[str, ...]
) -> None:
    assert badging.card_kpis(kpis, WORDS, "en") == lines


def test_kpi_lines_push_the_testimonials_down_on_the_card() -> None:
    words = {
        "seal_full": "Seal",
        "verify_at": "Verify",
        "status_active": "VALID",
        "answers": "Answers {rate}%",
        "last_12": "12 months",
        "review_many": "reviews",
        "review_one": "review",
        "no_score": "No score",
    }
    quote = (layouts.Testimonial("Ana", 5, "Muy bien"),)
    plain = layouts.BadgeView(
        "active", "Bodega", "bodega.pe", words, "en", 4.5, 10, testimonials=quote, response_rate=0.5
    )
    with_kpis = layouts.BadgeView(
        "active",
        "Bodega",
        "bodega.pe",
        words,
        "en",
        4.5,
        10,
        testimonials=quote,
        response_rate=0.5,
        kpis=("90% on time", "70% happy"),
    )
    before, after = layouts.card(plain), layouts.card(with_kpis)
    assert after.height > before.height
    texts = [s for s in after.shapes if isinstance(s, layouts.Text)]
    kpi_y = [t.y for t in texts if t.text in ("90% on time", "70% happy")]
    quote_y = [t.y for t in texts if "Muy bien" in t.text]
    assert len(kpi_y) == 2 and max(kpi_y) < min(quote_y)
