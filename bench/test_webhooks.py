"""Verified Shopify webhooks/s under gunicorn; in process, the plugin's parts vs a request."""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from collections import Counter, defaultdict, namedtuple
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import harness
import psycopg
import pytest
from conftest import NAMES, make_app, quick
from flask.testing import FlaskClient
from harness import TIMES, goal, ms, us

from tests import plugin_payloads as payloads
from trustseal.extensions import db
from trustseal.platforms import WebhookRequest
from trustseal.stores import service
from trustseal.stores.models import Store

GAP = 64  # a fulfilment is sent this many orders after its order
PRODUCTS = ("Café de Villa Rica 500 g", "Chocolate 70% cacao de Piura", "Pisco quebranta",
            "Chal de alpaca tejido a mano", "Cerámica de Chulucanas", "Miel de Oxapampa 1 kg")
STORE = {"platform": "shopify", **payloads.shopify_settings()}  # the shop and client secret
PARTS = ("decrypt store secrets (service.context)", "verify: HMAC-SHA256 + shop check",
         "parse: json.loads + order_event")  # fmt: skip
APP_CPU: list[float] = []  # gunicorn's CPU seconds per webhook, sync run
Delivery = namedtuple("Delivery", "topic body headers order_id lines")


def deliveries(count: int, seed: int, first: int = 0) -> list[Delivery]:
    """``count`` signed ``orders/create`` and, for 20% of them, a delivered
    ``fulfillments/create`` 64 orders later, each with its own webhook id."""
    rng = random.Random(seed + first)
    fulfilled = set(rng.sample(range(max(0, count - GAP)), min(max(0, count - GAP), count // 5)))
    due: dict[int, list[Delivery]] = defaultdict(list)
    out: list[Delivery] = []

    def signed(topic: str, payload: dict[str, Any], order_id: int, lines: int) -> Delivery:
        body, hook = payloads.raw(payload), str(uuid.UUID(int=rng.getrandbits(128), version=4))
        return Delivery(topic, body, payloads.shopify_headers(body, topic, hook), order_id, lines)

    for k in range(first, first + count):
        order_id, (given, family) = 2**53 + 1_000_003 + 7 * k, rng.choice(NAMES).split(" ", 1)
        local = f"{given}.{family}{rng.randrange(1000)}"
        created = datetime(2026, 10, 1, 9) + timedelta(seconds=rng.randrange(30 * 86400))
        lines = [payloads.shopify_line_item(2**53 + 10 * k + j, 8_123_456_789_012 + p,
                                            PRODUCTS[p], 1 + j, f"SKU-{p}", f"{19 + 17 * p}.90")
                 for j, p in enumerate(rng.sample(range(6), rng.randint(1, 3)))]  # fmt: skip
        order = payloads.shopify_order(
            order_id, email=f"{local if rng.random() < 0.3 else local.lower()}@gmail.com",
            first_name=given, last_name=family, line_items=lines,
            financial_status="paid" if rng.random() < 0.55 else "pending",
            created_at=f"{created:%Y-%m-%dT%H:%M:%S}-05:00",
            locale="es-PE" if rng.random() < 0.9 else "en-US",
        )  # fmt: skip
        out.append(signed("orders/create", order, order_id, len(lines)))
        if k - first in fulfilled:
            shipped = payloads.shopify_fulfillment(order_id, fulfillment_id=4_412_345_678_901 + k)
            due[k + GAP].append(signed("fulfillments/create", shipped, order_id, 0))
        out.extend(due.pop(k, []))
    return out


def rows_of(sent: list[Delivery]) -> tuple[Any, ...]:
    """The rows accepted deliveries leave (external ids as text: exact above 2^53)."""
    orders = [d for d in sent if d.topic == "orders/create"]
    delivered, ids = len(sent) - len(orders), frozenset(str(d.order_id) for d in orders)
    return len(sent), len(orders), sum(d.lines for d in orders), *[delivered] * 3, ids


def run_http(timed: list[Delivery], warm: list[Delivery], variant: str) -> dict[str, Any]:
    """One HTTP run in a fresh database (see README.md): its figures and checks."""
    with harness.migrated() as (db_url, instance):
        bearer = {"Authorization": f"Bearer {harness.create_merchant(db_url, instance)}"}
        with harness.gunicorn(db_url, instance, variant) as (url, pid):
            body, kind = json.dumps(STORE).encode(), {"Content-Type": "application/json"}
            answer = harness.fetch(url + "/api/v1/stores", body, {**bearer, **kind})
            path = f"/webhooks/shopify/{json.loads(answer[1])['id']}"
            first = warm[0]
            tampered = first.body.replace(b'"pending"', b'"paid"').replace(b'"paid"', b'"x"', 1)
            other = {**first.headers, "X-Shopify-Shop-Domain": "otra.myshopify.com"}
            forged = [harness.fetch(url + path, tampered, first.headers)[0],
                      harness.fetch(url + path, first.body, other)[0]]  # fmt: skip
            _, warmed, _ = harness.python_load(url, "POST", path, lambda i: warm[i][1:3], len(warm))
            assert warmed == Counter({200: len(warm)}), warmed
            with harness.cpu_used(pid, db_url) as used:
                seconds, answers, latencies = harness.python_load(
                    url, "POST", path, lambda i: timed[i][1:3], len(timed), time_limit=100
                )
            load = os.getloadavg()[0]
        with psycopg.connect(harness.pq(db_url)) as conn:
            tables = ("webhook_deliveries", "purchases", "purchase_items", "review_invitations",
                      "purchases WHERE status = 'delivered'", "jobs")  # fmt: skip
            counts = [conn.execute(f"SELECT count(*) FROM {t}").fetchone() for t in tables]
            ids = frozenset(r[0] for r in conn.execute("SELECT external_id FROM purchases"))
    sent = sum(answers.values())
    stored = (*(c[0] for c in counts if c), ids)
    rows_ok = answers[200] == sent and stored == rows_of(warm + timed[:sent])
    note = f"{sent:,} of {len(timed):,} sent (time limit)" if sent < len(timed) else ""
    return {"webhooks": sent, "seconds": seconds, "used": used, "latencies": latencies,
            "load": load, "ok": rows_ok and forged == [401, 401], "note": note}  # fmt: skip


def test_webhooks_http(pytestconfig: pytest.Config) -> None:
    count = 1_000 if quick(pytestconfig) else 10_000
    timed, warm, rows = deliveries(count, 1122), deliveries(32, 5, 5_000_000), []
    for variant, sent in (("sync:2", timed), ("gthread:2x4", deliveries(min(count, 2500), 1122))):
        r = run_http(sent, warm, variant)
        cpu = {k: v / r["webhooks"] for k, v in r["used"].items()}
        rate, server = r["webhooks"] / r["seconds"], cpu["app"] + cpu["pg"]
        cores = os.cpu_count() or 1
        APP_CPU.append(cpu["app"])
        rows.append({
            "run": f"gunicorn {variant}", "webhooks": f"{r['webhooks']:,}",
            "webhooks/s": f"{rate:,.0f}",
            "p50 ms": ms(harness.percentile(r["latencies"], 0.5)),
            "p99 ms": ms(harness.percentile(r["latencies"], 0.99)),
            **{f"{k} cpu ms/wh": ms(cpu[k]) for k in ("app", "pg", "client")},
            "load 1m": f"{r['load']:.2f}", "others cores": f"{r['used']['others']:.2f}",
            "CPU-bound /s": f"{cores / (server + cpu['client']):,.0f}",
            "server only /s": f"{cores / server:,.0f}",
            "rows, forged 401": "ok" if r["ok"] else "WRONG", "note": r["note"],
        })  # fmt: skip
        goal("webhooks", f"gunicorn {variant} verified webhooks/s", f"{rate:,.0f}",
             "300/s (absolute)", "300", rate / 300, 1, at_least=True)  # fmt: skip
    harness.TABLES[
        f"webhooks: {len(timed):,} deliveries (~83% orders/create, ~17% fulfillments/create),"
        " 8 client threads; CPU-bound = cores / CPU per webhook, with the client and without"
    ] = rows
    assert all(row["rows, forged 401"] == "ok" for row in rows)


@pytest.fixture(scope="module")
def client() -> Iterator[tuple[FlaskClient, str, str]]:
    """The app in process (test client) with the store, 32 deliveries in: (client, path, db)."""
    with harness.migrated() as (db_url, instance):
        bearer = {"Authorization": f"Bearer {harness.create_merchant(db_url, instance)}"}
        client = make_app(db_url, instance).test_client()
        store = client.post("/api/v1/stores", json=STORE, headers=bearer).json
        path = f"/webhooks/shopify/{store['id']}"
        for delivery in deliveries(32, 7, first=1_000_000):
            assert client.post(path, data=delivery.body, headers=delivery.headers).status_code < 300
        yield client, path, db_url
        with client.application.app_context():
            db.engine.dispose()


@pytest.mark.parametrize("part", PARTS)
def test_plugin_part(benchmark: Any, client: Any, part: str) -> None:
    delivery = deliveries(1, 11, first=2_000_000)[0]
    request = WebhookRequest({k.lower(): v for k, v in delivery.headers.items()}, delivery.body)
    with client[0].application.app_context():
        plugin, store = service.platform("shopify"), db.session.scalars(db.select(Store)).one()
        ctx = service.context(store)
        benchmark({PARTS[0]: lambda: service.context(store),
                   PARTS[1]: lambda: plugin.verify(request, ctx),
                   PARTS[2]: lambda: plugin.parse(request, ctx)}[part])  # fmt: skip
        db.session.remove()
    TIMES[f"webhook part {part}"] = benchmark.stats.stats.median


def test_whole_request(benchmark: Any, client: Any, pytestconfig: pytest.Config) -> None:
    """Deliveries one at a time through the test client: wall, app CPU, PostgreSQL CPU and
    round trips (psycopg ``Connection.wait`` calls) each."""
    client, path, db_url = client
    timed = deliveries(150 if quick(pytestconfig) else 400, 11, first=2_000_000)
    trips, wait = Counter[str](), psycopg.Connection.wait

    def post(delivery: Delivery) -> None:
        def counted(*args: Any, **kwargs: Any) -> Any:
            trips[delivery.topic] += 1
            return wait(*args, **kwargs)

        psycopg.Connection.wait = counted  # type: ignore[method-assign]
        try:
            answer = client.post(path, data=delivery.body, headers=delivery.headers)
            assert answer.status_code == 200, answer.status_code
        finally:
            psycopg.Connection.wait = wait  # type: ignore[method-assign]

    pg, cpu, queue = harness.cpu_of(harness.backends(db_url)), time.process_time(), iter(timed)
    setup = lambda: ((next(queue),), {})  # noqa: E731
    benchmark.pedantic(post, setup=setup, rounds=len(timed) - 10, warmup_rounds=10)
    TIMES["webhook request cpu"] = (time.process_time() - cpu) / len(timed)
    pg_cpu = sum(harness.cpu_of(list(pg)).values()) - sum(pg.values())
    TIMES["webhook request pg cpu"] = pg_cpu / len(timed)
    TIMES["webhook request wall"] = benchmark.stats.stats.median
    for topic, n in Counter(d.topic for d in timed).items():
        TIMES[f"round trips {topic}"] = trips[topic] / n


@harness.SUMMARIES.append
def summary_webhooks() -> None:
    whole, gunicorn = TIMES["webhook request cpu"], APP_CPU[0] if APP_CPU else float("nan")
    parts = {part: TIMES[f"webhook part {part}"] for part in PARTS}
    parts["all plugin + secret work above"] = sum(parts.values())
    harness.TABLES[
        f"webhooks in process, per webhook: wall {ms(TIMES['webhook request wall'])} ms, app"
        f" CPU {ms(whole)} ms, PostgreSQL CPU {ms(TIMES['webhook request pg cpu'])} ms; round"
        f" trips {TIMES['round trips orders/create']:.1f} (orders/create),"
        f" {TIMES['round trips fulfillments/create']:.1f} (fulfillments/create)"
    ] = [
        {"part of one webhook": name, "µs": us(took),
         "of in-process app CPU": f"{took / whole:.1%}",
         "of gunicorn app CPU": f"{took / gunicorn:.1%}"}
        for name, took in parts.items()
    ]  # fmt: skip
