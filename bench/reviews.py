"""Reviews read path at 1,000 and at 1,000,000 reviews for one merchant (PostgreSQL).

The issue: *with 1,000 and with 1,000,000 reviews for one merchant (PostgreSQL), time
``GET .../score``, the first and the 500th page of ``GET .../reviews``, and ``/m/{slug}``;
goal: the 1,000,000 figures within 1.5x of the 1,000 figures (cost flat in the number
of reviews).*

How it runs (see ``bench/README.md``):

* One throw-away database, migrated. Two merchants with an approved seal; the small one
  gets 1,000 reviews, then the big one 1,000,000 (``--quick``: 100,000), loaded by
  :func:`bulk_load_reviews`: psycopg ``COPY`` into ``purchases`` and ``reviews`` plus the
  ``review_aggregates`` / ``review_months`` rows the service would have written, then
  ``VACUUM ANALYZE``. The same loader feeds ``bench/badges.py``.
* Requests go through the whole Flask stack **in process** with ``app.test_client()``
  (routing, schemas, SQLAlchemy, PostgreSQL on loopback, templates), not through
  gunicorn: what is compared is the application's cost at two sizes, and an in-process
  client keeps the load generator's noise out of it.
* The cursor of page 500 is obtained as a client would: by walking 499 pages, following
  ``next_cursor``; it is checked against ``encode_cursor`` of the id that ends page 499.
* The requests of both merchants are interleaved, repetition by repetition; the median
  of ``--reps`` repetitions is reported.
* The fraud detector (issue: *its cost per review stays O(1), 1k vs 1M reviews within
  1.5x*): after the read path, reviews are added to both merchants one by one and
  ``signals.scan_review`` (the job after each review) is timed with its commit — a
  platform-attested review with no pattern, and a declared one reviewed minutes after its
  review invitation opened (its order declared "placed" days before: the clock starts at
  the invitation), from a shared network, in a burst (it grows three open signals; past
  ``signals.MAX_GROUP`` reviews a full signal is closed and a continuation opens, which
  the table of signals left shows).
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from _harness import (
    fresh_postgres_database,
    libpq_url,
    machine_line,
    migrate,
    print_table,
    save_results,
)
from flask import Flask
from flask.testing import FlaskClient
from psycopg import sql
from sqlalchemy import event

from trustseal import create_app
from trustseal.api.pagination import encode_cursor
from trustseal.clock import utcnow
from trustseal.extensions import db
from trustseal.merchants import service as merchants
from trustseal.orders.models import Purchase, ReviewInvitation
from trustseal.reviews.models import Review
from trustseal.seals import service as seals
from trustseal.signals import service as signals
from trustseal.signals.models import FraudSignal
from trustseal.transparency import numbers

GOAL_RATIO = 1.5
SMALL = 1_000
FULL_BIG = 1_000_000
QUICK_BIG = 100_000
DEEP_PAGE = 500

# --------------------------------------------------------------------------- bulk loader

_NAMES = (
    "Lucía Q.",
    "José R.",
    "María F.",
    "Carlos M.",
    "Ana P.",
    "Jorge C.",
    "Rosa H.",
    "Luis T.",
    "Carmen V.",
    "Miguel Á.",
)
_FULL_NAMES = (
    "Lucía Quispe",
    "José Ramos",
    "María Flores",
    "Carlos Mamani",
    "Ana Paredes",
    "Jorge Chávez",
    "Rosa Huamán",
    "Luis Torres",
    "Carmen Vargas",
    "Miguel Ángel Rojas",
)
_TITLES = ("Muy buena compra", "Llegó a tiempo", "Recomendado", "Regular", "", "Excelente")
_BODIES = (
    "El pedido llegó completo y bien embalado. Volvería a comprar.",
    "Buena atención por WhatsApp, el envío demoró un día más de lo prometido.",
    "Producto tal cual la descripción; el café de Villa Rica es buenísimo.",
    "Tuve que reclamar por una talla equivocada, pero lo resolvieron rápido.",
    "Todo correcto, precio justo y entrega en Miraflores el mismo día.",
    "No me contestaron el correo, aunque al final el paquete llegó bien.",
)
# Rating shares of a typical shop: mostly 5 and 4, a tail of negatives.
_RATINGS = (5,) * 55 + (4,) * 25 + (3,) * 10 + (2,) * 5 + (1,) * 5
_CHUNK = 50_000

_PURCHASE_COLUMNS = (
    "id",
    "merchant_id",
    "source",
    "external_id",
    "status",
    "customer_email",
    "customer_name",
    "customer_locale",
    "placed_at",
    "delivered_at",
    "created_at",
    "updated_at",
)
_REVIEW_COLUMNS = (
    "id",
    "merchant_id",
    "purchase_id",
    "rating",
    "process_rating",
    "title",
    "body",
    "suggestion",
    "display_name",
    "locale",
    "status",
    "removal_reason",
    "removed_at",
    "has_photos",
    "open_flags",
    "log_index",
    "created_at",
    "reviewer_network",
    "identity_key",
    "text_key",
)


@dataclass(frozen=True)
class Loaded:
    """What :func:`bulk_load_reviews` wrote."""

    merchant_id: int
    count: int
    published: int
    removed: int
    first_id: int
    last_id: int
    seconds: float  # COPY + aggregates + commit
    analyze_seconds: float  # VACUUM ANALYZE afterwards


@dataclass
class _Sums:
    """The running sums of ``review_aggregates`` and ``review_months`` for the rows loaded."""

    published: int = 0
    removed: int = 0
    rating_sum: int = 0
    process_sum: int = 0
    decay_weight: float = 0.0
    decay_rating: float = 0.0
    negative: int = 0

    def __post_init__(self) -> None:
        self.dist = [0] * 6
        self.months: dict[str, list[int]] = {}


def _keyed(*parts: object) -> str:
    """A stand-in for the service's keyed hashes: 64 hex characters, spread like them."""
    return hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=32).hexdigest()


