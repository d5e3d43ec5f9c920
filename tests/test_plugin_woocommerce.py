"""WooCommerce: the creation ping, signed order webhooks, statuses, and reconciling."""

from __future__ import annotations

import base64
import json

import pytest
from sqlalchemy import select

from tests import plugin_payloads as pp
from tests.helpers import bearer, make_merchant
from trustseal.extensions import db
from trustseal.jobs.models import Job
from trustseal.orders.models import Purchase
from trustseal.stores.models import WebhookDelivery


@pytest.fixture
def key(app):
    return make_merchant(app)[1]


@pytest.fixture
def store(client, key):
    """A connected WooCommerce store (its answer includes the secret, shown once)."""
    return pp.create_store(client, key, "woocommerce", base_url=pp.WOO_URL)


class Deliveries:
    """Sends signed deliveries for one store, numbering them as WooCommerce does."""

    def __init__(self, client, store):
        self.client, self.store, self.next_id = client, store, 100

    def send(self, payload, topic="order.updated", *, body=None, delivery_id=None, **changes):
        data = body if body is not None else pp.raw(payload)
        self.next_id += 1
        headers = pp.woo_headers(
            data, self.store["webhook_secret"], topic, delivery_id or self.next_id, **changes
        )
        return self.client.post(
            f"/webhooks/woocommerce/{self.store['id']}", data=data, headers=headers
        )


@pytest.fixture
def woo(client, store):
    return Deliveries(client, store)


def test_store_setup_shows_the_secret_once(app, client, key, store):
    secret = store["webhook_secret"]
    assert len(secret) >= 32
    assert store["webhook_url"] == f"http://trustseal.test/webhooks/woocommerce/{store['id']}"
    assert store["identifier"] == pp.WOO_URL
    assert store["settings"] == {"completed_means": "delivered", "delivered_status": None}
    for lang in ("es", "en"):
        steps = " ".join(store["instructions"][lang])
        assert secret in steps and store["webhook_url"] in steps
    listed = client.get("/api/v1/stores", headers=bearer(key))
    assert secret not in listed.get_data(as_text=True)


def test_creation_ping_is_200_and_records_nothing(app, client, store):
    answer = client.post(
        f"/webhooks/woocommerce/{store['id']}",
        data=b"webhook_id=12",
        headers={"User-Agent": "WooCommerce/9.4.2 Hookshot (WordPress/6.7)"},
        content_type="application/x-www-form-urlencoded",
    )
    assert answer.status_code == 200
    assert pp.count(app, Purchase) == 0 and pp.count(app, WebhookDelivery) == 0
    assert pp.count(app, Job) == 0


def test_order_created_with_entities_in_names(app, woo):
    lines = [
        pp.woo_line_item(11, 301, "Caf&eacute; &amp; t&eacute;", 2, "CT-1"),
        pp.woo_line_item(12, 302, "Chocolate &#8211; 70&#037;", 1),
    ]
    answer = woo.send(pp.woo_order(981, "processing", line_items=lines), "order.created")
    assert answer.status_code == 200 and answer.json["status"] == "recorded"
    order = pp.purchase(app, "981")
    assert order["status"] == "paid"
    assert order["email"] == "rosa.huaman@example.com" and order["name"] == "Rosa Huamán"
    assert order["placed_at"].isoformat() == "2026-11-01T15:00:00+00:00"
    assert [(i["product_id"], i["title"], i["quantity"], i["sku"]) for i in order["items"]] == [
        ("301", "Café & té", 2, "CT-1"),
        ("302", "Chocolate \u2013 70%", 1, None),
    ]


def test_statuses(app, woo):
    cases = {
        "pending": "placed",
        "on-hold": "placed",
        "failed": "placed",
        "processing": "paid",
        "completed": "delivered",
        "cancelled": "cancelled",
        "refunded": "refunded",
    }
    for n, (wc_status, expected) in enumerate(cases.items(), start=70):
        completed = "2026-11-05T18:20:00" if wc_status == "completed" else None
        woo.send(pp.woo_order(n, wc_status, date_completed_gmt=completed), "order.created")
        order = pp.purchase(app, str(n))
        assert order["status"] == expected, wc_status
        if expected == "delivered":
            assert order["delivered_at"].isoformat() == "2026-11-05T18:20:00+00:00"
            assert order["invitation"] == "open"
        else:
            assert order["invitation"] is None


