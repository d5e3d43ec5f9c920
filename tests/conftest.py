"""Fixtures: ``app``, ``client``, ``runner``, ``db_session`` — each test runs on SQLite and
on PostgreSQL. PostgreSQL tests skip with a reason on a machine without a server, and fail
instead under ``CI=true``.

Isolation: each test process (the one of a plain ``pytest``, or each pytest-xdist worker,
``gw0``, ``gw1``…) migrates its own SQLite file and its own PostgreSQL database once, in
its own temporary folder, and keeps both for the run. After each test the tables are
emptied in one round trip (``DELETE`` of every table and a reset of the sequences, as
migrated: ``TRUNCATE`` costs about a second per test on PostgreSQL, DELETE of the few rows
a test writes a few milliseconds). Not a rolled-back transaction: the application
commits on connections of its own (rate-limit counters, the badge fingerprint's
autocommit read, job claims, the live server's threads, the CLI), which a test's outer
transaction would not see or undo.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import flask_migrate
import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from trustseal import create_app
from trustseal.extensions import db, limiter
from trustseal.transparency import witnessing
from trustseal.widgets import service as widgets

PG_ADMIN_URL = os.environ.get(
    "TRUSTSEAL_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# This process's pytest-xdist worker (gw0, gw1…), "main" without xdist: in database names.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")


def _is_sqlite_variant(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    return callspec is not None and callspec.params.get("database_url") == "sqlite"


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``postgres_only`` run on the PostgreSQL parameter alone (SQLite has a
    single writer, so sharing work between concurrent writers means nothing there).

    Under pytest-xdist (``--dist loadgroup``), the tests of one module that run real
    processes on that module's own database (the ``database`` fixture of
    tests/reliability/) stay together on one worker, one after the other: the database is
    migrated once, and a module's process tests never compete with each other."""
    drop = [i for i in items if i.get_closest_marker("postgres_only") and _is_sqlite_variant(i)]
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = [i for i in items if i not in drop]
    for item in items:
        if "database" in getattr(item, "fixturenames", ()):
            join_xdist_group(item, f"processes-{item.path.stem}")


def join_xdist_group(item: pytest.Item, group: str) -> None:
    """Mark ``item`` to run in pytest-xdist's ``group`` (``--dist loadgroup``): every test
    of a group on one worker, one after the other.

    pytest-xdist (3.8) tells its controller a test's group by appending ``@group`` to the
    test's node id, assigning ``item._nodeid``; pytest 9.2 reads the id from ``item._id``,
    so the group was lost without a word: each test of a module of real processes went to
    any worker and migrated the module's database again, beside its siblings. The id is
    renamed here as pytest-xdist means it to be (its own rename then changes nothing)."""
    item.add_marker(pytest.mark.xdist_group(group))
    if getattr(item.config.option, "loadgroup", False) and hasattr(item, "_id"):
        from _pytest.nodeid import coerce_node_id  # only on a pytest that has _id

        item._id = coerce_node_id(f"{item.nodeid}@{group}")


def require(reason: str | None) -> None:
    """Skip the test when ``reason`` says what is missing; under ``CI=true`` fail instead
    (CI must run every test)."""
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)  # only off CI: under CI=true the line above fails instead


@contextmanager
def fresh_pg_database(prefix: str) -> Iterator[tuple[str, str]]:
    """A new, empty PostgreSQL database for the block: its SQLAlchemy URL and its name
    (dropped afterwards, connections and all). Skips (fails under CI) without a server."""
    require(_pg_unavailable())
    name = f"{prefix}_{WORKER}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        # Throwaway data: a commit need not wait for the disk (what other connections see
        # is unchanged; only a crash of the server itself could lose a commit).
        conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield _sqlalchemy_url(f"{base}/{name}"), name
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg_unavailable() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}".strip()


def _sqlalchemy_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


