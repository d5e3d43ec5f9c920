"""Benchmark: verified Shopify webhooks per second through gunicorn and PostgreSQL.

The issue: "``bench/webhooks.py``: verified Shopify webhooks/s under gunicorn (2 workers,
PostgreSQL) — goal >= 300/s on this 2-core machine; report it."

What runs, each HTTP measurement in its own fresh PostgreSQL database migrated with
``trustseal db upgrade``:

* **the deliveries** — ``--count`` distinct ``orders/create`` bodies in Shopify's REST shape
  (order ids and line ids above 2^53, an email with some upper case, customer names with
  accents, 1-3 line items, ``financial_status`` 55% paid / 45% pending), and for exactly
  20% of the orders a ``fulfillments/create`` with ``shipment_status: delivered`` sent
  :data:`FULFILMENT_GAP` orders later (so it reaches the service after its order). Every
  delivery has its own ``X-Shopify-Webhook-Id``; bodies are encoded and signed
  (base64 HMAC-SHA256 of the raw body with the store's client secret) before the clock
  starts.
* **HTTP** — gunicorn ``wsgi:app`` (logs at WARNING, rate limits off); the merchant is
  created with the CLI and the Shopify store through the running server's
  ``POST /api/v1/stores`` (its secret is sealed with that instance's data key). Before
  timing: a tampered body and a delivery for another shop must answer 401, and
  ``--concurrency`` x 4 warm-up deliveries (distinct orders) must answer 200. Then every
  delivery is POSTed to ``/webhooks/shopify/<store id>`` from ``--concurrency`` client
  threads, each with its own keep-alive connection (gunicorn's sync workers close it after
  every answer; gthread workers keep it). First 2 sync workers on all deliveries, then
  2 gthread workers x 4 threads on ``--extra-count`` orders' deliveries. No delivery is
  sent after ``--time-limit`` seconds (the rate is then that of those sent). Every answer
  must be 200, and afterwards ``webhook_deliveries``, ``purchases`` (with exactly the
  expected external ids, as text), ``purchase_items``, delivered purchases,
  ``review_invitations`` and ``jobs`` must hold exactly the expected rows.
* **in-process** (after the HTTP runs, own database): the same app built with
  ``create_app`` against PostgreSQL and driven with Flask's test client, one request at a
  time. It times the parts of a request the plugin owns (decrypting the store's secrets,
  ``verify`` = the HMAC check, ``parse``) against the whole request's CPU, counts the
  database round trips per webhook, lists the SQL statements of one delivery of each
  topic, and (with ``--profile``, or automatically when the goal is NOT MET) profiles
  ``--profile-count`` requests with cProfile: where the time goes, by package and by
  function.

The table gives webhooks/s with the goal (MET / NOT MET), the client's p50/p99
latencies and the CPU per webhook of gunicorn, PostgreSQL and the client (the load
generator shares the 2 cores); below it, what those CPU figures predict for a quiet
machine.

Run: ``.venv/bin/python bench/webhooks.py [--quick] [--count N] [--profile]``
(``--help`` for the rest).
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import hashlib
import hmac
import json
import os
import pstats
import random
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from _harness import (
    ROOT,
    CpuMeter,
    Variant,
    create_merchant,
    fresh_postgres_database,
    gunicorn,
    gunicorn_label,
    libpq_url,
    machine_line,
    migrate,
    parse_variant,
    percentile,
    post_many,
    postgres_backend_pids,
    print_table,
    save_results,
    served_cpu,
)

GOAL = 300.0  # verified webhooks per second, 2 gunicorn workers, PostgreSQL, 2 cores
FULL_COUNT = 10_000  # orders/create deliveries (plus 20% fulfillments/create)
QUICK_COUNT = 1_000
EXTRA_COUNT = 2_500  # orders for the second and later variants
FULFILLED_SHARE = 0.20
PAID_SHARE = 0.55
FULFILMENT_GAP = 64  # a fulfilment is sent this many orders after its order
SHOP = "cafe-andino.myshopify.com"
CLIENT_SECRET = "shpss_b3nch5f0c1d2e3a4b5c6d7e8f90a1b2c3"
API_VERSION = "2025-10"
ORDER_ID_BASE = 2**53 + 1_000_003  # ids above 2^53: exact only as text
LINE_ID_BASE = 2**53 + 900_000_000_007
PRODUCT_ID_BASE = 8_123_456_789_012

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
    ("CAFE-500", "Café de Villa Rica 500 g", "38.00"),
    ("CACAO-70", "Chocolate 70% cacao de Piura", "24.50"),
    ("QUINUA-1K", "Quinua blanca orgánica 1 kg", "19.90"),
    ("PISCO-QB", "Pisco quebranta 750 ml", "69.00"),
    ("ALPACA-CHAL", "Chal de alpaca tejido a mano", "189.00"),
    ("MACA-NEG", "Maca negra en polvo 250 g", "32.00"),
    ("AJI-AMARILLO", "Pasta de ají amarillo 200 g", "12.50"),
    ("LUCUMA-POL", "Lúcuma en polvo 500 g", "27.00"),
    ("CERAMICA-CHUL", "Cerámica de Chulucanas, jarrón mediano", "145.00"),
    ("MATE-BURILADO", "Mate burilado de Huancayo", "85.00"),
    ("SOMBRERO-PAJA", "Sombrero de paja toquilla", "120.00"),
    ("MIEL-ABEJA", "Miel de abeja de Oxapampa 1 kg", "35.00"),
)  # fmt: skip
CITIES = ("Lima", "Arequipa", "Cusco", "Trujillo", "Piura", "Chiclayo", "Huancayo")


# --------------------------------------------------------------------------- deliveries


@dataclass(frozen=True)
class Delivery:
    """One signed webhook, ready to send: raw body and the headers Shopify sends."""

    topic: str
    body: bytes
    headers: dict[str, str]
    order_id: int  # the Shopify order it concerns
    lines: int  # line items (orders/create only)


def sign(body: bytes, secret: str = CLIENT_SECRET) -> str:
    """``X-Shopify-Hmac-Sha256``: base64 HMAC-SHA256 of the raw body."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _raw(payload: Any) -> bytes:
    """A body as Shopify sends it: UTF-8 JSON, integers of any size exact."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _headers(body: bytes, topic: str, webhook_id: str, shop: str = SHOP) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
        "User-Agent": "Shopify-Captain-Hook",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(body),
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Event-Id": str(uuid.UUID(webhook_id).int >> 64),
        "X-Shopify-Triggered-At": "2026-11-01T15:00:00.123456789Z",
        "X-Shopify-API-Version": API_VERSION,
    }


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S-05:00")


def shopify_order(n: int, rng: random.Random) -> dict[str, Any]:
    """The ``n``-th order as an ``orders/create`` body (Shopify REST Admin shape)."""
    order_id = ORDER_ID_BASE + n * 7
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    local = f"{first}.{last}{rng.randrange(1000)}"
    email = f"{local if rng.random() < 0.3 else local.lower()}@{rng.choice(MAIL_DOMAINS)}"
    created = datetime(2026, 10, 1, 9) + timedelta(seconds=rng.randrange(30 * 86400))
    paid = rng.random() < PAID_SHARE
    city = rng.choice(CITIES)
    lines = []
    for k, (sku, title, price) in enumerate(rng.sample(PRODUCTS, rng.randint(1, 3))):
        line_id = LINE_ID_BASE + n * 10 + k
        product_id = PRODUCT_ID_BASE + PRODUCTS.index((sku, title, price))
        quantity = rng.randint(1, 4)
        lines.append(
            {
                "id": line_id,
                "admin_graphql_api_id": f"gid://shopify/LineItem/{line_id}",
                "product_id": product_id,
                "variant_id": product_id + 1000,
                "title": title,
                "name": title,
                "variant_title": None,
                "quantity": quantity,
                "current_quantity": quantity,
                "sku": sku,
                "price": price,
                "vendor": "Café Andino",
                "requires_shipping": True,
                "taxable": True,
                "fulfillable_quantity": quantity,
                "fulfillment_status": None,
                "gift_card": False,
            }
        )
    subtotal = sum(float(line["price"]) * line["quantity"] for line in lines)
    address = {"first_name": first, "last_name": last, "city": city, "country_code": "PE"}
    return {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": f"#{1001 + n}",
        "order_number": 1001 + n,
        "email": email,
        "contact_email": email,
        "phone": None,
        "created_at": _time(created),
        "processed_at": _time(created),
        "updated_at": _time(created),
        "cancelled_at": None,
        "cancel_reason": None,
        "closed_at": None,
        "currency": "PEN",
        "presentment_currency": "PEN",
        "subtotal_price": f"{subtotal:.2f}",
        "total_price": f"{subtotal + 10:.2f}",
        "total_tax": f"{subtotal * 0.18 / 1.18:.2f}",
        "financial_status": "paid" if paid else "pending",
        "fulfillment_status": None,
        "confirmed": True,
        "test": False,
        "customer_locale": "es-PE" if rng.random() < 0.9 else "en-US",
        "source_name": "web",
        "tags": "",
        "customer": {
            "id": 7_390_812_345_678 + n,
            "email": email,
            "first_name": first,
            "last_name": last,
            "phone": f"+519{rng.randrange(10**8):08d}",
            "state": "enabled",
            "verified_email": True,
            "currency": "PEN",
            "tags": "",
        },
        "billing_address": address,
        "shipping_address": {**address, "address1": f"Av. Arequipa {rng.randrange(100, 5000)}"},
        "line_items": lines,
        "fulfillments": [],
        "refunds": [],
    }


def shopify_fulfilment(order: dict[str, Any], n: int) -> dict[str, Any]:
    """A ``fulfillments/create`` body saying the order was delivered."""
    fulfilment_id = 4_412_345_678_901 + n
    created = datetime.strptime(order["created_at"][:19], "%Y-%m-%dT%H:%M:%S")
    return {
        "id": fulfilment_id,
        "admin_graphql_api_id": f"gid://shopify/Fulfillment/{fulfilment_id}",
        "order_id": order["id"],
        "name": f"{order['name']}.1",
        "status": "success",
        "service": "manual",
        "shipment_status": "delivered",
        "tracking_company": "Olva Courier",
        "tracking_number": f"OLV{n:09d}PE",
        "tracking_numbers": [f"OLV{n:09d}PE"],
        "tracking_url": f"https://tracking.olvacourier.com/?tracking=OLV{n:09d}PE",
        "created_at": _time(created + timedelta(days=1)),
        "updated_at": _time(created + timedelta(days=3)),
        "line_items": [],
    }


def build_deliveries(count: int, seed: int = 20261122, first: int = 0) -> list[Delivery]:
    """``count`` signed ``orders/create`` deliveries (orders ``first`` .. ``first+count-1``)
    and, for exactly 20% of them, a ``fulfillments/create`` (delivered) sent
    :data:`FULFILMENT_GAP` orders later; every delivery has a unique webhook id.
    Deterministic per seed."""
    rng = random.Random(seed + first)
    eligible = range(max(0, count - FULFILMENT_GAP))
    fulfilled = set(rng.sample(eligible, min(len(eligible), round(count * FULFILLED_SHARE))))
    due: dict[int, list[Delivery]] = defaultdict(list)
    out: list[Delivery] = []
    for k in range(count):
        n = first + k
        order = shopify_order(n, rng)
        body = _raw(order)
        webhook_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        out.append(
            Delivery(
                "orders/create",
                body,
                _headers(body, "orders/create", webhook_id),
                order["id"],
                len(order["line_items"]),
            )
        )
        if k in fulfilled:
            body = _raw(shopify_fulfilment(order, n))
            webhook_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            due[k + FULFILMENT_GAP].append(
                Delivery(
                    "fulfillments/create",
                    body,
                    _headers(body, "fulfillments/create", webhook_id),
                    order["id"],
                    0,
                )
            )
        out.extend(due.pop(k, []))
    assert not due, "a fulfilment was left unsent"
    return out


@dataclass(frozen=True)
class Expected:
    """The rows a set of accepted deliveries must leave."""

    deliveries: int
    orders: int
    lines: int
    delivered: int
    external_ids: frozenset[str]

    @classmethod
    def of(cls, deliveries: Sequence[Delivery]) -> Expected:
        """What ``deliveries`` (all accepted) must store."""
        orders = [d for d in deliveries if d.topic == "orders/create"]
        return cls(
            len(deliveries),
            len(orders),
            sum(d.lines for d in orders),
            sum(d.topic == "fulfillments/create" for d in deliveries),
            frozenset(str(d.order_id) for d in orders),
        )

    def __add__(self, other: Expected) -> Expected:
        return Expected(
            self.deliveries + other.deliveries,
            self.orders + other.orders,
            self.lines + other.lines,
            self.delivered + other.delivered,
            self.external_ids | other.external_ids,
        )


# --------------------------------------------------------------------------- load


def post_deliveries(
    base_url: str,
    path: str,
    deliveries: Sequence[Delivery],
    concurrency: int = 8,
    *,
    latencies: list[float] | None = None,
    timeout: float = 60.0,
    time_limit: float | None = None,
) -> tuple[float, Counter[int | str]]:
    """POST each delivery with its own pre-built headers (signature, webhook id, topic)
    through :func:`_harness.post_many`: exactly ``deliveries[:sent]`` are sent."""
    return post_many(
        base_url,
        path,
        [(d.body, d.headers) for d in deliveries],
        concurrency,
        latencies=latencies,
        timeout=timeout,
        time_limit=time_limit,
    )


def _post_one(base_url: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(base_url + path, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode(errors="replace")


def create_store_via_api(base_url: str, api_key: str) -> int:
    """Connect the Shopify store through the running server; return its id."""
    body = _raw({"platform": "shopify", "shop_domain": SHOP, "client_secret": CLIENT_SECRET})
    status, text = _post_one(
        base_url,
        "/api/v1/stores",
        body,
        {"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"},
    )
    if status != 201:
        raise RuntimeError(f"POST /api/v1/stores answered {status}: {text[:500]}")
    return int(json.loads(text)["id"])


def forged(delivery: Delivery) -> list[tuple[str, bytes, dict[str, str]]]:
    """Deliveries that must be refused with 401: a tampered body, another shop's domain."""
    tampered = delivery.body.replace(b'"financial_status":"pending"', b'"financial_status":"paid"')
    if tampered == delivery.body:
        tampered = delivery.body.replace(b'"paid"', b'"refunded"', 1)
    other_shop = dict(delivery.headers, **{"X-Shopify-Shop-Domain": "otra-tienda.myshopify.com"})
    return [
        (
            "tampered body",
            tampered,
            dict(delivery.headers, **{"Content-Length": str(len(tampered))}),
        ),
        ("another shop", delivery.body, other_shop),
    ]


