"""Reusable pieces of the benchmarks in ``bench/`` (orders, badges, webhooks, reviews).

Everything here talks to real processes: a throw-away PostgreSQL database, the
``trustseal`` command line and gunicorn on loopback. A benchmark is not a test: it
measures, prints a table and says whether a goal was met, and compares figures only with
a baseline measured in the same run (the machine is shared and noisy).

Typical use::

    with fresh_postgres_database() as db_url, tempfile.TemporaryDirectory() as instance:
        migrate(db_url, instance)
        api_key = create_merchant(db_url, instance)
        with gunicorn(db_url, instance, workers=2) as base_url:
            elapsed, statuses = post_json_many(base_url, "/api/v1/orders", bodies,
                                               {"Authorization": f"Bearer {api_key}"})
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import re
import secrets
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
_SERVERS: dict[str, subprocess.Popen[bytes]] = {}  # base URL -> gunicorn master
_NUMERIC = re.compile(r"^[-+]?[\d,]*\.?\d+\s*[x%s]?$")


# --------------------------------------------------------------------------- database


def libpq_url(url: str) -> str:
    """A URL psycopg/libpq accepts: drop SQLAlchemy's ``+driver`` part."""
    scheme, sep, rest = url.partition("://")
    return scheme.split("+", 1)[0] + sep + rest


def sqlalchemy_url(url: str) -> str:
    """A URL SQLAlchemy opens with psycopg 3 (``postgresql+psycopg://``)."""
    return "postgresql+psycopg://" + libpq_url(url).partition("://")[2]


def admin_url() -> str:
    """The maintenance database used to create and drop bench databases."""
    return libpq_url(os.environ.get("TRUSTSEAL_BENCH_DATABASE_URL", DEFAULT_ADMIN_URL))


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return parts._replace(path="/" + name).geturl()


@contextmanager
def fresh_postgres_database(prefix: str = "bench") -> Iterator[str]:
    """Create an empty database ``<prefix>_<random>``; yield its SQLAlchemy URL; drop it.

    The server is the one of ``TRUSTSEAL_BENCH_DATABASE_URL`` (default
    ``postgresql://postgres@127.0.0.1:5432/test``, trust authentication). The database is
    dropped ``WITH (FORCE)`` at exit, so connections left open do not keep it alive.
    """
    admin = admin_url()
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield sqlalchemy_url(_with_database(admin, name))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def server_version() -> str:
    """The PostgreSQL server's version string (short form, e.g. ``15.20``)."""
    with psycopg.connect(admin_url()) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]).split(" ")[0] if row else "?"


def count_rows(db_url: str, table: str) -> int:
    """``SELECT count(*)`` of one table."""
    with psycopg.connect(libpq_url(db_url)) as conn:
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
        ).fetchone()
    return int(row[0]) if row else 0


# --------------------------------------------------------------------------- the service


def service_env(db_url: str, instance_dir: str | Path, **extra: str) -> dict[str, str]:
    """The environment the ``trustseal`` CLI and gunicorn run with in a benchmark."""
    env = dict(os.environ)
    env.update(
        TRUSTSEAL_DATABASE_URL=sqlalchemy_url(db_url),
        TRUSTSEAL_INSTANCE_PATH=str(instance_dir),
        TRUSTSEAL_LOG_LEVEL="WARNING",
        TRUSTSEAL_RATELIMIT_ENABLED="false",
    )
    env.update(extra)
    return env


def _run_cli(db_url: str, instance_dir: str | Path, *args: str) -> str:
    """Run ``.venv/bin/trustseal ARGS`` from the repo root; return its stdout."""
    done = subprocess.run(
        [str(VENV_BIN / "trustseal"), *args],
        cwd=ROOT,
        env=service_env(db_url, instance_dir),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"trustseal {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}"
        )
    return done.stdout


def migrate(db_url: str, instance_dir: str | Path) -> None:
    """Create the schema: ``trustseal db upgrade`` against ``db_url``."""
    _run_cli(db_url, instance_dir, "db", "upgrade")


