"""Stores and the webhook route: the plugin registry (entry points, TRUSTSEAL_PLATFORMS, a
fourth plugin), merchant setup, refusals and durability. Concurrent deliveries under
gunicorn are in tests/reliability/test_concurrency.py."""

from __future__ import annotations

import ast
import json
import shutil
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from tests import plugin_payloads as pp
from tests.conftest import make_app
from tests.helpers import bearer, make_merchant
from trustseal import platforms, secretbox
from trustseal.extensions import db
from trustseal.orders.models import Purchase, PurchaseItem
from trustseal.stores import service as stores_service
from trustseal.stores.models import Store, WebhookDelivery

ROOT = Path(__file__).resolve().parents[1]
FAKE_PLUGIN = Path(__file__).resolve().parent / "fake_platform" / "fake_platform.py"
SETTINGS = {
    "shopify": pp.shopify_settings(),
    "woocommerce": {
        "base_url": pp.WOO_URL,
        "consumer_key": "ck_secret_key_1234",
        "consumer_secret": "cs_secret_secret_5678",
    },
    "vtex": pp.vtex_settings(),
}


# --- the registry -------------------------------------------------------------------------


def test_the_three_plugins_are_found_through_entry_points(app):
    loaded = platforms.load()
    assert {"shopify", "woocommerce", "vtex"} <= set(loaded)
    assert all(isinstance(p, platforms.Platform) for p in loaded.values())
    assert [p.name for p in loaded.values()] == list(loaded)
    assert set(platforms.load(["vtex"])) == {"vtex"}
    assert set(app.extensions["trustseal.platforms"]) == {"shopify", "woocommerce", "vtex"}
    assert loaded["vtex"].can_fetch and loaded["shopify"].can_fetch
    assert not loaded["woocommerce"].can_fetch
    # only an API the platform runs attests; WooCommerce's is the shop's own server
    assert {name: loaded[name].attests for name in ("shopify", "vtex", "woocommerce")} == {
        "shopify": True,
        "vtex": True,
        "woocommerce": False,
    }


def test_plugins_never_touch_tables():
    """A plugin only parses and fetches: no database, no models, no service but the
    value types of the orders door."""
    allowed_from_orders = {"ItemData", "PurchaseEvent", "Status"}
    for path in [*sorted((ROOT / "plugins").rglob("*.py")), FAKE_PLUGIN]:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
                if node.module == "trustseal.orders.service":
                    assert {a.name for a in node.names} <= allowed_from_orders, path
            else:
                continue
            for name in names:
                assert not name.startswith(("sqlalchemy", "flask_sqlalchemy", "psycopg")), path
                assert name != "trustseal.extensions" and not name.endswith(".models"), path
                assert not name.startswith(("trustseal.stores", "trustseal.reviews")), path


