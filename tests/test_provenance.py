"""Provenance: no shop vouches for itself. A purchase is *platform*-verified only when
trustseal fetched the order itself from servers the platform runs (Shopify's Admin API,
VTEX's OMS), with the store's credentials. Everything the shop can send — our API, the
dashboard, and the webhooks of a store it configures (it holds their secret) — is
*declared*, and says so everywhere its review shows: the API, the profile, the JSON-LD,
the score, the signed badge and the log leaf."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests import plugin_payloads as pp
from tests.helpers import bearer, make_merchant, make_staff, order_body
from tests.reviewing import post_review, review_link
from tests.signing_in import make_merchant_user, post_form, sign_in
from tests.test_badges import claims_of
from trustseal.clock import utcnow
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.jobs.models import Job
from trustseal.orders import service as orders
from trustseal.orders.models import Purchase
from trustseal.transparency.models import LogEntry

ORDER = 6_200_000_000_000_001
FETCH = "stores.fetch_order"


@pytest.fixture
def admin(app):
    """A fake Shopify Admin API on loopback (the only place a Shopify order is attested)."""
    with pp.shopify_admin(app) as fake:
        yield fake


def run_jobs(app) -> jobs.RunResult:
    """Run the due jobs as the worker would."""
    with app.app_context():
        return jobs.run_due_jobs()


def _webhook(client, store: dict[str, Any], topic: str, payload: dict[str, Any]) -> None:
    """One Shopify delivery, signed with the client secret — which the merchant holds."""
    body = pp.raw(payload)
    headers = pp.shopify_headers(body, topic, str(uuid.uuid4()))
    answer = client.post(f"/webhooks/shopify/{store['id']}", data=body, headers=headers)
    assert answer.json["status"] == "recorded", answer.json


def _deliver(client, store: dict[str, Any], order_id: int) -> None:
    """An order created, then delivered, through signed Shopify webhooks."""
    _webhook(client, store, "orders/create", pp.shopify_order(order_id))
    _webhook(client, store, "fulfillments/update", pp.shopify_fulfillment(order_id))


def _order(client, key: str, external_id: str, source: str | None = None) -> dict[str, Any]:
    """The merchant's order with this external id (from ``source`` when there are two)."""
    items = client.get(f"/api/v1/orders?external_id={external_id}", headers=bearer(key)).json
    found = [o for o in items["items"] if source is None or o["source"] == source]
    assert len(found) == 1, items
    return found[0]


def _link(client, key: str, external_id: str, source: str | None = None) -> Any:
    """Ask for a review link of an order, as the merchant (the answer)."""
    order_id = _order(client, key, external_id, source)["id"]
    return client.post(f"/api/v1/orders/{order_id}/invitation", headers=bearer(key))


def _review(client, key: str, external_id: str, source: str | None = None) -> int:
    """A 5-star review of an order, through a link the merchant asked for; its id."""
    link = _link(client, key, external_id, source)
    assert link.status_code == 201, link.json
    return post_review(client, link.json["token"], rating=5).json["id"]


def _shopify_review(app, client, key: str) -> int:
    """A Shopify order delivered through signed webhooks alone, reviewed: the merchant
    holds the webhook secret, so the review is declared (via Shopify). The review id."""
    store = pp.create_store(client, key, "shopify", **pp.shopify_settings())
    _deliver(client, store, ORDER)
    assert pp.count(app, Job, Job.kind == FETCH) == 0  # no token: nothing to confirm with
    return _review(client, key, str(ORDER))


def _leaves(app) -> list[dict[str, Any]]:
    with app.app_context():
        return [
            json.loads(e.leaf)
            for e in db.session.scalars(select(LogEntry).order_by(LogEntry.index))
            if '"review.published"' in e.leaf
        ]