def create_merchant(
    db_url: str,
    instance_dir: str | Path,
    name: str = "Bench",
    domain: str = "bench.pe",
    email: str = "a@bench.pe",
) -> str:
    """Create a merchant with ``trustseal merchants create --json``; return its API key."""
    out = _run_cli(
        db_url,
        instance_dir,
        "merchants",
        "create",
        "--name",
        name,
        "--domain",
        domain,
        "--email",
        email,
        "--json",
    )
    return str(json.loads(out.strip().splitlines()[-1])["api_key"])


def merchant_id(db_url: str, slug: str = "bench") -> int:
    """The id of the merchant with this slug."""
    with psycopg.connect(libpq_url(db_url)) as conn:
        row = conn.execute("SELECT id FROM merchants WHERE slug = %s", (slug,)).fetchone()
    if row is None:
        raise LookupError(f"no merchant {slug!r}")
    return int(row[0])


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http_ok(
    url: str, timeout: float = 30.0, process: subprocess.Popen[Any] | None = None
) -> None:
    """Poll ``url`` until it answers 200; raise if ``timeout`` passes or ``process`` dies."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer 200 within {timeout:.0f}s")
        time.sleep(0.1)


def gunicorn_label(workers: int, worker_class: str = "sync", threads: int = 1) -> str:
    """A short name for a gunicorn configuration, e.g. ``gthread 2w x 4t``."""
    if worker_class == "gthread" or threads > 1:
        return f"{worker_class} {workers}w x {threads}t"
    return f"{worker_class} {workers}w"


@contextmanager
def gunicorn(
    db_url: str,
    instance_dir: str | Path,
    workers: int = 2,
    app: str = "wsgi:app",
    *,
    worker_class: str = "sync",
    threads: int = 1,
    extra_args: Sequence[str] = (),
    extra_env: Mapping[str, str] | None = None,
    startup_timeout: float = 60.0,
) -> Iterator[str]:
    """Serve ``app`` with gunicorn on a free loopback port; yield its base URL.

    Runs ``.venv/bin/gunicorn --workers N [--worker-class C --threads T] --bind
    127.0.0.1:PORT APP`` from the repo root with :func:`service_env` (logs at WARNING,
    rate limits off) plus ``extra_env``, waits until ``GET /healthz`` answers, and stops
    it (SIGTERM, then SIGKILL) at exit. Its output goes to ``gunicorn.log`` in
    ``instance_dir``; the tail is printed if it fails to start. While it runs,
    :func:`server_pids` gives its processes (for :class:`CpuMeter`).
    """
    port = free_port()
    cmd = [
        str(VENV_BIN / "gunicorn"),
        "--workers",
        str(workers),
        "--worker-class",
        worker_class,
        "--threads",
        str(threads),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        *extra_args,
        app,
    ]
    log_path = Path(instance_dir) / "gunicorn.log"
    env = service_env(db_url, instance_dir, **dict(extra_env or {}))
    with log_path.open("ab") as log:
        process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    _SERVERS[base_url] = process
    try:
        try:
            wait_http_ok(base_url + "/healthz", startup_timeout, process)
        except Exception:
            print(log_path.read_text(errors="replace")[-3000:])
            raise
        yield base_url
    finally:
        del _SERVERS[base_url]
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --------------------------------------------------------------------------- CPU accounting

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds a live process has used (None if it is gone or remote)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime, stime


def child_pids(pid: int) -> list[int]:
    """The direct children of a process (from ``/proc``)."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(stat[1]) == pid:
            children.append(int(entry.name))
    return children


def server_pids(base_url: str) -> list[int]:
    """The gunicorn master and worker pids of a server started by :func:`gunicorn`."""
    master = _SERVERS[base_url].pid
    return [master, *child_pids(master)]