def _install_fake_plugin(directory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What ``pip install`` of tests/fake_platform leaves in site-packages."""
    shutil.copy(FAKE_PLUGIN, directory / "fake_platform.py")
    info = directory / "fake_platform-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-platform\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[trustseal.platforms]\n"
        "fake = fake_platform:FakePlatform\n"
        "notaplatform = fake_platform:NotAPlatform\n"
        "broken = fake_platform_missing:Nothing\n"
    )
    monkeypatch.syspath_prepend(str(directory))
    monkeypatch.delitem(sys.modules, "fake_platform", raising=False)


def test_a_fourth_plugin_installed_through_an_entry_point(app, database_url, tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    _install_fake_plugin(site, monkeypatch)
    fourth = make_app(database_url, tmp_path / "inst")
    try:
        loaded = fourth.extensions["trustseal.platforms"]
        # a plugin that is not a Platform, or does not import, is skipped, not fatal
        assert set(loaded) == {"shopify", "woocommerce", "vtex", "fake"}
        client = fourth.test_client()
        key = make_merchant(fourth)[1]
        answer = client.post(
            "/api/v1/stores", json={"platform": "fake", "shop": "demo"}, headers=bearer(key)
        )
        assert answer.status_code == 201, answer.json
        store = answer.json
        secret = store["webhook_secret"]
        assert store["instructions"]["en"][0] == f"Delivery URL: {store['webhook_url']}"
        assert secret in store["instructions"]["es"][1]
        url = f"/webhooks/fake/{store['id']}"

        def deliver(payload, delivery, signature=None):
            body = json.dumps(payload).encode()
            headers = {
                "X-Fake-Signature": signature or pp.hmac_b64(secret, body),
                "X-Fake-Delivery": delivery,
            }
            return client.post(url, data=body, headers=headers, content_type="application/json")

        assert deliver({"ping": True}, "p-1").json == {"status": "pong"}
        order = {
            "id": "F-1",
            "status": "delivered",
            "email": "Ana@Example.com",
            "name": "Ana Torres",
            "placed_at": "2026-11-01T10:00:00-05:00",
            "items": [{"sku": "T-1", "title": "Té de muña", "qty": 3}],
        }
        sent = deliver(order, "d-1")
        assert sent.status_code == 200 and sent.json["status"] == "recorded"
        assert deliver(order, "d-1").json == {"status": "duplicate"}
        assert deliver(order, "d-2", signature="Zm9yZ2Vk").status_code == 401
        assert deliver({"id": "F-2"}, "d-3").status_code == 400
        listed = client.get("/api/v1/orders?external_id=F-1", headers=bearer(key)).json
        (purchase,) = listed["items"]
        assert purchase["source"] == store["platform"] and purchase["status"] == "delivered"
        # a third-party plugin attests nothing unless it says so: its webhooks are declared
        assert purchase["verification"] == {"level": "declared", "source": "fake"}
        assert not loaded["fake"].attests
        assert purchase["customer"] == {
            "email": "ana@example.com",
            "name": "Ana Torres",
            "locale": "es",
        }
        assert purchase["items"][0]["title"] == "Té de muña"
        assert purchase["invitation"]["status"] == "pending"
    finally:
        with fourth.app_context():
            db.session.remove()
            db.engine.dispose()
        sys.modules.pop("fake_platform", None)


def test_platforms_setting_limits_the_plugins(app, database_url, tmp_path, monkeypatch):
    only = make_app(database_url, tmp_path / "inst", PLATFORMS="shopify")
    monkeypatch.setenv("TRUSTSEAL_PLATFORMS", " woocommerce , vtex ")
    from_env = make_app(database_url, tmp_path / "inst")
    try:
        assert set(only.extensions["trustseal.platforms"]) == {"shopify"}
        assert set(from_env.extensions["trustseal.platforms"]) == {"woocommerce", "vtex"}
        key = make_merchant(only)[1]
        client = only.test_client()
        refused = client.post(
            "/api/v1/stores", json={"platform": "vtex", **pp.vtex_settings()}, headers=bearer(key)
        )
        assert refused.status_code == 422
        assert refused.json["errors"]["json"]["platform"] == ["One of: shopify."]
        body = json.dumps(pp.vtex_hook("1-01", "handling")).encode()
        answer = client.post("/webhooks/vtex/1", data=body, content_type="application/json")
        assert answer.status_code == 404
        created = client.post(
            "/api/v1/stores",
            json={"platform": "shopify", **pp.shopify_settings()},
            headers=bearer(key),
        )
        assert created.status_code == 201
        # a store of a platform that is no longer loaded: its webhooks are 404 too
        with only.app_context():
            db.session.execute(text("UPDATE stores SET platform = 'vtex'"))
            db.session.commit()
        vtex_store = f"/webhooks/vtex/{created.json['id']}"
        assert (
            client.post(vtex_store, data=body, content_type="application/json").status_code == 404
        )
    finally:
        for made in (only, from_env):
            with made.app_context():
                db.session.remove()
                db.engine.dispose()


# --- merchant setup -----------------------------------------------------------------------


@pytest.mark.parametrize("platform", ["shopify", "woocommerce", "vtex"])
def test_setup_per_platform(app, client, platform):
    key = make_merchant(app)[1]
    store = pp.create_store(client, key, platform, **SETTINGS[platform])
    assert store["platform"] == platform and store["status"] == "active"
    assert store["webhook_url"] == f"http://trustseal.test/webhooks/{platform}/{store['id']}"
    assert store["last_event_at"] is None and store["created_at"].endswith("Z")
    shown = {
        "shopify": set(),
        "woocommerce": {"webhook_secret"},
        "vtex": {"hook_headers", "hook_config"},
    }[platform]
    extra = set(store) - {
        "id",
        "platform",
        "identifier",
        "status",
        "webhook_url",
        "settings",
        "created_at",
        "last_event_at",
        "instructions",
        "country",
        "language",
    }
    assert extra == shown
    # the platform account's country is not known before an order is fetched
    assert store["country"] is None and store["language"] is None
    steps = store["instructions"]
    assert set(steps) == {"es", "en", "pt"}
    for lang in ("es", "en", "pt"):
        assert len(steps[lang]) >= 3 and all(isinstance(s, str) and s for s in steps[lang])
        assert any(store["webhook_url"] in step for step in steps[lang])
    assert steps["es"] != steps["en"], "the Spanish steps are not translated"
    assert steps["pt"] not in (steps["es"], steps["en"]), "the Portuguese steps are not translated"

    secrets = [
        v
        for k, v in SETTINGS[platform].items()
        if "secret" in k or k.startswith("app_") or k == "consumer_key"
    ]
    secrets += [store.get("webhook_secret")] if platform == "woocommerce" else []
    secrets += list(store.get("hook_headers", {}).values())
    with app.app_context():
        sealed = db.session.scalar(select(Store.secrets_encrypted))
        opened = json.loads(secretbox.open_(sealed))
    assert secrets and all(s not in sealed for s in secrets)
    assert set(opened.values()) == set(secrets)

    listed = client.get("/api/v1/stores", headers=bearer(key))
    assert listed.status_code == 200
    (row,) = listed.json
    assert set(row) == {
        "id",
        "platform",
        "identifier",
        "status",
        "webhook_url",
        "settings",
        "created_at",
        "last_event_at",
        "country",
        "language",
    }
    assert all(s not in listed.get_data(as_text=True) for s in secrets)


def test_invalid_setup_is_422(app, client):
    key = make_merchant(app)[1]
    cases = [
        (
            {"platform": "shopify", "shop_domain": "tienda.com", "client_secret": "x" * 20},
            "shop_domain",
        ),
        ({"platform": "shopify", "shop_domain": pp.SHOP}, "client_secret"),
        ({"platform": "shopify", **pp.shopify_settings(), "password": "x"}, "password"),
        ({"platform": "woocommerce", "base_url": "ftp://tienda.pe"}, "base_url"),
        (
            {"platform": "woocommerce", "base_url": pp.WOO_URL, "completed_means": "paid"},
            "completed_means",
        ),
        ({"platform": "vtex", **pp.vtex_settings(account="Mi Tienda")}, "account"),
        ({"platform": "vtex", "account": "tienda"}, "app_key"),
        ({"platform": "magento"}, "platform"),
        ({"shop_domain": pp.SHOP}, "platform"),
    ]
    for body, field in cases:
        answer = client.post("/api/v1/stores", json=body, headers=bearer(key))
        assert answer.status_code == 422, answer.json
        assert field in answer.json["errors"]["json"], (field, answer.json)
    assert pp.count(app, Store) == 0


def test_setup_needs_a_merchant_key(app, client):
    answer = client.post("/api/v1/stores", json={"platform": "shopify", **pp.shopify_settings()})
    assert answer.status_code == 401
    assert client.get("/api/v1/stores").status_code == 401
    assert client.delete("/api/v1/stores/1").status_code == 401


def test_each_merchant_sees_and_disables_its_own_stores(app, client):
    key = make_merchant(app)[1]
    other_key = make_merchant(app, slug="otra", domain="otra.pe")[1]
    shopify = pp.create_store(client, key, "shopify", **pp.shopify_settings())
    woo = pp.create_store(client, key, "woocommerce", base_url=pp.WOO_URL)
    theirs = pp.create_store(client, other_key, "woocommerce", base_url="https://otra.pe")
    mine = client.get("/api/v1/stores", headers=bearer(key)).json
    assert [s["id"] for s in mine] == [woo["id"], shopify["id"]]  # newest first
    assert client.delete(f"/api/v1/stores/{theirs['id']}", headers=bearer(key)).status_code == 404
    assert client.delete("/api/v1/stores/9999", headers=bearer(key)).status_code == 404

    body = pp.raw(pp.shopify_order(1001))
    headers = pp.shopify_headers(body, "orders/create", "w-1")
    url = f"/webhooks/shopify/{shopify['id']}"
    assert client.post(url, data=body, headers=headers).status_code == 200
    disabled = client.delete(f"/api/v1/stores/{shopify['id']}", headers=bearer(key))
    assert disabled.status_code == 200 and disabled.json["status"] == "disabled"
    again = client.delete(f"/api/v1/stores/{shopify['id']}", headers=bearer(key))
    assert again.status_code == 200 and again.json["status"] == "disabled"
    # a disabled store's webhooks are 410 (the platform stops), its purchases stay
    headers = pp.shopify_headers(body, "orders/paid", "w-2")
    gone = client.post(url, data=body, headers=headers)
    assert gone.status_code == 410
    assert pp.count(app, Purchase) == 1 and pp.count(app, WebhookDelivery) == 1
    statuses = {
        s["id"]: s["status"] for s in client.get("/api/v1/stores", headers=bearer(key)).json
    }
    assert statuses == {shopify["id"]: "disabled", woo["id"]: "active"}
    theirs_now = client.get("/api/v1/stores", headers=bearer(other_key)).json
    assert [s["status"] for s in theirs_now] == ["active"]


# --- the webhook route --------------------------------------------------------------------


def test_unknown_platform_or_store_is_404(app, client):
    key = make_merchant(app)[1]
    shopify = pp.create_store(client, key, "shopify", **pp.shopify_settings())
    body = pp.raw(pp.shopify_order(1001))
    headers = pp.shopify_headers(body, "orders/create", "w-1")
    for url in (
        f"/webhooks/magento/{shopify['id']}",
        "/webhooks/shopify/9999",
        f"/webhooks/woocommerce/{shopify['id']}",  # a store of another platform
        f"/webhooks/vtex/{shopify['id']}",
        "/webhooks/shopify/abc",
        "/webhooks/shopify/0",
    ):
        answer = client.post(url, data=body, headers=headers)
        assert answer.status_code == 404, url
        assert answer.is_json
    assert client.get(f"/webhooks/shopify/{shopify['id']}").status_code == 405
    assert pp.count(app, Purchase) == 0 and pp.count(app, WebhookDelivery) == 0


def test_a_200_means_committed_and_a_failure_records_nothing(
    app, client, database_url, monkeypatch
):
    key = make_merchant(app)[1]
    store = pp.create_store(client, key, "shopify", **pp.shopify_settings())
    url = f"/webhooks/shopify/{store['id']}"
    body = pp.raw(pp.shopify_order(1001))
    headers = pp.shopify_headers(body, "orders/create", "w-1")
    real = stores_service.orders.record_purchase_event

    def crash(*args, **kwargs):
        real(*args, **kwargs)
        raise RuntimeError("disk full")

    monkeypatch.setattr(stores_service.orders, "record_purchase_event", crash)
    try:
        failed = client.post(url, data=body, headers=headers)
    except RuntimeError:  # the test app propagates exceptions
        failed = None
    assert failed is None or failed.status_code == 500
    assert pp.count(app, Purchase) == 0 and pp.count(app, WebhookDelivery) == 0
    monkeypatch.undo()

    # the platform retries the same delivery: it is not taken for a duplicate
    answer = client.post(url, data=body, headers=headers)
    assert answer.status_code == 200 and answer.json["status"] == "recorded"
    # another connection sees it at once: the route committed before answering
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM purchases")) == 1
            assert conn.scalar(text("SELECT count(*) FROM webhook_deliveries")) == 1
    finally:
        engine.dispose()


def test_oversized_body_is_refused(app, client):
    key = make_merchant(app)[1]
    store = pp.create_store(client, key, "shopify", **pp.shopify_settings())
    lines = [pp.shopify_line_item(i, 8_000_000 + i, "x" * 2000, 1) for i in range(2500)]
    body = pp.raw(pp.shopify_order(1001, line_items=lines))
    assert len(body) > 4 * 1024 * 1024
    headers = pp.shopify_headers(body, "orders/create", "w-big")
    answer = client.post(f"/webhooks/shopify/{store['id']}", data=body, headers=headers)
    assert answer.status_code == 413
    assert pp.count(app, Purchase) == 0


def test_a_large_order_is_accepted(app, client):
    """More than the API's 1 MiB body limit, as a big Shopify order can be."""
    key = make_merchant(app)[1]
    store = pp.create_store(client, key, "shopify", **pp.shopify_settings())
    lines = [
        pp.shopify_line_item(i, 8_000_000 + i, f"Producto {i} " + "x" * 900, 1) for i in range(1300)
    ]
    body = pp.raw(pp.shopify_order(1001, line_items=lines))
    assert 1024 * 1024 < len(body) < 4 * 1024 * 1024
    headers = pp.shopify_headers(body, "orders/create", "w-large")
    answer = client.post(f"/webhooks/shopify/{store['id']}", data=body, headers=headers)
    assert answer.status_code == 200, answer.json
    assert pp.count(app, PurchaseItem) == 1300