def _chunks(count: int) -> Iterator[range]:
    """``range(count)`` cut into pieces of ``_CHUNK``."""
    for base in range(0, count, _CHUNK):
        yield range(base, min(count, base + _CHUNK))


def _purchase_rows(
    merchant_id: int, count: int, first_purchase: int, start_s: float, step_s: float
) -> Iterator[str]:
    """COPY text of the delivered purchases, in chunks; purchase ``n`` is reviewed by
    review ``n``."""
    for chunk in _chunks(count):
        lines = []
        for n in chunk:
            moment = datetime.fromtimestamp(start_s + n * step_s, UTC).replace(tzinfo=None)
            placed = (moment - timedelta(days=4)).isoformat(sep=" ")
            delivered = (moment - timedelta(days=1)).isoformat(sep=" ")
            lines.append(
                f"{first_purchase + n}\t{merchant_id}\tapi\tB-{merchant_id}-{n}\tdelivered\t"
                f"c{n}@example.com\t{_FULL_NAMES[n % len(_FULL_NAMES)]}\tes\t{placed}\t"
                f"{delivered}\t{placed}\t{delivered}\n"
            )
        yield "".join(lines)


def _review_rows(
    merchant_id: int,
    count: int,
    first_purchase: int,
    first_review: int,
    start_s: float,
    step_s: float,
    removed_share: float,
    seed: int,
    sums: _Sums,
) -> Iterator[str]:
    """COPY text of the reviews, in chunks; review ``n`` is written at
    ``start + n·step``, so ids grow with time as in production. ``sums`` is filled with
    exactly what :mod:`trustseal.reviews.score` would have counted for them."""
    rng = random.Random(seed)
    epoch_s = numbers.EPOCH.timestamp()
    half_life_s = numbers.HALF_LIFE_DAYS * 86400.0
    for chunk in _chunks(count):
        lines = []
        for n in chunk:
            moment_s = start_s + n * step_s
            moment = datetime.fromtimestamp(moment_s, UTC).replace(tzinfo=None)
            created = moment.isoformat(sep=" ")
            rating = _RATINGS[rng.randrange(len(_RATINGS))]
            process = min(5, max(1, rating + rng.choice((-1, 0, 0, 1))))
            title = _TITLES[rng.randrange(len(_TITLES))] or "\\N"
            body = _BODIES[rng.randrange(len(_BODIES))]
            if rng.random() < removed_share:
                removed_at = (moment + timedelta(days=1)).isoformat(sep=" ")
                status, reason = "removed", "spam"
                sums.removed += 1
            else:
                status, reason, removed_at = "published", "\\N", "\\N"
                growth = 2.0 ** ((moment_s - epoch_s) / half_life_s)
                sums.published += 1
                sums.rating_sum += rating
                sums.process_sum += process
                sums.decay_weight += growth
                sums.decay_rating += rating * growth
                sums.negative += rating <= numbers.NEGATIVE_MAX
                sums.dist[rating] += 1
                month = sums.months.setdefault(created[:7], [0, 0])
                month[0] += 1
                month[1] += rating
            # the detector's keyed hashes: a network shared by two neighbours, one
            # identity and (nearly always) one text per review
            network = _keyed("net", merchant_id, n // 2)
            identity = _keyed("id", merchant_id, n)
            text = _keyed("text", merchant_id, n)
            lines.append(
                f"{first_review + n}\t{merchant_id}\t{first_purchase + n}\t{rating}\t"
                f"{process}\t{title}\t{body}\t\\N\t{_NAMES[n % len(_NAMES)]}\tes\t{status}\t"
                f"{reason}\t{removed_at}\tf\t0\t\\N\t{created}\t{network}\t{identity}\t"
                f"{text}\n"
            )
        yield "".join(lines)


def bulk_load_reviews(
    db_url: str,
    merchant_id: int,
    count: int,
    *,
    span_days: float = 1000.0,
    end: datetime | None = None,
    removed_share: float = 0.01,
    seed: int = 1,
) -> Loaded:
    """Load ``count`` delivered purchases and their reviews for one merchant, fast.

    psycopg ``COPY`` (text format, 50,000-row chunks) into ``purchases`` and ``reviews``
    with explicit ids after the current maximum, then the ``review_aggregates`` and
    ``review_months`` rows the service would hold for them (added to existing rows),
    the id sequences moved past the new ids, one commit, and ``VACUUM ANALYZE`` of the
    tables so the planner sees the new sizes (as autovacuum would soon).

    The reviews are spread evenly over the ``span_days`` before ``end`` (default: one
    hour ago), ids growing with time; ratings mostly 5 and 4; ``removed_share`` of them
    are removed (tombstones, not counted in the score). What is not written: invitations,
    photos, answers, transparency-log leaves (``log_index`` is NULL). The foreign-key
    triggers are skipped during the COPY (``session_replication_role = replica``, the
    usual bulk-load setting); the rows reference only ids that exist.
    """
    end = end or datetime.now(UTC) - timedelta(hours=1)
    step = timedelta(days=span_days) / max(1, count)
    start = end - step * count
    sums = _Sums()
    started = time.perf_counter()
    with psycopg.connect(libpq_url(db_url)) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("LOCK TABLE purchases, reviews IN SHARE ROW EXCLUSIVE MODE")
        first_purchase = _next_id(conn, "purchases")
        first_review = _next_id(conn, "reviews")
        start_s, step_s = start.timestamp(), step.total_seconds()
        with conn.cursor() as cur:
            with cur.copy(_copy_statement("purchases", _PURCHASE_COLUMNS)) as copy:
                for text in _purchase_rows(merchant_id, count, first_purchase, start_s, step_s):
                    copy.write(text)
            with cur.copy(_copy_statement("reviews", _REVIEW_COLUMNS)) as copy:
                for text in _review_rows(
                    merchant_id,
                    count,
                    first_purchase,
                    first_review,
                    start_s,
                    step_s,
                    removed_share,
                    seed,
                    sums,
                ):
                    copy.write(text)
        _write_sums(conn, merchant_id, sums)
        for table, last in (
            ("purchases", first_purchase + count - 1),
            ("reviews", first_review + count - 1),
        ):
            conn.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", (table, max(last, 1))
            )
        conn.execute("SET session_replication_role = DEFAULT")
        conn.commit()
    loaded_s = time.perf_counter() - started
    started = time.perf_counter()
    with psycopg.connect(libpq_url(db_url), autocommit=True) as conn:
        for table in ("purchases", "reviews", "review_aggregates", "review_months"):
            conn.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(table)))
    return Loaded(
        merchant_id,
        count,
        sums.published,
        sums.removed,
        first_review,
        first_review + count - 1,
        loaded_s,
        time.perf_counter() - started,
    )


