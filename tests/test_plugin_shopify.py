"""Shopify: signatures, topics, big ids, duplicates, out-of-order events, privacy topics,
and the Admin API (confirming delivered orders, reconciling) against a fake on loopback."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from tests import plugin_payloads as pp
from tests.helpers import bearer, make_merchant
from tests.reviewing import post_review
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.jobs.models import Job
from trustseal.orders.models import Purchase, ReviewInvitation
from trustseal.platforms import PlatformError
from trustseal.reviews.models import Review
from trustseal.stores import service as store_service
from trustseal.stores.models import WebhookDelivery

ORDER = 5_612_345_678_901_234  # a real-looking Shopify order id
ABOVE_2_53 = 2**53 + 1  # not representable as a double
NEAR_2_63 = 2**63 - 25


@pytest.fixture
def shop(app, client):
    """A merchant with a connected Shopify store: (api key, store id)."""
    key = make_merchant(app)[1]
    store = pp.create_store(client, key, "shopify", **pp.shopify_settings())
    return key, store["id"]


def send(client, store_id, topic, payload, webhook_id=None, *, body=None, **header_changes):
    """Deliver one signed webhook as Shopify does; ``body`` overrides the raw bytes."""
    data = body if body is not None else pp.raw(payload)
    headers = pp.shopify_headers(data, topic, webhook_id or str(uuid.uuid4()), **header_changes)
    return client.post(f"/webhooks/shopify/{store_id}", data=data, headers=headers)


def jobs_of(app, kind):
    with app.app_context():
        return list(db.session.scalars(select(Job.payload).where(Job.kind == kind)))


def test_order_lifecycle_to_delivered(app, client, shop):
    key, store_id = shop
    created = send(client, store_id, "orders/create", pp.shopify_order(ORDER))
    assert created.status_code == 200
    assert created.json == {"status": "recorded", "events": 1, "fetches": 0}
    order = pp.purchase(app, str(ORDER))
    assert order["status"] == "placed" and order["source"] == f"store:{store_id}"
    assert order["email"] == "lucia.quispe@example.com" and order["name"] == "Lucía Quispe"
    assert order["items"] == [
        {
            "product_id": "8123456789012",
            "title": "Café de Villa Rica 500 g",
            "quantity": 2,
            "sku": "CAFE-500",
        }
    ]
    assert order["placed_at"].isoformat() == "2026-11-01T15:00:00+00:00"

    send(client, store_id, "orders/paid", pp.shopify_order(ORDER, financial_status="paid"))
    assert pp.purchase(app, str(ORDER))["status"] == "paid"
    fulfilled = pp.shopify_order(ORDER, financial_status="paid", fulfillment_status="fulfilled")
    send(client, store_id, "orders/fulfilled", fulfilled)
    assert pp.purchase(app, str(ORDER))["status"] == "fulfilled"
    in_transit = pp.shopify_fulfillment(ORDER, "in_transit")
    assert send(client, store_id, "fulfillments/create", in_transit).status_code == 200
    assert pp.purchase(app, str(ORDER))["status"] == "fulfilled"
    send(client, store_id, "fulfillments/update", pp.shopify_fulfillment(ORDER, "delivered"))
    order = pp.purchase(app, str(ORDER))
    assert order["status"] == "delivered" and order["invitation"] == "open"
    assert order["delivered_at"].isoformat() == "2026-11-04T21:30:00+00:00"
    (email_job,) = jobs_of(app, "orders.invitation_email")
    assert set(email_job) == {"invitation_id"}
    # the merchant sees it among its orders, and can issue a review link
    listed = client.get(f"/api/v1/orders?external_id={ORDER}", headers=bearer(key)).json
    assert listed["items"][0]["source"] == "shopify"
    # signed with the merchant's own client secret: declared, and without an Admin API
    # token there is nothing to confirm it with
    assert listed["items"][0]["verification"] == {"level": "declared", "source": "shopify"}
    assert jobs_of(app, "stores.fetch_order") == []
    link = client.post(f"/api/v1/orders/{order['id']}/invitation", headers=bearer(key))
    assert link.status_code == 201
    # the store remembers when it last heard from the platform
    stores = client.get("/api/v1/stores", headers=bearer(key)).json
    assert stores[0]["last_event_at"] is not None


def test_created_paid_order_and_pending_fulfilment(app, client, shop):
    _, store_id = shop
    send(client, store_id, "orders/create", pp.shopify_order(ORDER, financial_status="paid"))
    assert pp.purchase(app, str(ORDER))["status"] == "paid"
    send(client, store_id, "fulfillments/create", pp.shopify_fulfillment(ORDER, None))
    assert pp.purchase(app, str(ORDER))["status"] == "fulfilled"


def test_ids_beyond_2_53_stay_exact(app, client, shop):
    _, store_id = shop
    product = 2**62 + 3
    for order_id in (ORDER, ABOVE_2_53, NEAR_2_63):
        line = pp.shopify_line_item(2**53 + 7, product, "Chocolate 70 %", 1)
        body = pp.raw(pp.shopify_order(order_id, line_items=[line]))
        assert f'"id": {order_id},'.encode() in body  # a JSON integer, not a string or float
        assert send(client, store_id, "orders/create", None, body=body).status_code == 200
        delivered = pp.shopify_fulfillment(order_id, "delivered")
        send(client, store_id, "fulfillments/update", delivered)
        order = pp.purchase(app, str(order_id))
        assert order["external_id"] == str(order_id) and order["status"] == "delivered"
        assert order["items"][0]["product_id"] == str(product)
    assert pp.count(app, Purchase) == 3


def test_header_names_are_case_insensitive(app, client, shop):
    _, store_id = shop
    body = pp.raw(pp.shopify_order(ORDER))
    headers = {k.lower(): v for k, v in pp.shopify_headers(body, "orders/create", "w-1").items()}
    headers = {
        ("X-SHOPIFY-HMAC-SHA256" if k.endswith("sha256") else k): v for k, v in headers.items()
    }
    answer = client.post(f"/webhooks/shopify/{store_id}", data=body, headers=headers)
    assert answer.status_code == 200 and answer.json["status"] == "recorded"


def test_same_webhook_id_is_a_duplicate(app, client, shop):
    _, store_id = shop
    payload = pp.shopify_order(ORDER, financial_status="paid")
    first = send(client, store_id, "orders/paid", payload, "b1f3c1de-0001")
    assert first.json["status"] == "recorded"
    before = {m: pp.count(app, m) for m in (Purchase, WebhookDelivery, Job)}
    for _ in range(3):  # Shopify retries, and sometimes sends a delivery twice
        again = send(client, store_id, "orders/paid", payload, "b1f3c1de-0001")
        assert again.status_code == 200 and again.json == {"status": "duplicate"}
    assert {m: pp.count(app, m) for m in before} == before
    # a different delivery of the same order is processed (and changes nothing)
    other = send(client, store_id, "orders/paid", payload, "b1f3c1de-0002")
    assert other.json["status"] == "recorded"
    assert pp.count(app, Purchase) == 1 and pp.count(app, WebhookDelivery) == 2


def test_a_duplicate_does_not_depend_on_the_body(app, client, shop):
    """A retry is recognised by its webhook id even if the order changed meanwhile."""
    _, store_id = shop
    send(client, store_id, "orders/create", pp.shopify_order(ORDER), "w-42")
    paid_now = pp.shopify_order(ORDER, financial_status="paid")
    assert send(client, store_id, "orders/create", paid_now, "w-42").json["status"] == "duplicate"
    assert pp.purchase(app, str(ORDER))["status"] == "placed"


def test_unauthentic_deliveries_are_refused(app, client, shop):
    _, store_id = shop
    for change in (
        {"secret": "shpss_not_the_right_secret_at_all"},
        {"signature": ""},
        {"signature": "bm90IGEgc2lnbmF0dXJl"},
        {"shop": "other-shop.myshopify.com"},
    ):
        answer = send(client, store_id, "orders/create", pp.shopify_order(ORDER), **change)
        assert answer.status_code == 401, change
    assert pp.count(app, Purchase) == 0 and pp.count(app, WebhookDelivery) == 0


def test_missing_signature_header_and_tampered_body(app, client, shop):
    _, store_id = shop
    body = pp.raw(pp.shopify_order(ORDER))
    headers = pp.shopify_headers(body, "orders/create", "w-1")
    del headers["X-Shopify-Hmac-Sha256"]
    assert (
        client.post(f"/webhooks/shopify/{store_id}", data=body, headers=headers).status_code == 401
    )
    signed = pp.shopify_headers(body, "orders/create", "w-1")
    tampered = body.replace(b"Lucia.Quispe@example.com", b"attacker@example.com")
    answer = client.post(f"/webhooks/shopify/{store_id}", data=tampered, headers=signed)
    assert answer.status_code == 401
    assert pp.count(app, Purchase) == 0 and pp.count(app, WebhookDelivery) == 0
    # the refused webhook id was not burnt: the genuine delivery still goes through
    assert (
        client.post(f"/webhooks/shopify/{store_id}", data=body, headers=signed).status_code == 200
    )


def test_malformed_bodies_are_400(app, client, shop):
    _, store_id = shop
    for topic, body in (
        ("orders/create", b'{"id": 1, "email": '),
        ("orders/create", b"[1, 2, 3]"),
        ("orders/create", b'{"email": "no-id@example.com"}'),
        ("refunds/create", b'{"id": 5, "note": "no order_id"}'),
        ("orders/create", b"\xff\xfe not utf-8"),
    ):
        answer = send(client, store_id, topic, None, body=body)
        assert answer.status_code == 400, body
    assert pp.count(app, Purchase) == 0 and pp.count(app, WebhookDelivery) == 0


def test_unknown_topic_is_ignored(app, client, shop):
    _, store_id = shop
    answer = send(client, store_id, "products/update", {"id": 632910392, "title": "Café"})
    assert answer.status_code == 200
    assert answer.json == {"status": "ignored", "topic": "products/update"}
    assert pp.count(app, Purchase) == 0


def test_cancelled_and_refunded_are_final(app, client, shop):
    _, store_id = shop
    other = ORDER + 1
    send(client, store_id, "orders/create", pp.shopify_order(ORDER, financial_status="paid"))
    cancelled = pp.shopify_order(ORDER, cancelled_at="2026-11-02T09:00:00-05:00")
    send(client, store_id, "orders/cancelled", cancelled)
    send(client, store_id, "fulfillments/update", pp.shopify_fulfillment(ORDER, "delivered"))
    assert pp.purchase(app, str(ORDER))["status"] == "cancelled"
    assert pp.purchase(app, str(ORDER))["invitation"] is None
    # a refund may be partial: alone it keeps the customer's right to review
    send(client, store_id, "orders/create", pp.shopify_order(other, financial_status="paid"))
    send(client, store_id, "fulfillments/update", pp.shopify_fulfillment(other, "delivered"))
    assert pp.purchase(app, str(other))["invitation"] == "open"
    assert (
        send(client, store_id, "refunds/create", pp.shopify_refund(other)).json["status"]
        == "ignored"
    )
    assert pp.purchase(app, str(other))["status"] == "delivered"
    # a full refund (financial_status refunded) is final and closes the invitation
    send(client, store_id, "orders/updated", pp.shopify_order(other, financial_status="refunded"))
    refunded = pp.purchase(app, str(other))
    assert refunded["status"] == "refunded" and refunded["invitation"] == "cancelled"
    send(client, store_id, "orders/paid", pp.shopify_order(other, financial_status="paid"))
    assert pp.purchase(app, str(other))["status"] == "refunded"


def test_out_of_order_events_end_in_the_right_state(app, client, shop):
    _, store_id = shop
    # delivered first: Shopify's delivery order is not guaranteed
    send(client, store_id, "fulfillments/update", pp.shopify_fulfillment(ORDER, "delivered"))
    early = pp.purchase(app, str(ORDER))
    assert early["status"] == "delivered" and early["email"] is None and early["items"] == []
    assert early["invitation"] == "open"
    assert jobs_of(app, "orders.invitation_email") == []  # nobody to write to yet
    send(client, store_id, "orders/paid", pp.shopify_order(ORDER, financial_status="paid"))
    send(client, store_id, "orders/create", pp.shopify_order(ORDER))
    late = pp.purchase(app, str(ORDER))
    assert late["status"] == "delivered"
    assert late["email"] == "lucia.quispe@example.com" and late["name"] == "Lucía Quispe"
    assert [i["title"] for i in late["items"]] == ["Café de Villa Rica 500 g"]
    assert len(jobs_of(app, "orders.invitation_email")) == 1  # the email can go out now


def test_customers_redact_erases_personal_data_keeps_rating_and_log(app, client, runner, shop):
    key, store_id = shop
    kept = ORDER + 7
    for order_id, email in ((ORDER, "Lucia.Quispe@example.com"), (kept, "otro@example.com")):
        send(client, store_id, "orders/create", pp.shopify_order(order_id, email=email))
        send(client, store_id, "fulfillments/update", pp.shopify_fulfillment(order_id))
    review_ids = {}
    for order_id in (ORDER, kept):
        purchase_id = pp.purchase(app, str(order_id))["id"]
        link = client.post(f"/api/v1/orders/{purchase_id}/invitation", headers=bearer(key))
        posted = post_review(client, link.json["token"], rating=5, display_name="Lucía Q.")
        assert posted.status_code == 201, posted.json
        review_ids[order_id] = posted.json["id"]

    answer = send(
        client,
        store_id,
        "customers/redact",
        pp.shopify_customers_redact("lucia.quispe@example.com", [ORDER]),
    )
    assert answer.status_code == 200
    with app.app_context():
        payloads = [str(p) for p in db.session.scalars(select(Job.payload))]
        assert not any("lucia" in p.lower() for p in payloads)  # ids, never the email
        assert jobs.run_due_jobs().failed == 0

    erased = pp.purchase(app, str(ORDER))
    assert erased["email"] is None and erased["name"] is None
    assert erased["status"] == "delivered" and erased["items"]  # the order itself stays
    assert pp.purchase(app, str(kept))["email"] == "otro@example.com"
    with app.app_context():
        review = db.session.get(Review, review_ids[ORDER])
        assert review.title is None and review.body is None
        assert review.display_name != "Lucía Q." and "Lucía" not in review.display_name
        assert review.rating == 5 and review.erased_at is not None
        other = db.session.get(Review, review_ids[kept])
        assert other.body and other.display_name == "Lucía Q." and other.erased_at is None
    public = client.get(f"/api/v1/reviews/{review_ids[ORDER]}").json
    assert public["rating"] == 5 and "Lucía" not in str(public)
    assert "Llegó a tiempo" not in str(public)
    result = runner.invoke(args=["log", "verify"])
    assert result.exit_code == 0, result.output


def test_customers_redact_by_order_id_only(app, client, shop):
    _, store_id = shop
    send(client, store_id, "orders/create", pp.shopify_order(NEAR_2_63))
    send(client, store_id, "customers/redact", pp.shopify_customers_redact(None, [NEAR_2_63]))
    with app.app_context():
        jobs.run_due_jobs()
    assert pp.purchase(app, str(NEAR_2_63))["email"] is None


def test_shop_redact_and_data_request(app, client, shop):
    key, store_id = shop
    send(client, store_id, "orders/create", pp.shopify_order(ORDER))
    # an order of the same merchant from another source is not the shop's to erase
    api_order = {
        "external_id": str(ORDER),
        "status": "placed",
        "customer": {"email": "api@example.com", "name": "Por API"},
        "placed_at": "2026-11-01T15:00:00Z",
        "items": [{"product_id": "x", "title": "X"}],
    }
    assert client.post("/api/v1/orders", json=api_order, headers=bearer(key)).status_code == 201
    request = pp.shopify_data_request("lucia.quispe@example.com", [ORDER])
    assert send(client, store_id, "customers/data_request", request).status_code == 200
    with app.app_context():
        assert jobs.run_due_jobs().done == 1
    with app.app_context():
        emails = set(db.session.scalars(select(Purchase.customer_email)))
    assert emails == {"lucia.quispe@example.com", "api@example.com"}  # a report erases nothing

    shop_redact = {"shop_id": 954_889, "shop_domain": pp.SHOP}
    assert send(client, store_id, "shop/redact", shop_redact).status_code == 200
    with app.app_context():
        assert jobs.run_due_jobs().done == 1
        rows = db.session.execute(select(Purchase.source, Purchase.customer_email)).all()
    assert sorted(rows) == [("api", "api@example.com"), (f"store:{store_id}", None)]


def test_invitation_cancelled_by_cancellation_after_delivery_is_not_reopened(app, client, shop):
    _, store_id = shop
    send(client, store_id, "orders/create", pp.shopify_order(ORDER, financial_status="paid"))
    send(client, store_id, "fulfillments/update", pp.shopify_fulfillment(ORDER))
    send(
        client,
        store_id,
        "orders/cancelled",
        pp.shopify_order(ORDER, cancelled_at="2026-11-06T09:00:00-05:00"),
    )
    send(client, store_id, "fulfillments/update", pp.shopify_fulfillment(ORDER), "again")
    with app.app_context():
        states = list(db.session.scalars(select(ReviewInvitation.state)))
    assert states == ["cancelled"]


# --- the Admin API: confirming delivered orders, reconciling -----------------------------


@pytest.fixture
def admin(app):
    """The fake Admin API of :data:`pp.SHOP` on loopback."""
    with pp.shopify_admin(app) as fake:
        yield fake


@pytest.fixture
def token_shop(app, client):
    """A merchant whose Shopify store has an Admin API access token: (api key, store id)."""
    key = make_merchant(app)[1]
    settings = pp.shopify_settings(access_token=pp.SHOPIFY_TOKEN)
    return key, pp.create_store(client, key, "shopify", **settings)["id"]


@pytest.fixture
def key_and_bad_token(app, client):
    """A merchant whose Shopify store has a token Shopify refuses: (api key, store id)."""
    key = make_merchant(app)[1]
    settings = pp.shopify_settings(access_token="shpat_revoked")
    return key, pp.create_store(client, key, "shopify", **settings)["id"]


def verification_of(client, key, external_id):
    listed = client.get(f"/api/v1/orders?external_id={external_id}", headers=bearer(key)).json
    (order,) = listed["items"]
    return order["verification"]


def run_jobs(app):
    with app.app_context():
        return jobs.run_due_jobs()


def test_an_order_whose_shipment_was_delivered_is_delivered(app, client, shop):
    _, store_id = shop
    updated = pp.shopify_delivered_order(ORDER)
    assert send(client, store_id, "orders/updated", updated).status_code == 200
    order = pp.purchase(app, str(ORDER))
    assert order["status"] == "delivered" and order["invitation"] == "open"
    assert order["delivered_at"].isoformat() == "2026-11-04T21:30:00+00:00"


def test_a_delivered_order_is_confirmed_through_the_admin_api(app, client, token_shop, admin):
    key, store_id = token_shop
    admin.orders[str(ORDER)] = pp.shopify_delivered_order(ORDER, email="Ana.Rojas@example.com")
    send(client, store_id, "orders/create", pp.shopify_order(ORDER))
    send(client, store_id, "orders/paid", pp.shopify_order(ORDER, financial_status="paid"))
    assert jobs_of(app, "stores.fetch_order") == []  # only a delivery is confirmed
    send(client, store_id, "fulfillments/update", pp.shopify_fulfillment(ORDER))
    # another topic saying delivered queues nothing more
    send(client, store_id, "orders/updated", pp.shopify_delivered_order(ORDER))
    assert jobs_of(app, "stores.fetch_order") == [{"store_id": store_id, "external_id": str(ORDER)}]
    assert verification_of(client, key, ORDER) == {"level": "declared", "source": "shopify"}
    assert run_jobs(app).done >= 1
    (request,) = admin.server.requests
    assert request.path == f"/{pp.SHOP}/admin/api/{pp.SHOPIFY_API_VERSION}/orders/{ORDER}.json"
    assert request.headers["x-shopify-access-token"] == pp.SHOPIFY_TOKEN
    assert verification_of(client, key, ORDER) == {"level": "platform", "source": "shopify"}
    # Shopify's word on the customer replaces what the webhook said
    assert pp.purchase(app, str(ORDER))["email"] == "ana.rojas@example.com"


def test_a_refused_token_leaves_the_order_declared(app, client, key_and_bad_token, admin):
    key, store_id = key_and_bad_token
    admin.orders[str(ORDER)] = pp.shopify_delivered_order(ORDER)
    send(client, store_id, "orders/create", pp.shopify_order(ORDER))
    send(client, store_id, "fulfillments/update", pp.shopify_fulfillment(ORDER))
    assert run_jobs(app).retried == 1
    with app.app_context():
        error = db.session.scalar(select(Job.last_error).where(Job.kind == "stores.fetch_order"))
    assert "401" in error
    assert verification_of(client, key, ORDER) == {"level": "declared", "source": "shopify"}


def test_reconcile_through_the_admin_api_is_attested(app, client, runner, token_shop, admin):
    key, store_id = token_shop
    # a delivery the webhooks declared, and an order whose webhooks were lost
    send(client, store_id, "orders/create", pp.shopify_order(ORDER))
    send(client, store_id, "fulfillments/update", pp.shopify_fulfillment(ORDER))
    admin.orders[str(ORDER)] = pp.shopify_delivered_order(ORDER)
    admin.orders[str(ORDER + 1)] = pp.shopify_order(ORDER + 1, financial_status="paid")
    result = runner.invoke(args=["stores", "reconcile", str(store_id), "--since", "2026-11-01"])
    assert result.exit_code == 0, result.output
    assert "reconciled 2 orders" in result.output
    (listing,) = [r for r in admin.server.requests if r.path.endswith("/orders.json")]
    assert listing.query["status"] == ["any"]
    assert listing.headers["x-shopify-access-token"] == pp.SHOPIFY_TOKEN
    for external in (ORDER, ORDER + 1):
        assert verification_of(client, key, external) == {"level": "platform", "source": "shopify"}
    assert pp.purchase(app, str(ORDER + 1))["status"] == "paid"


def test_reconcile_and_fetch_need_a_token(app, client, runner, shop):
    _, store_id = shop
    result = runner.invoke(args=["stores", "reconcile", str(store_id), "--since", "2026-11-01"])
    assert result.exit_code != 0 and "access token" in result.output
    plugin = app.extensions["trustseal.platforms"]["shopify"]
    with app.app_context():
        context = store_service.context(store_service.get(store_id))
        assert not plugin.fetches(context)
        with pytest.raises(PlatformError, match="access token"):
            plugin.fetch_order(context, str(ORDER))
