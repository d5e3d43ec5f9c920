"""The reliability suite: real processes (gunicorn, the job worker) on PostgreSQL, faults
injected from outside (SIGKILL, ``pg_terminate_backend``), figures asserted (0 lost,
0 duplicated, no 500).

Every test here is marked ``reliability``, is bounded in time, and needs PostgreSQL: it
skips with the reason on a machine without a server, and fails instead under ``CI=true``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import requests

from tests.conftest import (
    CHEAP_PASSWORD_MEMORY_KIB,
    CHEAP_PASSWORD_TIME_COST,
    PG_ADMIN_URL,
    fresh_pg_database,
)

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test of this folder ``reliability``."""
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.reliability)


@dataclass(frozen=True)
class Figure:
    """One line of the reliability table: what was tried and what went wrong."""

    test: str
    tried: int
    failed: int
    lost: int
    note: str = ""


FIGURES: list[Figure] = []


@pytest.fixture
def report(request: pytest.FixtureRequest):
    """Record this test's figures for the table printed at the end of the run."""

    def record(tried: int, failed: int, lost: int, note: str = "") -> None:
        FIGURES.append(Figure(request.node.name, tried, failed, lost, note))

    return record


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """Print the reliability table (tried / failed / lost) of this run."""
    if not FIGURES:
        return
    terminalreporter.section("reliability figures")
    terminalreporter.write_line(f"{'test':<70} {'tried':>7} {'failed':>7} {'lost':>5}  note")
    for figure in FIGURES:
        terminalreporter.write_line(
            f"{figure.test[:70]:<70} {figure.tried:>7} {figure.failed:>7} {figure.lost:>5}  "
            f"{figure.note}"
        )


@dataclass
class Database:
    """A fresh, migrated PostgreSQL database for one test module."""

    url: str  # SQLAlchemy URL (postgresql+psycopg://…)
    name: str
    instance: Path

    def env(self, **extra: str) -> dict[str, str]:
        """The environment a trustseal process needs to use this database."""
        env = {
            **os.environ,
            "TRUSTSEAL_DATABASE_URL": self.url,
            "TRUSTSEAL_INSTANCE_PATH": str(self.instance),
            "TRUSTSEAL_BASE_URL": "http://trustseal.test",
            "TRUSTSEAL_LOG_LEVEL": "INFO",
            "TRUSTSEAL_PASSWORD_TIME_COST": str(CHEAP_PASSWORD_TIME_COST),
            "TRUSTSEAL_PASSWORD_MEMORY_KIB": str(CHEAP_PASSWORD_MEMORY_KIB),
            "PYTHONUNBUFFERED": "1",
        }
        env.update(extra)
        return env

    def psql(self, sql: str, *params: object) -> list[tuple]:
        """Run one statement on this database (autocommit); its rows, if any."""
        with psycopg.connect(self.plain_url, autocommit=True) as conn:
            cursor = conn.execute(sql, params or None)
            return cursor.fetchall() if cursor.description else []

    @property
    def plain_url(self) -> str:
        """The libpq URL of this database."""
        return self.url.replace("postgresql+psycopg://", "postgresql://", 1)

    def terminate_connections(self, application_name: str | None = None) -> int:
        """``pg_terminate_backend`` every connection to this database (but ours)."""
        where = "datname = %s AND pid <> pg_backend_pid()"
        params: list[object] = [self.name]
        if application_name is not None:
            where += " AND application_name = %s"
            params.append(application_name)
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            rows = conn.execute(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE {where}", params
            ).fetchall()
        return sum(1 for (ok,) in rows if ok)


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """A fresh PostgreSQL database, migrated by ``trustseal db upgrade``."""
    with fresh_pg_database("trustseal_rel") as (url, name):
        db = Database(url, name, tmp_path_factory.mktemp("instance"))
        trustseal(db, "db", "upgrade")
        yield db


def trustseal(db: Database, *args: str, timeout: float = 120, **env: str) -> str:
    """Run a ``trustseal`` command against the database; its standard output."""
    done = subprocess.run(
        [str(BIN / "trustseal"), *args],
        env=db.env(**env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise AssertionError(f"trustseal {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Process:
    """A child process with its output in a file."""

    popen: subprocess.Popen[bytes]
    log: Path
    url: str = ""
    extra: dict[str, object] = field(default_factory=dict)

    def output(self) -> str:
        """Everything the process wrote so far."""
        return self.log.read_text(errors="replace")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the process group (gunicorn's workers too) and wait."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=20)


def spawn(args: list[str], env: dict[str, str], log: Path) -> Process:
    """Start a process in its own group, output to ``log``."""
    handle = log.open("wb")
    popen = subprocess.Popen(
        args, env=env, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )
    handle.close()
    return Process(popen, log)


def wait_until(condition, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Poll ``condition`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


@contextmanager
def gunicorn(
    db: Database,
    tmp_path: Path,
    workers: int = 2,
    threads: int = 1,
    options: tuple[str, ...] = (),
    **env: str,
) -> Iterator[Process]:
    """Serve the app with gunicorn on a free loopback port; stop it afterwards."""
    port = free_port()
    args = [
        str(BIN / "gunicorn"),
        "--config",
        str(ROOT / "gunicorn.conf.py"),
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--bind",
        f"127.0.0.1:{port}",
        *options,
        "wsgi:app",
    ]
    process = spawn(args, db.env(**env), tmp_path / f"gunicorn-{port}.log")
    process.url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if process.popen.poll() is not None:
            raise AssertionError(f"gunicorn exited:\n{process.output()}")
        try:
            return requests.get(process.url + "/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_until(up, 30, what="gunicorn to answer")
        yield process
    finally:
        process.kill(signal.SIGTERM)


@contextmanager
def worker(db: Database, tmp_path: Path, name: str = "worker", **env: str) -> Iterator[Process]:
    """Run ``trustseal worker`` in the background; stop it afterwards."""
    log = tmp_path / f"{name}-{uuid.uuid4().hex[:6]}.log"
    process = spawn([str(BIN / "trustseal"), "worker"], db.env(**env), log)
    try:
        yield process
    finally:
        process.kill(signal.SIGTERM)


@pytest.fixture(scope="module")
def local_app(database: Database):
    """An in-process app on the same database, to seed data and read the outcome."""
    from tests.conftest import make_app

    app = make_app(database.url, database.instance)  # the same data key as the processes
    yield app
    with app.app_context():
        from trustseal.extensions import db

        db.engine.dispose()
