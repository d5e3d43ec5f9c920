"""Benchmark: ingesting orders through the real HTTP stack against bare INSERTs.

The issue: "ingest 20,000 orders through the real HTTP stack (gunicorn on loopback,
PostgreSQL) with 2 workers and report orders/s next to the same number of bare INSERTs of
the same rows; goal >= 40% of the bare-insert rate."

What runs, each measurement in its own fresh PostgreSQL database migrated with
``trustseal db upgrade`` (so every run starts on empty tables and indexes):

* **bare INSERT** — one psycopg connection; for each order a plain parameterized
  ``INSERT INTO purchases … RETURNING id``, an ``INSERT INTO purchase_items`` per line
  (executemany), then ``COMMIT`` (one transaction per order, as the service does). It
  runs before and after the HTTP runs; the baseline is the mean of the two, and a
  warning is printed when they disagree (the machine was busy).
* **bare INSERT +invitation/job** (informative, ``--extra-count`` orders) — the same plus
  the ``review_invitations`` and ``jobs`` rows the service writes for delivered orders.
* **HTTP** — ``POST /api/v1/orders`` with the merchant's key through gunicorn from
  ``--concurrency`` client threads with keep-alive connections: first 2 sync workers on
  all orders, then 2 gthread workers x 4 threads on ``--extra-count`` orders. A run sends
  no more orders after ``--time-limit`` seconds (the rate is then that of the orders
  sent). Every answer must be 201, and ``purchases`` / ``review_invitations`` / ``jobs``
  must hold exactly the rows expected afterwards.

The table gives orders/s, the ratio to the baseline with the goal (MET / NOT MET), the
client's latencies and the CPU per order of gunicorn, PostgreSQL and the client; below it,
what those CPU figures predict for a quiet machine.

Run: ``.venv/bin/python bench/orders.py [--quick] [--count N] [--concurrency C]``
(``--help`` for the rest).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from _harness import (
    CpuMeter,
    count_rows,
    create_merchant,
    encode_json_bodies,
    fresh_postgres_database,
    gunicorn,
    gunicorn_label,
    libpq_url,
    machine_line,
    merchant_id,
    migrate,
    parse_variant,
    percentile,
    post_json_many,
    print_table,
    save_results,
    served_cpu,
)

GOAL = 0.40
FULL_COUNT = 20_000
QUICK_COUNT = 2_000
MIX = (("placed", 0.35), ("paid", 0.35), ("delivered", 0.30))
SOURCE = "api"  # what the API records as an order's source
INVITATION_TTL = timedelta(days=60)  # the service's defaults, for the informative baseline
EMAIL_DELAY = timedelta(hours=72)
JOB_KIND = "orders.invitation_email"
JOB_MAX_ATTEMPTS = 8

FIRST_NAMES = (
    "Lucía", "Mateo", "Valentina", "Santiago", "Camila", "Sebastián", "Ximena", "Diego",
    "Renata", "Joaquín", "Ñusta", "Alonso", "Micaela", "Thiago", "Fernanda", "Rodrigo",
)  # fmt: skip
LAST_NAMES = (
    "Quispe", "Flores", "Mamani", "García", "Huamán", "Rojas", "Chávez", "Sánchez",
    "Ramírez", "Torres", "Vargas", "Castillo", "Mendoza", "Gutiérrez", "Ñahui", "Paredes",
)  # fmt: skip
MAIL_DOMAINS = ("gmail.com", "hotmail.com", "outlook.com", "yahoo.es", "pucp.edu.pe")
PRODUCTS = (
    ("cafe-500", "Café de Villa Rica 500 g"),
    ("cacao-70", "Chocolate 70% cacao de Piura"),
    ("quinua-1k", "Quinua blanca orgánica 1 kg"),
    ("pisco-qb", "Pisco quebranta 750 ml"),
    ("alpaca-chal", "Chal de alpaca tejido a mano"),
    ("maca-neg", "Maca negra en polvo 250 g"),
    ("aji-amarillo", "Pasta de ají amarillo 200 g"),
    ("lucuma-pol", "Lúcuma en polvo 500 g"),
    ("ceramica-chul", "Cerámica de Chulucanas, jarrón mediano"),
    ("mate-burilado", "Mate burilado de Huancayo"),
    ("sombrero-paja", "Sombrero de paja toquilla"),
    ("miel-abeja", "Miel de abeja de Oxapampa 1 kg"),
)  # fmt: skip


# --------------------------------------------------------------------------- the orders


def build_orders(count: int, seed: int = 20261122) -> list[dict[str, Any]]:
    """``count`` distinct, valid ``POST /api/v1/orders`` bodies (deterministic per seed).

    Statuses follow :data:`MIX` exactly (shuffled); each order has 1-3 lines, a customer
    email (some with upper case, as shops send them) and a name for most.
    """
    rng = random.Random(seed)
    statuses = [s for s, share in MIX for _ in range(round(count * share))]
    statuses = (statuses + ["placed"] * count)[:count]
    rng.shuffle(statuses)
    base = datetime(2026, 10, 1, tzinfo=UTC)
    orders = []
    for n, status in enumerate(statuses):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        local = f"{first}.{last}{rng.randrange(1000)}"
        email = f"{local if rng.random() < 0.3 else local.lower()}@{rng.choice(MAIL_DOMAINS)}"
        placed = base + timedelta(seconds=rng.randrange(30 * 86400))
        items = []
        for product_id, title in rng.sample(PRODUCTS, rng.randint(1, 3)):
            item: dict[str, Any] = {
                "product_id": product_id,
                "title": title,
                "quantity": rng.randint(1, 4),
            }
            if rng.random() < 0.5:
                item["sku"] = product_id.upper()
                item["url"] = f"https://tienda.pe/p/{product_id}"
            items.append(item)
        body: dict[str, Any] = {
            "external_id": f"WEB-{100000 + n}",
            "status": status,
            "customer": {
                "email": email,
                "name": f"{first} {last}" if rng.random() < 0.9 else None,
                "locale": "es" if rng.random() < 0.9 else "en",
            },
            "placed_at": placed.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "items": items,
        }
        if status == "delivered":
            delivered = placed + timedelta(days=rng.randint(1, 6))
            body["delivered_at"] = delivered.strftime("%Y-%m-%dT%H:%M:%SZ")
        orders.append(body)
    return orders


def _naive_utc(text: str | None) -> datetime | None:
    """An RFC 3339 ``…Z`` string as the naive UTC datetime the tables store."""
    return None if text is None else datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Row:
    """One order as the rows the service would store (naive UTC times)."""

    purchase: tuple[Any, ...]
    items: list[tuple[Any, ...]]
    delivered: bool


def to_rows(orders: list[dict[str, Any]], merchant: int) -> list[Row]:
    """Turn bodies into the parameters of the bare INSERTs (done before timing)."""
    rows = []
    for order in orders:
        customer = order["customer"]
        purchase = (
            merchant,
            SOURCE,
            order["external_id"],
            order["status"],
            customer["email"].strip().lower(),
            customer["name"],
            customer["locale"],
            _naive_utc(order["placed_at"]),
            _naive_utc(order.get("delivered_at")),
        )
        items = [
            (i["product_id"], i["title"], i["quantity"], i.get("sku"), i.get("url"), None)
            for i in order["items"]
        ]
        rows.append(Row(purchase, items, order["status"] == "delivered"))
    return rows


# --------------------------------------------------------------------------- the runs

INSERT_PURCHASE = (
    "INSERT INTO purchases (merchant_id, source, external_id, status, customer_email,"
    " customer_name, customer_locale, placed_at, delivered_at, created_at, updated_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id"
)
INSERT_ITEM = (
    "INSERT INTO purchase_items (purchase_id, product_id, title, quantity, sku, url,"
    " image_url) VALUES (%s, %s, %s, %s, %s, %s, %s)"
)
INSERT_INVITATION = (
    "INSERT INTO review_invitations (purchase_id, state, expires_at, created_at)"
    " VALUES (%s, 'open', %s, %s) RETURNING id"
)
INSERT_JOB = (
    "INSERT INTO jobs (kind, payload, status, attempts, max_attempts, run_at, created_at)"
    " VALUES (%s, %s, 'queued', 0, %s, %s, %s)"
)


@dataclass
class Result:
    """One measured run."""

    name: str
    orders: int
    seconds: float
    kind: str  # "bare" | "http"
    statuses: Counter[int | str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    client_cpu: float = float("nan")  # CPU seconds of this process (load generator / psycopg)
    app_cpu: float = float("nan")  # CPU seconds of the gunicorn processes
    pg_cpu: float = float("nan")  # CPU seconds of the PostgreSQL backends serving the run
    rows_ok: bool = True
    note: str = ""

    @property
    def rate(self) -> float:
        """Orders per second."""
        return self.orders / self.seconds if self.seconds else float("nan")

    @property
    def cpu_per_order(self) -> float:
        """CPU seconds per order of every process measured (app, PostgreSQL, client)."""
        used = [c for c in (self.app_cpu, self.pg_cpu, self.client_cpu) if c == c]
        return sum(used) / self.orders if used and self.orders else float("nan")


def _setup(db_url: str, instance: str) -> str:
    """Migrate a fresh database and create the bench merchant; return its API key."""
    migrate(db_url, instance)
    return create_merchant(db_url, instance)


def run_bare(name: str, orders: list[dict[str, Any]], *, full: bool = False) -> Result:
    """Time bare INSERTs of the orders' rows into a fresh database (see module doc)."""
    with fresh_postgres_database() as db_url, tempfile.TemporaryDirectory() as instance:
        _setup(db_url, instance)
        rows = to_rows(orders, merchant_id(db_url))
        with psycopg.connect(libpq_url(db_url), autocommit=False) as conn:
            cur = conn.cursor()
            backend = [conn.info.backend_pid]
            pg_meter = CpuMeter()
            pg_meter.start(backend)
            cpu = time.process_time()
            started = time.perf_counter()
            for row in rows:
                now = datetime.now(UTC).replace(tzinfo=None)
                cur.execute(INSERT_PURCHASE, (*row.purchase, now, now))
                purchase_id = cur.fetchone()[0]  # type: ignore[index]
                cur.executemany(INSERT_ITEM, [(purchase_id, *item) for item in row.items])
                if full and row.delivered:
                    cur.execute(INSERT_INVITATION, (purchase_id, now + INVITATION_TTL, now))
                    invitation_id = cur.fetchone()[0]  # type: ignore[index]
                    cur.execute(
                        INSERT_JOB,
                        (
                            JOB_KIND,
                            f'{{"invitation_id": {invitation_id}}}',
                            JOB_MAX_ATTEMPTS,
                            now + EMAIL_DELAY,
                            now,
                        ),
                    )
                conn.commit()
            seconds = time.perf_counter() - started
            cpu = time.process_time() - cpu
            pg_cpu = pg_meter.stop(backend)
        rows_ok = count_rows(db_url, "purchases") == len(orders)
    return Result(
        name, len(orders), seconds, "bare", client_cpu=cpu, pg_cpu=pg_cpu, rows_ok=rows_ok
    )