def test_a_merchants_own_order_is_declared_everywhere_a_platforms_is_verified(app, client, admin):
    _, key = make_merchant(app)
    declared_id = post_review(client, review_link(client, key, "SELF-1"), rating=5).json["id"]
    # a Shopify store with an Admin API token: a delivered order Shopify confirms, and one
    # the merchant signed a webhook for but Shopify has never heard of
    store = pp.create_store(
        client, key, "shopify", **pp.shopify_settings(access_token=pp.SHOPIFY_TOKEN)
    )
    forged = ORDER + 7
    admin.orders[str(ORDER)] = pp.shopify_delivered_order(ORDER)
    _deliver(client, store, ORDER)
    _deliver(client, store, forged)
    run_jobs(app)
    platform_id = _review(client, key, str(ORDER))
    via_id = _review(client, key, str(forged))

    # the API: each review says who vouches for its purchase
    def verification(review_id: int) -> dict[str, str]:
        return client.get(f"/api/v1/reviews/{review_id}").json["verification"]

    assert verification(declared_id) == {"level": "declared", "source": "api"}
    assert verification(via_id) == {"level": "declared", "source": "shopify"}
    assert verification(platform_id) == {"level": "platform", "source": "shopify"}
    listed = client.get("/api/v1/merchants/bodega/reviews").json["items"]
    assert {r["id"]: r["verification"]["level"] for r in listed} == {
        declared_id: "declared",
        via_id: "declared",
        platform_id: "platform",
    }
    orders_listed = client.get("/api/v1/orders", headers=bearer(key)).json["items"]
    assert {o["source"] for o in orders_listed} == {"api", "shopify"}

    # the score and the signed badge count them apart
    score = client.get("/api/v1/merchants/bodega/score").json
    assert score["provenance"] == {"platform": 1, "declared": 2}
    claims = claims_of(client.get("/badges/bodega/assertion").get_data(as_text=True))
    assert claims["provenance"] == {"platform": 1, "declared": 2}

    # the profile and its JSON-LD say it in words, Spanish first
    page = client.get("/m/bodega").get_data(as_text=True)
    for words in (
        "Compra informada por la tienda",
        "Compra informada por la tienda (vía Shopify)",
        "Compra verificada por Shopify",
    ):
        assert words in page
    assert "1 verificadas por una plataforma de venta · 2 informadas por la propia tienda" in page
    ld = json.loads(re.search(r'application/ld\+json">(.*?)</script>', page, re.S).group(1))
    words = {r["disambiguatingDescription"] for r in ld["review"]}
    assert words == {
        "Compra informada por la tienda",
        "Compra informada por la tienda (vía Shopify)",
        "Compra verificada por Shopify",
    }
    english = client.get("/m/bodega?lang=en").get_data(as_text=True)
    assert "Purchase reported by the shop (via Shopify)" in english
    assert "Purchase verified by Shopify" in english

    # the log leaf of each review carries it, so the counts can be recomputed from the log
    assert sorted(leaf["verification"]["level"] for leaf in _leaves(app)) == [
        "declared",
        "declared",
        "platform",
    ]


def test_a_shopify_webhook_alone_is_declared(app, client):
    _, key = make_merchant(app)
    review_id = _shopify_review(app, client, key)
    review = client.get(f"/api/v1/reviews/{review_id}").json
    assert review["verification"] == {"level": "declared", "source": "shopify"}
    assert _order(client, key, str(ORDER))["verification"] == review["verification"]
    page = client.get("/m/bodega").get_data(as_text=True)
    assert "Compra informada por la tienda (vía Shopify)" in page
    assert "Compra verificada" not in page


def test_a_delivered_webhook_is_confirmed_with_the_admin_api_then_verified(app, client, admin):
    app.config["TRUSTSEAL_DECLARED_LINKS_PER_HOUR"] = 0  # no link for a declared order
    _, key = make_merchant(app)
    store = pp.create_store(
        client, key, "shopify", **pp.shopify_settings(access_token=pp.SHOPIFY_TOKEN)
    )
    admin.orders[str(ORDER)] = pp.shopify_delivered_order(ORDER)
    _webhook(client, store, "orders/create", pp.shopify_order(ORDER))
    assert pp.count(app, Job, Job.kind == FETCH) == 0  # nothing to review yet: no fetch
    _webhook(client, store, "fulfillments/update", pp.shopify_fulfillment(ORDER))

    # delivered by a webhook the shop could have signed: declared, and a fetch is queued
    order = _order(client, key, str(ORDER))
    assert order["status"] == "delivered"
    assert order["verification"] == {"level": "declared", "source": "shopify"}
    with app.app_context():
        (job,) = db.session.scalars(select(Job).where(Job.kind == FETCH))
        assert job.payload == {"store_id": store["id"], "external_id": str(ORDER)}
    assert _link(client, key, str(ORDER)).status_code == 429  # the declared-link limit

    # trustseal asks Shopify itself, with the store's token: attested
    assert run_jobs(app).done >= 1
    assert admin.paths == [f"/{pp.SHOP}/admin/api/{pp.SHOPIFY_API_VERSION}/orders/{ORDER}.json"]
    order = _order(client, key, str(ORDER))
    assert order["verification"] == {"level": "platform", "source": "shopify"}
    assert order["id"] == _order(client, key, str(ORDER))["id"]  # the same purchase, upgraded
    review_id = _review(client, key, str(ORDER))  # no limit for a verified order
    review = client.get(f"/api/v1/reviews/{review_id}").json
    assert review["verification"] == {"level": "platform", "source": "shopify"}
    assert "Compra verificada por Shopify" in client.get("/m/bodega").get_data(as_text=True)