def _copy_statement(table: str, columns: Sequence[str]) -> sql.Composed:
    return sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )


def _next_id(conn: psycopg.Connection[Any], table: str) -> int:
    query = sql.SQL("SELECT coalesce(max(id), 0) + 1 FROM {}").format(sql.Identifier(table))
    row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def _write_sums(conn: psycopg.Connection[Any], merchant_id: int, sums: _Sums) -> None:
    """Add the loaded rows' part to ``review_aggregates`` and ``review_months``."""
    conn.execute(
        """
        INSERT INTO review_aggregates AS a (merchant_id, published, removed, rating_sum,
            process_sum, dist_1, dist_2, dist_3, dist_4, dist_5, decay_weight, decay_rating,
            negative, negative_answered)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 0)
        ON CONFLICT (merchant_id) DO UPDATE SET
            published = a.published + excluded.published,
            removed = a.removed + excluded.removed,
            rating_sum = a.rating_sum + excluded.rating_sum,
            process_sum = a.process_sum + excluded.process_sum,
            dist_1 = a.dist_1 + excluded.dist_1, dist_2 = a.dist_2 + excluded.dist_2,
            dist_3 = a.dist_3 + excluded.dist_3, dist_4 = a.dist_4 + excluded.dist_4,
            dist_5 = a.dist_5 + excluded.dist_5,
            decay_weight = a.decay_weight + excluded.decay_weight,
            decay_rating = a.decay_rating + excluded.decay_rating,
            negative = a.negative + excluded.negative
        """,
        (
            merchant_id,
            sums.published,
            sums.removed,
            sums.rating_sum,
            sums.process_sum,
            *sums.dist[1:],
            sums.decay_weight,
            sums.decay_rating,
            sums.negative,
        ),
    )
    with conn.cursor() as cur:
        cur.executemany(
            """
            INSERT INTO review_months AS m (merchant_id, month, count, rating_sum)
            VALUES (%s, %s, %s, %s)
            ON CONFLICT (merchant_id, month) DO UPDATE SET
                count = m.count + excluded.count, rating_sum = m.rating_sum + excluded.rating_sum
            """,
            [(merchant_id, month, c, s) for month, (c, s) in sorted(sums.months.items())],
        )
    _write_replay_state(conn, merchant_id)


