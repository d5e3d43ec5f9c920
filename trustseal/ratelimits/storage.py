"""A ``limits`` storage in the application's database (scheme ``trustseal+db://``).

Every process of every machine shares it, as they share the database, so "30 per minute"
means 30 whatever the number of gunicorn workers. Each hit is one atomic upsert on its own
connection and transaction, apart from the request's, so a request that rolls back still
counts and a counter never waits for a request to finish. Those connections come from a
small pool of their own: flask-limiter reads the counters again after the view (for the
``X-RateLimit-*`` headers) while the request still holds its session's connection, and with
one pool shared, as many concurrent requests as the pool has connections would each wait
for a second one until the pool's timeout. Redis
(``TRUSTSEAL_RATELIMIT_STORAGE_URI=redis://…``) does the same with less load.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any, cast

from flask import Flask, current_app
from limits.storage import SCHEMES, Storage
from sqlalchemy import Engine, Table, case, create_engine, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from trustseal.dbutil import execute_dml
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.ratelimits.models import RateLimitCounter

SCHEME = "trustseal+db"
_table = cast(Table, RateLimitCounter.__table__)  # a mapped class's table is a Table
_ENGINE = "trustseal.ratelimit_engine"
# Each counter holds a connection for one statement: a few serve many request threads.
_POOL = {"pool_size": 2, "max_overflow": 8}


def _engine() -> Engine:
    """The counters' own engine (the app's when :func:`register` gave it none)."""
    engine = current_app.extensions.get(_ENGINE)
    return engine if engine is not None else db.engine


class DatabaseStorage(Storage):
    """Fixed-window counters in the ``rate_limit_counters`` table."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any):
        """Options are ignored: the database is the application's."""
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception]:
        """Errors of the database driver, as SQLAlchemy raises them."""
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add ``amount`` hits to ``key``'s window (a new window if it expired); the count."""
        now = time.time()
        with _engine().begin() as conn:
            insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            stmt = insert(_table).values(key=key, count=amount, expires_at=now + expiry)
            lapsed = _table.c.expires_at <= now
            upsert = stmt.on_conflict_do_update(
                index_elements=[_table.c.key],
                set_={
                    "count": case((lapsed, amount), else_=_table.c.count + amount),
                    "expires_at": case((lapsed, now + expiry), else_=_table.c.expires_at),
                },
            ).returning(_table.c.count)
            return int(conn.execute(upsert).scalar_one())

    def _row(self, key: str) -> tuple[int, float] | None:
        with _engine().connect() as conn:
            row = conn.execute(
                select(_table.c.count, _table.c.expires_at).where(_table.c.key == key)
            ).first()
        if row is None or row.expires_at <= time.time():
            return None
        count, expires_at = row  # not ``row.count``: typed as the Sequence method
        return int(count), float(expires_at)

    def get(self, key: str) -> int:
        """Hits in ``key``'s current window (0 when none or expired)."""
        row = self._row(key)
        return row[0] if row else 0

    def get_expiry(self, key: str) -> float:
        """When ``key``'s window ends (seconds since the epoch)."""
        row = self._row(key)
        return row[1] if row else time.time()

    def check(self) -> bool:
        """Whether the database answers."""
        try:
            with _engine().connect() as conn:
                conn.execute(select(1))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        """Forget every counter."""
        with _engine().begin() as conn:
            return int(conn.execute(delete(_table)).rowcount or 0)

    def clear(self, key: str) -> None:
        """Forget one counter."""
        with _engine().begin() as conn:
            conn.execute(delete(_table).where(_table.c.key == key))


def register(app: Flask) -> None:
    """Make ``trustseal+db://`` known to ``limits`` (defining the class registers it; this
    call is what the app factory uses to say so) and, when the app keeps its counters in
    its database, give them a pool of their own on the same database (after
    ``db.init_app``)."""
    assert SCHEME in SCHEMES
    if not app.config["RATELIMIT_STORAGE_URI"].startswith(SCHEME):
        return
    with app.app_context():
        url = db.engine.url
    options = {**app.config["SQLALCHEMY_ENGINE_OPTIONS"], **_POOL}
    app.extensions[_ENGINE] = create_engine(url, **options)


def prune(now: float | None = None) -> int:
    """Delete counters whose window ended (run by the worker's maintenance)."""
    result = execute_dml(
        delete(RateLimitCounter).where(RateLimitCounter.expires_at <= (now or time.time()))
    )
    return int(result.rowcount or 0)


jobs.periodic("ratelimits.prune", timedelta(hours=1))(prune)
