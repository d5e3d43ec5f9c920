"""VTEX: the Orders Feed hook, its secret header, fetch jobs against a fake OMS, retries."""

from __future__ import annotations

import json
from datetime import timedelta
from email import message_from_bytes
from email import policy as email_policy

import pytest
from sqlalchemy import select, update

from tests import plugin_payloads as pp
from tests.helpers import bearer, make_merchant
from trustseal import platforms
from trustseal.clock import utcnow
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.jobs.models import Job
from trustseal.orders.models import Purchase
from trustseal.stores.models import Store, WebhookDelivery

ORDER_ID = "1268540501456-01"
FETCH = "stores.fetch_order"


class OMS:
    """The fake OMS: orders by id, and answers to give before the real one."""

    def __init__(self):
        self.orders: dict[str, dict] = {}
        self.failures: list[int] = []  # statuses to answer first, one per request
        self.account = pp.VTEX_ACCOUNT

    def respond(self, seen):
        prefix = f"/{self.account}/api/oms/pvt/orders/"
        if not seen.path.startswith(prefix):
            return 404, {"error": {"code": "404", "message": "not found"}}
        if (seen.headers.get("x-vtex-api-appkey"), seen.headers.get("x-vtex-api-apptoken")) != (
            pp.VTEX_APP_KEY,
            pp.VTEX_APP_TOKEN,
        ):
            return 403, {"error": {"code": "1", "message": "Access denied"}}
        if self.failures:
            return self.failures.pop(0), {"error": {"message": "Service Unavailable"}}
        order = self.orders.get(seen.path.removeprefix(prefix))
        return (200, order) if order else (404, {"error": {"message": "Order not found"}})


@pytest.fixture
def oms(app):
    fake = OMS()
    with pp.fake_server(fake.respond) as server:
        app.config["TRUSTSEAL_VTEX_API_BASE"] = f"{server.url}/{{account}}"
        fake.server = server
        yield fake


@pytest.fixture
def no_backoff(monkeypatch):
    """Retries within a call without their backoff waits (tests/test_plugin_http.py times
    them)."""
    monkeypatch.setattr(platforms, "BACKOFF_SECONDS", 0)


@pytest.fixture
def key(app):
    return make_merchant(app)[1]


@pytest.fixture
def store(client, key):
    return pp.create_store(client, key, "vtex", **pp.vtex_settings())


def hook(client, store, payload, *, secret=None, body=None):
    """What VTEX POSTs to the hook URL with the configured headers."""
    headers = {"Content-Type": "application/json"}
    secret = store["hook_headers"][pp.HOOK_HEADER] if secret is None else secret
    if secret:
        headers[pp.HOOK_HEADER] = secret
    data = body if body is not None else json.dumps(payload).encode()
    return client.post(f"/webhooks/vtex/{store['id']}", data=data, headers=headers)


@pytest.fixture(autouse=True)
def invitations_later(app):
    """The payloads' deliveries are in the past, so their invitation emails would be due at
    once and run beside the fetch; these tests count the fetch's job alone."""
    app.config["TRUSTSEAL_INVITATION_EMAIL_DELAY_HOURS"] = 100_000


def run_jobs(app):
    with app.app_context():
        return jobs.run_due_jobs()


