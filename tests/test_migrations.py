"""The Alembic migrations build exactly the schema the models describe (on each database),
so a model change without its migration fails here, not in production; and their backfills
label existing data as the code would."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from tests.conftest import fresh_pg_database, make_app
from trustseal.extensions import db
from trustseal.transparency import merkle, numbers


def test_migrations_match_the_models(app):
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


@pytest.fixture
def empty_database(dialect: str, tmp_path: Path) -> Iterator[str]:
    """A new, empty database of the test's backend (its URL)."""
    if dialect == "sqlite":
        yield f"sqlite:///{tmp_path / 'upgrade.db'}"
        return
    with fresh_pg_database("trustseal_upgrade") as (url, _name):
        yield url


def test_the_provenance_upgrade_labels_every_existing_purchase_and_review_declared(
    empty_database: str, tmp_path: Path
) -> None:
    """Before 0009 nothing recorded whether an order was fetched from a platform or sent by
    a webhook whose secret the shop holds: every existing purchase and review is declared,
    a store's via its platform, and a purchase of a deleted store (an orphan ``store:<id>``)
    does not break the upgrade."""
    app = make_app(empty_database, tmp_path / "inst")
    at = "2026-01-01 00:00:00"
    rows = {
        "merchants": [f"(1, 'bodega', 'Bodega', 'bodega.pe', 'hola@bodega.pe', 'PE', '{at}')"],
        "stores": [f"(1, 1, 'shopify', 'x.myshopify.com', '{{}}', '', 'active', '{at}')"],
        "purchases": [
            f"({n}, 1, '{source}', 'E-{n}', 'delivered', 'es', '{at}', '{at}', '{at}')"
            for n, source in ((1, "store:1"), (2, "store:99"), (3, "api"))
        ],
        "reviews": [
            f"({n}, 1, {n}, 5, 5, 'Ana', 'es', 'published', false, 0, '{at}')" for n in (1, 2, 3)
        ],
    }
    columns = {
        "merchants": "id, slug, name, domain, contact_email, country, created_at",
        "stores": "id, merchant_id, platform, identifier, settings, secrets_encrypted, status, "
        "created_at",
        "purchases": "id, merchant_id, source, external_id, status, customer_locale, placed_at, "
        "created_at, updated_at",
        "reviews": "id, merchant_id, purchase_id, rating, process_rating, display_name, locale, "
        "status, has_photos, open_flags, created_at",
    }
    try:
        with app.app_context():
            flask_migrate.upgrade(revision="0008_hardening")
            with db.engine.begin() as conn:
                for table, values in rows.items():
                    conn.execute(
                        text(f"INSERT INTO {table} ({columns[table]}) VALUES {', '.join(values)}")
                    )
                conn.execute(
                    text(
                        "INSERT INTO review_aggregates (merchant_id, published, removed, "
                        "rating_sum, process_sum, dist_1, dist_2, dist_3, dist_4, dist_5, "
                        "decay_weight, decay_rating, negative, negative_answered) "
                        "VALUES (1, 3, 0, 15, 15, 0, 0, 0, 0, 3, 3.0, 15.0, 0, 0)"
                    )
                )
            flask_migrate.upgrade(revision="0009_provenance")
            with db.engine.connect() as conn:
                purchases = conn.execute(
                    text("SELECT id, attested, origin FROM purchases ORDER BY id")
                ).all()
                reviews = conn.execute(
                    text(
                        "SELECT id, verification_level, verification_source FROM reviews "
                        "ORDER BY id"
                    )
                ).all()
                declared = conn.execute(text("SELECT declared FROM review_aggregates")).scalar()
    finally:
        with app.app_context():
            db.engine.dispose()
    assert [(n, bool(attested), origin) for n, attested, origin in purchases] == [
        (1, False, "shopify"),
        (2, False, "api"),
        (3, False, "api"),
    ]
    assert [tuple(review) for review in reviews] == [
        (1, "declared", "shopify"),
        (2, "declared", "api"),
        (3, "declared", "api"),
    ]
    assert declared == 3


def _old_log(leaves: list[dict[str, object]]) -> tuple[list[tuple], list[tuple]]:
    """Entries and RFC 9162 nodes of a log written before 0011 (as the service stored it)."""
    nodes: dict[tuple[int, int], bytes] = {}
    entries = []
    for index, leaf in enumerate(leaves):
        data = merkle.canonical_json(leaf)
        leaf_hash = merkle.leaf_hash(data)
        for level, at, value in merkle.nodes_after_append(
            index, leaf_hash, lambda lv, i: nodes[(lv, i)]
        ):
            nodes[(level, at)] = value
        entries.append((index, leaf["type"], leaf["merchant"], data.decode(), leaf_hash))
    return entries, [(level, at, value) for (level, at), value in nodes.items()]


def _insert(conn: Any, table: str, **values: Any) -> None:
    names = ", ".join(values)
    conn.execute(
        text(f"INSERT INTO {table} ({names}) VALUES ({', '.join(':' + n for n in values)})"),
        values,
    )