def test_a_review_written_before_the_confirmation_stays_declared(app, client, admin):
    _, key = make_merchant(app)
    store = pp.create_store(
        client, key, "shopify", **pp.shopify_settings(access_token=pp.SHOPIFY_TOKEN)
    )
    admin.orders[str(ORDER)] = pp.shopify_delivered_order(ORDER)
    _deliver(client, store, ORDER)
    early = _review(client, key, str(ORDER))  # before the worker ran the fetch
    run_jobs(app)
    assert _order(client, key, str(ORDER))["verification"]["level"] == "platform"
    review = client.get(f"/api/v1/reviews/{early}").json
    assert review["verification"] == {"level": "declared", "source": "shopify"}
    score = client.get("/api/v1/merchants/bodega/score").json
    assert score["provenance"] == {"platform": 0, "declared": 1}


def test_a_forged_shopify_delivery_is_never_confirmed(app, client, admin):
    """The merchant signs "Shopify" webhooks for an order Shopify does not have, and for a
    real order Shopify has not delivered: neither becomes verified."""
    _, key = make_merchant(app)
    store = pp.create_store(
        client, key, "shopify", **pp.shopify_settings(access_token=pp.SHOPIFY_TOKEN)
    )
    undelivered = ORDER + 1
    admin.orders[str(undelivered)] = pp.shopify_order(
        undelivered, financial_status="paid", fulfillment_status="fulfilled"
    )
    _deliver(client, store, ORDER)
    _deliver(client, store, undelivered)
    result = run_jobs(app)
    assert result.retried == 1  # Shopify answers 404 for the made-up order: retried later
    for external in (ORDER, undelivered):
        order = _order(client, key, str(external))
        assert order["status"] == "delivered"
        assert order["verification"] == {"level": "declared", "source": "shopify"}


def test_a_merchant_signing_its_own_woocommerce_webhooks_gets_declared_reviews(app, client):
    """The reviewer's attack: a WooCommerce store is the merchant's own server and the
    merchant holds the webhook secret, so it signs "WooCommerce" webhooks for made-up
    delivered orders. Their reviews are declared, the declared-link limit applies, and
    the fraud detector sees them as declared."""
    app.config["TRUSTSEAL_DECLARED_LINKS_PER_HOUR"] = 2
    app.config["TRUSTSEAL_SIGNAL_BURST_REVIEWS"] = 2
    _, key = make_merchant(app)
    staff = make_staff(app)
    store = pp.create_store(client, key, "woocommerce", base_url=pp.WOO_URL)
    for external, person in ((501, "ana"), (502, "rosa"), (503, "luz")):
        body = pp.raw(pp.woo_order(external, "completed", email=f"{person}@correo.pe"))
        headers = pp.woo_headers(body, store["webhook_secret"], "order.created", external)
        answer = client.post(f"/webhooks/woocommerce/{store['id']}", data=body, headers=headers)
        assert answer.json["status"] == "recorded"
    assert pp.count(app, Job, Job.kind == FETCH) == 0  # nothing of WooCommerce is attested
    ids = [_review(client, key, str(external)) for external in (501, 502)]
    refused = _link(client, key, "503")
    assert refused.status_code == 429 and "declared" in refused.json["message"]
    for review_id in ids:
        review = client.get(f"/api/v1/reviews/{review_id}").json
        assert review["verification"] == {"level": "declared", "source": "woocommerce"}
    page = client.get("/m/bodega").get_data(as_text=True)
    assert "Compra informada por la tienda (vía WooCommerce)" in page
    assert client.get("/api/v1/merchants/bodega/score").json["provenance"] == {
        "platform": 0,
        "declared": 2,
    }
    run_jobs(app)
    signals = client.get("/api/v1/signals", headers=bearer(staff)).json["items"]
    kinds = {s["kind"] for s in signals}
    assert {"burst", "fast_review"} <= kinds
    (burst,) = [s for s in signals if s["kind"] == "burst"]
    assert sorted(burst["review_ids"]) == sorted(ids)


