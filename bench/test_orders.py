"""Orders POSTed through gunicorn against bare INSERTs of the same rows, same run."""

from __future__ import annotations

import json
import os
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import harness
import psycopg
import pytest
from conftest import NAMES, quick
from harness import goal, ms

from tests.helpers import order_body

MIX = {"placed": 0.35, "paid": 0.35, "delivered": 0.30}
INSERTS = (
    "INSERT INTO purchases (merchant_id, source, external_id, status, customer_email,"
    " customer_name, customer_locale, placed_at, delivered_at, created_at, updated_at)"
    " VALUES (%s, 'api', %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
    "INSERT INTO purchase_items (purchase_id, product_id, title, quantity, sku, url)"
    " VALUES (%s, %s, %s, %s, %s, %s)",
    "INSERT INTO review_invitations (purchase_id, state, expires_at, created_at)"
    " VALUES (%s, 'open', %s, %s) RETURNING id",
    "INSERT INTO jobs (kind, payload, status, attempts, max_attempts, run_at, created_at)"
    " VALUES ('orders.invitation_email', %s, 'queued', 0, 8, %s, %s)",
)


def build_orders(count: int, rng: random.Random) -> list[dict[str, Any]]:
    """Distinct valid bodies (``tests.helpers.order_body``): the exact status mix, shuffled;
    1-3 lines (half with sku and url); emails partly in upper case; a name for most."""
    statuses = [s for s, share in MIX.items() for _ in range(round(count * share))]
    statuses = (statuses + ["placed"] * count)[:count]
    rng.shuffle(statuses)
    orders = []
    for n, status in enumerate(statuses):
        name, placed = NAMES[n % 10], datetime(2026, 10, 1) + timedelta(minutes=n)
        email = f"{name.replace(' ', '.')}.{n}@gmail.com"
        items = [{"product_id": f"p-{(n + j) % 12}", "title": f"Café {j}", "quantity": 1 + j,
                  **({"sku": f"P{j}", "url": f"https://tienda.pe/{j}"} if n % 2 else {})}
                 for j in range(1 + n % 3)]  # fmt: skip
        customer = {"email": email if n % 3 else email.lower(), "name": name if n % 10 else None,
                    "locale": "en" if n % 10 == 5 else "es"}  # fmt: skip
        order = order_body(f"WEB-{100000 + n}", status, customer=customer, items=items,
                           placed_at=f"{placed:%FT%TZ}")  # fmt: skip
        if status == "delivered":
            order["delivered_at"] = f"{placed + timedelta(days=2):%FT%TZ}"
        orders.append(order)
    return orders


def utc(text: str | None) -> datetime | None:
    return None if text is None else datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")


def bare(name: str, orders: list[dict[str, Any]], full: bool = False) -> dict[str, Any]:
    """One psycopg connection; per order INSERT purchases + purchase_items (executemany),
    COMMIT; ``full``: also the invitation and job rows of a delivered order."""
    with harness.migrated() as (db_url, instance), psycopg.connect(harness.pq(db_url)) as conn:
        harness.create_merchant(db_url, instance)
        rows = [((o["external_id"], o["status"], o["customer"]["email"].strip().lower(),
                  o["customer"]["name"], o["customer"]["locale"], utc(o["placed_at"]),
                  utc(o.get("delivered_at"))), o["status"] == "delivered",
                 [(i["product_id"], i["title"], i["quantity"], i.get("sku"), i.get("url"))
                  for i in o["items"]]) for o in orders]  # fmt: skip
        merchant, cur = conn.execute("SELECT id FROM merchants").fetchone(), conn.cursor()
        backend = [conn.info.backend_pid]
        pg, client, started = harness.cpu_of(backend), time.process_time(), time.perf_counter()
        for purchase, delivered, items in rows:
            now = datetime.now(UTC).replace(tzinfo=None)
            (bought,) = cur.execute(INSERTS[0], (*merchant, *purchase, now, now)).fetchone()  # type: ignore[misc]
            cur.executemany(INSERTS[1], [(bought, *item) for item in items])
            if full and delivered:
                expires, run_at = now + timedelta(days=60), now + timedelta(hours=72)
                (invited,) = cur.execute(INSERTS[2], (bought, expires, now)).fetchone()  # type: ignore[misc]
                cur.execute(INSERTS[3], (json.dumps({"invitation_id": invited}), run_at, now))
            conn.commit()
        seconds = time.perf_counter() - started
        used = {"pg": sum(harness.cpu_of(backend).values()) - sum(pg.values()),
                "client": time.process_time() - client}  # fmt: skip
        stored = conn.execute("SELECT count(*) FROM purchases").fetchone()
    return {"run": name, "orders": len(orders), "seconds": seconds, "used": used,
            "rows ok": stored == (len(orders),)}  # fmt: skip