_SUM_COLUMNS = [f for f in numbers.ReviewSums.__dataclass_fields__]


def _write_replay_state(conn: psycopg.Connection[Any], merchant_id: int) -> None:
    """Set the merchant's replay state to its running sums. The loader writes no log
    leaves (a benchmark of serving, not of the log): the state is what the appender would
    have folded for the loaded reviews, so the badge's check against it passes."""
    slug_row = conn.execute("SELECT slug FROM merchants WHERE id = %s", (merchant_id,)).fetchone()
    columns = sql.SQL(", ").join(map(sql.Identifier, _SUM_COLUMNS))
    sums_row = conn.execute(
        sql.SQL("SELECT {} FROM review_aggregates WHERE merchant_id = %s").format(columns),
        (merchant_id,),
    ).fetchone()
    assert slug_row is not None and sums_row is not None
    kept = conn.execute(
        "SELECT state FROM log_replay_states WHERE merchant_slug = %s", slug_row
    ).fetchone()
    state = numbers.MerchantState.from_json(kept[0]) if kept else numbers.MerchantState()
    state.sums = numbers.ReviewSums(**dict(zip(_SUM_COLUMNS, sums_row, strict=True)))
    state.months = {
        month: [count, total]
        for month, count, total in conn.execute(
            "SELECT month, count, rating_sum FROM review_months WHERE merchant_id = %s",
            (merchant_id,),
        )
    }
    conn.execute(
        """
        INSERT INTO log_replay_states (merchant_slug, last_index, state) VALUES (%s, %s, %s)
        ON CONFLICT (merchant_slug) DO UPDATE SET state = excluded.state
        """,
        (slug_row[0], state.last_index, state.to_json()),
    )


def check_aggregates(db_url: str, merchant_id: int) -> bool:
    """Whether ``review_aggregates``/``review_months`` agree with the ``reviews`` rows."""
    with psycopg.connect(libpq_url(db_url)) as conn:
        row = conn.execute(
            """
            SELECT a.published = r.published AND a.removed = r.removed
                   AND a.rating_sum = r.rating_sum AND a.negative = r.negative
                   AND (SELECT coalesce(sum(count), 0) FROM review_months
                        WHERE merchant_id = %(m)s) = r.published
            FROM review_aggregates a,
                 (SELECT count(*) FILTER (WHERE status = 'published') AS published,
                         count(*) FILTER (WHERE status = 'removed') AS removed,
                         coalesce(sum(rating) FILTER (WHERE status = 'published'), 0)
                             AS rating_sum,
                         count(*) FILTER (WHERE status = 'published' AND rating <= 2)
                             AS negative
                  FROM reviews WHERE merchant_id = %(m)s) r
            WHERE a.merchant_id = %(m)s
            """,
            {"m": merchant_id},
        ).fetchone()
    return bool(row and row[0])


