"""Badges: render + sign next to pybadges and badge-maker, the served hot path, and
flatness in the number of reviews — all in one run on this machine.

The issue:

(a) *cold render + sign of the compact style: faster than ``pybadges`` by 4x and within
    2x of shields' ``badge-maker`` per badge, despite signing;*
(b) *requests/s of ``GET /badges/{slug}.svg`` under gunicorn (2 workers, loopback,
    PostgreSQL) >= 80% of a bare Flask endpoint returning a constant of the same size in
    the same server;*
(c) *the same with ``If-None-Match`` (304): its rate and ratio;*
(d) *render time with 10 and with 1,000,000 reviews: flat (<= 1.1x).*

How each part is measured is in ``bench/README.md``. In short:

* (a) in this process, the ``badges`` package called directly: ``layout.layout`` →
  ``svg.render`` → ``jws.sign`` (Ed25519, a generated key) of the badge's claims with
  ``assertion.sha256_hex`` → ``assertion.embed_assertion``; next to ``pybadges.badge()``
  with the same two texts, and ``makeBadge({label, message, color})`` timed inside a
  ``node`` process (start-up and JIT warm-up excluded). Each round runs all of them back
  to back; a ratio is the median of the per-round ratios.
* (b, c) gunicorn (2 sync workers) serving ``wsgi.app`` plus one extra route,
  ``/bench-constant``, added by a module written to a temp folder outside the repo: the
  same bytes as the badge, same mimetype, same server and workers. Load from ``wrk``
  (``--loadgen python`` for a threaded keep-alive client); the three endpoints take turns
  for ``--rounds`` rounds of ``--seconds`` each; a ratio is the median of the per-round
  ratios.
* (d) in process, ``service.badge()`` after ``service.clear_cache()`` (cold) or not
  (hot), for a merchant with 10 reviews and one with 1,000,000 (``--quick``: 100,000),
  interleaved, median of ``--reps``; the reviews are bulk-loaded with the loader of
  ``bench/reviews.py`` (psycopg COPY).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def _load_the_package_instead() -> None:
    """Put the real ``badges`` package in ``sys.modules`` in place of this file.

    Python puts a script's folder first on ``sys.path``, so for every script in
    ``bench/`` (this one, ``reviews.py``, ``log.py``...) the ``import badges`` that
    trustseal itself does finds this file before the package. Imported under that name,
    this file loads the package (``<repo>/badges``) and steps aside: the import system
    returns whatever ``sys.modules["badges"]`` holds once the module has run. The rest
    of the file then only defines constants and functions, none of them called.
    """
    package_dir = Path(__file__).resolve().parent.parent / "badges"
    spec = importlib.util.spec_from_file_location(
        "badges", package_dir / "__init__.py", submodule_search_locations=[str(package_dir)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["badges"] = module
    spec.loader.exec_module(module)


if __name__ == "badges":
    _load_the_package_instead()
else:
    from _harness import (
        fresh_postgres_database,
        gunicorn,
        machine_line,
        migrate,
        print_table,
        save_results,
        served_cpu,
    )
    from reviews import (
        bulk_load_reviews,
        certified_merchant,
        fmt_ratio,
        make_bench_app,
        profile_call,
        size_label,
    )

    from badges import assertion, svg  # the package, see _load_the_package_instead
    from badges import layout as layouts
    from trustseal.badging import service
    from trustseal.extensions import db
    from trustseal.signing import jws
    from trustseal.transparency import numbers

LEFT = "Sello de Confianza"
RIGHT = "★ 4,6 · 1.234 opiniones"
# What trustseal/badging/service.py labels("es") gives (the words the compact style uses).
LABELS_ES = {
    "seal_short": "Sello de Confianza",
    "seal_full": "Sello de Confianza Online",
    "review_one": "opinión",
    "review_many": "opiniones",
    "status_active": "VIGENTE",
}
GOAL_VS_PYBADGES = 4.0  # pybadges time / trustseal time >= 4
GOAL_VS_BADGE_MAKER = 2.0  # trustseal time / badge-maker time <= 2
GOAL_SERVED = 0.80  # badge rate / constant rate >= 0.80
GOAL_FLAT = 1.1  # 1M time / 10 time <= 1.1
GOAL_CHECKED_COLD = 1.2  # cold badge checked against the log's replay / unchecked <= 1.2
FULL_BIG = 1_000_000
QUICK_BIG = 100_000
SERVED_REVIEWS = 1_000

CONSTANT_MODULE = '''"""Bench only: trustseal's WSGI app plus a constant SVG endpoint."""
import os

