"""The Alembic migrations build exactly the schema the models describe (on each database),
so a model change without its migration fails here, not in production; and their backfills
label existing data as the code would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from tests.conftest import fresh_pg_database, make_app
from trustseal.extensions import db


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
