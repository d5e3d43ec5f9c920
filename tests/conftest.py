"""Fixtures: ``app``, ``client``, ``runner``, ``db_session`` — each test runs on SQLite and
on PostgreSQL (a fresh database per run). PostgreSQL tests skip with a reason on a
machine without a server, and fail instead under ``CI=true``.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import flask_migrate
import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import text

from trustseal import create_app
from trustseal.extensions import db, limiter

PG_ADMIN_URL = os.environ.get(
    "TRUSTSEAL_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _is_sqlite_variant(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    return callspec is not None and callspec.params.get("database_url") == "sqlite"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``postgres_only`` run on the PostgreSQL parameter alone (SQLite has a
    single writer, so sharing work between concurrent writers means nothing there)."""
    drop = [i for i in items if i.get_closest_marker("postgres_only") and _is_sqlite_variant(i)]
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = [i for i in items if i not in drop]


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
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
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


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One database per backend for the whole run."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
        return
    with fresh_pg_database("trustseal_test") as (url, _name):
        yield url


def make_app(database_url: str, instance: Path, **overrides: Any) -> Flask:
    """Create an app for tests on the given database (schema migrated by Alembic)."""
    config = {
        "ENV": "testing",
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(instance),
        "LOG_LEVEL": "WARNING",
        "BASE_URL": "http://trustseal.test",
        "PASSWORD_TIME_COST": 1,  # cheap hashes keep the suite fast; production keeps the defaults
        "PASSWORD_MEMORY_KIB": 8192,
        "BADGE_FINGERPRINT_SECONDS": 0,  # tests see every change at once
        "API_KEY_CACHE_SECONDS": 0,
        # Tests mint many review links for API orders; the limit has its own tests.
        "DECLARED_LINKS_PER_HOUR": 100_000,
        "DECLARED_LINKS_PER_DAY": 100_000,
        **overrides,
    }
    return create_app(config)


@pytest.fixture(scope="session")
def migrated_app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The session's app, its schema created by the migrations (not create_all)."""
    app = make_app(database_url, tmp_path_factory.mktemp("instance"))
    with app.app_context():
        flask_migrate.upgrade()
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()


def _empty_tables(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            else:
                for table in tables:
                    conn.execute(text(f"DELETE FROM {table}"))
            conn.execute(text("INSERT INTO log_state (id, size) VALUES (1, 0)"))  # as migrated


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
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright (never a downloaded browser)."""
    reason = None
    if not Path(CHROMIUM).exists():
        reason = f"Chromium not installed at {CHROMIUM} (apt-get install chromium)"
    else:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            reason = "playwright is not installed (pip install -e '.[test]')"
    require(reason)
    with sync_playwright() as playwright:
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