def http(orders: list[dict[str, Any]], variant: str, batch: int = 1) -> dict[str, Any]:
    """POST the orders (``batch``: N at a time to /api/v1/orders/batch) from 8 keep-alive
    client threads, none after 180 s; every answer 201 (200) and exactly the rows expected."""
    chunks = [orders[i : i + batch] for i in range(0, len(orders), batch)]
    bodies = [json.dumps(c[0] if batch == 1 else {"orders": c}).encode() for c in chunks]
    path, ok = ("/api/v1/orders", 201) if batch == 1 else ("/api/v1/orders/batch", 200)
    with harness.migrated() as (db_url, instance):
        headers = {"Authorization": f"Bearer {harness.create_merchant(db_url, instance)}",
                   "Content-Type": "application/json"}  # fmt: skip
        with harness.gunicorn(db_url, instance, variant) as (url, pid):
            harness.python_load(url, "GET", "/api/v1/orders?limit=1", lambda i: (None, headers), 32)
            with harness.cpu_used(pid, db_url) as cpu:
                seconds, answers, latencies = harness.python_load(
                    url, "POST", path, lambda i: (bodies[i], headers), len(bodies), time_limit=180
                )
        with psycopg.connect(harness.pq(db_url)) as conn:
            tables = ("purchases", "review_invitations", "jobs")
            stored = [conn.execute(f"SELECT count(*) FROM {t}").fetchone() for t in tables]
    sent = min(len(orders), sum(answers.values()) * batch)
    delivered = sum(o["status"] == "delivered" for o in orders[:sent])
    expected = [(sent,), (delivered,), (delivered,)]
    rows_ok = answers[ok] == sum(answers.values()) and stored == expected
    note = f"{sent:,} of {len(orders):,} sent (time limit)" * (sent < len(orders))
    return {"run": f"HTTP {f'batch {batch} ' * (batch > 1)}gunicorn {variant}", "orders": sent,
            "seconds": seconds, "used": {k: cpu[k] for k in ("app", "pg", "client")},
            "latencies": latencies, "answers": " ".join(f"{k}x{n}" for k, n in answers.items()),
            "rows ok": rows_ok, "note": note}  # fmt: skip


def test_orders_http_vs_bare(pytestconfig: pytest.Config) -> None:
    count, extra = (2_000, 2_000) if quick(pytestconfig) else (20_000, 2_000)
    orders = build_orders(count, random.Random(20261122))
    runs = [bare("bare INSERT (before)", orders),
            bare("bare INSERT +invitation/job", orders[:extra], full=True),
            http(orders, "sync:2"), http(orders[:extra], "gthread:2x4"),
            http(orders, "sync:2", batch=100), bare("bare INSERT (after)", orders)]  # fmt: skip
    rates = [r["orders"] / r["seconds"] for r in runs]
    baseline, busy = statistics.mean(rates[::5]), max(rates[::5]) / min(rates[::5]) - 1
    bare_cpu = statistics.mean(sum(r["used"].values()) / r["orders"] for r in runs[::5])
    rows = []
    for r, rate in zip(runs, rates, strict=True):
        cpu, latencies = {k: v / r["orders"] for k, v in r["used"].items()}, r.get("latencies")
        rows.append({
            "run": r["run"], "orders": f"{r['orders']:,}", "seconds": f"{r['seconds']:.1f}",
            "orders/s": f"{rate:,.0f}", "vs bare": f"{rate / baseline:.3f}",
            "p50 ms": ms(harness.percentile(latencies or [], 0.5)),
            "p99 ms": ms(harness.percentile(latencies or [], 0.99)),
            **{f"{k} cpu ms/o": ms(cpu.get(k, float("nan"))) for k in ("app", "pg", "client")},
            "CPU-bound vs bare": f"{(os.cpu_count() or 1) / sum(cpu.values()) * bare_cpu:.2f}",
            "answers": r.get("answers", ""), "rows": "ok" if r["rows ok"] else "WRONG",
            "note": r.get("note", ""),
        })  # fmt: skip
        if "app" in cpu:
            goal("orders", f"{r['run']} orders/s", f"{rate:,.0f}", "bare INSERT, mean of 2",
                 f"{baseline:,.0f}", rate / baseline, 0.4, at_least=True)  # fmt: skip
    harness.TABLES[
        f"orders: HTTP vs bare INSERT ({count:,} orders; {extra:,} for +invitation/job and gthread;"
        " 8 client threads, keep-alive; CPU-bound: the ratio the CPU per order predicts on a quiet"
        f" machine){f'; WARNING: the bare runs differ by {busy:.0%}, busy machine' * (busy > 0.25)}"
    ] = rows
    assert all(r["rows ok"] for r in runs)