def test_setup_returns_the_hook_config_and_secret_header(app, client, key, store):
    secret = store["hook_headers"][pp.HOOK_HEADER]
    assert len(secret) >= 32 and list(store["hook_headers"]) == [pp.HOOK_HEADER]
    config = store["hook_config"]
    assert set(config) == {"filter", "hook"}
    # every change of an order (a delivery is a tracking update of an "invoiced" order)
    assert config["filter"] == {
        "type": "FromOrders",
        "expression": 'status in ["payment-approved", "ready-for-handling", "handling", '
        '"invoiced", "canceled"]',
        "disableSingleFire": True,
    }
    assert config["hook"] == {"url": store["webhook_url"], "headers": store["hook_headers"]}
    assert store["webhook_url"] == f"http://trustseal.test/webhooks/vtex/{store['id']}"
    assert store["identifier"] == pp.VTEX_ACCOUNT
    steps = " ".join(store["instructions"]["en"])
    assert pp.HOOK_HEADER in steps and store["webhook_url"] in steps
    assert f"https://{pp.VTEX_ACCOUNT}.vtexcommercestable.com.br/api/orders/hook/config" in steps
    listed = client.get("/api/v1/stores", headers=bearer(key)).get_data(as_text=True)
    assert secret not in listed and pp.VTEX_APP_TOKEN not in listed
    with app.app_context():
        sealed = db.session.scalar(select(Store.secrets_encrypted))
    assert secret not in sealed and pp.VTEX_APP_TOKEN not in sealed
    assert pp.VTEX_APP_KEY not in sealed


def test_config_ping_is_200_and_records_nothing(app, client, store):
    for secret in (None, ""):  # with the configured header, and without
        answer = hook(client, store, {"hookConfig": "ping"}, secret=secret)
        assert answer.status_code == 200 and answer.json == {"status": "pong"}
    assert pp.count(app, WebhookDelivery) == 0 and pp.count(app, Job) == 0


def test_hook_fetches_the_order_and_a_finished_package_means_delivered(
    app, client, key, oms, store
):
    oms.orders[ORDER_ID] = pp.vtex_order(ORDER_ID, "handling", finished=True)
    answer = hook(client, store, pp.vtex_hook(ORDER_ID, "handling"))
    assert answer.status_code == 200
    assert answer.json == {"status": "recorded", "events": 0, "fetches": 1}
    with app.app_context():
        (job,) = db.session.scalars(select(Job).where(Job.kind == FETCH))
        assert job.payload == {"store_id": store["id"], "external_id": ORDER_ID}
    assert pp.count(app, Purchase) == 0  # the hook alone carries no order data
    assert run_jobs(app).done == 1
    (request,) = oms.server.requests
    assert request.path == f"/{pp.VTEX_ACCOUNT}/api/oms/pvt/orders/{ORDER_ID}"
    order = pp.purchase(app, ORDER_ID)
    assert order["status"] == "delivered" and order["invitation"] == "open"
    assert order["delivered_at"].isoformat() == "2026-11-05T14:00:00+00:00"
    assert order["email"] == "carlos.mamani@example.com" and order["name"] == "Carlos Mamani"
    assert order["placed_at"].isoformat().startswith("2026-11-01T15:00:00")
    # fetched by trustseal itself from the OMS, which VTEX runs: attested
    listed = client.get(f"/api/v1/orders?external_id={ORDER_ID}", headers=bearer(key)).json
    assert listed["items"][0]["verification"] == {"level": "platform", "source": "vtex"}
    assert order["items"] == [
        {
            "product_id": "9",
            "title": "Café orgánico de Chanchamayo 250 g",
            "quantity": 1,
            "sku": "CAFE-250",
        }
    ]
    with app.app_context():
        kinds = sorted(db.session.scalars(select(Job.kind).where(Job.status == "queued")))
    assert kinds == ["orders.invitation_email"]