def test_a_declared_order_never_becomes_platform_verified(app, client, admin):
    _, key = make_merchant(app)
    store = pp.create_store(
        client, key, "shopify", **pp.shopify_settings(access_token=pp.SHOPIFY_TOKEN)
    )
    external = str(ORDER)
    client.post("/api/v1/orders", json=order_body(external, status="placed"), headers=bearer(key))
    # the merchant calls again, and the same order id then arrives from Shopify, delivered
    again = client.post(
        "/api/v1/orders", json=order_body(external, status="delivered"), headers=bearer(key)
    )
    assert again.json["verification"] == {"level": "declared", "source": "api"}
    admin.orders[external] = pp.shopify_delivered_order(ORDER)
    _deliver(client, store, ORDER)
    run_jobs(app)
    # two records, never merged: Shopify's confirmation upgrades only the store's
    assert _order(client, key, external, "api")["verification"]["level"] == "declared"
    assert _order(client, key, external, "shopify")["verification"]["level"] == "platform"
    # and the merchant's own API, called again, upgrades nothing
    third = client.post(
        "/api/v1/orders", json=order_body(external, status="delivered"), headers=bearer(key)
    )
    assert third.json["verification"] == {"level": "declared", "source": "api"}
    with app.app_context():
        rows = set(db.session.execute(select(Purchase.source, Purchase.attested)))
    assert rows == {("api", False), (f"store:{store['id']}", True)}


def test_only_the_platforms_own_answer_upgrades_a_purchase(app):
    """The orders door: an upgrade needs an attested event of the same platform, for the
    same key, that confirms the purchase's status; nothing downgrades."""
    merchant_id, _ = make_merchant(app)
    placed = utcnow() - timedelta(days=3)

    def event(status: orders.Status, **changes: Any) -> orders.PurchaseEvent:
        return orders.PurchaseEvent("W-1", status, placed, **changes)

    def record(source: str, status: orders.Status, provenance: orders.Provenance, **changes):
        return orders.record_purchase_event(
            merchant_id, source, event(status, **changes), provenance
        )

    delivered, fulfilled = orders.Status.DELIVERED, orders.Status.FULFILLED
    via, attested = orders.Provenance.declared_via("shopify"), orders.Provenance.platform("shopify")
    with app.app_context():
        assert not record("store:1", delivered, via, customer_email="bot@x.pe").purchase.attested
        # the merchant's API, or another platform, upgrades nothing
        for source, provenance in (
            ("api", orders.Provenance.declared("api")),
            ("store:1", orders.Provenance.platform("vtex")),
            ("store:1", orders.Provenance.declared_via("shopify")),
        ):
            assert not record(source, delivered, provenance).purchase.attested
        # the platform says it is not delivered yet: not confirmed
        assert not record("store:1", fulfilled, attested).upgraded
        # the platform confirms: upgraded, and its customer data replaces the shop's
        confirmed = record("store:1", delivered, attested, customer_email="ana@correo.pe")
        assert confirmed.upgraded and confirmed.purchase.attested
        assert confirmed.purchase.customer_email == "ana@correo.pe"
        # later declared events never take it back
        assert record("store:1", delivered, via).purchase.attested
        # an attested provenance cannot be named after a declaring channel
        with pytest.raises(ValueError):
            orders.Provenance.platform("api")
        with pytest.raises(ValueError):
            orders.Provenance.declared_via("dashboard")
        with pytest.raises(ValueError):
            orders.Provenance.declared("shopify")
        db.session.rollback()


def test_the_score_page_explains_the_difference(client):
    page = client.get("/score").get_data(as_text=True)
    assert 'id="provenance"' in page
    assert "Verificada por una plataforma de venta" in page
    assert "Informada por la propia tienda" in page
    # what verified means, and what declared covers
    assert "obtuvimos nosotros mismos el pedido de los servidores de la propia plataforma" in page
    assert "con las credenciales de la tienda" in page
    assert "crear pedidos en el panel de su propia plataforma" in page
    assert "los webhooks de una tienda en línea que la propia tienda configura" in page
    assert "la tienda tiene el secreto con el que se firman" in page
    assert "no puede inventarlos" not in page


def test_review_links_for_declared_orders_are_limited_per_merchant(app, client, admin):
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
    # another merchant has its own count
    review_link(client, other_key, "O-1")
    # a webhook alone is declared: limited too
    store = pp.create_store(
        client, key, "shopify", **pp.shopify_settings(access_token=pp.SHOPIFY_TOKEN)
    )
    admin.orders[str(ORDER)] = pp.shopify_delivered_order(ORDER)
    _deliver(client, store, ORDER)
    assert _link(client, key, str(ORDER)).status_code == 429
    # once Shopify confirmed it, it has no limit
    run_jobs(app)
    assert _link(client, key, str(ORDER)).status_code == 201


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
    page = post_form(
        client, f"/r/{token}", {"rating": "5", "process_rating": "5", "body": "Todo bien"}
    )
    assert page.status_code == 201
    assert "Compra informada por la tienda" in page.get_data(as_text=True)
