"""The load harness (throw-away databases, the CLI, gunicorn, CPU from ``/proc``, ``wrk`` or
Python threads for load) and the results tables."""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
ADMIN_URL = os.environ.get(
    "TRUSTSEAL_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
GOALS: list[dict[str, str]] = []  # the results table: a row per goal or informative ratio
TABLES: dict[str, list[dict[str, Any]]] = {}  # the tables behind it, by title
TIMES: dict[str, float] = {}  # seconds of each in-process benchmark (its median), by key
RUNS: dict[str, list[float]] = {}  # seconds of each round of an alternated case, by key
SUMMARIES: list[Callable[[], None]] = []  # turn TIMES into GOALS at the end of the run
BIG_LABEL = "1M"  # the big merchant's reviews, as the tables say it
TICKS = os.sysconf("SC_CLK_TCK")


def pq(url: str) -> str:
    """The libpq form of a SQLAlchemy URL."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextmanager
def migrated(prefix: str = "bench") -> Iterator[tuple[str, str]]:
    """A fresh database ``<prefix>_<random>`` after ``trustseal db upgrade``: (URL, instance)."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        with tempfile.TemporaryDirectory() as instance:
            server = ADMIN_URL.split("://", 1)[1].rsplit("/", 1)[0]
            db_url = f"postgresql+psycopg://{server}/{name}"
            cli(db_url, instance, "db", "upgrade")
            yield db_url, instance
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(name)))


def env(db_url: str, instance: str, **extra: str) -> dict[str, str]:
    """The CLI's and gunicorn's environment: logs at WARNING, rate limits off."""
    return {**os.environ, "TRUSTSEAL_DATABASE_URL": db_url, "TRUSTSEAL_INSTANCE_PATH": instance,
            "TRUSTSEAL_LOG_LEVEL": "WARNING", "TRUSTSEAL_RATELIMIT_ENABLED": "false",
            **extra}  # fmt: skip


