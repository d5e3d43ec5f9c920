"""The benchmarks' pytest set-up: options, the shared database of reviews (bulk-loaded) and
the report at the end of the run. See README.md."""

from __future__ import annotations

import contextlib
import hashlib
import sys
import time
from collections import namedtuple
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import harness
import psycopg
import pytest
from flask import Flask

from trustseal import create_app
from trustseal.extensions import db
from trustseal.merchants import service as merchants
from trustseal.seals import service as seals
from trustseal.transparency import numbers

sys.path.insert(0, str(harness.ROOT))  # the tests' payloads: tests.helpers, tests.plugin_payloads
from tests.helpers import make_merchant, pass_all_criteria


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--quick", action="store_true", help="bench: smaller sizes, shorter runs")
    parser.addoption("--big", type=int, help="bench: reviews of the big merchant (1M; quick 100k)")


def pytest_report_header() -> str:
    return harness.machine_line()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    for summary in harness.SUMMARIES:
        with contextlib.suppress(KeyError, IndexError):  # a part did not run
            summary()
    harness.GOALS.sort(key=lambda row: row["bench"])
    for title in sorted(t for t, rows in harness.TABLES.items() if rows):
        terminalreporter.write_line(harness.table(title, harness.TABLES[title]))
    if harness.GOALS:
        terminalreporter.write_line(harness.table("Goals (ratios to a baseline of the same run)",
                                                  harness.GOALS))  # fmt: skip
        path = harness.save(quick(config))
        terminalreporter.write_line(f"\n{harness.machine_line()}\nfigures saved to {path}")


def quick(config: pytest.Config) -> bool:
    return bool(config.getoption("--quick"))


def size_label(n: int) -> str:
    """``10``, ``1k``, ``100k``, ``1M``."""
    return f"{n // 10**6}M" if n >= 10**6 else f"{n // 1000}k" if n >= 1000 else str(n)


def make_app(db_url: str, instance: str) -> Flask:
    """The app the in-process benchmarks use (testing config, rate limits off)."""
    return create_app({"ENV": "testing", "DATABASE_URL": db_url, "INSTANCE_PATH": instance,
                       "LOG_LEVEL": "WARNING", "RATELIMIT_ENABLED": False})  # fmt: skip


Shop = namedtuple("Shop", "app db_url instance ids slugs big")  # ids, slugs by reviews


@pytest.fixture(scope="session")
def shop(request: pytest.FixtureRequest) -> Iterator[Shop]:
    """Loaded once for the badges and the reviews; the small merchants first (older ids)."""
    big = request.config.getoption("--big") or 10 ** (5 if quick(request.config) else 6)
    slugs = {10: "tienda-diez", 1000: "tienda-chica", big: "tienda-grande"}
    harness.BIG_LABEL = size_label(big)
    with harness.migrated("bench_reviews") as (db_url, instance):
        app, ids, rows = make_app(db_url, instance), {}, []
        for size, slug in slugs.items():  # tests.helpers: the merchant, every criterion passed
            ids[size] = make_merchant(app, slug, name=slug, domain=f"{slug}.pe")[0]
            pass_all_criteria(app, slug)
            with app.app_context():
                merchant = merchants.get_by_slug(slug)
                seals.decide(merchant, seals.Action.APPROVE, "Bench: documents checked.", None)
                db.session.commit()
            rows.append({"merchant": slug, **bulk_load_reviews(db_url, ids[size], size)})
        harness.TABLES["reviews (and badges): bulk load, psycopg COPY"] = rows
        yield Shop(app, db_url, instance, ids, slugs, big)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


NAMES = ("Lucía Quispe", "José Ramos", "María Flores", "Carlos Mamani", "Ana Paredes",
         "Jorge Chávez", "Rosa Huamán", "Luis Torres", "Carmen Vargas", "Ángel Rojas")  # fmt: skip
BODIES = ("Llegó completo y bien embalado. Volvería a comprar.", "El envío demoró un día más.",
          "Tal cual la descripción; el café de Villa Rica es buenísimo.", "Precio justo.",
          "Tuve que reclamar por una talla equivocada, pero lo resolvieron rápido.")  # fmt: skip
RATINGS = (5,) * 55 + (4,) * 25 + (3,) * 10 + (2,) * 5 + (1,) * 5  # a typical shop
COLUMNS = {
    "purchases": "id, merchant_id, source, external_id, status, customer_email, customer_name,"
    " customer_locale, placed_at, delivered_at, created_at, updated_at",
    "reviews": "id, merchant_id, purchase_id, rating, process_rating, body, display_name, locale,"
    " status, removal_reason, removed_at, has_photos, open_flags, created_at, reviewer_network,"
    " identity_key, text_key",
}
SUMS = list(numbers.ReviewSums.__dataclass_fields__)


def keyed(*parts: object) -> str:
    """A stand-in for the detector's keyed hashes: 64 hex characters, spread like them."""
    return hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=32).hexdigest()


