"""Concurrency under gunicorn on PostgreSQL: duplicate webhook deliveries, overlapping
order batches, and rate limits shared by the worker processes (in the database, and in
Redis). Figures: 0 lost, 0 duplicated, 0 deadlocks, limits exact across processes."""

from __future__ import annotations

import random
import secrets
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import requests
from sqlalchemy import func, select

from tests import plugin_payloads as pp
from tests.conftest import require
from tests.helpers import bearer, make_merchant, order_body
from tests.reliability.conftest import gunicorn
from tests.reviewing import review_body
from trustseal.extensions import db
from trustseal.orders.models import Purchase, PurchaseItem, ReviewInvitation
from trustseal.stores.models import WebhookDelivery

REDIS_URL = "redis://127.0.0.1:6379/0"


def _deliveries(rng: random.Random) -> tuple[list[tuple[str, bytes, str]], dict[str, str]]:
    """~300 orders, each a random interleaving of create / paid / delivered events, and
    30 % of 1,000 deliveries re-sent with the same webhook id. Returns the deliveries
    (topic, body, webhook id) and each order's expected final status."""
    unique: list[tuple[str, bytes, str]] = []
    expected: dict[str, str] = {}
    plans = ["placed"] * 50 + ["paid"] * 100 + ["delivered"] * 150
    for n, final in enumerate(plans):
        order_id = 6_100_000_000_000_000 + n * 7919  # Shopify-sized ids
        expected[str(order_id)] = final
        events = [("orders/create", pp.shopify_order(order_id, email=f"c{n}@example.com"))]
        if final in ("paid", "delivered"):
            events.append(
                (
                    "orders/paid",
                    pp.shopify_order(order_id, financial_status="paid", email=f"c{n}@example.com"),
                )
            )
        if final == "delivered":
            events.append(("fulfillments/update", pp.shopify_fulfillment(order_id)))
        for topic, payload in events:
            unique.append((topic, pp.raw(payload), str(uuid.uuid4())))
    assert len(unique) == 700
    sent = unique + [rng.choice(unique) for _ in range(300)]
    rng.shuffle(sent)
    return sent, expected


def test_concurrent_duplicate_deliveries(database, local_app, tmp_path, report):
    key = make_merchant(local_app, slug="webhooks")[1]
    store = pp.create_store(local_app.test_client(), key, "shopify", **pp.shopify_settings())
    sent, expected = _deliveries(random.Random(20261122))
    with gunicorn(
        database,
        tmp_path,
        workers=2,
        threads=4,
        TRUSTSEAL_RATELIMIT_ENABLED="false",
        TRUSTSEAL_LOG_LEVEL="WARNING",
    ) as web:
        local = threading.local()
        url = f"{web.url}/webhooks/shopify/{store['id']}"

        def deliver(delivery: tuple[str, bytes, str]) -> tuple[int, str]:
            topic, body, webhook_id = delivery
            session = getattr(local, "session", None) or requests.Session()
            local.session = session
            answer = session.post(
                url, data=body, timeout=30, headers=pp.shopify_headers(body, topic, webhook_id)
            )
            return answer.status_code, answer.json().get("status", "")

        with ThreadPoolExecutor(max_workers=8) as pool:
            outcomes = Counter(pool.map(deliver, sent))
        log = web.output()
    assert outcomes == {(200, "recorded"): 700, (200, "duplicate"): 300}, (outcomes, log[-3000:])
    with local_app.app_context():
        rows = db.session.execute(
            select(Purchase.external_id, Purchase.status, Purchase.customer_email)
        ).all()
        stored = {r.external_id: r.status for r in rows if r.external_id in expected}
        assert stored == expected  # 0 lost, each at its final status
        assert all(r.customer_email for r in rows)  # filled even when "delivered" came first
        assert db.session.scalar(select(func.count()).select_from(PurchaseItem)) == 300
        assert db.session.scalar(select(func.count()).select_from(WebhookDelivery)) == 700
        invitations = db.session.scalar(select(func.count()).select_from(ReviewInvitation))
        assert invitations == sum(1 for s in expected.values() if s == "delivered")
    report(len(sent), 0, len(set(expected) - set(stored)), "30% resent; 0 recorded twice")


