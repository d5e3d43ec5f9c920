"""The read path and the fraud detector at 1,000 and 1,000,000 reviews, in process."""

from __future__ import annotations

import itertools
import statistics
import time
from datetime import timedelta
from typing import Any

import harness
import psycopg
import pytest
from conftest import Shop, keyed, quick
from harness import TIMES, goal, ms
from sqlalchemy import event

from trustseal.api.pagination import encode_cursor
from trustseal.clock import utcnow
from trustseal.extensions import db
from trustseal.orders.models import Purchase, ReviewInvitation
from trustseal.reviews.models import Review
from trustseal.signals import service as signals

CURSORS: dict[tuple[int, int], str] = {}  # (limit, reviews) -> cursor of the deep page
STATEMENTS: dict[str, float] = {}  # SQL statements of a scan_review
SERIAL = itertools.count()


def reviews_path(slug: str, limit: int, cursor: str | None = None) -> str:
    return f"/api/v1/merchants/{slug}/reviews?limit={limit}" + f"&cursor={cursor}" * bool(cursor)


ENDPOINTS = {  # name -> path of (slug, reviews); the last is informative
    "GET /score": lambda slug, n: f"/api/v1/merchants/{slug}/score",
    "GET /reviews page 1 (limit 20)": lambda slug, n: reviews_path(slug, 20),
    "GET /reviews page 500 (limit 2)": lambda slug, n: reviews_path(slug, 2, CURSORS[2, n]),
    "GET /m/{slug}": lambda slug, n: f"/m/{slug}",
    "GET /reviews deep page (limit 20)": lambda slug, n: reviews_path(slug, 20, CURSORS[20, n]),
}


def test_deep_page_cursor(shop: Shop) -> None:
    """Page 500's cursor (50 at limit 20 and 1k) walked as a client would, checked."""
    client, rows = shop.app.test_client(), []
    for limit in (2, 20):
        for n in (1000, shop.big):
            page, cursor, started = min(500, -(-n // limit)), None, time.perf_counter()
            for _ in range(page - 1):
                answer = client.get(reviews_path(shop.slugs[n], limit, cursor))
                assert answer.status_code == 200 and answer.json["next_cursor"], answer.status
                cursor = answer.json["next_cursor"]
            walked = time.perf_counter() - started
            with psycopg.connect(harness.pq(shop.db_url)) as conn:
                (last,) = conn.execute(  # type: ignore[misc]
                    "SELECT id FROM reviews WHERE merchant_id = %s ORDER BY id DESC OFFSET %s"
                    " LIMIT 1", (shop.ids[n], (page - 1) * limit - 1)
                ).fetchone()  # fmt: skip
            CURSORS[limit, n] = cursor  # type: ignore[assignment]
            same = "yes" if encode_cursor(last) == cursor else "NO"
            rows.append({"merchant": shop.slugs[n], "limit": limit, "page": page,
                         "walk s": f"{walked:.1f}", "= encode_cursor(id)": same})  # fmt: skip
    harness.TABLES["reviews: the deep page's cursor, walked as a client would"] = rows
    assert all(row["= encode_cursor(id)"] == "yes" for row in rows)


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_read(benchmark: Any, shop: Shop, pytestconfig: Any, endpoint: str) -> None:
    """One GET through the whole app in process (test client), at 1k and big in turns."""
    client, sizes = shop.app.test_client(), {"1k": 1000, "big": shop.big}
    cases = {size: ENDPOINTS[endpoint](shop.slugs[n], n) for size, n in sizes.items()}

    def get(path: str) -> None:
        assert client.get(path).status_code == 200

    rounds = 100 if quick(pytestconfig) else 300
    harness.alternate(benchmark, f"reviews {endpoint}", cases, get, rounds, warmup_rounds=6)


def add_review(merchant_id: int, suspicious: bool) -> int:
    """A purchase and its review as stored by the service: its id (see README.md)."""
    n, now = next(SERIAL), utcnow()
    purchase = Purchase(
        merchant_id=merchant_id, source="api" if suspicious else "store:1",
        attested=not suspicious, origin="api" if suspicious else "shopify",
        external_id=f"D-{n}", status="delivered", customer_locale="es",
        placed_at=now - timedelta(days=4), delivered_at=now - timedelta(days=1),
        created_at=now - timedelta(days=3), updated_at=now,
    )  # fmt: skip
    db.session.add(purchase)
    db.session.flush()
    opened = now - (timedelta(minutes=5) if suspicious else timedelta(days=1))
    expires = now + timedelta(days=30)
    db.session.add(ReviewInvitation(purchase_id=purchase.id, state="used", used_at=now,
                                    created_at=opened, expires_at=expires))  # fmt: skip
    review = Review(
        merchant_id=merchant_id, purchase_id=purchase.id, rating=5, process_rating=5,
        body=f"Todo llegó completo y a tiempo; el empaque vino intacto. Volvería. {n}",
        display_name="Cliente B.", locale="es", status="published", created_at=now,
        verification_level="declared" if suspicious else "platform",
        verification_source="api" if suspicious else "shopify",
        reviewer_network=keyed("net", merchant_id, "shared", n % 4) if suspicious
        else keyed("net", merchant_id, "own", n),
        identity_key=keyed("id", merchant_id, "bench", n),
        text_key=keyed("text", merchant_id, "bench", n),
    )  # fmt: skip
    db.session.add(review)
    db.session.commit()
    review_id = review.id
    db.session.remove()
    return review_id


@pytest.mark.parametrize("variant", ["clean", "suspicious"])
def test_detector(benchmark: Any, shop: Shop, pytestconfig: Any, variant: str) -> None:
    """``scan_review`` + commit of a review added off the clock, at 1k and big in turns; the
    SQL statements it runs are counted."""
    cases, seen, statements = {"1k": shop.ids[1000], "big": shop.ids[shop.big]}, [0], []

    def scan(review_id: int) -> None:
        seen[0] = 0
        signals.scan_review(review_id)
        db.session.commit()
        statements.append(seen[0])

    with shop.app.app_context():
        count = lambda *_: seen.__setitem__(0, seen[0] + 1)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            harness.alternate(
                benchmark, f"detector {variant}", cases, scan, 100 if quick(pytestconfig) else 300,
                lambda merchant: add_review(merchant, variant == "suspicious"),
                teardown=lambda _: db.session.remove(), warmup_rounds=20)  # fmt: skip
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
    small, big = statistics.median(statements[::2]), statistics.median(statements[1::2])
    STATEMENTS[variant] = f"{small:.0f}/{big:.0f}"


@harness.SUMMARIES.append
def summary_reviews() -> None:
    rows = [(f"reviews {e}", e) for e in ENDPOINTS]
    rows += [(f"detector {v}", f"scan_review {v} ({STATEMENTS[v]} SQL)") for v in STATEMENTS]
    for key, what in rows:
        limit = None if "deep" in key else 1.5
        goal("reviews", f"{what} ms at {harness.BIG_LABEL}", ms(TIMES[f"{key} big"]), "1k",
             ms(TIMES[f"{key} 1k"]), harness.paired(f"{key} big", f"{key} 1k"), limit)  # fmt: skip