def bulk_load_reviews(db_url: str, merchant: int, count: int) -> dict[str, str]:
    """``count`` delivered purchases and a review of each, by psycopg ``COPY`` (foreign-key
    triggers off), then :func:`write_sums`, ``VACUUM ANALYZE``. Reviews spread over the
    1,000 days before an hour ago (ids grow with time), mostly 5 and 4 stars, 1% removed; a
    network shared by two neighbours, an identity and a text (keyed hashes) each."""
    step = 1000 * 86400 / count
    start = (datetime.now(UTC) - timedelta(hours=1)).timestamp() - step * count
    started = time.perf_counter()
    with psycopg.connect(harness.pq(db_url)) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("LOCK TABLE purchases, reviews IN SHARE ROW EXCLUSIVE MODE")
        first = {t: conn.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {t}").fetchone()[0]  # type: ignore[index]
                 for t in COLUMNS}  # fmt: skip

        def line(table: str, n: int) -> str:
            at = datetime.fromtimestamp(start + n * step, UTC).replace(tzinfo=None)
            if table == "purchases":
                placed, delivered = at - timedelta(days=4), at - timedelta(days=1)
                return (f"{first['purchases'] + n}\t{merchant}\tapi\tB-{merchant}-{n}\tdelivered\t"
                        f"c{n}@example.com\t{NAMES[n % 10]}\tes\t{placed}\t{delivered}\t{placed}\t"
                        f"{delivered}\n")  # fmt: skip
            draw = n * 2654435761 % 2**32  # a cheap, reproducible pseudo-random number
            rating, process = RATINGS[draw % 100], draw // 100 % 3 - 1
            state = "published\t\\N\t\\N"
            if draw % 997 < 10:
                state = f"removed\tspam\t{at + timedelta(days=1)}"
            return (f"{first['reviews'] + n}\t{merchant}\t{first['purchases'] + n}\t{rating}\t"
                    f"{min(5, max(1, rating + process))}\t{BODIES[n % 5]}\t{NAMES[n % 10]}\tes\t"
                    f"{state}\tf\t0\t{at}\t{keyed('net', merchant, n // 2)}\t"
                    f"{keyed('id', merchant, n)}\t{keyed('text', merchant, n)}\n")  # fmt: skip

        for table, columns in COLUMNS.items():
            with conn.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for base in range(0, count, 50_000):
                    part = range(base, min(count, base + 50_000))
                    copy.write("".join(line(table, n) for n in part))
            last = first[table] + count - 1
            conn.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", (table, last))
        published, removed = write_sums(conn, merchant)
        conn.execute("SET session_replication_role = DEFAULT")
        conn.commit()
    loaded = time.perf_counter() - started
    with psycopg.connect(harness.pq(db_url), autocommit=True) as conn:
        for table in ("purchases", "reviews", "review_aggregates", "review_months"):
            conn.execute(f"VACUUM ANALYZE {table}")
    return {"reviews": f"{count:,}", "published": f"{published:,}", "removed": f"{removed:,}",
            "COPY+sums s": f"{loaded:.1f}", "rows/s": f"{count / loaded:,.0f}",
            "VACUUM ANALYZE s": f"{time.perf_counter() - started - loaded:.1f}"}  # fmt: skip


def write_sums(conn: psycopg.Connection[Any], merchant: int) -> tuple[int, int]:
    """``review_aggregates``, ``review_months`` summed from the reviews as ``score.py`` counts,
    and the log replay state set to them (no leaves are written: it is what the appender
    would have folded, so the badge's check against the log passes): (published, removed)."""
    args = {"m": merchant, "negative": numbers.NEGATIVE_MAX, "epoch": numbers.EPOCH.timestamp(),
            "half": numbers.HALF_LIFE_DAYS * 86400.0}  # fmt: skip
    conn.execute("DELETE FROM review_aggregates WHERE merchant_id = %(m)s", args)
    conn.execute("DELETE FROM review_months WHERE merchant_id = %(m)s", args)
    dist = ", ".join(f"count(*) FILTER (WHERE p AND rating = {r})" for r in range(1, 6))
    conn.execute(
        f"""
        INSERT INTO review_aggregates (merchant_id, published, removed, rating_sum, process_sum,
            dist_1, dist_2, dist_3, dist_4, dist_5, decay_weight, decay_rating, negative,
            negative_answered)
        SELECT %(m)s, count(*) FILTER (WHERE p), count(*) FILTER (WHERE NOT p),
            coalesce(sum(rating) FILTER (WHERE p), 0), coalesce(sum(process_rating) FILTER
            (WHERE p), 0), {dist}, coalesce(sum(w) FILTER (WHERE p), 0),
            coalesce(sum(w * rating) FILTER (WHERE p), 0),
            count(*) FILTER (WHERE p AND rating <= %(negative)s), 0
        FROM (SELECT rating, process_rating, status = 'published' AS p,
                     power(2, (extract(epoch FROM created_at) - %(epoch)s) / %(half)s) AS w
              FROM reviews WHERE merchant_id = %(m)s) AS r
        """,
        args,
    )
    conn.execute(
        "INSERT INTO review_months (merchant_id, month, count, rating_sum)"
        " SELECT %(m)s, to_char(created_at, 'YYYY-MM'), count(*), sum(rating) FROM reviews"
        " WHERE merchant_id = %(m)s AND status = 'published' GROUP BY 2",
        args,
    )
    query = f"SELECT {', '.join(SUMS)} FROM review_aggregates WHERE merchant_id = %(m)s"
    sums = conn.execute(query, args).fetchone()
    slug, kept = conn.execute(  # type: ignore[misc]
        "SELECT slug, state FROM merchants LEFT JOIN log_replay_states ON merchant_slug = slug"
        " WHERE id = %(m)s", args,
    ).fetchone()  # fmt: skip
    state = numbers.MerchantState.from_json(kept) if kept else numbers.MerchantState()
    state.sums = numbers.ReviewSums(**dict(zip(SUMS, sums or (), strict=True)))
    months = "SELECT month, count, rating_sum FROM review_months WHERE merchant_id = %(m)s"
    state.months = {month: [count, total] for month, count, total in conn.execute(months, args)}
    conn.execute(
        "INSERT INTO log_replay_states (merchant_slug, last_index, state) VALUES (%s, %s, %s)"
        " ON CONFLICT (merchant_slug) DO UPDATE SET state = excluded.state",
        (slug, state.last_index, state.to_json()),
    )
    return state.sums.published, state.sums.removed