class _Backends:
    """This process's migrated app per backend, made on first use and kept for the run, so
    that however the tests are ordered or spread over xdist workers, each process migrates
    each backend at most once (a parametrized session fixture alone would be set up again
    whenever the parameter changes)."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._tmp = tmp_path_factory
        self._stack = ExitStack()
        self._urls: dict[str, str] = {}
        self._apps: dict[str, Flask] = {}

    def url(self, backend: str) -> str:
        if backend not in self._urls:
            if backend == "sqlite":
                self._urls[backend] = f"sqlite:///{self._tmp.mktemp('sqlite') / 'test.db'}"
            else:
                url, _name = self._stack.enter_context(fresh_pg_database("trustseal_test"))
                self._urls[backend] = url
        return self._urls[backend]

    def app(self, database_url: str) -> Flask:
        if database_url not in self._apps:
            app = make_app(database_url, self._tmp.mktemp("instance"))
            with app.app_context():
                flask_migrate.upgrade()
                db.session.remove()
            self._stack.callback(_dispose, app)
            self._apps[database_url] = app
        return self._apps[database_url]

    def close(self) -> None:
        self._stack.close()


def _dispose(app: Flask) -> None:
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def _backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Backends]:
    backends = _Backends(tmp_path_factory)
    yield backends
    backends.close()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, _backends: _Backends) -> str:
    """One database per backend for the whole run (per xdist worker)."""
    if request.param == "postgresql":
        require(_pg_unavailable_once())
    return _backends.url(request.param)


_PG_STATE: list[str | None] = []


def _pg_unavailable_once() -> str | None:
    """:func:`_pg_unavailable`, asked once per process (a missing server costs a timeout)."""
    if not _PG_STATE:
        _PG_STATE.append(_pg_unavailable())
    return _PG_STATE[0]


# Cheap argon2id hashes keep the suite fast; production keeps the defaults (trustseal/
# config.py). 1 MiB hashes in about 1 ms, 8 MiB took about 8 (thousands of hashes a run).
CHEAP_PASSWORD_TIME_COST = 1
CHEAP_PASSWORD_MEMORY_KIB = 1024


def make_app(database_url: str, instance: Path, **overrides: Any) -> Flask:
    """Create an app for tests on the given database (schema migrated by Alembic)."""
    config = {
        "ENV": "testing",
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(instance),
        "LOG_LEVEL": "WARNING",
        "BASE_URL": "http://trustseal.test",
        "PASSWORD_TIME_COST": CHEAP_PASSWORD_TIME_COST,
        "PASSWORD_MEMORY_KIB": CHEAP_PASSWORD_MEMORY_KIB,
        "BADGE_FINGERPRINT_SECONDS": 0,  # tests see every change at once
        "API_KEY_CACHE_SECONDS": 0,
        "BENCHMARK_SECONDS": 0,  # one app for the session: the KPI medians read afresh
        # Tests mint many review links for API orders; the limit has its own tests.
        "DECLARED_LINKS_PER_HOUR": 100_000,
        "DECLARED_LINKS_PER_DAY": 100_000,
        **overrides,
    }
    return create_app(config)


@pytest.fixture(scope="session")
def migrated_app(database_url: str, _backends: _Backends) -> Flask:
    """The session's app, its schema created by the migrations (not create_all)."""
    return _backends.app(database_url)


# Every sequence back to its start, as TRUNCATE ... RESTART IDENTITY would (ids from 1).
_RESTART_SEQUENCES = (
    "SELECT setval((quote_ident(schemaname) || '.' || quote_ident(sequencename))::regclass,"
    " start_value, false) FROM pg_sequences"
    " WHERE schemaname = current_schema() AND last_value IS NOT NULL"
)


# The one row the migrations write.
_AS_MIGRATED = "INSERT INTO log_state (id, size) VALUES (1, 0)"


def _empty_tables(app: Flask) -> None:
    """Back to the state as migrated, in one transaction and (PostgreSQL) one round trip.
    Children before parents (the models' dependency order), so no foreign key objects."""
    with app.app_context():
        db.session.remove()
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        deletes = "; ".join(f'DELETE FROM "{table}"' for table in tables)
        if db.engine.dialect.name == "sqlite":
            # One script, one call into sqlite3: a statement each through SQLAlchemy cost
            # about three times as much, for every test.
            raw = db.engine.raw_connection()
            try:
                raw.driver_connection.executescript(f"BEGIN; {deletes}; {_AS_MIGRATED}; COMMIT;")
            finally:
                raw.close()
            return
        with db.engine.begin() as conn:
            conn.exec_driver_sql(f"{deletes}; {_RESTART_SEQUENCES}; {_AS_MIGRATED}")


@pytest.fixture
def app(migrated_app: Flask) -> Iterator[Flask]:
    """A clean app for one test: empty tables, fresh rate limits, default config."""
    saved = dict(migrated_app.config)
    with migrated_app.app_context():
        limiter.reset()
    yield migrated_app
    migrated_app.config.clear()
    migrated_app.config.update(saved)
    _empty_tables(migrated_app)
    witnessing.forget_tiles(migrated_app)
    widgets.clear_cache()  # rendered under a merchant version the next test's data repeats
    shutil.rmtree(Path(migrated_app.instance_path) / "media", ignore_errors=True)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client for the app."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    """A CLI runner for the app's commands."""
    return app.test_cli_runner()


@pytest.fixture
def ctx(app: Flask) -> Iterator[None]:
    """An application context, for calling service functions directly."""
    with app.app_context():
        yield
        db.session.remove()


@pytest.fixture
def dialect(database_url: str) -> str:
    """``sqlite`` or ``postgresql``."""
    return "postgresql" if database_url.startswith("postgresql") else "sqlite"


CHROMIUM = os.environ.get("TRUSTSEAL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """Serve the app on a loopback port in a thread; yield its base URL."""
    from werkzeug.serving import make_server

    from tests.helpers import serve_in_background

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = serve_in_background(server)
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def require_chromium() -> None:
    """Skip (fail under CI) unless Debian's Chromium and Playwright are installed."""
    reason = None
    if not Path(CHROMIUM).exists():
        reason = f"Chromium not installed at {CHROMIUM} (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "playwright is not installed (pip install -e '.[test]')"
    require(reason)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    """This test process's one Playwright driver (a second one in the same process would
    find the first one's event loop running)."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Any) -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright (never a downloaded browser)."""
    instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield instance
    instance.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser page (phone-friendly default viewport)."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="es-PE")
    page = context.new_page()
    yield page
    context.close()