def make_bench_app(db_url: str, instance: str) -> Flask:
    """The app the in-process benchmarks use (testing config, rate limits off)."""
    return create_app(
        {
            "ENV": "testing",
            "DATABASE_URL": db_url,
            "INSTANCE_PATH": instance,
            "LOG_LEVEL": "WARNING",
            "RATELIMIT_ENABLED": False,
        }
    )


def certified_merchant(app: Flask, slug: str, name: str) -> int:
    """Create a merchant with an approved seal through the service functions; its id."""
    with app.app_context():
        created = merchants.create_merchant(
            name=name, domain=f"{slug}.pe", contact_email=f"hola@{slug}.pe", slug=slug
        )
        passed = [seals.VerdictChange(c["id"], "pass") for c in seals.criteria()]
        seals.set_verdicts(created.merchant, passed, None)  # approval needs every criterion
        seals.decide(created.merchant, seals.Action.APPROVE, "Bench: documents checked.", None)
        db.session.commit()
        merchant_id = created.merchant.id
        db.session.remove()
    return merchant_id


# --------------------------------------------------------------------------- measuring


def fmt_ms(seconds: float) -> str:
    """Milliseconds with two decimals."""
    return f"{seconds * 1000:.2f}"


def fmt_ratio(value: float) -> str:
    """``1.07x``."""
    return f"{value:.2f}x"


def verdict(ratio: float, goal: float) -> str:
    """MET when ``ratio`` is at most ``goal``."""
    return "MET" if ratio <= goal else "NOT MET"


def size_label(count: int) -> str:
    """``1k``, ``100k``, ``1M``."""
    return f"{count // 1_000_000}M" if count >= 1_000_000 else f"{count // 1000}k"


def walk_cursor(client: FlaskClient, slug: str, page: int, limit: int) -> tuple[str, int]:
    """The cursor of page ``page`` got by following ``next_cursor`` from page 1; and the
    number of requests it took."""
    cursor: str | None = None
    for n in range(1, page):
        query = f"?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        response = client.get(f"/api/v1/merchants/{slug}/reviews{query}")
        assert response.status_code == 200, response.status_code
        cursor = response.get_json()["next_cursor"]
        if cursor is None:
            raise LookupError(f"{slug} has only {n} pages of {limit}")
    assert cursor is not None
    return cursor, page - 1


def expected_cursor(db_url: str, merchant_id: int, page: int, limit: int) -> str:
    """``encode_cursor`` of the id that ends page ``page - 1`` (newest first)."""
    with psycopg.connect(libpq_url(db_url)) as conn:
        row = conn.execute(
            "SELECT id FROM reviews WHERE merchant_id = %s ORDER BY id DESC OFFSET %s LIMIT 1",
            (merchant_id, (page - 1) * limit - 1),
        ).fetchone()
    assert row is not None
    return encode_cursor(int(row[0]))


@dataclass(frozen=True)
class Endpoint:
    """One measured request; ``paths`` per merchant size."""

    name: str
    paths: dict[int, str]
    goal: bool = True
    items: int | None = None  # expected len(items) for list pages


def timed_get(client: FlaskClient, path: str) -> tuple[float, int, bytes]:
    """One GET through the test client: seconds, status, body."""
    started = time.perf_counter()
    response = client.get(path)
    body = response.get_data()
    return time.perf_counter() - started, response.status_code, body


def measure(
    client: FlaskClient, endpoints: Sequence[Endpoint], sizes: Sequence[int], reps: int
) -> dict[tuple[str, int], list[float]]:
    """``reps`` interleaved repetitions of every endpoint at every size (after a warm-up)."""
    times: dict[tuple[str, int], list[float]] = {(e.name, s): [] for e in endpoints for s in sizes}
    for warm in range(3):
        for endpoint in endpoints:
            for size in sizes:
                _, status, _ = timed_get(client, endpoint.paths[size])
                assert status == 200, (endpoint.name, size, status, warm)
    for rep in range(reps):
        order = list(sizes) if rep % 2 == 0 else list(reversed(sizes))
        for endpoint in endpoints:
            for size in order:
                seconds, status, _ = timed_get(client, endpoint.paths[size])
                assert status == 200, (endpoint.name, size, status)
                times[(endpoint.name, size)].append(seconds)
    return times