def test_completed_means_fulfilled_when_the_store_says_so(app, client, key):
    store = pp.create_store(
        client,
        key,
        "woocommerce",
        base_url=pp.WOO_URL,
        completed_means="fulfilled",
        delivered_status="wc-delivered",
    )
    woo = Deliveries(client, store)
    woo.send(pp.woo_order(5, "completed", date_completed_gmt="2026-11-05T18:20:00"))
    assert pp.purchase(app, "5")["status"] == "fulfilled"
    assert pp.purchase(app, "5")["invitation"] is None
    # the shipping plugin's custom status is the delivery
    woo.send(pp.woo_order(5, "delivered"))
    assert pp.purchase(app, "5")["status"] == "delivered"


def test_an_order_updated_through_its_life(app, woo):
    woo.send(pp.woo_order(42, "pending"), "order.created")
    woo.send(pp.woo_order(42, "on-hold"))
    woo.send(pp.woo_order(42, "processing"))
    assert pp.purchase(app, "42")["status"] == "paid"
    woo.send(pp.woo_order(42, "completed", date_completed_gmt="2026-11-05T18:20:00"))
    woo.send(pp.woo_order(42, "processing"))  # an admin moving it back changes nothing
    order = pp.purchase(app, "42")
    assert order["status"] == "delivered" and order["invitation"] == "open"
    assert len(order["items"]) == 1


def test_order_deleted_cancels_and_restored_keeps_it_cancelled(app, woo):
    woo.send(pp.woo_order(43, "processing"), "order.created")
    assert woo.send({"id": 43}, "order.deleted").status_code == 200
    assert pp.purchase(app, "43")["status"] == "cancelled"
    assert woo.send(pp.woo_order(43, "processing"), "order.restored").status_code == 200
    assert pp.purchase(app, "43")["status"] == "cancelled"  # cancelled is final


def test_events_out_of_order(app, woo):
    # "completed" arrives before "created"; the later, older event does not move it back,
    # and the email it carries fills the blank one
    woo.send(pp.woo_order(50, "completed", email=None, date_completed_gmt="2026-11-05T18:20:00"))
    assert pp.purchase(app, "50")["email"] is None
    woo.send(pp.woo_order(50, "processing"), "order.created")
    order = pp.purchase(app, "50")
    assert order["status"] == "delivered" and order["email"] == "rosa.huaman@example.com"
    with app.app_context():
        kinds = list(db.session.scalars(select(Job.kind)))
    assert kinds == ["orders.invitation_email"]


def test_redelivery_is_a_duplicate(app, woo):
    payload = pp.woo_order(60, "processing")
    assert woo.send(payload, delivery_id=9001).json["status"] == "recorded"
    again = woo.send(payload, delivery_id=9001)
    assert again.status_code == 200 and again.json == {"status": "duplicate"}
    assert pp.count(app, WebhookDelivery) == 1 and pp.count(app, Purchase) == 1
    # the same delivery id from another webhook of the store is another delivery
    other = woo.send(payload, delivery_id=9001, webhook_id=13)
    assert other.json["status"] == "recorded"


def test_unsigned_or_badly_signed_is_401(app, woo):
    for signature in ("", pp.hmac_b64("wrong-secret", b"{}")):
        answer = woo.send(pp.woo_order(61, "processing"), signature=signature)
        assert answer.status_code == 401
    assert pp.count(app, Purchase) == 0 and pp.count(app, WebhookDelivery) == 0


def test_signature_with_another_stores_secret_is_401(app, client, key, woo):
    other = pp.create_store(client, key, "woocommerce", base_url="https://otra.example.pe")
    body = pp.raw(pp.woo_order(62, "processing"))
    headers = pp.woo_headers(body, other["webhook_secret"])
    answer = client.post(f"/webhooks/woocommerce/{woo.store['id']}", data=body, headers=headers)
    assert answer.status_code == 401 and pp.count(app, Purchase) == 0


def test_a_fake_ping_with_topic_headers_needs_a_signature(app, client, store):
    answer = client.post(
        f"/webhooks/woocommerce/{store['id']}",
        data=b"webhook_id=12",
        headers={"X-WC-Webhook-Topic": "order.created"},
        content_type="application/x-www-form-urlencoded",
    )
    assert answer.status_code == 401


def test_malformed_signed_bodies_are_400(app, woo):
    for body in (b"{not json", b'"a string"', b'{"status": "processing"}', b"webhook_id=12&x=1"):
        assert woo.send(None, "order.created", body=body).status_code == 400, body
    assert pp.count(app, Purchase) == 0 and pp.count(app, WebhookDelivery) == 0