def cli(db_url: str, instance: str, *args: str) -> str:
    """``trustseal ARGS``; its output."""
    done = subprocess.run([BIN / "trustseal", *args], cwd=ROOT, env=env(db_url, instance),
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode:
        raise RuntimeError(f"trustseal {' '.join(args)}: {done.stderr[-2000:]}")
    return done.stdout


def create_merchant(db_url: str, instance: str) -> str:
    """``trustseal merchants create --json``: the merchant's API key."""
    out = cli(db_url, instance, "merchants", "create", "--name", "Bench", "--domain", "bench.pe",
              "--email", "a@bench.pe", "--json")  # fmt: skip
    return str(json.loads(out.strip().splitlines()[-1])["api_key"])


def fetch(url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
    """One GET (or POST of ``body``): (status, body, headers), 3xx/4xx answers included."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, body, headers or {})) as answer:
            return answer.status, answer.read(), answer.headers
    except urllib.error.HTTPError as answer:
        return answer.code, answer.read(), answer.headers


@contextmanager
def gunicorn(
    db_url: str, instance: str, variant: str = "sync:2", app: str = "wsgi:app", **extra: str
) -> Iterator[tuple[str, int]]:
    """Serve ``app`` (``sync:W`` or ``gthread:WxT``) on loopback; once ``/healthz`` answers,
    yield its URL and the master's pid. ``extra``: environment variables."""
    kind, _, shape = variant.partition(":")
    workers, _, threads = shape.partition("x")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    log = Path(instance) / "gunicorn.log"
    cmd = [BIN / "gunicorn", "-w", workers, "-k", kind, "--threads", threads or "1",
           "-b", url[7:], "--log-level", "warning", app]  # fmt: skip
    with log.open("ab") as out:
        process = subprocess.Popen(cmd, cwd=ROOT, env=env(db_url, instance, **extra),
                                   stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        for _ in range(600):
            with contextlib.suppress(OSError):
                if process.poll() is None and fetch(url + "/healthz")[0] == 200:
                    break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"gunicorn did not start:\n{log.read_text()[-3000:]}")
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def _stat(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return []


def cpu_of(pids: Sequence[int]) -> dict[int, float]:
    """User + system CPU seconds of each live process."""
    return {p: (int(s[11]) + int(s[12])) / TICKS for p in pids if (s := _stat(p))}


def family(master: int) -> list[int]:
    """A process and its children (gunicorn's master and workers)."""
    pids = (int(p.name) for p in Path("/proc").glob("[0-9]*"))
    return [master, *(pid for pid in pids if _stat(pid)[1:2] == [str(master)])]


def backends(db_url: str) -> list[int]:
    """The PostgreSQL server processes of the other sessions on this database."""
    query = "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
    with psycopg.connect(pq(db_url), autocommit=True) as conn:
        return [r[0] for r in conn.execute(query + " AND pid <> pg_backend_pid()")]


def _busy() -> float:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / TICKS  # all cores, less idle and iowait


@contextmanager
def cpu_used(master: int, db_url: str) -> Iterator[dict[str, float]]:
    """CPU seconds of gunicorn (``app``), the database's backends (``pg``) and this process
    (``client``) while inside; ``others``: the rest of the machine, in cores."""
    used: dict[str, float] = {}
    app, pg = cpu_of(family(master)), cpu_of(backends(db_url))
    client, busy, started = time.process_time(), _busy(), time.perf_counter()
    yield used
    used["client"] = time.process_time() - client
    for name, before, now in (("app", app, family(master)), ("pg", pg, backends(db_url))):
        after = cpu_of(list(set(now) | set(before)))
        used[name] = sum(after[p] - before.get(p, 0.0) for p in after)
    ours = used["app"] + used["pg"] + used["client"]
    used["others"] = (_busy() - busy - ours) / (time.perf_counter() - started)


def python_load(url: str, method: str, path: str, requests: Callable[[int], tuple[Any, Any]],
                total: int, concurrency: int = 8, time_limit: float | None = None) -> Any:
    """Send ``requests(i)`` = (body, headers) for i < ``total`` in order from ``concurrency``
    threads, a keep-alive connection each, none after ``time_limit`` s (so exactly the first
    ``sum(counts)`` were sent): seconds, count of each status (or exception), latencies."""
    order, start = itertools.count(), threading.Barrier(concurrency + 1)  # next(): atomic
    counts: list[Counter[int | str]] = [Counter() for _ in range(concurrency)]
    took: list[float] = []

    def worker(mine: Counter[int | str]) -> None:
        conn, clock = http.client.HTTPConnection(urlsplit(url).netloc), time.perf_counter
        start.wait()
        deadline = clock() + (time_limit or float("inf"))
        while clock() < deadline and (i := next(order)) < total:
            sent = clock()
            try:
                conn.request(method, path, *requests(i))
                answer = conn.getresponse()
                answer.read()
                mine[answer.status] += 1
                if answer.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                mine[type(exc).__name__] += 1
                conn.close()
            took.append(clock() - sent)

    threads = [threading.Thread(target=worker, args=(c,), daemon=True) for c in counts]
    for thread in threads:
        thread.start()
    start.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, sum(counts, Counter()), took


def get_load(url: str, path: str, headers: dict[str, str], seconds: float) -> tuple[Any, ...]:
    """GET ``path`` for ``seconds`` from 4 connections by ``wrk -t1``, or Python threads when
    wrk is missing or ``BENCH_LOADGEN=python``: requests, seconds, errors."""
    if os.environ.get("BENCH_LOADGEN") == "python" or shutil.which("wrk") is None:
        same = lambda i: (None, headers)  # noqa: E731
        took, counts, _ = python_load(url, "GET", path, same, 2**62, 4, seconds)
        bad = sum(n for code, n in counts.items() if not (isinstance(code, int) and code < 400))
        return sum(counts.values()), took, bad
    options = ["-c4", f"-d{seconds:g}s", *(f"-H{k}: {v}" for k, v in headers.items())]
    cmd = ["wrk", "-t1", "--timeout", "10s", *options, url + path]
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    done = re.search(r"(\d+) requests in ([\d.]+)(m?s|m),", out)
    assert done, f"unexpected wrk output: {out}"
    bad = re.findall(r"Non-2xx or 3xx responses: (\d+)|(?:connect|read|write|timeout) (\d+)", out)
    scale = {"s": 1.0, "ms": 1e-3, "m": 60.0}[done[3]]
    return int(done[1]), float(done[2]) * scale, sum(int(a or b) for a, b in bad)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank; NaN when empty."""
    ordered = sorted(values)
    return ordered[round(q * (len(ordered) - 1))] if ordered else float("nan")


def alternate(benchmark: Any, key: str, cases: dict[str, Any], target: Callable[[Any], Any],
              rounds: int, setup: Callable[[Any], Any] = lambda c: c, **kw: Any) -> None:
    """Benchmark ``target(setup(case))`` for each case in turn, round after round, so that a
    busy moment of the machine hits every case: ``RUNS[f"{key} {case}"]`` are its rounds,
    ``TIMES[...]`` their median; :func:`paired` compares two cases round by round."""
    names, turn = list(cases), itertools.count()
    arguments = lambda: ((setup(cases[names[next(turn) % len(names)]]),), {})  # noqa: E731
    benchmark.pedantic(target, setup=arguments, rounds=rounds * len(names), **kw)
    for i, name in enumerate(names):
        RUNS[f"{key} {name}"] = benchmark.stats.stats.data[i :: len(names)]
        TIMES[f"{key} {name}"] = statistics.median(RUNS[f"{key} {name}"])


def paired(top: str, bottom: str) -> float:
    """The median of the per-round ratios of two alternated cases."""
    return statistics.median(a / b for a, b in zip(RUNS[top], RUNS[bottom], strict=True))


def against_healthz(db_url: str, instance: str, runs: dict[str, str], rounds: int,
                    seconds: float, title: str, bench: str,
                    limits: dict[str, float]) -> None:  # fmt: skip
    """Load each path of ``runs`` (``healthz`` among them) in turns on one gunicorn (sync, 2
    workers; the order reversed every other round), each checked first to answer 200; add
    the table ``title`` and a goal row per path, its ratio the median of the per-round
    ratios to ``/healthz`` (``limits``: at least that ratio; the others informative)."""
    with gunicorn(db_url, instance, "sync:2") as (url, pid):
        for path in runs.values():
            status, _, _ = fetch(url + path)
            assert status == 200, (path, status)
            get_load(url, path, {}, 1.0)
        rates: dict[str, list[float]] = {name: [] for name in runs}
        cpu = {name: [0.0, 0] for name in runs}
        for turn in range(rounds):
            for name in list(runs)[:: -1 if turn % 2 else 1]:
                with cpu_used(pid, db_url) as used:
                    done, took, errors = get_load(url, runs[name], {}, seconds)
                assert errors == 0, (name, errors)
                rates[name].append(done / took)
                cpu[name] = [cpu[name][0] + used["app"], cpu[name][1] + done]

    def ratio(name: str) -> float:
        return statistics.median(a / b for a, b in zip(rates[name], rates["healthz"], strict=True))

    TABLES[title] = [
        {"endpoint": name, "path": runs[name],
         "req/s": f"{statistics.mean(rates[name]):,.0f}", "vs healthz": f"{ratio(name):.2f}x",
         "per round": " / ".join(f"{r:,.0f}" for r in rates[name]),
         "gunicorn cpu ms/req": ms(cpu[name][0] / cpu[name][1])}
        for name in runs
    ]  # fmt: skip
    healthz = f"{statistics.mean(rates['healthz']):,.0f}"
    for name in runs:
        if name != "healthz":
            goal(bench, f"GET {runs[name]} req/s ({name})",
                 f"{statistics.mean(rates[name]):,.0f}", "GET /healthz", healthz, ratio(name),
                 limits.get(name), at_least=True)  # fmt: skip


def goal(bench: str, measure: str, value: str, base: str, base_value: str, ratio: float,
         limit: float | None = None, at_least: bool = False) -> None:  # fmt: skip
    """A row of the goals table; without ``limit``, informative."""
    verdict = "" if limit is None else ratio >= limit if at_least else ratio <= limit
    GOALS.append({"bench": bench, "measure": measure, "value": value, "baseline": base,
                  "baseline value": base_value, "ratio": f"{ratio:.2f}x",
                  "goal": "(info)" if limit is None else f"{'>=' if at_least else '<='} {limit:g}x",
                  "result": {"": "", True: "MET", False: "NOT MET"}[verdict]})  # fmt: skip


def us(seconds: float) -> str:
    """Microseconds."""
    return f"{seconds * 1e6:,.{1 if seconds < 1e-4 else 0}f}"


def ms(seconds: float) -> str:
    """Milliseconds: two decimals, four under 0.1 ms."""
    return "" if seconds != seconds else f"{seconds * 1e3:.{2 if seconds >= 1e-4 else 4}f}"


def table(title: str, rows: Sequence[dict[str, Any]]) -> str:
    """Rows as an aligned markdown table, numeric columns right-aligned."""
    cells = [[str(v) for v in row.values()] for row in rows]
    heads = list(rows[0])
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(heads)]
    number = re.compile(r"^[-+]?[\d,]*\.?\d+\s*[x%s]?$")
    right = [all(number.match(r[i]) for r in cells if r[i]) and any(r[i] for r in cells)
             for i in range(len(heads))]  # fmt: skip

    def line(values: Sequence[str]) -> str:
        cells = zip(values, widths, right, strict=True)
        return "| " + " | ".join(v.rjust(w) if r else v.ljust(w) for v, w, r in cells) + " |"

    rule = "|".join("-" * (w + 1) + (":" if r else "-") for w, r in zip(widths, right, strict=True))
    return "\n".join([f"\n{title}\n", line(heads), f"|{rule}|", *map(line, cells)])


def machine_line() -> str:
    """Cores, load, PostgreSQL version and time of the run."""
    with psycopg.connect(ADMIN_URL) as conn:
        version = str(conn.execute("SHOW server_version").fetchone()[0]).split()[0]  # type: ignore[index]
    load, now = ", ".join(f"{x:.2f}" for x in os.getloadavg()), datetime.now(UTC)
    return f"machine: nproc={os.cpu_count()} loadavg={load} PostgreSQL {version} {now:%F %TZ}"


def save(quick: bool) -> Path:
    """Write the run's figures to ``bench/results/`` (ignored by git)."""
    path = ROOT / "bench" / "results" / f"{'quick-' * quick}{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.parent.mkdir(exist_ok=True)
    figures = {"goals": GOALS, "tables": TABLES, "times_s": TIMES, "machine": machine_line()}
    path.write_text(json.dumps(figures, indent=1, default=str) + "\n")
    return path
