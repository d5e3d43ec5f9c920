"""Plugin HTTP: one session for every platform API call — retries with backoff on
connection errors and 429/502/503/504 (Retry-After respected, bounded), timeouts, a
User-Agent, no redirects — and plugins that import nothing of trustseal but its interface."""

from __future__ import annotations

import ast
import socket
import threading
import time
from pathlib import Path

import pytest

from tests import plugin_payloads as pp
from trustseal import platforms
from trustseal.platforms import BadPayload, PlatformError, Status, StoreContext

ROOT = Path(__file__).resolve().parent.parent
ORDER_ID = "1268540501456-01"
VTEX_STORE = StoreContext(
    id=1,
    merchant_id=1,
    identifier=pp.VTEX_ACCOUNT,
    settings={},
    secrets={"app_key": pp.VTEX_APP_KEY, "app_token": pp.VTEX_APP_TOKEN, "hook_secret": "s"},
    webhook_url="",
)
SHOPIFY_STORE = StoreContext(
    id=2,
    merchant_id=1,
    identifier=pp.SHOP,
    settings={},
    secrets={"client_secret": pp.SHOPIFY_SECRET, "access_token": pp.SHOPIFY_TOKEN},
    webhook_url="",
)


def scripted(*answers, last):
    """A fake API that gives ``answers`` in turn (``(status, body[, headers])``), then
    ``last`` to every further request."""
    queue = list(answers)
    return lambda seen: queue.pop(0) if queue else last


@pytest.fixture
def vtex(app):
    """The VTEX plugin, in an application context, with its OMS base URL to set."""
    with app.app_context():
        yield app.extensions["trustseal.platforms"]["vtex"]


def serve_vtex(app, server):
    app.config["TRUSTSEAL_VTEX_API_BASE"] = f"{server.url}/{{account}}"


def test_two_503_then_200_succeed_in_three_requests_with_backoff(app, vtex):
    order = pp.vtex_order(ORDER_ID, "handling", finished=True)
    outage = (503, {"error": "Service Unavailable"})
    with pp.fake_server(scripted(outage, outage, last=(200, order))) as server:
        serve_vtex(app, server)
        started = time.monotonic()
        events = vtex.fetch_order(VTEX_STORE, ORDER_ID)
        elapsed = time.monotonic() - started
    assert [e.status for e in events] == [Status.DELIVERED]
    assert len(server.requests) == 3
    # the first retry at once, the second after BACKOFF_SECONDS * 2
    assert elapsed >= 2 * platforms.BACKOFF_SECONDS
    assert {r.headers["user-agent"] for r in server.requests} == {platforms.USER_AGENT}


def test_a_429_waits_for_its_retry_after_in_decimal_seconds(app):
    """Shopify answers a rate-limited call with ``429`` and ``Retry-After: 2.0``."""
    order = {"order": pp.shopify_order(820982911946154508)}
    throttled = (429, {"errors": "Exceeded 2 calls per second"}, {"Retry-After": "0.3"})
    with app.app_context(), pp.fake_server(scripted(throttled, last=(200, order))) as server:
        app.config["TRUSTSEAL_SHOPIFY_API_BASE"] = f"{server.url}/{{shop}}"
        started = time.monotonic()
        events = app.extensions["trustseal.platforms"]["shopify"].fetch_order(
            SHOPIFY_STORE, "820982911946154508"
        )
        elapsed = time.monotonic() - started
    assert [e.external_id for e in events] == ["820982911946154508"]
    assert len(server.requests) == 2 and elapsed >= 0.3
    assert server.requests[0].headers["x-shopify-access-token"] == pp.SHOPIFY_TOKEN


def test_an_outage_ends_in_a_platform_error_naming_the_status(app, vtex, monkeypatch):
    monkeypatch.setattr(platforms, "BACKOFF_SECONDS", 0)
    with pp.fake_server(scripted(last=(502, {"error": "Bad Gateway"}))) as server:
        serve_vtex(app, server)
        with pytest.raises(PlatformError, match="answered 502"):
            vtex.fetch_order(VTEX_STORE, ORDER_ID)
    assert len(server.requests) == 1 + platforms.RETRIES


def test_other_errors_are_not_retried(app, vtex):
    with pp.fake_server(scripted(last=(404, {"error": "Order not found"}))) as server:
        serve_vtex(app, server)
        with pytest.raises(PlatformError, match="answered 404"):
            vtex.fetch_order(VTEX_STORE, ORDER_ID)
        assert len(server.requests) == 1
    with pp.fake_server(scripted(last=(200, ["not", "an", "order"]))) as server:
        serve_vtex(app, server)
        with pytest.raises(BadPayload, match="not a VTEX order"):
            vtex.fetch_order(VTEX_STORE, ORDER_ID)
        assert len(server.requests) == 1


def test_a_platform_that_does_not_answer_times_out_with_a_platform_error(app, vtex):
    released = threading.Event()

    def silent(seen):
        released.wait(10)  # far longer than the timeout
        return 200, {}

    app.config["TRUSTSEAL_PLATFORM_HTTP_TIMEOUT"] = 0.3
    with pp.fake_server(silent) as server:
        serve_vtex(app, server)
        started = time.monotonic()
        try:
            with pytest.raises(PlatformError, match="did not answer in time"):
                vtex.fetch_order(VTEX_STORE, ORDER_ID)
            elapsed = time.monotonic() - started
        finally:
            released.set()
    assert 0.3 <= elapsed < 3  # one wait for the answer: a read timeout is not retried here
    assert len(server.requests) == 1


def test_a_refused_connection_is_retried_then_a_platform_error(app, vtex, monkeypatch):
    monkeypatch.setattr(platforms, "BACKOFF_SECONDS", 0)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app.config["TRUSTSEAL_VTEX_API_BASE"] = f"http://127.0.0.1:{port}/{{account}}"
    with pytest.raises(PlatformError, match="cannot be reached"):
        vtex.fetch_order(VTEX_STORE, ORDER_ID)


def test_redirects_are_not_followed_so_credentials_stay_with_the_platform(app, vtex):
    with pp.fake_server(scripted(last=(200, {}))) as elsewhere:
        moved = (301, {}, {"Location": f"{elsewhere.url}/steal"})
        with pp.fake_server(scripted(last=moved)) as server:
            serve_vtex(app, server)
            with pytest.raises(PlatformError, match=r"answered 301 .*not followed"):
                vtex.fetch_order(VTEX_STORE, ORDER_ID)
    assert elsewhere.requests == []


def test_the_session_settings(app):
    with app.app_context():
        app.config["TRUSTSEAL_PLATFORM_HTTP_TIMEOUT"] = 20.0
        with platforms.http_session() as session:
            adapter = session.get_adapter("https://shop.example")
    assert session.headers["User-Agent"] == platforms.USER_AGENT
    assert adapter.timeout == (platforms.CONNECT_TIMEOUT, 20.0)
    retry = adapter.max_retries
    # only idempotent methods, only these answers
    assert retry.is_retry("GET", 503) and retry.is_retry("GET", 429)
    assert not retry.is_retry("POST", 503) and not retry.is_retry("GET", 500)
    # Retry-After: decimal seconds, an HTTP date, and never longer than the cap
    assert retry.parse_retry_after("2.0") == 2.0
    assert retry.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0  # in the past
    assert retry.parse_retry_after("86400") == platforms.MAX_RETRY_AFTER_SECONDS


def test_plugins_import_nothing_of_trustseal_but_its_platform_interface():
    for path in sorted((ROOT / "plugins").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name == "trustseal.platforms" or not name.startswith("trustseal"), (
                    path,
                    name,
                )
