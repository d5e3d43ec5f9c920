"""Provenance: no shop vouches for itself. A purchase a platform reported (a signed
webhook, or its API with the store's credentials) is *platform*-verified; one the merchant
declared (API, dashboard) is *declared* — and says so everywhere its review shows: the
API, the profile, the JSON-LD, the score, the signed badge and the log leaf."""

from __future__ import annotations

import json
import re
import uuid

from sqlalchemy import select

from tests import plugin_payloads as pp
from tests.helpers import bearer, make_merchant, order_body
from tests.reviewing import post_review, review_link
from tests.signing_in import make_merchant_user, post_form, sign_in
from tests.test_badges import claims_of
from trustseal.extensions import db
from trustseal.transparency.models import LogEntry

ORDER = 6_200_000_000_000_001


def _shopify_review(app, client, key: str) -> int:
    """A Shopify order, delivered through signed webhooks, reviewed; the review id."""
    store = pp.create_store(client, key, "shopify", **pp.shopify_settings())
    for topic, payload in (
        ("orders/create", pp.shopify_order(ORDER)),
        ("fulfillments/update", pp.shopify_fulfillment(ORDER)),
    ):
        body = pp.raw(payload)
        headers = pp.shopify_headers(body, topic, str(uuid.uuid4()))
        assert client.post(f"/webhooks/shopify/{store['id']}", data=body, headers=headers).json[
            "status"
        ] == "recorded"
    order_id = pp.purchase(app, str(ORDER))["id"]
    link = client.post(f"/api/v1/orders/{order_id}/invitation", headers=bearer(key))
    return post_review(client, link.json["token"], rating=5).json["id"]


def test_a_merchants_own_order_is_declared_everywhere_a_platforms_is_verified(app, client):
    _, key = make_merchant(app)
    declared_id = post_review(client, review_link(client, key, "SELF-1"), rating=5).json["id"]
    platform_id = _shopify_review(app, client, key)

    # the API: each review says who vouches for its purchase
    declared = client.get(f"/api/v1/reviews/{declared_id}").json
    platform = client.get(f"/api/v1/reviews/{platform_id}").json
    assert declared["verification"] == {"level": "declared", "source": "api"}
    assert platform["verification"] == {"level": "platform", "source": "shopify"}
    listed = client.get("/api/v1/merchants/bodega/reviews").json["items"]
    assert {r["id"]: r["verification"]["level"] for r in listed} == {
        declared_id: "declared",
        platform_id: "platform",
    }
    orders = client.get("/api/v1/orders", headers=bearer(key)).json["items"]
    assert {o["source"] for o in orders} == {"api", "shopify"}

    # the score and the signed badge count them apart
    score = client.get("/api/v1/merchants/bodega/score").json
    assert score["provenance"] == {"platform": 1, "declared": 1}
    claims = claims_of(client.get("/badges/bodega/assertion").get_data(as_text=True))
    assert claims["provenance"] == {"platform": 1, "declared": 1}

    # the profile and its JSON-LD say it in words, Spanish first
    page = client.get("/m/bodega").get_data(as_text=True)
    assert "Compra informada por la tienda" in page and "Compra verificada por Shopify" in page
    assert "1 verificadas por una plataforma de venta · 1 informadas por la propia tienda" in page
    ld = json.loads(re.search(r'application/ld\+json">(.*?)</script>', page, re.S).group(1))
    words = {r["disambiguatingDescription"] for r in ld["review"]}
    assert words == {"Compra informada por la tienda", "Compra verificada por Shopify"}
    english = client.get("/m/bodega?lang=en").get_data(as_text=True)
    assert "Purchase reported by the shop" in english

    # the log leaf of each review carries it, so the counts can be recomputed from the log
    with app.app_context():
        leaves = [
            json.loads(e.leaf)
            for e in db.session.scalars(select(LogEntry).order_by(LogEntry.index))
            if '"review.published"' in e.leaf
        ]
    assert sorted(leaf["verification"]["level"] for leaf in leaves) == [
        "declared",
        "platform",
    ]


def test_a_declared_order_never_becomes_platform_verified(app, client):
    _, key = make_merchant(app)
    store = pp.create_store(client, key, "shopify", **pp.shopify_settings())
    external = str(ORDER)
    client.post("/api/v1/orders", json=order_body(external, status="placed"), headers=bearer(key))
    # the merchant calls again, and the same order id then arrives from Shopify
    again = client.post(
        "/api/v1/orders", json=order_body(external, status="delivered"), headers=bearer(key)
    )
    assert again.json["verification"] == {"level": "declared", "source": "api"}
    body = pp.raw(pp.shopify_order(ORDER))
    headers = pp.shopify_headers(body, "orders/create", str(uuid.uuid4()))
    client.post(f"/webhooks/shopify/{store['id']}", data=body, headers=headers)
    listed = client.get(f"/api/v1/orders?external_id={external}", headers=bearer(key)).json
    by_source = {o["source"]: o["verification"]["level"] for o in listed["items"]}
    assert by_source == {"api": "declared", "shopify": "platform"}  # two records, never merged


def test_the_score_page_explains_the_difference(client):
    page = client.get("/score").get_data(as_text=True)
    assert 'id="provenance"' in page
    assert "Verificada por una plataforma de venta" in page
    assert "Informada por la propia tienda" in page


def test_review_links_for_declared_orders_are_limited_per_merchant(app, client):
    app.config["TRUSTSEAL_DECLARED_LINKS_PER_HOUR"] = 2
    _, key = make_merchant(app)
    _, other_key = make_merchant(app, slug="otra", ruc=None, domain="otra.pe")
    for n in range(2):
        review_link(client, key, f"D-{n}")
    order = client.post(
        "/api/v1/orders", json=order_body("D-9", status="delivered"), headers=bearer(key)
    ).json
    refused = client.post(f"/api/v1/orders/{order['id']}/invitation", headers=bearer(key))
    assert refused.status_code == 429
    assert "declared" in refused.json["message"] and "platform" in refused.json["message"]
    # another merchant has its own count; platform orders have none
    review_link(client, other_key, "O-1")
    _shopify_review(app, client, key)


def test_the_dashboard_says_why_a_link_is_refused(app, client):
    app.config["TRUSTSEAL_DECLARED_LINKS_PER_HOUR"] = 1
    key, password = make_merchant_user(app)
    ids = [
        client.post(
            "/api/v1/orders", json=order_body(f"W-{n}", status="delivered"), headers=bearer(key)
        ).json["id"]
        for n in range(2)
    ]
    sign_in(client, "duena@bodega.pe", password)
    post_form(client, f"/dashboard/orders/{ids[0]}/invitation", {}, token_from="/dashboard/orders")
    refused = post_form(
        client, f"/dashboard/orders/{ids[1]}/invitation", {}, token_from="/dashboard/orders"
    )
    page = client.get(refused.headers["Location"]).get_data(as_text=True)
    assert "Pediste demasiados enlaces" in page


def test_the_review_receipt_page_says_how_the_purchase_is_verified(app, client):
    _, key = make_merchant(app)
    token = review_link(client, key, "SELF-2")
    page = client.post(
        f"/r/{token}", data={"rating": "5", "process_rating": "5", "body": "Todo bien"}
    )
    assert page.status_code == 201
    assert "Compra informada por la tienda" in page.get_data(as_text=True)
