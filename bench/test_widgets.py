"""The product widgets served: a product's stars (SVG) ≥ 0.8x ``/healthz`` through
gunicorn; the framed reviews page and the JSON-LD for information."""

from __future__ import annotations

import harness
import pytest
from conftest import quick

from tests.helpers import make_merchant
from tests.reviewing import publish_review
from trustseal import create_app
from trustseal.extensions import db

PRODUCT = {"product_id": "cafe-500", "title": "Café de Villa Rica 500 g", "quantity": 1}
REVIEWS = 15  # under the declared-links limit of an hour; the widgets read O(1) sums anyway


def test_widgets_served(pytestconfig: pytest.Config) -> None:
    """The stars (light Spanish, dark Portuguese), the reviews page, the JSON-LD and
    ``/healthz`` in turns on one gunicorn (sync, 2 workers), the shop's numbers read at
    most once a second per process (``TRUSTSEAL_BADGE_FINGERPRINT_SECONDS``, 1 s); a ratio
    is the median of the per-round ratios."""
    rounds, seconds = (2, 3.0) if quick(pytestconfig) else (5, 6.0)
    with harness.migrated("bench_widgets") as (db_url, instance):
        app = create_app({"ENV": "testing", "DATABASE_URL": db_url, "INSTANCE_PATH": instance,
                          "LOG_LEVEL": "WARNING", "RATELIMIT_ENABLED": False})  # fmt: skip
        _, key = make_merchant(app, "bodega")
        client = app.test_client()
        for n in range(REVIEWS):
            publish_review(
                client, key, f"B-{n}", items=[PRODUCT], client_address=f"10.0.{n}.1",
                products=[{"product_id": "cafe-500", "rating": 5 - n % 3,
                           "comment": "Aroma intenso, llegó bien empacado."}],
            )  # fmt: skip
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        runs = {
            "healthz": "/healthz",
            "stars": "/widgets/bodega/product/cafe-500.svg",
            "stars, dark, pt": "/widgets/bodega/product/cafe-500.svg?lang=pt&theme=dark",
            "reviews page": "/widgets/bodega/reviews?product_id=cafe-500",
            "JSON-LD": "/widgets/bodega/products/cafe-500/jsonld",
        }
        harness.against_healthz(
            db_url, instance, runs, rounds, seconds,
            "widgets: gunicorn sync 2 workers, 4 connections", "widgets",
            {"stars": 0.8, "stars, dark, pt": 0.8},
        )  # fmt: skip