def postgres_backend_pids(db_url: str) -> list[int]:
    """The server processes of the other sessions connected to this database.

    Their CPU is readable only when PostgreSQL runs on this machine (the default).
    """
    with psycopg.connect(libpq_url(db_url), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return [int(row[0]) for row in rows]


class CpuMeter:
    """CPU seconds used by a changing set of processes between :meth:`start` and :meth:`stop`.

    A process first seen at :meth:`stop` is counted from zero (it started meanwhile); one
    that exited meanwhile is lost, so measure while the processes are alive.
    """

    def __init__(self) -> None:
        """An idle meter."""
        self._start: dict[int, float] = {}

    def start(self, pids: Sequence[int]) -> None:
        """Record the CPU already used by ``pids``."""
        self._start = {}
        for pid in pids:
            used = process_cpu_seconds(pid)
            if used is not None:
                self._start[pid] = used

    def stop(self, pids: Sequence[int]) -> float:
        """CPU seconds ``pids`` used since :meth:`start` (NaN if none could be read)."""
        total, seen = 0.0, False
        for pid in set(pids) | set(self._start):
            used = process_cpu_seconds(pid)
            if used is not None:
                total += used - self._start.get(pid, 0.0)
                seen = True
        return total if seen else float("nan")


@dataclass
class ServedCpu:
    """CPU seconds spent during a measured stretch: by the server (gunicorn), by the
    PostgreSQL backends and by this process (the load generator). Filled on exit."""

    app: float = float("nan")
    pg: float = float("nan")
    client: float = float("nan")


@contextmanager
def served_cpu(base_url: str, db_url: str) -> Iterator[ServedCpu]:
    """Measure the CPU of gunicorn at ``base_url``, of ``db_url``'s backends and of this
    process while the ``with`` block runs."""
    measured = ServedCpu()
    app_meter, pg_meter = CpuMeter(), CpuMeter()
    app_meter.start(server_pids(base_url))
    pg_meter.start(postgres_backend_pids(db_url))
    client = time.process_time()
    yield measured
    measured.client = time.process_time() - client
    measured.app = app_meter.stop(server_pids(base_url))
    measured.pg = pg_meter.stop(postgres_backend_pids(db_url))


# --------------------------------------------------------------------------- load


def encode_json_bodies(bodies: Sequence[Any]) -> list[bytes]:
    """Encode request bodies as compact UTF-8 JSON (do it before the clock starts)."""
    return [
        json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        for body in bodies
    ]


def post_json_many(
    base_url: str,
    path: str,
    bodies: Sequence[bytes | Any],
    headers: Mapping[str, str] | None = None,
    concurrency: int = 8,
    *,
    latencies: list[float] | None = None,
    timeout: float = 60.0,
    time_limit: float | None = None,
) -> tuple[float, Counter[int | str]]:
    """POST every body, with the same headers, to ``base_url + path`` (see :func:`post_many`).

    Bodies that are not ``bytes`` are JSON-encoded before timing starts.
    """
    payloads = [b if isinstance(b, bytes) else encode_json_bodies([b])[0] for b in bodies]
    base_headers = {"Content-Type": "application/json", **dict(headers or {})}
    requests = [(body, {**base_headers, "Content-Length": str(len(body))}) for body in payloads]
    return post_many(
        base_url,
        path,
        requests,
        concurrency,
        latencies=latencies,
        timeout=timeout,
        time_limit=time_limit,
    )


def post_many(
    base_url: str,
    path: str,
    requests: Sequence[tuple[bytes, Mapping[str, str]]],
    concurrency: int = 8,
    *,
    latencies: list[float] | None = None,
    timeout: float = 60.0,
    time_limit: float | None = None,
) -> tuple[float, Counter[int | str]]:
    """POST each ``(body, headers)`` to ``base_url + path`` from ``concurrency`` threads.

    Each thread keeps its own keep-alive :class:`http.client.HTTPConnection` (reopened
    transparently when the server closes it, as gunicorn's sync workers do after every
    response). Returns the wall-clock seconds from the first request to the last
    response, and the count of each status code (transport failures are counted under
    the exception's name, not retried). If ``latencies`` is given, each request's
    seconds are appended.

    With ``time_limit`` (seconds), no new request starts after it: requests are taken in
    order, so exactly ``requests[:sum(counts.values())]`` were sent.
    """
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    next_index = itertools.count()  # next() on a count is atomic under the GIL
    total = len(requests)
    counts: list[Counter[int | str]] = [Counter() for _ in range(concurrency)]
    timings: list[list[float]] = [[] for _ in range(concurrency)]
    start_line = threading.Barrier(concurrency + 1)

    def worker(slot: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        mine, took = counts[slot], timings[slot]
        clock = time.perf_counter
        start_line.wait()
        deadline = clock() + time_limit if time_limit is not None else float("inf")
        while clock() < deadline and (i := next(next_index)) < total:
            body, request_headers = requests[i]
            sent = clock()
            try:
                conn.request("POST", path, body, dict(request_headers))
                response = conn.getresponse()
                response.read()
                mine[response.status] += 1
            except (OSError, http.client.HTTPException) as exc:
                mine[type(exc).__name__] += 1
                conn.close()
            took.append(clock() - sent)
        conn.close()

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    start_line.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if latencies is not None:
        for chunk in timings:
            latencies.extend(chunk)
    return elapsed, sum(counts, Counter())


@dataclass(frozen=True)
class Variant:
    """A gunicorn configuration to run an HTTP benchmark on."""

    worker_class: str
    workers: int
    threads: int


def parse_variant(spec: str) -> Variant:
    """``sync:2`` (2 sync workers) or ``gthread:2x4`` (2 workers x 4 threads)."""
    worker_class, _, shape = spec.partition(":")
    workers, _, threads = (shape or "2").partition("x")
    if worker_class not in ("sync", "gthread"):
        raise ValueError(f"unknown worker class in {spec!r} (sync or gthread)")
    default_threads = "4" if worker_class == "gthread" else "1"
    return Variant(worker_class, int(workers), int(threads or default_threads))


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values`` by nearest rank; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# --------------------------------------------------------------------------- reporting


def machine_line() -> str:
    """Where and when this ran: cores, load, PostgreSQL version, date (UTC)."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"machine: nproc={os.cpu_count()}  loadavg={load}  PostgreSQL {server_version()}  "
        f"date={datetime.now(UTC).strftime('%Y-%m-%d %H:%M:%SZ')}"
    )


def print_table(title: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Print rows (dicts with the same keys) as an aligned markdown-style table.

    Columns whose every non-empty cell looks like a number (``1,234``, ``0.42``, ``3.1x``, ``12%``)
    are right-aligned, others left-aligned. Values are shown with ``str``, so format
    floats before passing them.
    """
    print(f"\n{title}\n")
    if not rows:
        print("(no rows)")
        return
    columns = list(rows[0].keys())
    cells = [[str(row.get(col, "")) for col in columns] for row in rows]
    widths = [max(len(col), *(len(r[i]) for r in cells)) for i, col in enumerate(columns)]
    numeric = [
        any(r[i] for r in cells) and all(_NUMERIC.match(r[i]) for r in cells if r[i])
        for i in range(len(columns))
    ]

    def line(values: Sequence[str]) -> str:
        padded = (
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        )
        return "| " + " | ".join(padded) + " |"

    print(line(columns))
    print(
        "|"
        + "|".join(
            "-" * (w + 1) + ":" if num else "-" * (w + 2)
            for w, num in zip(widths, numeric, strict=True)
        )
        + "|"
    )
    for row in cells:
        print(line(row))


def save_results(name: str, payload: Mapping[str, Any]) -> Path:
    """Write a run's figures as JSON to ``bench/results/<name>-<UTC time>.json`` (ignored
    by git); return the path."""
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"{name}-{stamp}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path