from flask import Response

from wsgi import app

with open(os.environ["BENCH_CONSTANT_FILE"], "rb") as handle:
    _BODY = handle.read()


@app.get("/bench-constant")
def bench_constant():
    return Response(_BODY, mimetype="image/svg+xml")
'''

NODE_SCRIPT = """
const { makeBadge } = require('badge-maker');
const [n, rounds] = process.argv.slice(2).map(Number);
const format = { label: process.env.BM_LABEL, message: process.env.BM_MESSAGE,
                 color: process.env.BM_COLOR };
let bytes = 0;
for (let i = 0; i < 5000; i++) bytes += makeBadge(format).length;  // JIT warm-up
const perBadgeNs = [];
for (let r = 0; r < rounds; r++) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) bytes += makeBadge(format).length;
  perBadgeNs.push(Number(process.hrtime.bigint() - t0) / n);
}
console.log(JSON.stringify({ perBadgeNs, bytes: Buffer.byteLength(makeBadge(format)) }));
"""


def fmt_us(seconds: float) -> str:
    """Microseconds, no decimals."""
    return f"{seconds * 1e6:,.0f}"


def fmt_ms(seconds: float) -> str:
    """Milliseconds, two decimals."""
    return f"{seconds * 1e3:.2f}"


def met(ok: bool) -> str:
    """MET / NOT MET."""
    return "MET" if ok else "NOT MET"


# --------------------------------------------------------------------------- (a) render


def compact_view() -> layouts.BadgeView:
    """The BadgeView whose compact badge reads ``Sello de Confianza | ★ 4,6 · 1.234 opiniones``."""
    return layouts.BadgeView(
        status="active",
        name="Bodega Ñandú",
        domain="bodega.pe",
        labels=LABELS_ES,
        lang="es",
        score=4.6,
        rating_count=1234,
        history=(80, 95, 101, 97, 110, 120, 99, 104, 115, 108, 102, 103),
        response_rate=0.9,
        verify_url="https://trustseal.pe/verify/bodega",
    )


@dataclass
class Signer:
    """What ``_render`` in trustseal/badging/service.py does after the view, minus the DB."""

    key: Ed25519PrivateKey = field(default_factory=lambda: Ed25519PrivateKey.generate())
    kid: str = ""

    def __post_init__(self) -> None:
        """Compute the key id (RFC 7638 thumbprint), as the signing domain does."""
        self.kid = jws.thumbprint(jws.public_jwk(self.key.public_key()))

    def claims(self, view: layouts.BadgeView, plain: bytes) -> dict[str, Any]:
        """The assertion claims of trustseal/badging/service.py ``assertion_claims``."""
        now = int(time.time())
        return {
            "iss": "https://trustseal.pe",
            "sub": "bodega",
            "domain": view.domain,
            "seal_status": view.status,
            "valid_until": "2027-11-22T00:00:00Z",
            "score": view.score,
            "rating_count": view.rating_count,
            "history": list(view.history),
            "iat": now,
            "exp": now + 7 * 86400,
            "log": {"tree_size": 1_234_567, "root_hash": "ab" * 32},
            "svg_sha256": assertion.sha256_hex(plain),
        }

    def badge(self, view: layouts.BadgeView, sign: bool = True) -> bytes:
        """Layout → SVG → (sign the claims → embed the JWS): one cold badge."""
        shape = layouts.layout(view, "compact")
        uid = hashlib.sha256(repr(("bodega", "compact", "es", (1, 2))).encode()).hexdigest()[:10]
        plain = svg.render(shape, uid)
        if not sign:
            return plain
        token = jws.sign(self.claims(view, plain), self.key, self.kid)
        return assertion.embed_assertion(plain, token)


def per_call(call: Callable[[], object], n: int) -> float:
    """Seconds per call of ``n`` calls in a row."""
    started = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - started) / n


def run_badge_maker(directory: Path, n: int, rounds: int) -> dict[str, Any] | None:
    """Time ``makeBadge`` in one node process; None if node or badge-maker is missing."""
    node = shutil.which("node")
    if node is None or not (directory / "node_modules" / "badge-maker").is_dir():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bench_badge_maker.js"
        script.write_text(NODE_SCRIPT)
        env = {
            **os.environ,
            "NODE_PATH": str(directory / "node_modules"),
            "BM_LABEL": LEFT,
            "BM_MESSAGE": RIGHT,
            "BM_COLOR": layouts.GREEN,
        }
        done = subprocess.run(
            [node, str(script), str(n), str(rounds)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def package_version(directory: Path) -> str:
    """badge-maker's version from its package.json."""
    meta = directory / "node_modules" / "badge-maker" / "package.json"
    return str(json.loads(meta.read_text())["version"]) if meta.exists() else "not installed"


def bench_render(args: argparse.Namespace) -> dict[str, Any]:
    """Part (a): per-badge seconds of trustseal, pybadges and badge-maker."""
    try:
        import pybadges
    except ImportError:
        pybadges = None
    view = compact_view()
    signer = Signer()
    plain_text = signer.badge(view, sign=False).decode()
    assert LEFT in plain_text and RIGHT in plain_text, "the compact badge does not read as expected"
    n, rounds = args.render_n, args.render_rounds
    bm_dir = Path(args.badge_maker_dir)

    def pb_call() -> object:
        assert pybadges is not None
        return pybadges.badge(left_text=LEFT, right_text=RIGHT, right_color=layouts.GREEN)

    for call in (lambda: signer.badge(view), lambda: signer.badge(view, sign=False), pb_call):
        if call is not pb_call or pybadges is not None:
            per_call(call, 50)  # warm-up: imports, template compilation, caches
    times: dict[str, list[float]] = {
        "trustseal": [],
        "trustseal_unsigned": [],
        "pybadges": [],
        "badge_maker": [],
    }
    bm_bytes = None
    for _ in range(rounds):  # each round runs all four, so a round's ratios are paired
        times["trustseal"].append(per_call(lambda: signer.badge(view), n))
        times["trustseal_unsigned"].append(per_call(lambda: signer.badge(view, sign=False), n))
        if pybadges is not None:
            times["pybadges"].append(per_call(pb_call, max(1, n // 3)))
        node = run_badge_maker(bm_dir, n, 1)
        if node is not None:
            times["badge_maker"].append(node["perBadgeNs"][0] / 1e9)
            bm_bytes = node["bytes"]

    def paired(top: str, bottom: str) -> float | None:
        if not times[top] or not times[bottom]:
            return None
        return paired_ratio(times[top], times[bottom])

    # the parts of one trustseal badge (informative)
    parts: dict[str, list[float]] = {"layout": [], "svg.render": [], "claims+sign": [], "embed": []}
    clock = time.perf_counter
    for _ in range(n):
        t0 = clock()
        shape = layouts.layout(view, "compact")
        t1 = clock()
        plain = svg.render(shape, "0123456789")
        t2 = clock()
        token = jws.sign(signer.claims(view, plain), signer.key, signer.kid)
        t3 = clock()
        assertion.embed_assertion(plain, token)
        t4 = clock()
        for name, took in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            parts[name].append(took)
    result: dict[str, Any] = {
        "n": n,
        "rounds": rounds,
        "trustseal_s": statistics.median(times["trustseal"]),
        "trustseal_unsigned_s": statistics.median(times["trustseal_unsigned"]),
        "pybadges_s": statistics.median(times["pybadges"]) if times["pybadges"] else None,
        "badge_maker_s": statistics.median(times["badge_maker"]) if times["badge_maker"] else None,
        "best_s": {k: min(v) for k, v in times.items() if v},
        "pybadges_over_trustseal": paired("pybadges", "trustseal"),
        "trustseal_over_badge_maker": paired("trustseal", "badge_maker"),
        "unsigned_over_badge_maker": paired("trustseal_unsigned", "badge_maker"),
        "rounds_s": times,
        "parts_s": {k: statistics.median(v) for k, v in parts.items()},
        "bytes": {
            "trustseal": len(signer.badge(view)),
            "trustseal_unsigned": len(plain_text.encode()),
            "pybadges": len(str(pb_call()).encode()) if pybadges is not None else None,
            "badge_maker": bm_bytes,
        },
        "pybadges_version": importlib.metadata.version("pybadges") if pybadges else None,
        "badge_maker_version": package_version(bm_dir),
    }
    if args.profile:
        print("\ncProfile: 2,000 trustseal compact badges (render + sign)")
        print(profile_call(lambda: signer.badge(view), 2000, limit=25))
    return result


# --------------------------------------------------------------------------- (b, c) served


_WRK_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
_WRK_TOTAL = re.compile(r"(\d+) requests in ([\d.]+)(\w+),")
_WRK_BAD = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_WRK_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


@dataclass
class LoadRun:
    """One timed load run against one path."""

    requests: int
    seconds: float
    errors: int
    app_cpu_s: float  # gunicorn master and workers
    pg_cpu_s: float  # PostgreSQL backends of the database

    @property
    def rate(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0


def wrk_run(
    base_url: str, path: str, headers: Mapping[str, str], seconds: float, connections: int
) -> tuple[int, float, int]:
    """Run wrk; return (requests, seconds, error count: non-2xx/3xx plus socket errors)."""
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    done = subprocess.run(
        [*cmd, base_url + path], capture_output=True, text=True, check=True, timeout=seconds + 60
    )
    out = done.stdout
    total = _WRK_TOTAL.search(out)
    if total is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}\n{done.stderr}")
    unit = {"s": 1.0, "ms": 1e-3, "m": 60.0}[total.group(3)]
    errors = int(m.group(1)) if (m := _WRK_BAD.search(out)) else 0
    if socket := _WRK_SOCKET.search(out):
        errors += sum(int(x) for x in socket.groups())
    return int(total.group(1)), float(total.group(2)) * unit, errors


def python_run(
    base_url: str, path: str, headers: Mapping[str, str], seconds: float, connections: int
) -> tuple[int, float, int]:
    """A threaded GET load generator (keep-alive connections, reopened when closed)."""
    parts = urlsplit(base_url)
    counts: list[Counter[int | str]] = [Counter() for _ in range(connections)]
    start_line = threading.Barrier(connections + 1)

    def worker(slot: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
        mine = counts[slot]
        start_line.wait()
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            try:
                conn.request("GET", path, headers=dict(headers))
                response = conn.getresponse()
                response.read()
                mine[response.status] += 1
                if response.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                mine[type(exc).__name__] += 1
                conn.close()
        conn.close()

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(connections)]
    for thread in threads:
        thread.start()
    start_line.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    total = sum(counts, Counter())
    errors = sum(v for k, v in total.items() if not (isinstance(k, int) and k < 400))
    return sum(total.values()), elapsed, errors


def fetch(url: str, headers: Mapping[str, str] | None = None) -> tuple[int, bytes, Any]:
    """One GET: status, body, headers (304 included)."""
    request = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers


def bench_served(
    args: argparse.Namespace, db_url: str, instance: str, slug: str, constant: bytes
) -> dict[str, Any]:
    """Parts (b) and (c): badge, badge + If-None-Match and the constant, same gunicorn."""
    loadgen = args.loadgen
    if loadgen == "wrk" and shutil.which("wrk") is None:
        print("wrk not found (apt-get install -y wrk): using the Python load generator")
        loadgen = "python"
    run = wrk_run if loadgen == "wrk" else python_run
    with tempfile.TemporaryDirectory(prefix="trustseal-bench-wsgi-") as module_dir:
        (Path(module_dir) / "bench_constant_app.py").write_text(CONSTANT_MODULE)
        constant_file = Path(module_dir) / "constant.svg"
        constant_file.write_bytes(constant)
        with gunicorn(
            db_url,
            instance,
            workers=2,
            app="bench_constant_app:app",
            extra_args=["--pythonpath", module_dir],
            extra_env={"BENCH_CONSTANT_FILE": str(constant_file)},
        ) as base:
            badge_path = f"/badges/{slug}.svg"
            status, body, headers = fetch(base + badge_path)
            assert status == 200, status
            etag = headers["ETag"]
            status_304, body_304, _ = fetch(base + badge_path, {"If-None-Match": etag})
            assert status_304 == 304 and not body_304, status_304
            status_c, body_c, headers_c = fetch(base + "/bench-constant")
            assert status_c == 200 and headers_c["Content-Type"].startswith("image/svg+xml")
            endpoints: dict[str, tuple[str, dict[str, str]]] = {
                "constant": ("/bench-constant", {}),
                "healthz": ("/healthz", {}),
                "badge": (badge_path, {}),
                "badge 304": (badge_path, {"If-None-Match": etag}),
            }
            for path, extra in endpoints.values():  # every worker renders and caches once
                run(base, path, extra, 1.0, args.connections)
            runs: dict[str, list[LoadRun]] = {name: [] for name in endpoints}
            for round_no in range(args.rounds):
                names = list(endpoints)
                if round_no % 2:
                    names.reverse()
                for name in names:
                    path, extra = endpoints[name]
                    with served_cpu(base, db_url) as used:
                        requests, seconds, errors = run(
                            base, path, extra, args.seconds, args.connections
                        )
                    runs[name].append(LoadRun(requests, seconds, errors, used.app, used.pg))
    summary: dict[str, Any] = {
        "loadgen": loadgen,
        "connections": args.connections,
        "badge_bytes": len(body),
        "constant_bytes": len(body_c),
        "etag": etag,
    }
    for name, done in runs.items():
        requests = sum(r.requests for r in done)
        seconds = sum(r.seconds for r in done)
        summary[name] = {
            "rate": requests / seconds,
            "round_rates": [r.rate for r in done],
            "ratio": statistics.median(
                r.rate / c.rate for r, c in zip(done, runs["constant"], strict=True)
            ),
            "errors": sum(r.errors for r in done),
            "app_cpu_ms_per_req": 1000 * sum(r.app_cpu_s for r in done) / max(1, requests),
            "pg_cpu_ms_per_req": 1000 * sum(r.pg_cpu_s for r in done) / max(1, requests),
            "requests": requests,
        }
    return summary


# --------------------------------------------------------------------------- (d) flat


@contextmanager
def as_before_the_log_check() -> Iterator[None]:
    """Render badges as before the numbers were checked against the log's replay: the
    database's numbers alone, signed with the latest log head (the cost of the check is
    the ratio of a cold badge with and without it, measured back to back)."""

    def unchecked(merchant: Any, now: Any, stored: Any = None) -> Any:
        return service.stored_numbers(merchant, now, stored), numbers.MerchantState()

    checked = service.checked_numbers
    service.checked_numbers = unchecked
    try:
        yield
    finally:
        service.checked_numbers = checked


def bench_flat(
    app: Any, slugs: Mapping[int, str], reps: int, profile: bool
) -> dict[str, dict[int, list[float]]]:
    """Cold and hot ``service.badge`` per merchant size, interleaved; seconds per call."""
    times: dict[str, dict[int, list[float]]] = {"cold": {}, "hot": {}, "cold unchecked": {}}
    with app.app_context():
        sizes = list(slugs)
        for size in sizes:  # warm-up, and check what the badge says
            for _ in range(3):
                service.clear_cache()
                rendered = service.badge(slugs[size])
                db.session.remove()
            assert rendered.status_code == 200
            text = rendered.body.decode()
            assert "★" in text and "opiniones" in text, text[:400]
        for kind in times:
            times[kind] = {size: [] for size in sizes}
        clock = time.perf_counter
        for rep in range(reps):
            for size in sizes if rep % 2 == 0 else sizes[::-1]:
                service.clear_cache()
                started = clock()
                service.badge(slugs[size])
                times["cold"][size].append(clock() - started)
                db.session.remove()
                started = clock()  # the cache now holds this badge
                service.badge(slugs[size])
                times["hot"][size].append(clock() - started)
                db.session.remove()
                service.clear_cache()
                with as_before_the_log_check():
                    started = clock()
                    service.badge(slugs[size])
                    times["cold unchecked"][size].append(clock() - started)
                db.session.remove()
        if profile:
            big = max(sizes)

            def cold() -> None:
                service.clear_cache()
                service.badge(slugs[big])
                db.session.remove()

            print(f"\ncProfile: 200 cold service.badge() at {size_label(big)} reviews")
            print(profile_call(cold, 200, limit=30))
        db.session.remove()
    return times


# --------------------------------------------------------------------------- report


def paired_ratio(top: Sequence[float], bottom: Sequence[float]) -> float:
    """The median of ``top[i] / bottom[i]``: each pair was measured back to back."""
    return statistics.median(a / b for a, b in zip(top, bottom, strict=True))


def rows_for(
    render: dict[str, Any],
    served: dict[str, Any] | None,
    flat: dict[str, dict[int, list[float]]],
    small: int,
    big: int,
) -> list[dict[str, str]]:
    """The one summary table."""
    rows: list[dict[str, str]] = []
    ts = render["trustseal_s"]
    pb, bm = render["pybadges_s"], render["badge_maker_s"]

    def row(
        part: str,
        what: str,
        value: str,
        base: str,
        base_value: str,
        ratio: str,
        goal: str,
        result: str,
    ) -> None:
        rows.append(
            {
                "part": part,
                "measure": what,
                "value": value,
                "baseline": base,
                "baseline value": base_value,
                "ratio": ratio,
                "goal": goal,
                "result": result,
            }
        )

    if pb is not None:
        row(
            "a",
            "trustseal render+sign µs/badge",
            fmt_us(ts),
            "pybadges.badge()",
            fmt_us(pb),
            fmt_ratio(render["pybadges_over_trustseal"]),
            f">= {GOAL_VS_PYBADGES:g}x faster",
            met(render["pybadges_over_trustseal"] >= GOAL_VS_PYBADGES),
        )
    else:
        row("a", "trustseal render+sign µs/badge", fmt_us(ts), "pybadges", "n/a", "", "", "n/a")
    if bm is not None:
        row(
            "a",
            "trustseal render+sign µs/badge",
            fmt_us(ts),
            "badge-maker makeBadge",
            fmt_us(bm),
            fmt_ratio(render["trustseal_over_badge_maker"]),
            f"<= {GOAL_VS_BADGE_MAKER:g}x slower",
            met(render["trustseal_over_badge_maker"] <= GOAL_VS_BADGE_MAKER),
        )
    else:
        row("a", "trustseal render+sign µs/badge", fmt_us(ts), "badge-maker", "n/a", "", "", "n/a")
    unsigned = render["trustseal_unsigned_s"]
    if bm is not None:
        row(
            "a",
            "trustseal render only (no sign) µs",
            fmt_us(unsigned),
            "badge-maker makeBadge",
            fmt_us(bm),
            fmt_ratio(render["unsigned_over_badge_maker"]),
            "(info)",
            "",
        )
    if served is not None:
        constant = served["constant"]["rate"]
        badge, not_modified = served["badge"]["rate"], served["badge 304"]["rate"]
        badge_ratio, not_modified_ratio = served["badge"]["ratio"], served["badge 304"]["ratio"]
        row(
            "b",
            "GET /badges/{slug}.svg req/s",
            f"{badge:,.0f}",
            "constant, same size",
            f"{constant:,.0f}",
            fmt_ratio(badge_ratio),
            f">= {GOAL_SERVED:.2f}x",
            met(badge_ratio >= GOAL_SERVED),
        )
        healthz_ratio = paired_ratio(
            served["badge"]["round_rates"], served["healthz"]["round_rates"]
        )
        row(
            "b",
            "GET /badges/{slug}.svg req/s",
            f"{badge:,.0f}",
            "GET /healthz",
            f"{served['healthz']['rate']:,.0f}",
            fmt_ratio(healthz_ratio),
            f">= {GOAL_SERVED:.2f}x",
            met(healthz_ratio >= GOAL_SERVED),
        )
        row(
            "c",
            "same, If-None-Match → 304 req/s",
            f"{not_modified:,.0f}",
            "constant, same size",
            f"{constant:,.0f}",
            fmt_ratio(not_modified_ratio),
            "(info)",
            "",
        )
    checked_cost = paired_ratio(flat["cold"][big], flat["cold unchecked"][big])
    row(
        "d",
        f"service.badge() cold, checked, {size_label(big)} reviews ms",
        fmt_ms(statistics.median(flat["cold"][big])),
        "same, unchecked (as before)",
        fmt_ms(statistics.median(flat["cold unchecked"][big])),
        fmt_ratio(checked_cost),
        f"<= {GOAL_CHECKED_COLD:g}x",
        met(checked_cost <= GOAL_CHECKED_COLD),
    )
    for kind in ("cold", "hot"):
        ratio = paired_ratio(flat[kind][big], flat[kind][small])
        row(
            "d",
            f"service.badge() {kind}, {size_label(big)} reviews ms",
            fmt_ms(statistics.median(flat[kind][big])),
            f"{small} reviews",
            fmt_ms(statistics.median(flat[kind][small])),
            fmt_ratio(ratio),
            f"<= {GOAL_FLAT:g}x",
            met(ratio <= GOAL_FLAT),
        )
    return rows


def print_details(
    render: dict[str, Any],
    served: dict[str, Any] | None,
    flat: dict[str, dict[int, list[float]]],
) -> None:
    """The tables behind the summary."""
    parts, best = render["parts_s"], render["best_s"]
    print_table(
        f"(a) per badge: median and best of {render['rounds']} rounds of {render['n']:,} "
        f"(pybadges {max(1, render['n'] // 3):,}); bytes = output size",
        [
            {
                "renderer": "trustseal compact, render + sign",
                "µs": fmt_us(render["trustseal_s"]),
                "best µs": fmt_us(best["trustseal"]),
                "bytes": render["bytes"]["trustseal"],
            },
            {
                "renderer": "trustseal compact, render only",
                "µs": fmt_us(render["trustseal_unsigned_s"]),
                "best µs": fmt_us(best["trustseal_unsigned"]),
                "bytes": render["bytes"]["trustseal_unsigned"],
            },
            {
                "renderer": f"pybadges {render['pybadges_version']}",
                "µs": fmt_us(render["pybadges_s"]) if render["pybadges_s"] else "n/a",
                "best µs": fmt_us(best["pybadges"]) if "pybadges" in best else "",
                "bytes": render["bytes"]["pybadges"] or "",
            },
            {
                "renderer": f"badge-maker {render['badge_maker_version']} (node {node_version()})",
                "µs": fmt_us(render["badge_maker_s"]) if render["badge_maker_s"] else "n/a",
                "best µs": fmt_us(best["badge_maker"]) if "badge_maker" in best else "",
                "bytes": render["bytes"]["badge_maker"] or "",
            },
            *(
                {
                    "renderer": f"  trustseal part: {name}",
                    "µs": fmt_us(s),
                    "best µs": "",
                    "bytes": "",
                }
                for name, s in parts.items()
            ),
        ],
    )
    if served is not None:
        print_table(
            f"(b, c) gunicorn sync 2 workers, {served['loadgen']} "
            f"{served['connections']} connections; badge {served['badge_bytes']} B, "
            f"constant {served['constant_bytes']} B",
            [
                {
                    "endpoint": name,
                    "req/s": f"{served[name]['rate']:,.0f}",
                    "per round": " / ".join(f"{r:,.0f}" for r in served[name]["round_rates"]),
                    "vs constant": fmt_ratio(served[name]["ratio"]),
                    "errors": served[name]["errors"],
                    "gunicorn cpu ms/req": f"{served[name]['app_cpu_ms_per_req']:.2f}",
                    "pg cpu ms/req": f"{served[name]['pg_cpu_ms_per_req']:.2f}",
                }
                for name in ("constant", "badge", "badge 304")
            ],
        )
    rows = []
    for kind, by_size in flat.items():
        small, big = min(by_size), max(by_size)
        for size, values in by_size.items():
            rows.append(
                {
                    "call": f"service.badge() {kind}",
                    "reviews": f"{size:,}",
                    "median ms": fmt_ms(statistics.median(values)),
                    "p10 ms": fmt_ms(statistics.quantiles(values, n=10)[0]),
                    "p90 ms": fmt_ms(statistics.quantiles(values, n=10)[-1]),
                    "n": len(values),
                    "ratio of medians": fmt_ratio(
                        statistics.median(values) / statistics.median(by_size[small])
                    )
                    if size == big
                    else "",
                    "paired ratio": fmt_ratio(paired_ratio(values, by_size[small]))
                    if size == big
                    else "",
                }
            )
    print_table("(d) in process, PostgreSQL, interleaved", rows)


def node_version() -> str:
    """``node --version`` or ``-``."""
    node = shutil.which("node")
    if node is None:
        return "-"
    return subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, shorter runs")
    parser.add_argument("--big", type=int, help="reviews of the big merchant (1M; quick 100k)")
    parser.add_argument("--small", type=int, default=10, help="reviews of the small merchant")
    parser.add_argument("--reps", type=int, help="(d) repetitions (300; quick 100)")
    parser.add_argument("--render-n", type=int, help="(a) badges per round (1500; quick 500)")
    parser.add_argument("--render-rounds", type=int, help="(a) rounds (9; quick 3)")
    parser.add_argument(
        "--badge-maker-dir",
        default=str(Path(__file__).resolve().parent),
        help="where node_modules/badge-maker is (make bench: npm ci --prefix bench)",
    )
    parser.add_argument("--loadgen", choices=("wrk", "python"), default="wrk")
    parser.add_argument("--connections", type=int, default=4, help="(b, c) client connections")
    parser.add_argument("--rounds", type=int, help="(b, c) rounds (5; quick 2)")
    parser.add_argument("--seconds", type=float, help="(b, c) seconds per run (6; quick 3)")
    parser.add_argument("--skip-served", action="store_true", help="skip (b) and (c)")
    parser.add_argument("--profile", action="store_true", help="cProfile (a) and (d)")
    args = parser.parse_args(argv)
    quick = args.quick
    args.big = args.big or (QUICK_BIG if quick else FULL_BIG)
    args.reps = args.reps or (100 if quick else 300)
    args.render_n = args.render_n or (500 if quick else 1500)
    args.render_rounds = args.render_rounds or (3 if quick else 9)
    args.rounds = args.rounds or (2 if quick else 5)
    args.seconds = args.seconds or (3.0 if quick else 6.0)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; exit status 0 whether or not the goals were met."""
    args = parse_args(argv)
    print(machine_line())
    started = time.perf_counter()
    render = bench_render(args)
    print(
        f"(a) done in {time.perf_counter() - started:.0f} s; pybadges "
        f"{render['pybadges_version']}, badge-maker {render['badge_maker_version']}"
    )
    small, big = args.small, args.big
    served: dict[str, Any] | None = None
    with fresh_postgres_database("bench_badges") as db_url, tempfile.TemporaryDirectory() as inst:
        migrate(db_url, inst)
        app = make_bench_app(db_url, inst)
        slugs = {small: "tienda-diez", big: "tienda-grande"}
        ids = {
            size: certified_merchant(app, slug, f"Tienda {slug}") for size, slug in slugs.items()
        }
        served_id = certified_merchant(app, "bodega", "Bodega Ñandú")
        t0 = time.perf_counter()
        for merchant_id, count in ((served_id, SERVED_REVIEWS), (ids[small], small)):
            bulk_load_reviews(db_url, merchant_id, count, seed=count)
        loaded = bulk_load_reviews(db_url, ids[big], big, seed=big)
        print(
            f"loaded {SERVED_REVIEWS:,} + {small:,} + {big:,} reviews in "
            f"{time.perf_counter() - t0:.0f} s (COPY {big:,}: {loaded.seconds:.1f} s, "
            f"{big / loaded.seconds:,.0f} rows/s; VACUUM ANALYZE {loaded.analyze_seconds:.1f} s)"
        )
        flat = bench_flat(app, slugs, args.reps, args.profile)
        with app.app_context():
            service.clear_cache()
            constant = service.badge("bodega").body  # also creates the key and the log head
            db.session.remove()
            db.engine.dispose()
        if not args.skip_served:
            served = bench_served(args, db_url, inst, "bodega", constant)
    rows = rows_for(render, served, flat, small, big)
    print_details(render, served, flat)
    print_table(
        f"Badges: goals (a) vs pybadges / badge-maker, (b, c) vs a constant endpoint, "
        f"(d) {size_label(big)} vs {small} reviews",
        rows,
    )
    print(
        "\nratios: medians of paired ratios — (a) per round, every contender back to back;"
        " (b, c) per round of the three endpoints; (d) per repetition, both merchants"
        " back to back."
    )
    total = time.perf_counter() - started
    print(f"\ntotal {total:.0f} s")
    figures = {
        "quick": args.quick,
        "render": render,
        "served": served,
        "flat": {k: {str(s): v for s, v in d.items()} for k, d in flat.items()},
        "summary": rows,
        "total_s": total,
    }
    path = save_results("badges-quick" if args.quick else "badges", figures)
    print(f"figures saved to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