# --------------------------------------------------------------------------- checking rows


@dataclass
class Stored:
    """What the database holds after a run."""

    deliveries: int
    purchases: int
    items: int
    delivered: int
    invitations: int
    jobs: int
    external_ids: frozenset[str]

    def matches(self, expected: Expected) -> bool:
        """Exactly the rows the accepted deliveries must leave."""
        return (
            self.deliveries == expected.deliveries
            and self.purchases == expected.orders
            and self.items == expected.lines
            and self.delivered == self.invitations == self.jobs == expected.delivered
            and self.external_ids == expected.external_ids
        )

    def note(self) -> str:
        """The counts, for the notes under the table."""
        return (
            f"webhook_deliveries={self.deliveries:,} purchases={self.purchases:,}"
            f" items={self.items:,} delivered={self.delivered:,}"
            f" review_invitations={self.invitations:,} jobs={self.jobs:,}"
        )


def stored_rows(db_url: str) -> Stored:
    """Read back the counts (and the purchases' external ids) of a run's database."""
    with psycopg.connect(libpq_url(db_url)) as conn:

        def one(query: str) -> int:
            row = conn.execute(query).fetchone()
            return int(row[0]) if row else 0

        ids = frozenset(r[0] for r in conn.execute("SELECT external_id FROM purchases"))
        return Stored(
            one("SELECT count(*) FROM webhook_deliveries"),
            one("SELECT count(*) FROM purchases"),
            one("SELECT count(*) FROM purchase_items"),
            one("SELECT count(*) FROM purchases WHERE status = 'delivered'"),
            one("SELECT count(*) FROM review_invitations"),
            one("SELECT count(*) FROM jobs"),
            ids,
        )