def profile_call(call: Callable[[], object], repeat: int, limit: int = 20) -> str:
    """cProfile ``repeat`` calls; the top ``limit`` functions by cumulative time."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(repeat):
        call()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(limit)
    return out.getvalue()


# --------------------------------------------------------------------------- detector

_SHARED_NETWORKS = 4  # the suspicious reviews come from this many networks per merchant
_LONG_BODY = "Todo llegó completo y a tiempo; el empaque vino intacto. Volvería a comprar aquí. "


def add_review(merchant_id: int, n: int, suspicious: bool) -> int:
    """Add one purchase and its review as the service stores them, committed; the review id.

    Suspicious: declared by the merchant ("placed" three days before, marked delivered 5
    minutes before the review: its invitation opened then), from one of a few networks (so
    it is in a burst, a fast review and a shared network at once). Clean: attested by a
    platform three days before, delivered a day before; network, email and text its own.
    """
    now = utcnow()
    purchase = Purchase(
        merchant_id=merchant_id,
        source="api" if suspicious else "store:1",
        attested=not suspicious,
        origin="api" if suspicious else "shopify",
        external_id=f"D-{n}-{'s' if suspicious else 'c'}",
        status="delivered",
        customer_locale="es",
        placed_at=now - timedelta(days=4),
        delivered_at=now - timedelta(days=1),
        created_at=now - timedelta(days=3),
        updated_at=now,
    )
    db.session.add(purchase)
    db.session.flush()
    opened = now - (timedelta(minutes=5) if suspicious else timedelta(days=1))
    db.session.add(
        ReviewInvitation(
            purchase_id=purchase.id,
            state="used",
            created_at=opened,
            expires_at=opened + timedelta(days=30),
            used_at=now,
        )
    )
    network = (
        _keyed("net", merchant_id, "shared", n % _SHARED_NETWORKS)
        if suspicious
        else _keyed("net", merchant_id, "own", n)
    )
    review = Review(
        merchant_id=merchant_id,
        purchase_id=purchase.id,
        rating=5,
        process_rating=5,
        body=f"{_LONG_BODY}{n}",
        display_name="Cliente B.",
        locale="es",
        status="published",
        created_at=now,
        verification_level="declared" if suspicious else "platform",
        verification_source="api" if suspicious else "shopify",
        reviewer_network=network,
        identity_key=_keyed("id", merchant_id, "bench", n, suspicious),
        text_key=_keyed("text", merchant_id, "bench", n, suspicious),
    )
    db.session.add(review)
    db.session.commit()
    review_id = review.id
    db.session.remove()
    return review_id


class StatementCounter:
    """Counts the SQL statements the engine runs while ``active``."""

    def __init__(self) -> None:
        self.count = 0
        self.active = False
        event.listen(db.engine, "before_cursor_execute", self._seen)

    def _seen(self, *args: Any) -> None:
        self.count += self.active

    def close(self) -> None:
        """Stop listening."""
        event.remove(db.engine, "before_cursor_execute", self._seen)


def timed_scan(review_id: int, counter: StatementCounter) -> tuple[float, int]:
    """``signals.scan_review`` and the commit that ends its job: seconds, statements."""
    counter.count, counter.active = 0, True
    started = time.perf_counter()
    signals.scan_review(review_id)
    db.session.commit()
    seconds = time.perf_counter() - started
    counter.active = False
    db.session.remove()  # as at the end of a job
    return seconds, counter.count


def measure_detector(
    app: Flask, ids: dict[int, int], sizes: Sequence[int], reps: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Time ``scan_review`` of new reviews of each merchant, sizes interleaved (after 10
    warm-up repetitions); the result rows and the signals they left."""
    variants = (("clean (platform, no pattern)", False), ("suspicious (3 open signals grow)", True))
    times: dict[tuple[bool, int], list[float]] = {(v, s): [] for _, v in variants for s in sizes}
    statements: dict[tuple[bool, int], list[int]] = {k: [] for k in times}
    with app.app_context():
        counter = StatementCounter()
        for rep in range(-10, reps):
            order = list(sizes) if rep % 2 == 0 else list(reversed(sizes))
            for _, suspicious in variants:
                for size in order:
                    review_id = add_review(ids[size], rep + 10, suspicious)
                    seconds, count = timed_scan(review_id, counter)
                    if rep >= 0:
                        times[(suspicious, size)].append(seconds)
                        statements[(suspicious, size)].append(count)
        counter.close()
        left = []
        for size in sizes:
            for signal in db.session.scalars(
                signals.signals_query(ids[size]).order_by(FraudSignal.id)
            ):
                left.append(
                    {
                        "merchant": size_label(size),
                        "kind": signal.kind,
                        "status": signal.status,
                        "id": signal.id,
                        "reviews listed": len(signal.review_ids),
                        "count": signal.evidence.get("count"),
                        "full": "yes" if signal.evidence.get("full") else "",
                        "continues": signal.evidence.get("continues_signal_id") or "",
                        "emailed": "yes" if signal.evidence.get("emailed") else "",
                    }
                )
        db.session.remove()
    small, big = sizes
    rows = []
    for label, suspicious in variants:
        small_s = statistics.median(times[(suspicious, small)])
        big_s = statistics.median(times[(suspicious, big)])
        ratio = big_s / small_s
        rows.append(
            {
                "scan_review + commit": label,
                f"{size_label(small)} ms": fmt_ms(small_s),
                f"{size_label(big)} ms": fmt_ms(big_s),
                f"{size_label(small)} p90": fmt_ms(
                    statistics.quantiles(times[(suspicious, small)], n=10)[-1]
                ),
                f"{size_label(big)} p90": fmt_ms(
                    statistics.quantiles(times[(suspicious, big)], n=10)[-1]
                ),
                "SQL statements": f"{statistics.median(statements[(suspicious, small)]):.0f} / "
                f"{statistics.median(statements[(suspicious, big)]):.0f}",
                "ratio": fmt_ratio(ratio),
                "goal": f"<= {GOAL_RATIO}x",
                "result": verdict(ratio, GOAL_RATIO),
            }
        )
    return rows, left


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100k instead of 1M, fewer reps")
    parser.add_argument("--big", type=int, help="reviews of the big merchant")
    parser.add_argument("--small", type=int, default=SMALL, help="reviews of the small merchant")
    parser.add_argument("--reps", type=int, help="repetitions per request (300; quick 100)")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile each request at the big size"
    )
    parser.add_argument(
        "--detector-reps", type=int, help="reviews scanned per variant and size (300; quick 100)"
    )
    parser.add_argument(
        "--detector-only", action="store_true", help="skip the read path; time the detector"
    )
    return parser.parse_args(argv)