def test_statuses_follow_the_order_and_canceled_is_final(app, client, oms, store):
    oms.orders[ORDER_ID] = pp.vtex_order(ORDER_ID, "ready-for-handling")
    hook(client, store, pp.vtex_hook(ORDER_ID, "ready-for-handling", "2026-11-01T15:01:00Z"))
    run_jobs(app)
    assert pp.purchase(app, ORDER_ID)["status"] == "paid"
    oms.orders[ORDER_ID] = pp.vtex_order(ORDER_ID, "invoiced")
    hook(client, store, pp.vtex_hook(ORDER_ID, "invoiced", "2026-11-02T15:00:00Z"))
    run_jobs(app)
    assert pp.purchase(app, ORDER_ID)["status"] == "fulfilled"
    oms.orders[ORDER_ID] = pp.vtex_order(ORDER_ID, "canceled", finished=True)
    hook(client, store, pp.vtex_hook(ORDER_ID, "canceled", "2026-11-03T15:00:00Z"))
    run_jobs(app)
    order = pp.purchase(app, ORDER_ID)
    assert order["status"] == "cancelled" and order["invitation"] is None
    # a late change (VTEX retries for days) fetches the order again: still cancelled
    oms.orders[ORDER_ID] = pp.vtex_order(ORDER_ID, "invoiced", finished=True)
    hook(client, store, pp.vtex_hook(ORDER_ID, "invoiced", "2026-11-04T15:00:00Z"))
    run_jobs(app)
    assert pp.purchase(app, ORDER_ID)["status"] == "cancelled"


def test_a_tracking_update_of_an_invoiced_order_delivers_it(app, client, oms, store):
    oms.orders[ORDER_ID] = pp.vtex_order(ORDER_ID, "invoiced")
    hook(client, store, pp.vtex_hook(ORDER_ID, "invoiced", "2026-11-03T10:00:00.0000000Z"))
    run_jobs(app)
    assert pp.purchase(app, ORDER_ID)["status"] == "fulfilled"
    # the carrier reports the delivery: the status still reads "invoiced"; a FromOrders
    # hook reports the change without a workflow state
    oms.orders[ORDER_ID] = pp.vtex_order(ORDER_ID, "invoiced", finished=True)
    change = {
        **pp.vtex_hook(ORDER_ID, "unknow", "2026-11-05T14:00:01.6120711"),
        "Domain": "OrdersDocumentUpdated",
        "LastState": None,
    }
    assert hook(client, store, change).json["status"] == "recorded"
    assert run_jobs(app).done == 1
    order = pp.purchase(app, ORDER_ID)
    assert order["status"] == "delivered" and order["invitation"] == "open"


def test_masked_email_is_not_kept_and_the_merchant_sends_the_link(app, client, key, oms, store):
    masked = [
        "5b0c7c1f3f8c4a0b9c0d3e2f1a2b3c4d@ct.vtex.com.br",
        "carlos.mamani@gmail.com-227180989452b.ct.vtex.com.br",
    ]
    for n, email in enumerate(masked):
        order_id = f"126854050145{n}-01"
        oms.orders[order_id] = pp.vtex_order(order_id, "handling", email=email, finished=True)
        hook(client, store, pp.vtex_hook(order_id, "handling"))
    assert run_jobs(app).done == 2
    for order_id in oms.orders:
        order = pp.purchase(app, order_id)
        assert order["email"] is None and order["status"] == "delivered"
        assert order["name"] == "Carlos Mamani" and order["invitation"] == "open"
        link = client.post(f"/api/v1/orders/{order['id']}/invitation", headers=bearer(key))
        assert link.status_code == 201 and link.json["url"].endswith(link.json["token"])
    with app.app_context():  # no invitation email: there is no address to send it to
        assert not list(db.session.scalars(select(Job).where(Job.status == "queued")))


def test_the_same_change_again_is_a_duplicate(app, client, oms, store):
    oms.orders[ORDER_ID] = pp.vtex_order(ORDER_ID, "handling")
    change = pp.vtex_hook(ORDER_ID, "handling", "2026-11-04T16:30:00.1234567Z")
    assert hook(client, store, change).json["status"] == "recorded"
    again = hook(client, store, change)
    assert again.status_code == 200 and again.json == {"status": "duplicate"}
    assert pp.count(app, Job) == 1 and pp.count(app, WebhookDelivery) == 1
    # the same state at a later change is news
    later = pp.vtex_hook(ORDER_ID, "handling", "2026-11-05T09:00:00.0000000Z")
    assert hook(client, store, later).json["status"] == "recorded"
    assert pp.count(app, Job) == 2
    assert run_jobs(app).done == 2 and pp.count(app, Purchase) == 1