# --------------------------------------------------------------------------- HTTP runs

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy, all cores (from ``/proc/stat``)."""
    with open("/proc/stat") as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / _CLOCK_TICKS


@dataclass
class Result:
    """One measured HTTP run."""

    name: str
    webhooks: int
    seconds: float
    statuses: Counter[int | str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    client_cpu: float = float("nan")
    app_cpu: float = float("nan")
    pg_cpu: float = float("nan")
    rows_ok: bool = False
    forged_ok: bool = False
    loadavg: float = float("nan")  # 1-minute load average when the run ended
    machine_cpu: float = float("nan")  # CPU seconds the whole machine used during the run
    note: str = ""

    @property
    def rate(self) -> float:
        """Webhooks per second."""
        return self.webhooks / self.seconds if self.seconds else float("nan")

    def per_webhook(self, seconds: float) -> float:
        """CPU seconds per webhook (NaN when unknown)."""
        return seconds / self.webhooks if self.webhooks else float("nan")

    @property
    def others_cores(self) -> float:
        """Cores kept busy by processes other than this run's (other users of the box)."""
        ours = self.app_cpu + self.pg_cpu + self.client_cpu
        return (self.machine_cpu - ours) / self.seconds if self.seconds else float("nan")

    @property
    def server_cpu(self) -> float:
        """gunicorn + PostgreSQL CPU seconds per webhook."""
        return self.per_webhook(self.app_cpu + self.pg_cpu)

    @property
    def total_cpu(self) -> float:
        """gunicorn + PostgreSQL + client CPU seconds per webhook."""
        return self.per_webhook(self.app_cpu + self.pg_cpu + self.client_cpu)