def test_the_numbers_upgrade_appends_what_old_leaves_lack_and_replays_every_merchant(
    empty_database: str, tmp_path: Path
) -> None:
    """0011 never rewrites a leaf: a seal pending on an application made before
    applications were logged gets its ``seal.applied`` leaf; removals and answers written
    without their review's numbers are replayed from the review's own leaf; the running
    sums become exactly the replay's (they were counted to the microsecond before)."""
    app = make_app(empty_database, tmp_path / "inst")
    at = "2026-01-01 00:00:00"
    leaves = [
        {
            "v": 1,
            "type": "review.published",
            "merchant": "bodega",
            "time": "2026-01-02T10:00:00Z",
            "review_id": 1,
            "rating": 1,
            "process_rating": 4,
            "purchase_id": 1,
        },
        {
            "v": 1,
            "type": "review.published",
            "merchant": "bodega",
            "time": "2026-01-03T10:00:00Z",
            "review_id": 2,
            "rating": 5,
            "process_rating": 5,
            "purchase_id": 2,
        },
        {
            "v": 1,
            "type": "response.created",
            "merchant": "bodega",
            "time": "2026-01-02T13:30:00Z",
            "review_id": 1,
        },
        {
            "v": 1,
            "type": "review.removed",
            "merchant": "bodega",
            "time": "2026-01-04T10:00:00Z",
            "review_id": 2,
            "reason": "spam",
        },
    ]
    entries, nodes = _old_log(leaves)
    try:
        with app.app_context():
            flask_migrate.upgrade(revision="0010_seal_criteria")
            with db.engine.begin() as conn:
                _insert(
                    conn,
                    "merchants",
                    id=1,
                    slug="bodega",
                    name="Bodega",
                    domain="bodega.pe",
                    contact_email="a@bodega.pe",
                    country="PE",
                    created_at=at,
                )
                for index, kind, slug, leaf, leaf_hash in entries:
                    conn.execute(
                        text(
                            'INSERT INTO log_entries ("index", event_type, merchant_slug, leaf, '
                            "leaf_hash, created_at) VALUES (:i, :t, :m, :l, :h, :at)"
                        ),
                        {"i": index, "t": kind, "m": slug, "l": leaf, "h": leaf_hash, "at": at},
                    )
                for level, index, value in nodes:
                    conn.execute(
                        text('INSERT INTO log_nodes (level, "index", hash) VALUES (:l, :i, :h)'),
                        {"l": level, "i": index, "h": value},
                    )
                conn.execute(text("DELETE FROM log_state"))
                conn.execute(text(f"INSERT INTO log_state (id, size) VALUES (1, {len(entries)})"))
                _insert(conn, "seals", merchant_id=1, status="pending", updated_at=at)
                _insert(
                    conn,
                    "seal_decisions",
                    id=1,
                    merchant_id=1,
                    action="apply",
                    status="pending",
                    reason="Queremos el sello",
                    automatic=False,
                    created_at="2026-01-05 09:00:00.250000",
                )
                sums = dict(published=1, removed=1, rating_sum=1, process_sum=4, dist_1=1)
                _insert(
                    conn,
                    "review_aggregates",
                    merchant_id=1,
                    **sums,
                    dist_2=0,
                    dist_3=0,
                    dist_4=0,
                    dist_5=0,
                    decay_weight=1.5,
                    decay_rating=1.5,
                    negative=1,
                    negative_answered=1,
                    declared=1,
                )
            flask_migrate.upgrade(revision="0011_numbers_from_the_log")
            with db.engine.connect() as conn:
                added = conn.execute(
                    text('SELECT event_type, leaf FROM log_entries WHERE "index" = 4')
                ).one()
                size = conn.execute(text("SELECT size FROM log_state")).scalar()
                decision = conn.execute(text("SELECT log_index FROM seal_decisions")).scalar()
                state = conn.execute(text("SELECT last_index, state FROM log_replay_states")).one()
                sums = conn.execute(
                    text("SELECT published, removed, decay_weight FROM review_aggregates")
                ).one()
                months = conn.execute(
                    text("SELECT month, count FROM review_months ORDER BY month")
                ).all()
    finally:
        with app.app_context():
            db.engine.dispose()
    assert size == 5 and decision == 4 and added[0] == "seal.applied"
    leaf = json.loads(added[1])
    assert leaf["time"] == "2026-01-05T09:00:00Z" and leaf["status"] == "pending"
    assert leaf["reason"] == "Queremos el sello" and "logged_at" in leaf
    assert state[0] == 4
    replayed = numbers.MerchantState.from_json(state[1])
    assert replayed.seal_status == "pending"
    assert (replayed.sums.published, replayed.sums.removed, replayed.sums.negative_answered) == (
        1,
        1,
        1,
    )
    assert replayed.buckets == {3: 1}  # answered 3 h 30 min after the review's leaf time
    growth = numbers.growth(datetime(2026, 1, 2, 10, tzinfo=UTC))
    assert tuple(sums) == (1, 1, growth)  # exactly the replay's, not the old 1.5
    assert [tuple(m) for m in months] == [("2026-01", 1)]