def test_a_503_is_retried_within_the_job(app, client, oms, store, no_backoff):
    oms.orders[ORDER_ID] = pp.vtex_order(ORDER_ID, "handling", finished=True)
    oms.failures = [503]
    hook(client, store, pp.vtex_hook(ORDER_ID, "handling"))
    result = run_jobs(app)
    assert result.done == 1 and result.retried == 0
    assert len(oms.server.requests) == 2
    assert pp.purchase(app, ORDER_ID)["status"] == "delivered"


def test_a_platform_outage_retries_the_job_with_backoff(app, client, oms, store, no_backoff):
    oms.orders[ORDER_ID] = pp.vtex_order(ORDER_ID, "handling", finished=True)
    oms.failures = [503, 502, 503]  # every attempt of the first run
    hook(client, store, pp.vtex_hook(ORDER_ID, "handling"))
    started = utcnow()
    assert run_jobs(app).retried == 1
    assert len(oms.server.requests) == 3
    with app.app_context():
        job = db.session.scalars(select(Job).where(Job.kind == FETCH)).one()
        assert job.status == "queued" and job.attempts == 1
        assert "PlatformError" in job.last_error
        assert job.run_at >= started + timedelta(
            seconds=app.config["TRUSTSEAL_JOB_BACKOFF_SECONDS"]
        )
        db.session.execute(update(Job).values(run_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert pp.count(app, Purchase) == 0
    assert run_jobs(app).done == 1
    assert pp.purchase(app, ORDER_ID)["status"] == "delivered"


def test_wrong_app_token_makes_the_job_fail(app, client, key, oms):
    store = pp.create_store(client, key, "vtex", **pp.vtex_settings(app_token="TOKEN-revoked"))
    oms.orders[ORDER_ID] = pp.vtex_order(ORDER_ID, "handling")
    hook(client, store, pp.vtex_hook(ORDER_ID, "handling"))
    assert run_jobs(app).retried == 1
    with app.app_context():
        assert "403" in db.session.scalars(select(Job.last_error)).one()
    assert pp.count(app, Purchase) == 0


def test_wrong_or_missing_secret_header_is_401(app, client, key, store):
    other = pp.create_store(client, key, "vtex", **pp.vtex_settings(account="otra"))
    for secret in ("", "not-the-secret", other["hook_headers"][pp.HOOK_HEADER]):
        answer = hook(client, store, pp.vtex_hook(ORDER_ID, "handling"), secret=secret)
        assert answer.status_code == 401
    assert pp.count(app, WebhookDelivery) == 0 and pp.count(app, Job) == 0


def test_a_change_for_another_account_is_refused(app, client, store):
    answer = hook(client, store, pp.vtex_hook(ORDER_ID, "handling", account="otracuenta"))
    assert answer.status_code == 401 and pp.count(app, Job) == 0


def test_malformed_hooks_are_400(app, client, store):
    for body in (b"{not json", b"[]", b'{"State": "handling"}', b'{"OrderId": ""}'):
        assert hook(client, store, None, body=body).status_code == 400, body
    assert pp.count(app, WebhookDelivery) == 0 and pp.count(app, Job) == 0


def test_a_fetch_for_a_disabled_store_does_nothing(app, client, key, oms, store):
    oms.orders[ORDER_ID] = pp.vtex_order(ORDER_ID, "handling", finished=True)
    hook(client, store, pp.vtex_hook(ORDER_ID, "handling"))
    assert client.delete(f"/api/v1/stores/{store['id']}", headers=bearer(key)).status_code == 200
    assert run_jobs(app).done == 1
    assert pp.count(app, Purchase) == 0 and oms.server.requests == []
    assert hook(client, store, pp.vtex_hook(ORDER_ID, "invoiced")).status_code == 410


# --- the account's country: Portuguese for an account in Brazil -------------------------


def _customer_locale(app, external_id: str) -> str:
    with app.app_context():
        return db.session.scalars(
            select(Purchase.customer_locale).where(Purchase.external_id == external_id)
        ).one()


def _deliver(app, client, oms, store, external_id: str = ORDER_ID, **order) -> None:
    oms.orders[external_id] = pp.vtex_order(external_id, "handling", finished=True, **order)
    assert hook(client, store, pp.vtex_hook(external_id, "handling")).status_code == 200
    assert run_jobs(app).done >= 1  # the fetch (and the invitation email, when due at once)


def test_an_account_in_brazil_makes_the_store_portuguese(app, client, key, oms, store, tmp_path):
    """VTEX's store preferences (its License Manager's country, on every order) say BRA:
    the store's orders default to Portuguese, and the merchant — whose country nobody
    declared — is in Brazil: its reviews and seal show, it has no Libro de Reclamaciones."""
    app.config["TRUSTSEAL_OUTBOX_DIR"] = str(tmp_path)
    app.config["TRUSTSEAL_INVITATION_EMAIL_DELAY_HOURS"] = 0
    _deliver(app, client, oms, store, locale=None, country="BRA")
    assert _customer_locale(app, ORDER_ID) == "pt"
    (listed,) = client.get("/api/v1/stores", headers=bearer(key)).json
    assert (listed["country"], listed["language"]) == ("BR", "pt")
    merchant = client.get("/api/v1/merchants/bodega").json
    assert merchant["country"] == "BR" and merchant["complaints_book"] is False
    # the invitation email (due at once here), in the customer's language
    (sent,) = [
        message_from_bytes(p.read_bytes(), policy=email_policy.default)
        for p in tmp_path.glob("*.eml")
    ]
    assert sent["Content-Language"] == "pt-BR"
    assert sent["Subject"] == "Como foi a sua compra em Bodega Ñandú?"
    assert "Escrever a minha avaliação" in sent.get_body(("html",)).get_content()


def test_the_platform_locale_of_the_customer_wins(app, client, oms, store):
    _deliver(app, client, oms, store, locale="es-PE", country="BRA")
    assert _customer_locale(app, ORDER_ID) == "es"
    _deliver(app, client, oms, store, "1268540501457-01", locale="pt-BR", country="PER")
    assert _customer_locale(app, "1268540501457-01") == "pt"


def test_a_declared_country_is_kept_whatever_the_account(app, client, oms):
    """Staff declared the shop Peruvian: a VTEX account in Brazil makes that store's orders
    Portuguese, but the shop keeps its country, and its Libro de Reclamaciones."""
    key = make_merchant(app, slug="andina", domain="andina.pe", country="PE")[1]
    store = pp.create_store(client, key, "vtex", **pp.vtex_settings())
    _deliver(app, client, oms, store, locale=None, country="BRA")
    assert _customer_locale(app, ORDER_ID) == "pt"
    merchant = client.get("/api/v1/merchants/andina").json
    assert merchant["country"] == "PE" and merchant["complaints_book"] is True


def test_a_peruvian_account_changes_nothing(app, client, key, oms, store):
    _deliver(app, client, oms, store, locale=None, country="PER")
    assert _customer_locale(app, ORDER_ID) == "es"
    (listed,) = client.get("/api/v1/stores", headers=bearer(key)).json
    assert (listed["country"], listed["language"]) == ("PE", "es")
    assert client.get("/api/v1/merchants/bodega").json["complaints_book"] is True


def test_the_account_country_is_read_from_the_store_preferences():
    from plugins import vtex

    order = pp.vtex_order(ORDER_ID, country="BRA")
    assert vtex.account_country(order) == "BR" and vtex.order_event(order).account_country == "BR"
    for unknown in (None, "XXX", ""):
        assert vtex.account_country(pp.vtex_order(ORDER_ID, country=unknown)) is None
    assert vtex.account_country({"orderId": ORDER_ID}) is None