def run_http(
    deliveries: list[Delivery],
    warm_up: list[Delivery],
    concurrency: int,
    variant: Variant,
    time_limit: float | None,
) -> Result:
    """Send the deliveries through gunicorn into a fresh database; time and check them."""
    label = gunicorn_label(variant.workers, variant.worker_class, variant.threads)
    with fresh_postgres_database() as db_url, tempfile.TemporaryDirectory() as instance:
        migrate(db_url, instance)
        api_key = create_merchant(db_url, instance)
        with gunicorn(
            db_url,
            instance,
            variant.workers,
            worker_class=variant.worker_class,
            threads=variant.threads,
        ) as base_url:
            store_id = create_store_via_api(base_url, api_key)
            path = f"/webhooks/shopify/{store_id}"
            refused = [
                (what, _post_one(base_url, path, body, headers)[0])
                for what, body, headers in forged(warm_up[0])
            ]
            forged_ok = all(status == 401 for _, status in refused)
            _, warm_statuses = post_deliveries(base_url, path, warm_up, concurrency)
            if warm_statuses != Counter({200: len(warm_up)}):
                raise RuntimeError(f"warm-up deliveries answered {dict(warm_statuses)}")
            latencies: list[float] = []
            machine = machine_busy_seconds()
            with served_cpu(base_url, db_url) as used:
                seconds, statuses = post_deliveries(
                    base_url,
                    path,
                    deliveries,
                    concurrency,
                    latencies=latencies,
                    time_limit=time_limit,
                )
            load = os.getloadavg()[0]
            machine = machine_busy_seconds() - machine
        stored = stored_rows(db_url)
    sent = sum(statuses.values())
    expected = Expected.of(warm_up) + Expected.of(deliveries[:sent])
    rows_ok = statuses.get(200) == sent and stored.matches(expected)
    note = stored.note() + f" (incl. {len(warm_up)} warm-up)"
    note += "; forged: " + ", ".join(f"{what} -> {status}" for what, status in refused)
    if sent < len(deliveries):
        note += f"; time limit {time_limit:.0f}s reached: {sent:,} of {len(deliveries):,} sent"
    return Result(
        f"HTTP gunicorn {label}",
        sent,
        seconds,
        statuses,
        latencies,
        client_cpu=used.client,
        app_cpu=used.app,
        pg_cpu=used.pg,
        rows_ok=rows_ok,
        forged_ok=forged_ok,
        loadavg=load,
        machine_cpu=machine,
        note=note,
    )


# --------------------------------------------------------------------------- in-process


@contextmanager
def counting_round_trips() -> Iterator[list[int]]:
    """Count psycopg ``Connection.wait`` calls (one per round trip) while inside."""
    counter = [0]
    original = psycopg.Connection.wait

    def wait(self: psycopg.Connection[Any], *args: Any, **kwargs: Any) -> Any:
        counter[0] += 1
        return original(self, *args, **kwargs)

    psycopg.Connection.wait = wait  # type: ignore[method-assign]
    try:
        yield counter
    finally:
        psycopg.Connection.wait = original  # type: ignore[method-assign]