def measure_read_path(
    app: Flask,
    db_url: str,
    ids: dict[int, int],
    slugs: dict[int, str],
    reps: int,
    profile: bool,
    figures: dict[str, Any],
) -> None:
    """The read path of the issue: score, review pages, profile, at both sizes."""
    small, big = sizes = tuple(ids)
    client = app.test_client()
    cursors: dict[tuple[int, int], str] = {}
    walk_rows = []
    for limit in (2, 20):
        for size in sizes:
            page = DEEP_PAGE if size >= DEEP_PAGE * limit else -(-size // limit)
            t0 = time.perf_counter()
            cursor, hops = walk_cursor(client, slugs[size], page, limit)
            walked = time.perf_counter() - t0
            expected = expected_cursor(db_url, ids[size], page, limit)
            cursors[(limit, size)] = cursor
            walk_rows.append(
                {
                    "merchant": slugs[size],
                    "limit": limit,
                    "page": page,
                    "requests": hops,
                    "walk s": f"{walked:.1f}",
                    "= encode_cursor(id)": "yes" if cursor == expected else "NO",
                }
            )
    print_table("Cursor of the deep page, walked as a client would", walk_rows)
    figures["walks"] = walk_rows

    def reviews_path(size: int, limit: int, cursor: str | None) -> str:
        query = f"?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        return f"/api/v1/merchants/{slugs[size]}/reviews{query}"

    endpoints = [
        Endpoint("GET /score", {s: f"/api/v1/merchants/{slugs[s]}/score" for s in sizes}),
        Endpoint("GET /reviews page 1 (limit 20)", {s: reviews_path(s, 20, None) for s in sizes}),
        Endpoint(
            f"GET /reviews page {DEEP_PAGE} (limit 2)",
            {s: reviews_path(s, 2, cursors[(2, s)]) for s in sizes},
        ),
        Endpoint("GET /m/{slug}", {s: f"/m/{slugs[s]}" for s in sizes}),
        Endpoint(
            "GET /reviews deep page (limit 20), info",
            {s: reviews_path(s, 20, cursors[(20, s)]) for s in sizes},
            goal=False,
        ),
    ]
    with app.app_context():
        times = measure(client, endpoints, sizes, reps)
    rows = []
    for endpoint in endpoints:
        small_s = statistics.median(times[(endpoint.name, small)])
        big_s = statistics.median(times[(endpoint.name, big)])
        ratio = big_s / small_s
        rows.append(
            {
                "request": endpoint.name,
                f"{size_label(small)} ms": fmt_ms(small_s),
                f"{size_label(big)} ms": fmt_ms(big_s),
                f"{size_label(small)} p90": fmt_ms(
                    statistics.quantiles(times[(endpoint.name, small)], n=10)[-1]
                ),
                f"{size_label(big)} p90": fmt_ms(
                    statistics.quantiles(times[(endpoint.name, big)], n=10)[-1]
                ),
                "ratio": fmt_ratio(ratio),
                "goal": f"<= {GOAL_RATIO}x" if endpoint.goal else "(info)",
                "result": verdict(ratio, GOAL_RATIO) if endpoint.goal else "",
            }
        )
    deep_pages = {s: r["page"] for s, r in zip(sizes, walk_rows[2:], strict=True)}
    print_table(
        f"Reviews read path: {size_label(small)} vs {size_label(big)} reviews "
        f"(median of {reps}, in-process test client, PostgreSQL)",
        rows,
    )
    print(
        f"\npage {DEEP_PAGE} at limit 2 holds the 999th and 1,000th newest reviews: the last "
        f"page at {size_label(small)}, a page among {big // 2:,} at {size_label(big)}. The "
        f"limit-20 'deep page' row is page {deep_pages[small]} (the last) at "
        f"{size_label(small)} and page {deep_pages[big]} at {size_label(big)}."
    )
    figures["results"] = rows
    if profile:
        with app.app_context():
            for endpoint in endpoints:
                path = endpoint.paths[big]
                print(f"\ncProfile: {endpoint.name} at {size_label(big)} ({path})")
                print(profile_call(lambda path=path: client.get(path), 50))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; exit status 0 whether or not the goal was met."""
    args = parse_args(argv)
    big = args.big or (QUICK_BIG if args.quick else FULL_BIG)
    small = args.small
    reps = args.reps or (100 if args.quick else 300)
    sizes = (small, big)
    print(machine_line())
    print(
        f"reviews: {small:,} and {big:,} for one merchant each; {reps} interleaved "
        "repetitions per request, in-process Flask test client, PostgreSQL"
    )
    started = time.perf_counter()
    figures: dict[str, Any] = {"quick": args.quick, "sizes": sizes, "reps": reps}
    with fresh_postgres_database("bench_reviews") as db_url, tempfile.TemporaryDirectory() as inst:
        migrate(db_url, inst)
        app = make_bench_app(db_url, inst)
        slugs = {small: "tienda-chica", big: "tienda-grande"}
        ids = {
            size: certified_merchant(app, slug, f"Tienda {size_label(size)}")
            for size, slug in slugs.items()
        }
        load_rows = []
        for size in sizes:  # the small merchant first: its ids are the older ones
            loaded = bulk_load_reviews(db_url, ids[size], size, seed=size)
            ok = check_aggregates(db_url, ids[size])
            load_rows.append(
                {
                    "merchant": slugs[size],
                    "reviews": f"{loaded.count:,}",
                    "published": f"{loaded.published:,}",
                    "removed": f"{loaded.removed:,}",
                    "COPY+sums s": f"{loaded.seconds:.1f}",
                    "rows/s": f"{loaded.count / loaded.seconds:,.0f}",
                    "VACUUM ANALYZE s": f"{loaded.analyze_seconds:.1f}",
                    "aggregates ok": "yes" if ok else "NO",
                }
            )
        print_table("Bulk load (psycopg COPY)", load_rows)
        figures["load"] = load_rows

        if not args.detector_only:
            measure_read_path(app, db_url, ids, slugs, reps, args.profile, figures)
        detector_reps = args.detector_reps or (100 if args.quick else 300)
        rows, left = measure_detector(app, ids, sizes, detector_reps)
        print_table(
            f"Fraud detector: scan_review per new review at {size_label(small)} vs "
            f"{size_label(big)} reviews (median of {detector_reps}, in process, PostgreSQL)",
            rows,
        )
        print_table(
            "Signals the measured reviews left (each signal lists at most "
            f"{signals.MAX_GROUP} reviews; a full one is continued by another)",
            left,
        )
        figures["detector"] = {"reps": detector_reps, "results": rows, "signals": left}
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    total = time.perf_counter() - started
    print(f"\ntotal {total:.0f} s")
    figures["total_s"] = total
    path = save_results("reviews-quick" if args.quick else "reviews", figures)
    print(f"figures saved to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