def test_overlapping_batches_never_deadlock(database, local_app, tmp_path, report):
    """20 batches of 100 orders drawn from the same 300, each in its own order, at once:
    the probe saw 11 of 20 fail with a deadlock. Customer emails never reach the log."""
    _, key = make_merchant(local_app, slug="lotes")
    rng = random.Random(7)
    pool_ids = [f"B-{n:03d}" for n in range(300)]
    batches = []
    for _ in range(20):
        ids = rng.sample(pool_ids, 100)
        batches.append(
            [
                order_body(
                    external_id,
                    status=rng.choice(["placed", "paid", "delivered"]),
                    customer={"email": f"cliente.{external_id.lower()}@correo.pe", "name": "C"},
                )
                for external_id in ids
            ]
        )
    with gunicorn(
        database, tmp_path, workers=2, threads=4, TRUSTSEAL_RATELIMIT_ENABLED="false"
    ) as web:

        def send(batch: list[dict]) -> int:
            return requests.post(
                f"{web.url}/api/v1/orders/batch",
                json={"orders": batch},
                headers=bearer(key),
                timeout=60,
            ).status_code

        with ThreadPoolExecutor(max_workers=20) as pool:
            statuses = Counter(pool.map(send, batches))
        log = web.output()
    assert statuses == {200: 20}, (statuses, log[-3000:])
    assert "deadlock" not in log.lower()
    assert "@correo.pe" not in log  # SQL parameters are never logged
    with local_app.app_context():
        stored = Counter(
            db.session.scalars(select(Purchase.external_id).where(Purchase.external_id.like("B-%")))
        )
    sent = {o["external_id"] for batch in batches for o in batch}
    assert set(stored) == sent and max(stored.values()) == 1
    report(20 * 100, 20 - statuses[200], len(sent - set(stored)), "20 overlapping batches at once")


def _redis_unavailable() -> str | None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        return f"Redis not reachable at {REDIS_URL}: {exc}"
    return None


@pytest.fixture(params=["database", "redis"])
def limiter_storage(request: pytest.FixtureRequest) -> dict[str, str]:
    """The environment of each shared limiter storage."""
    if request.param == "database":
        return {}
    require(_redis_unavailable())
    prefix = f"trustseal-test-{uuid.uuid4().hex[:8]}"
    return {"TRUSTSEAL_RATELIMIT_STORAGE_URI": REDIS_URL, "TRUSTSEAL_RATELIMIT_KEY_PREFIX": prefix}


def test_rate_limits_are_counted_once_across_worker_processes(
    database, local_app, tmp_path, limiter_storage, report
):
    """ "30 per minute" let 59 of 70 through with per-process counters; shared, 30."""
    _, key = make_merchant(local_app, slug=f"limites-{uuid.uuid4().hex[:6]}")
    env = {
        "TRUSTSEAL_RATELIMIT_PUBLIC_WRITE": "30 per minute",
        "TRUSTSEAL_RATELIMIT_AUTH_FAILURE": "20 per minute",
        **limiter_storage,
    }
    with gunicorn(database, tmp_path, workers=2, **env) as web:
        # A public write, from one client: 30 pass, 40 are refused.
        statuses = Counter(
            requests.post(
                f"{web.url}/api/v1/reviews", json=review_body("no-such-token"), timeout=10
            ).status_code
            for _ in range(70)
        )
        # Bad API keys with one prefix: 20 get 401, then 429; another merchant's prefix
        # from the same address is not blocked, and a valid key always works.
        bad = Counter(
            requests.get(
                f"{web.url}/api/v1/orders",
                headers=bearer("tsk_AAAAAA" + secrets.token_urlsafe(20)),
                timeout=10,
            ).status_code
            for _ in range(25)
        )
        other_prefix = requests.get(
            f"{web.url}/api/v1/orders", headers=bearer("tsk_BBBBBB" + "x" * 20), timeout=10
        ).status_code
        valid = requests.get(f"{web.url}/api/v1/orders", headers=bearer(key), timeout=10)
        # Someone else behind no configured proxy cannot dodge limits with X-Forwarded-For.
        spoofed = requests.post(
            f"{web.url}/api/v1/reviews",
            json=review_body("no-such-token"),
            headers={"X-Forwarded-For": "203.0.113.9"},
            timeout=10,
        ).status_code
    assert statuses[429] == 40 and sum(statuses.values()) == 70, statuses
    assert bad == {401: 20, 429: 5}, (bad, web.output()[-2000:])
    assert other_prefix == 401 and valid.status_code == 200
    assert spoofed == 429
    report(70 + 25, 0, 0, f"{'redis' if limiter_storage else 'database'}: 30 of 70, 20 of 25")


def test_forwarded_addresses_are_trusted_only_from_the_configured_proxy(
    database, local_app, tmp_path
):
    env = {"TRUSTSEAL_RATELIMIT_PUBLIC_WRITE": "3 per minute", "TRUSTSEAL_PROXY_COUNT": "1"}
    with gunicorn(database, tmp_path, workers=2, **env) as web:

        def post(client: str) -> int:
            return requests.post(
                f"{web.url}/api/v1/reviews",
                json=review_body("no-such-token"),
                headers={"X-Forwarded-For": client},
                timeout=10,
            ).status_code

        first = [post("198.51.100.1") for _ in range(4)]
        second = [post("198.51.100.2") for _ in range(4)]
    # Behind one proxy, each client has its own bucket (not one shared by everybody).
    assert first == [404, 404, 404, 429] and second == [404, 404, 404, 429]