def _per_call(call: Callable[[int], object], n: int) -> float:
    """CPU seconds per call of ``call(i)`` for i in range(n) (best of 3 passes)."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        for i in range(n):
            call(i)
        best = min(best, (time.process_time() - started) / n)
    return best


@dataclass
class InProcess:
    """Figures from driving the app in-process with the test client."""

    requests: int = 0
    wall_per_request: float = float("nan")
    app_cpu_per_request: float = float("nan")
    pg_cpu_per_request: float = float("nan")
    round_trips: dict[str, float] = field(default_factory=dict)
    parts: dict[str, float] = field(default_factory=dict)  # CPU seconds per webhook
    statements: dict[str, list[str]] = field(default_factory=dict)
    profile: pstats.Stats | None = None
    profiled: int = 0


def _relative(filename: str) -> str:
    """A profile file name without the venv / repo prefix."""
    for marker in ("site-packages/", "/lib/python3.11/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    root = str(ROOT) + "/"
    return filename[len(root) :] if filename.startswith(root) else filename


def _package(filename: str) -> str:
    rel = _relative(filename)
    if rel.startswith("~") or rel.startswith("<"):
        return "builtins (C)"
    head = rel.split("/", 1)[0].removesuffix(".py")
    if head in ("trustseal", "plugins"):
        return f"{head}/" + rel.split("/")[1].removesuffix(".py") if "/" in rel else head
    return head


def run_in_process(count: int, profile_count: int, do_profile: bool, concurrency: int) -> InProcess:
    """Build the app in-process against a fresh PostgreSQL database and measure it."""
    from sqlalchemy import event

    from trustseal import create_app
    from trustseal.extensions import db
    from trustseal.platforms import WebhookRequest
    from trustseal.stores import service
    from trustseal.stores.models import Store

    out = InProcess()
    with fresh_postgres_database() as db_url, tempfile.TemporaryDirectory() as instance:
        migrate(db_url, instance)
        api_key = create_merchant(db_url, instance)
        app = create_app(
            {
                "DATABASE_URL": db_url,
                "INSTANCE_PATH": instance,
                "LOG_LEVEL": "WARNING",
                "RATELIMIT_ENABLED": False,
            }
        )
        client = app.test_client()
        answer = client.post(
            "/api/v1/stores",
            json={"platform": "shopify", "shop_domain": SHOP, "client_secret": CLIENT_SECRET},
            headers={"Authorization": f"Bearer {api_key}"},
        )
        if answer.status_code != 201:
            raise RuntimeError(f"in-process POST /api/v1/stores: {answer.status_code}")
        store_id = int(answer.get_json()["id"])
        path = f"/webhooks/shopify/{store_id}"

        # 1,000,000+ offsets keep these orders apart from the HTTP runs' (own database anyway)
        warm = build_deliveries(concurrency * 4, seed=7, first=1_000_000)
        timed = build_deliveries(count, seed=11, first=2_000_000)
        profiled = build_deliveries(profile_count, seed=13, first=3_000_000)

        def post(delivery: Delivery) -> None:
            response = client.post(path, data=delivery.body, headers=delivery.headers)
            if response.status_code != 200:
                raise RuntimeError(f"in-process webhook answered {response.status_code}")

        for delivery in warm:
            post(delivery)

        # The parts the plugin owns, on the timed deliveries' bodies.
        requests = [
            WebhookRequest({k.lower(): v for k, v in d.headers.items()}, d.body, "application/json")
            for d in timed
        ]
        with app.app_context():
            plugin = service.platform("shopify")
            store = db.session.get(Store, store_id)
            assert store is not None
            ctx = service.context(store)
            n = len(requests)
            out.parts["decrypt store secrets (service.context)"] = _per_call(
                lambda i: service.context(store), min(n, 2000)
            )
            out.parts["verify: HMAC-SHA256 + shop check"] = _per_call(
                lambda i: plugin.verify(requests[i], ctx), n
            )
            out.parts["parse: json.loads + order_event"] = _per_call(
                lambda i: plugin.parse(requests[i], ctx), n
            )
            db.session.remove()

        # Whole requests, one at a time: wall, app CPU, PostgreSQL CPU, round trips.
        pg_meter = CpuMeter()
        pg_meter.start(postgres_backend_pids(db_url))
        with counting_round_trips() as trips:
            started, cpu = time.perf_counter(), time.process_time()
            by_topic: Counter[str] = Counter()
            trips_by_topic: Counter[str] = Counter()
            for delivery in timed:
                before = trips[0]
                post(delivery)
                by_topic[delivery.topic] += 1
                trips_by_topic[delivery.topic] += trips[0] - before
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        pg_cpu = pg_meter.stop(postgres_backend_pids(db_url))
        out.requests = len(timed)
        out.wall_per_request = wall / len(timed)
        out.app_cpu_per_request = cpu / len(timed)
        out.pg_cpu_per_request = pg_cpu / len(timed)
        out.round_trips = {t: trips_by_topic[t] / by_topic[t] for t in by_topic}

        # The SQL of one delivery of each topic.
        captured: list[str] = []

        def capture(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            captured.append(" ".join(statement.split()))

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", capture)
        try:
            sample = build_deliveries(FULFILMENT_GAP + 8, seed=17, first=4_000_000)
            for topic in ("orders/create", "fulfillments/create"):
                delivery = next(d for d in sample if d.topic == topic)
                if topic == "fulfillments/create":  # its order first, untraced
                    event.remove(engine, "before_cursor_execute", capture)
                    post(next(d for d in sample if d.order_id == delivery.order_id))
                    event.listen(engine, "before_cursor_execute", capture)
                captured.clear()
                post(delivery)
                out.statements[topic] = list(captured)
        finally:
            event.remove(engine, "before_cursor_execute", capture)

        if do_profile and profiled:
            # CPU time, not wall: on a busy 2-core box, wall time mostly shows waits for
            # PostgreSQL and for the scheduler; the app's CPU is what bounds the rate.
            profiler = cProfile.Profile(time.process_time)
            profiler.enable()
            for delivery in profiled:
                post(delivery)
            profiler.disable()
            out.profile = pstats.Stats(profiler)
            out.profiled = len(profiled)
        with app.app_context():
            db.engine.dispose()
    return out


# --------------------------------------------------------------------------- report


def _ms(seconds: float) -> str:
    return "-" if seconds != seconds else f"{seconds * 1000:.2f}"


def _status_text(statuses: Counter[int | str]) -> str:
    return " ".join(f"{code}x{n}" for code, n in sorted(statuses.items(), key=str)) or "-"


def _verdict(rate: float) -> str:
    return "MET" if rate >= GOAL else "NOT MET"


def report_http(results: list[Result], concurrency: int) -> None:
    """The main table, the notes and the CPU-bound estimate."""
    rows = [
        {
            "run": r.name,
            "webhooks": f"{r.webhooks:,}",
            "seconds": f"{r.seconds:.1f}",
            "webhooks/s": f"{r.rate:,.0f}",
            f"goal >= {GOAL:.0f}/s": _verdict(r.rate),
            "p50 ms": f"{percentile(r.latencies, 0.5) * 1000:.1f}",
            "p99 ms": f"{percentile(r.latencies, 0.99) * 1000:.1f}",
            "app cpu ms/wh": _ms(r.per_webhook(r.app_cpu)),
            "pg cpu ms/wh": _ms(r.per_webhook(r.pg_cpu)),
            "client cpu ms/wh": _ms(r.per_webhook(r.client_cpu)),
            "load 1m": f"{r.loadavg:.2f}",
            "others cores": f"{r.others_cores:.2f}",
            "answers": _status_text(r.statuses),
            "rows": "ok" if r.rows_ok else "WRONG",
            "forged 401": "ok" if r.forged_ok else "WRONG",
        }
        for r in results
    ]
    print_table(
        f"Verified Shopify webhooks through gunicorn + PostgreSQL (HTTP client: {concurrency}"
        " threads, keep-alive; ~83% orders/create, ~17% fulfillments/create delivered)",
        rows,
    )
    print(
        "\nwebhooks/s counts every accepted delivery (both topics). cpu ms/wh = CPU"
        " milliseconds per webhook\nused by the gunicorn processes (app), the PostgreSQL"
        " backends serving the run (pg) and this\nprocess (client: the load generator)."
        f" All share the same {os.cpu_count()} cores. load 1m = 1-minute load\naverage"
        " when the run ended (it includes the run itself). others cores = CPU used by every"
        " other\nprocess on the machine during the run, in cores (/proc/stat minus app, pg"
        " and client): above ~0.3\nthe run competed for the CPU and webhooks/s is"
        " pessimistic; trust the CPU estimate below more."
    )
    for r in results:
        print(f"  {r.name}: {r.note}")
    cores = os.cpu_count() or 1
    print(f"\nCPU-bound estimate for a quiet {cores}-core machine (a model, not a measurement):")
    for r in results:
        if r.total_cpu != r.total_cpu:
            continue
        with_client = cores / r.total_cpu
        server_only = cores / r.server_cpu
        print(
            f"  {r.name}: {r.total_cpu * 1000:.2f} ms CPU/webhook incl. client ->"
            f" <= {with_client:,.0f}/s ({_verdict(with_client)});"
            f" server only (app+pg) {r.server_cpu * 1000:.2f} ms ->"
            f" <= {server_only:,.0f}/s ({_verdict(server_only)})"
        )


def report_in_process(found: InProcess, http_app_cpu: float, top: int) -> None:
    """The in-process breakdown, round trips, SQL and (if run) the profile."""
    whole = found.app_cpu_per_request
    rows = []
    for name, seconds in found.parts.items():
        rows.append(
            {
                "part of one webhook": name,
                "us CPU": f"{seconds * 1e6:,.1f}",
                "share of in-process app CPU": f"{seconds / whole:.1%}",
                "share of gunicorn app CPU": (
                    f"{seconds / http_app_cpu:.1%}" if http_app_cpu == http_app_cpu else "-"
                ),
            }
        )
    plugin = sum(found.parts.values())
    rows.append(
        {
            "part of one webhook": "all plugin + secret work above",
            "us CPU": f"{plugin * 1e6:,.1f}",
            "share of in-process app CPU": f"{plugin / whole:.1%}",
            "share of gunicorn app CPU": (
                f"{plugin / http_app_cpu:.1%}" if http_app_cpu == http_app_cpu else "-"
            ),
        }
    )
    rows.append(
        {
            "part of one webhook": "whole request, in-process app (test client)",
            "us CPU": f"{whole * 1e6:,.1f}",
            "share of in-process app CPU": "100.0%",
            "share of gunicorn app CPU": "",
        }
    )
    if http_app_cpu == http_app_cpu:
        rows.append(
            {
                "part of one webhook": "whole request, gunicorn sync worker (from the table)",
                "us CPU": f"{http_app_cpu * 1e6:,.1f}",
                "share of in-process app CPU": "",
                "share of gunicorn app CPU": "100.0%",
            }
        )
    print_table(
        f"In-process (Flask test client, PostgreSQL, one request at a time, {found.requests:,}"
        " webhooks): the HMAC check vs the rest",
        rows,
    )
    print(
        f"\nin-process per webhook: wall {found.wall_per_request * 1000:.2f} ms, app CPU"
        f" {whole * 1000:.2f} ms, PostgreSQL CPU {found.pg_cpu_per_request * 1000:.2f} ms;"
        " database round trips: "
        + ", ".join(f"{t} {n:.1f}" for t, n in sorted(found.round_trips.items()))
    )
    for topic, statements in found.statements.items():
        print(f"\nSQL of one {topic} delivery ({len(statements)} statements, + COMMIT):")
        for statement in statements:
            print(f"  {statement[:150]}{' …' if len(statement) > 150 else ''}")
    if found.profile is not None:
        _report_profile(found.profile, found.profiled, top, whole)


ANATOMY = (  # (file, function) whose direct callees are broken down, outermost first
    ("trustseal/stores/api.py", "receive"),
    ("trustseal/stores/service.py", "handle_webhook"),
    ("trustseal/orders/service.py", "record_purchase_event"),
    ("trustseal/dbutil.py", "insert_ignoring_duplicate"),
)


def _callee_label(key: tuple[str, int, str]) -> str:
    filename, _, name = key
    if filename == "~":
        return name
    return f"{_relative(filename).removesuffix('.py')}.{name}"


def _report_anatomy(
    raw: dict[Any, Any], total: float, requests: int, real: float, limit: int = 7
) -> None:
    """Where a request's CPU goes, one call level at a time (cProfile's caller edges).

    ``real`` is the measured app CPU seconds per request without the profiler: each step's
    share of the profile times it estimates the step's real cost.
    """
    rows = []
    for filename, function in ANATOMY:
        parents = [k for k in raw if _relative(k[0]) == filename and k[2] == function]
        if not parents:
            continue
        parent_ct = sum(raw[k][3] for k in parents)
        if (filename, function) == ANATOMY[0]:
            rows.append(
                {
                    "step": "outside the view: WSGI/test client, Flask dispatch, hooks",
                    "calls/wh": "1.0",
                    "cum us/wh": f"{(total - parent_ct) / requests * 1e6:,.0f}",
                    "share": f"{(total - parent_ct) / total:.1%}",
                    "~real us/wh": f"{(total - parent_ct) / total * real * 1e6:,.0f}",
                }
            )
        rows.append(
            {
                "step": f"{filename.removesuffix('.py')}.{function}",
                "calls/wh": f"{sum(raw[k][1] for k in parents) / requests:.1f}",
                "cum us/wh": f"{parent_ct / requests * 1e6:,.0f}",
                "share": f"{parent_ct / total:.1%}",
                "~real us/wh": f"{parent_ct / total * real * 1e6:,.0f}",
            }
        )
        children = []
        for key, (_, _, _, _, callers) in raw.items():
            edges = [callers[p] for p in parents if p in callers]
            if edges:
                children.append((sum(e[3] for e in edges), sum(e[1] for e in edges), key))
        children.sort(reverse=True)
        for ct, nc, key in children[:limit]:
            if ct / total < 0.005:
                break
            rows.append(
                {
                    "step": f"    {_callee_label(key)[:80]}",
                    "calls/wh": f"{nc / requests:.1f}",
                    "cum us/wh": f"{ct / requests * 1e6:,.0f}",
                    "share": f"{ct / total:.1%}",
                    "~real us/wh": f"{ct / total * real * 1e6:,.0f}",
                }
            )
    print_table(
        "Anatomy of a webhook (cProfile CPU; each step, then its biggest direct callees;"
        " ~real = share x the measured in-process app CPU per webhook)",
        rows,
    )


def _report_profile(stats: pstats.Stats, requests: int, top: int, real: float) -> None:
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for _, _, tt, _, _ in raw.values())
    by_package: Counter[str] = Counter()
    for (filename, _, _), (_, _, tt, _, _) in raw.items():
        by_package[_package(filename)] += tt
    print_table(
        f"cProfile (CPU time) of {requests:,} in-process webhooks: own time by package"
        f" (total {total / requests * 1e6:,.0f} us CPU/webhook, inflated by the profiler)",
        [
            {
                "package": package,
                "us/webhook": f"{tt / requests * 1e6:,.0f}",
                "share": f"{tt / total:.1%}",
                "~real us/wh": f"{tt / total * real * 1e6:,.0f}",
            }
            for package, tt in by_package.most_common(15)
        ],
    )

    _report_anatomy(raw, total, requests, real)

    def label(key: tuple[str, int, str]) -> str:
        filename, line, name = key
        if filename == "~":
            return name
        return f"{_relative(filename)}:{line}({name})"

    def table(order: int, title: str, keep: Callable[[tuple[str, int, str]], bool]) -> None:
        ranked = sorted(
            (item for item in raw.items() if keep(item[0])),
            key=lambda item: item[1][order],
            reverse=True,
        )[:top]
        print_table(
            title,
            [
                {
                    "function": label(key)[:95],
                    "calls/wh": f"{nc / requests:.1f}",
                    "own us/wh": f"{tt / requests * 1e6:,.1f}",
                    "cum us/wh": f"{ct / requests * 1e6:,.1f}",
                    "cum share": f"{ct / total:.1%}",
                }
                for key, (_, nc, tt, ct, _) in ranked
            ],
        )

    table(2, f"top {top} functions by own time", lambda key: True)
    table(
        3,
        f"top {top} trustseal/plugins functions by cumulative time",
        lambda key: _relative(key[0]).startswith(("trustseal/", "plugins/")),
    )


# --------------------------------------------------------------------------- main


def _progress(result: Result) -> None:
    print(
        f"  ... {result.name}: {result.webhooks:,} webhooks, {result.rate:,.0f}/s"
        f" (load {result.loadavg:.2f})",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    """Parse options, run the HTTP variants and the in-process breakdown, print tables."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--count", type=int, default=FULL_COUNT, help="orders/create deliveries (10000)"
    )
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_COUNT:,} orders")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads (8)")
    parser.add_argument(
        "--variants",
        default="sync:2,gthread:2x4",
        help="gunicorn variants, comma-separated: sync:W or gthread:WxT (default"
        " sync:2,gthread:2x4); the first gets all deliveries, the others --extra-count orders'",
    )
    parser.add_argument(
        "--extra-count",
        type=int,
        default=EXTRA_COUNT,
        help=f"orders for the second and later variants ({EXTRA_COUNT:,})",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=100.0,
        help="seconds after which an HTTP run sends no more deliveries (100; 0 = none)",
    )
    parser.add_argument(
        "--in-process-count",
        type=int,
        default=None,
        help="orders for the in-process breakdown (default 400, --quick 150; 0 = skip)",
    )
    parser.add_argument(
        "--profile",
        choices=("auto", "yes", "no"),
        default="auto",
        help="cProfile in-process requests: auto = only when the goal is NOT MET (auto)",
    )
    parser.add_argument(
        "--profile-count", type=int, default=None, help="orders to profile (300, --quick 100)"
    )
    parser.add_argument("--top", type=int, default=25, help="functions per profile table (25)")
    parser.add_argument(
        "--profile-out",
        default=None,
        help="also write the raw cProfile data here (pstats / snakeviz format)",
    )
    args = parser.parse_args(argv)
    count = QUICK_COUNT if args.quick else args.count
    extra_count = min(count, args.extra_count)
    in_process_count = (
        args.in_process_count if args.in_process_count is not None else 150 if args.quick else 400
    )
    profile_count = args.profile_count or (100 if args.quick else 300)
    try:
        variants = [parse_variant(v.strip()) for v in args.variants.split(",") if v.strip()]
    except ValueError as exc:
        parser.error(str(exc))

    started = time.monotonic()
    print(machine_line())
    deliveries = build_deliveries(count)
    extra = build_deliveries(extra_count)
    warm_up = build_deliveries(args.concurrency * 4, seed=5, first=5_000_000)
    topics = Counter(d.topic for d in deliveries)
    sizes = sorted(len(d.body) for d in deliveries)
    paid = sum(b'"financial_status":"paid"' in d.body for d in deliveries)
    print(
        f"deliveries: {len(deliveries):,} = {topics['orders/create']:,} orders/create"
        f" ({paid:,} paid, {topics['orders/create'] - paid:,} pending;"
        f" {sum(d.lines for d in deliveries):,} line items)"
        f" + {topics['fulfillments/create']:,} fulfillments/create (delivered,"
        f" {FULFILMENT_GAP} orders after their order); body {sizes[0]:,}-{sizes[-1]:,} bytes"
        f" (median {sizes[len(sizes) // 2]:,}); order ids > 2^53; signed before timing"
    )
    print(
        "each HTTP run: fresh PostgreSQL database, `trustseal db upgrade`, merchant via CLI,"
        " Shopify store via POST /api/v1/stores on the running server, 2 forged deliveries"
        f" (must be 401), {len(warm_up)} warm-up deliveries, then the timed ones.",
        flush=True,
    )

    results: list[Result] = []
    for n, variant in enumerate(variants):
        results.append(
            run_http(
                deliveries if n == 0 else extra,
                warm_up,
                args.concurrency,
                variant,
                args.time_limit or None,
            )
        )
        _progress(results[-1])
    report_http(results, args.concurrency)

    met = bool(results) and results[0].rate >= GOAL
    do_profile = args.profile == "yes" or (args.profile == "auto" and not met)
    found = None
    if in_process_count > 0:
        print(
            f"\nin-process breakdown ({in_process_count:,} orders"
            + (f", then cProfile of {profile_count:,}" if do_profile else "")
            + ") ...",
            flush=True,
        )
        found = run_in_process(in_process_count, profile_count, do_profile, args.concurrency)
        sync = next((r for r in results if r.name.endswith("sync 2w")), None)
        report_in_process(found, sync.per_webhook(sync.app_cpu) if sync else float("nan"), args.top)
        if found.profile is not None and args.profile_out:
            found.profile.dump_stats(args.profile_out)
            print(f"raw profile written to {args.profile_out}")

    print(f"\n{machine_line()}")
    print(f"total wall time {time.monotonic() - started:.0f}s")
    path = save_results(
        "webhooks-quick" if args.quick else "webhooks",
        {
            "count": count,
            "deliveries": len(deliveries),
            "concurrency": args.concurrency,
            "goal_webhooks_per_s": GOAL,
            "machine": machine_line(),
            "runs": [
                {
                    "name": r.name,
                    "webhooks": r.webhooks,
                    "seconds": r.seconds,
                    "webhooks_per_s": r.rate,
                    "goal": _verdict(r.rate),
                    "p50_ms": percentile(r.latencies, 0.5) * 1000,
                    "p99_ms": percentile(r.latencies, 0.99) * 1000,
                    "app_cpu_s": r.app_cpu,
                    "pg_cpu_s": r.pg_cpu,
                    "client_cpu_s": r.client_cpu,
                    "loadavg_1m_end": r.loadavg,
                    "others_cores": r.others_cores,
                    "statuses": {str(k): v for k, v in r.statuses.items()},
                    "rows_ok": r.rows_ok,
                    "forged_ok": r.forged_ok,
                }
                for r in results
            ],
            "in_process": None
            if found is None
            else {
                "requests": found.requests,
                "wall_per_request_s": found.wall_per_request,
                "app_cpu_per_request_s": found.app_cpu_per_request,
                "pg_cpu_per_request_s": found.pg_cpu_per_request,
                "round_trips": found.round_trips,
                "parts_cpu_s": found.parts,
            },
        },
    )
    print(f"figures saved to bench/results/{path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
