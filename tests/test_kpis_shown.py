"""Where the service KPIs are shown: the score endpoint, the profile, the /score page, the
signed assertion (``kpis``, equal to the log's replay) and the card badge (at most two,
the first measured ones)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from badges import layout as layouts
from tests.booking import entry_body
from tests.helpers import bearer, make_staff, pass_all_criteria
from tests.reviewing import post_review, review_link, shop
from trustseal.badging import service as badging
from trustseal.book import service as book
from trustseal.clock import lima_date, utcnow
from trustseal.extensions import db
from trustseal.merchants import service as merchants
from trustseal.orders import service as orders
from trustseal.platform_types import ItemData, PurchaseEvent, ShippingData, Status
from trustseal.resolutions import service as resolutions
from trustseal.reviews import service as reviews
from trustseal.signing import jws
from trustseal.stores import service as stores
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


DAYS = [1, 2, 2, 3, 3, 3, 4, 5, 6, 10]  # order to delivery; promised in 4 days: 7 on time
ANSWER_HOURS = [1, 2, 3, 5, 10, 20, 23, 30, 50, 100]  # 7 within 24 h; median bucket 10-11 h


def test_every_kpi_through_the_services_by_hand(app: Flask, client: FlaskClient) -> None:
    """Platform-attested orders with a promised day, reviews answered at set hours, and ten
    answered complaints of which eight consumers say resolved: each KPI by hand."""
    shop(app)
    start = (utcnow() - timedelta(days=60)).replace(hour=15, minute=0, second=0, microsecond=0)
    with app.test_request_context():
        merchant = merchants.get_by_slug("bodega")
        assert merchant is not None
        store = stores.create_store(
            merchant, "shopify", {"shop_domain": "bodega.myshopify.com", "client_secret": "x"}
        ).store
        source, attested = stores.source_of(store), stores.provenance_of(store, fetched=True)
        for n, days in enumerate(DAYS):
            placed = start + timedelta(days=n)
            base: dict[str, Any] = {
                "external_id": f"P-{n}",
                "placed_at": placed,
                "customer_email": f"c{n}@example.pe",
                "items": (ItemData("p1", "Café", 1),),
                "shipping": ShippingData(promised_by=lima_date(placed + timedelta(days=4))),
            }
            orders.record_purchase_event(
                merchant.id, source, PurchaseEvent(status=Status.PLACED, **base), attested
            )
            delivered = placed + timedelta(days=days)
            recorded = orders.record_purchase_event(
                merchant.id,
                source,
                PurchaseEvent(status=Status.DELIVERED, delivered_at=delivered, **base),
                attested,
            )
            token = orders.issue_invitation_link(recorded.purchase).token
            at = delivered + timedelta(hours=1)
            review = reviews.submit(token, rating=5, process_rating=5, body="Bien", at=at).review
            reviews.respond(
                review.id, merchant.id, "Gracias", at=at + timedelta(hours=ANSWER_HOURS[n])
            )
        db.session.commit()
    for n in range(10):
        filed = client.post("/api/v1/merchants/bodega/book", json=entry_body()).json
        with app.test_request_context():
            merchant = merchants.get_by_slug("bodega")
            assert merchant is not None
            entry = book.answer(merchant, filed["number"], "Resuelto")
            token = resolutions.offer("book", entry.id, merchant.id)
            assert token is not None
            resolutions.submit(token, resolutions.Outcome(resolved=n < 8))
            db.session.commit()
    score = client.get("/api/v1/merchants/bodega/score").json
    assert score["delivery"] == {
        "on_time_rate": 0.7,
        "measured": 10,
        "median_days_to_deliver": 3,  # the lower median of the ten
        "days_measured": 10,
    }
    # 10 review answers (7 within 24 h) and 10 complaint answers at once (all within):
    # 17 of 20; the median of the twenty buckets 0 (ten times), 1, 2, 3, 5, 10, 20, 23, 30, 48, 50
    # is the 10th: the 0-1 h bucket, 0.5 h.
    assert score["first_response"] == {"median_hours": 0.5, "within_24h_rate": 0.85, "measured": 20}
    assert score["resolution"] == {"rate": 0.8, "median_days": None, "measured": 10}
    assert score["satisfaction"]["csat"] == 1.0 and score["satisfaction"]["nps"] is None