def _warm_up(base_url: str, api_key: str, connections: int) -> None:
    """A few authenticated GETs so every worker has imported, connected and compiled."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    for _ in range(connections):
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=30)
        for _ in range(4):
            conn.request("GET", "/api/v1/orders?limit=1", headers={"Authorization": api_key})
            conn.getresponse().read()
        conn.close()


def run_http(
    orders: list[dict[str, Any]],
    concurrency: int,
    *,
    workers: int = 2,
    worker_class: str = "sync",
    threads: int = 1,
    time_limit: float | None = None,
    batch: int = 1,
) -> Result:
    """POST the orders through gunicorn into a fresh database; time and check it.

    With ``time_limit`` no order is sent after that many seconds; the rate is then that
    of the orders sent (the first ones, in order) and the note says so. With ``batch``
    > 1 the orders go ``batch`` at a time to ``POST /api/v1/orders/batch``.
    """
    label = gunicorn_label(workers, worker_class, threads)
    if batch > 1:
        label = f"batch {batch} {label}"
    with fresh_postgres_database() as db_url, tempfile.TemporaryDirectory() as instance:
        api_key = _setup(db_url, instance)
        headers = {"Authorization": f"Bearer {api_key}"}
        if batch > 1:
            chunks = [orders[i : i + batch] for i in range(0, len(orders), batch)]
            payloads = encode_json_bodies([{"orders": chunk} for chunk in chunks])
            path, ok_status = "/api/v1/orders/batch", 200
        else:
            payloads = encode_json_bodies(orders)
            path, ok_status = "/api/v1/orders", 201
        with gunicorn(
            db_url, instance, workers, worker_class=worker_class, threads=threads
        ) as base_url:
            _warm_up(base_url, headers["Authorization"], concurrency)
            latencies: list[float] = []
            with served_cpu(base_url, db_url) as used:
                seconds, statuses = post_json_many(
                    base_url,
                    path,
                    payloads,
                    headers,
                    concurrency,
                    latencies=latencies,
                    time_limit=time_limit,
                )
        stored = count_rows(db_url, "purchases")
        invitations = count_rows(db_url, "review_invitations")
        jobs = count_rows(db_url, "jobs")
    requests = sum(statuses.values())
    sent = min(len(orders), requests * batch)
    delivered = sum(o["status"] == "delivered" for o in orders[:sent])
    rows_ok = (
        statuses.get(ok_status) == requests and sent == stored and invitations == jobs == delivered
    )
    note = f"purchases={stored:,} review_invitations={invitations:,} jobs={jobs:,}"
    if sent < len(orders):
        note += f"; time limit {time_limit:.0f}s reached: {sent:,} of {len(orders):,} sent"
    return Result(
        f"HTTP gunicorn {label}",
        sent,
        seconds,
        "http",
        statuses,
        latencies,
        client_cpu=used.client,
        app_cpu=used.app,
        pg_cpu=used.pg,
        rows_ok=rows_ok,
        note=note,
    )


# --------------------------------------------------------------------------- report


def _ms_per_order(seconds: float, orders: int) -> str:
    return "-" if seconds != seconds else f"{seconds / orders * 1000:.2f}"  # NaN: unknown


def _status_text(statuses: Counter[int | str]) -> str:
    return " ".join(f"{code}x{n}" for code, n in sorted(statuses.items(), key=str)) or "-"


def report(results: list[Result], baseline: float, concurrency: int) -> None:
    """Print the results table and whether each HTTP run met the goal."""
    rows = []
    for r in results:
        ratio = r.rate / baseline
        is_http = r.kind == "http"
        rows.append(
            {
                "run": r.name,
                "orders": f"{r.orders:,}",
                "seconds": f"{r.seconds:.1f}",
                "orders/s": f"{r.rate:,.0f}",
                "vs bare": f"{ratio:.3f}",
                f"goal >= {GOAL:.2f}": ("MET" if ratio >= GOAL else "NOT MET") if is_http else "",
                "p50 ms": f"{percentile(r.latencies, 0.5) * 1000:.1f}" if is_http else "",
                "p99 ms": f"{percentile(r.latencies, 0.99) * 1000:.1f}" if is_http else "",
                "app cpu ms/o": _ms_per_order(r.app_cpu, r.orders) if is_http else "",
                "pg cpu ms/o": _ms_per_order(r.pg_cpu, r.orders),
                "client cpu ms/o": _ms_per_order(r.client_cpu, r.orders),
                "answers": _status_text(r.statuses) if is_http else "",
                "rows": "ok" if r.rows_ok else "WRONG",
            }
        )
    print_table(
        f"Order ingestion: HTTP vs bare INSERT (baseline = mean of the bare before/after runs"
        f" = {baseline:,.0f} orders/s; HTTP client: {concurrency} threads, keep-alive)",
        rows,
    )
    print(
        "\nvs bare = orders/s / baseline.  cpu ms/o = CPU milliseconds per order used by the"
        " gunicorn\nprocesses (app), the PostgreSQL backends serving the run (pg) and this"
        " process (client: the\nload generator, or psycopg + Python for the bare runs)."
        f" All share the same {os.cpu_count()} cores."
    )
    for r in results:
        if r.note:
            print(f"  {r.name}: {r.note}")
    bare = [r for r in results if r.name.startswith("bare INSERT (")]
    rates = [r.rate for r in bare]
    if len(rates) > 1 and max(rates) > 1.25 * min(rates):
        print(
            f"\nWARNING: the bare runs differ by {max(rates) / min(rates) - 1:.0%}"
            f" ({' vs '.join(f'{x:,.0f}' for x in rates)} orders/s): the machine was busy"
            " meanwhile, so the measured ratios are unreliable; see the CPU estimate below."
        )
    _cpu_estimate(results, bare)


def _cpu_estimate(results: list[Result], bare: list[Result]) -> None:
    """Print what the CPU figures predict for a quiet machine (a model, not a measurement).

    The bare run is one connection doing one thing at a time, so it is bounded by its CPU
    per order on one core; the HTTP runs can use every core.
    """
    bare_cpu = statistics.mean(r.cpu_per_order for r in bare)
    http = [r for r in results if r.kind == "http" and r.cpu_per_order == r.cpu_per_order]
    if bare_cpu != bare_cpu or not http:
        return
    cores = os.cpu_count() or 1
    bare_max = 1 / bare_cpu
    print(
        f"\nCPU-bound estimate for a quiet {cores}-core machine (noise-resistant, but a model):"
        f"\n  bare INSERT: {bare_cpu * 1000:.2f} ms CPU/order on one serial connection"
        f" -> <= {bare_max:,.0f} orders/s"
    )
    for r in http:
        top = cores / r.cpu_per_order
        verdict = "MET" if top / bare_max >= GOAL else "NOT MET"
        print(
            f"  {r.name}: {r.cpu_per_order * 1000:.2f} ms CPU/order over {cores} cores"
            f" -> <= {top:,.0f} orders/s, ratio <= {top / bare_max:.3f} (goal {verdict})"
        )


def _progress(result: Result) -> None:
    print(f"  ... {result.name}: {result.orders:,} orders, {result.rate:,.0f}/s", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Parse options, run the baselines and the HTTP variants, print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--count", type=int, default=FULL_COUNT, help="orders (default 20000)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_COUNT:,} orders")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads (8)")
    parser.add_argument(
        "--batch",
        type=int,
        default=100,
        help="also send the orders N at a time to /api/v1/orders/batch (100; 0: no)",
    )
    parser.add_argument(
        "--variants",
        default="sync:2,gthread:2x4",
        help="gunicorn variants, comma-separated: sync:W or gthread:WxT (default"
        " sync:2,gthread:2x4); the first runs all orders, the others --extra-count",
    )
    parser.add_argument(
        "--extra-count",
        type=int,
        default=QUICK_COUNT,
        help=f"orders for the second and later variants and the informative baseline"
        f" ({QUICK_COUNT:,}; they keep the 5-minute budget)",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=180.0,
        help="seconds after which an HTTP run sends no more orders and reports the rate of"
        " those sent (180; 0 = none)",
    )
    args = parser.parse_args(argv)
    count = QUICK_COUNT if args.quick else args.count
    extra_count = min(count, args.extra_count)
    try:
        variants = [parse_variant(v.strip()) for v in args.variants.split(",") if v.strip()]
    except ValueError as exc:
        parser.error(str(exc))

    orders = build_orders(count)
    mix = Counter(o["status"] for o in orders)
    lines = sum(len(o["items"]) for o in orders)
    print(machine_line())
    print(
        f"orders: {count:,} distinct ({', '.join(f'{s} {mix[s]:,}' for s, _ in MIX)}:"
        f" ~70% placed/paid, ~30% delivered; a delivered order also creates a review"
        f" invitation and a job row), {lines:,} order lines (1-3 per order)"
    )
    print(
        "every run gets its own fresh PostgreSQL database, migrated with `trustseal db"
        " upgrade`.\nbare INSERT = one psycopg connection; per order INSERT purchases +"
        " INSERT purchase_items, COMMIT."
    )
    started = time.monotonic()
    results = [run_bare("bare INSERT (before)", orders)]
    _progress(results[-1])
    results.append(run_bare("bare INSERT +invitation/job", orders[:extra_count], full=True))
    _progress(results[-1])
    for n, variant in enumerate(variants):
        results.append(
            run_http(
                orders if n == 0 else orders[:extra_count],
                args.concurrency,
                workers=variant.workers,
                worker_class=variant.worker_class,
                threads=variant.threads,
                time_limit=args.time_limit or None,
            )
        )
        _progress(results[-1])
    if args.batch > 1:
        results.append(
            run_http(orders, args.concurrency, time_limit=args.time_limit or None, batch=args.batch)
        )
        _progress(results[-1])
    results.append(run_bare("bare INSERT (after)", orders))
    _progress(results[-1])

    baseline = statistics.mean(r.rate for r in results if r.name.startswith("bare INSERT ("))
    report(results, baseline, args.concurrency)
    print(f"\ntotal wall time {time.monotonic() - started:.0f}s")
    path = save_results(
        "orders",
        {
            "count": count,
            "concurrency": args.concurrency,
            "mix": dict(mix),
            "baseline_orders_per_s": baseline,
            "goal": GOAL,
            "machine": machine_line(),
            "runs": [
                {
                    "name": r.name,
                    "orders": r.orders,
                    "seconds": r.seconds,
                    "orders_per_s": r.rate,
                    "ratio": r.rate / baseline,
                    "app_cpu_s": r.app_cpu,
                    "pg_cpu_s": r.pg_cpu,
                    "client_cpu_s": r.client_cpu,
                    "statuses": {str(k): v for k, v in r.statuses.items()},
                    "rows_ok": r.rows_ok,
                }
                for r in results
            ],
        },
    )
    print(f"figures saved to bench/results/{path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