def test_other_topics_are_ignored(app, woo):
    answer = woo.send({"id": 301, "name": "Café"}, "product.updated")
    assert answer.status_code == 200 and answer.json["status"] == "ignored"
    assert pp.count(app, Purchase) == 0


# --- reconcile ----------------------------------------------------------------------------

KEY, SECRET = "ck_0123456789abcdef", "cs_fedcba9876543210"


def woo_api(pages):
    """A fake WooCommerce REST API serving ``pages`` of orders to the right key only."""
    expected = "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()

    def respond(seen):
        if seen.path != "/wp-json/wc/v3/orders":
            return 404, {"code": "rest_no_route"}
        if seen.headers.get("authorization") != expected:
            return 401, {"code": "woocommerce_rest_cannot_view", "data": {"status": 401}}
        page = int(seen.query["page"][0])
        found = pages[page - 1] if page <= len(pages) else []
        total = sum(len(p) for p in pages)
        return 200, found, {"X-WP-Total": str(total), "X-WP-TotalPages": str(len(pages))}

    return respond


def test_reconcile_fills_missed_webhooks(app, client, runner, key):
    completed = "2026-11-05T18:20:00"
    pages = [
        [
            pp.woo_order(101, "completed", date_completed_gmt=completed),
            pp.woo_order(102, "processing"),
            pp.woo_order(103, "cancelled"),
        ],
        [
            pp.woo_order(104, "on-hold"),
            pp.woo_order(105, "completed", date_completed_gmt=completed),
        ],
    ]
    with pp.fake_server(woo_api(pages)) as api:
        store = pp.create_store(
            client, key, "woocommerce", base_url=api.url, consumer_key=KEY, consumer_secret=SECRET
        )
        assert KEY not in json.dumps(store) and SECRET not in json.dumps(store)
        # one webhook arrived before the outage
        Deliveries(client, store).send(pp.woo_order(101, "processing"), "order.created")
        result = runner.invoke(
            args=["stores", "reconcile", str(store["id"]), "--since", "2026-11-01"]
        )
        assert result.exit_code == 0, result.output
        assert "reconciled 5 orders" in result.output
        # running it again changes nothing
        assert (
            runner.invoke(
                args=["stores", "reconcile", str(store["id"]), "--since", "2026-11-01"]
            ).exit_code
            == 0
        )
    first = api.requests[0]
    assert first.query["after"] == ["2026-11-01T00:00:00"]
    assert first.query["dates_are_gmt"] == ["true"]  # the date is UTC, not the shop's time
    assert [r.query["page"] for r in api.requests[:3]] == [["1"], ["2"], ["3"]]
    with app.app_context():
        rows = dict(db.session.execute(select(Purchase.external_id, Purchase.status)).all())
    assert rows == {
        "101": "delivered",
        "102": "paid",
        "103": "cancelled",
        "104": "placed",
        "105": "delivered",
    }
    assert pp.purchase(app, "105")["items"][0]["title"] == "Café & té"
    # fetched, but from the shop's own server (WooCommerce is self-hosted): declared
    with app.app_context():
        provenance = set(db.session.execute(select(Purchase.attested, Purchase.origin)))
    assert provenance == {(False, "woocommerce")}
    assert pp.count(app, Job, Job.kind == "stores.fetch_order") == 0  # nothing to confirm with


def test_reconcile_refuses_without_keys_or_with_wrong_keys(app, client, runner, key):
    with pp.fake_server(woo_api([[pp.woo_order(1, "processing")]])) as api:
        no_keys = pp.create_store(client, key, "woocommerce", base_url=api.url)
        result = runner.invoke(
            args=["stores", "reconcile", str(no_keys["id"]), "--since", "2026-11-01"]
        )
        assert result.exit_code != 0 and "REST API key" in result.output
        wrong = pp.create_store(
            client,
            key,
            "woocommerce",
            base_url=api.url,
            consumer_key=KEY,
            consumer_secret="cs_wrong",
        )
        result = runner.invoke(
            args=["stores", "reconcile", str(wrong["id"]), "--since", "2026-11-01"]
        )
        assert result.exit_code != 0 and "401" in result.output
    assert pp.count(app, Purchase) == 0
    unknown = runner.invoke(args=["stores", "reconcile", "999", "--since", "2026-11-01"])
    assert unknown.exit_code != 0
