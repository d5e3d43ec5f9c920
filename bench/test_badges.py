"""Badges (a) render + sign, (b, c) served under gunicorn, (d) flat in reviews: README.md."""

from __future__ import annotations

import importlib.util
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import harness
import pytest
from conftest import Shop, quick
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from harness import TIMES, goal, ms, us

from badges import assertion, svg
from badges import layout as layouts
from trustseal.badging import service
from trustseal.extensions import db
from trustseal.signing import jws
from trustseal.transparency import numbers

pybadges = importlib.import_module("pybadges") if importlib.util.find_spec("pybadges") else None
LEFT, RIGHT = "Sello de Confianza", "★ 4,6 · 1.234 opiniones"
LABELS_ES = {"seal_short": LEFT, "seal_full": "Sello de Confianza Online", "review_one": "opinión",
             "review_many": "opiniones", "status_active": "VIGENTE"}  # fmt: skip
VIEW = layouts.BadgeView(  # what service.view() gives a shop with 1,234 reviews, in Spanish
    status="active", name="Bodega Ñandú", domain="bodega.pe", labels=LABELS_ES, lang="es",
    score=4.6, rating_count=1234, history=(80, 95, 101, 97, 110, 120, 99, 104, 115, 108, 102, 103),
    response_rate=0.9, verify_url="https://trustseal.pe/verify/bodega",
)  # fmt: skip
KEY = Ed25519PrivateKey.generate()
KID = jws.thumbprint(jws.public_jwk(KEY.public_key()))
BYTES: dict[str, int] = {}
NODE = """const { makeBadge } = require('badge-maker');  // times N badges for each line N read
const badge = { label: process.env.LEFT, message: process.env.RIGHT, color: process.env.COLOR };
for (let i = 0; i < 5000; i++) makeBadge(badge);  // JIT warm-up, not timed
require('readline').createInterface({ input: process.stdin }).on('line', (n) => {
  const t0 = process.hrtime.bigint(); for (let i = 0; i < +n; i++) makeBadge(badge);
  console.log(Number(process.hrtime.bigint() - t0) / 1e9, Buffer.byteLength(makeBadge(badge)));
});"""
CONSTANT_APP = """import os
from flask import Response
from wsgi import app
BODY = open(os.environ["BENCH_CONSTANT_FILE"], "rb").read()
app.get("/bench-constant")(lambda: Response(BODY, mimetype="image/svg+xml"))"""


def claims(plain: bytes) -> dict[str, Any]:
    """The claims of ``service.assertion_claims``, without the database."""
    now = int(time.time())
    return {"iss": "https://trustseal.pe", "sub": "bodega", "domain": VIEW.domain,
            "seal_status": VIEW.status, "valid_until": "2027-11-22T00:00:00Z",
            "score": VIEW.score, "rating_count": VIEW.rating_count, "history": list(VIEW.history),
            "iat": now, "exp": now + 7 * 86400, "svg_sha256": assertion.sha256_hex(plain),
            "log": {"tree_size": 1_234_567, "root_hash": "ab" * 32}}  # fmt: skip


def render(sign: bool = True) -> bytes:
    """What ``service._render`` does with the view: layout → SVG → sign the claims → embed."""
    plain = svg.render(layouts.layout(VIEW, "compact"), "0123456789")
    return assertion.embed_assertion(plain, jws.sign(claims(plain), KEY, KID)) if sign else plain


PLAIN = render(sign=False).decode()


def test_a_renderers(benchmark: Any, pytestconfig: pytest.Config) -> None:
    """trustseal's render + sign, ``pybadges.badge()`` with the same texts and badge-maker's
    ``makeBadge`` (timed inside a node process told through a pipe) in turns, 50 badges a
    round each (a round of one alone keeps its caches warm, as in a loop of badges)."""
    assert LEFT in PLAIN and RIGHT in PLAIN, "the badge does not read as it should"
    modules, told = Path(__file__).resolve().parent / "node_modules", []
    calls = {"render+sign": render, "render only": lambda: render(sign=False)}
    if pybadges is not None:
        calls["pybadges"] = lambda: pybadges.badge(LEFT, RIGHT, right_color=layouts.GREEN).encode()
    BYTES.update({name: len(call()) for name, call in calls.items()})  # and a warm-up
    runs = {name: lambda call=call: [call() for _ in range(50)] for name, call in calls.items()}
    if shutil.which("node") and (modules / "badge-maker").is_dir():
        env = {**os.environ, "NODE_PATH": str(modules), "LEFT": LEFT, "RIGHT": RIGHT,
               "COLOR": layouts.GREEN}  # fmt: skip
        node = subprocess.Popen(["node", "-e", NODE], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, env=env)  # fmt: skip

        def badge_maker() -> None:
            print(50, file=node.stdin, flush=True)
            seconds, BYTES["badge-maker"] = map(float, node.stdout.readline().split())
            told.append(seconds)

        runs["badge-maker"] = badge_maker
    rounds = 30 if quick(pytestconfig) else 150
    harness.alternate(benchmark, "a", runs, lambda run: run(), rounds, warmup_rounds=2 * len(runs))
    if told:  # node's own clock, without the pipe
        harness.RUNS["a badge-maker"] = told[-rounds:]
        node.stdin.close()
        node.wait()
    TIMES.update({f"a {name}": statistics.median(harness.RUNS[f"a {name}"]) / 50 for name in runs})


@harness.SUMMARIES.append
def summary_render() -> None:
    ours, plain = TIMES["a render+sign"], TIMES["a render only"]
    what = f"trustseal render+sign µs/badge ({BYTES['render+sign']} B)"
    if "a pybadges" in TIMES:
        theirs, base = TIMES["a pybadges"], f"pybadges.badge() ({BYTES['pybadges']} B)"
        ratio = harness.paired("a pybadges", "a render+sign")
        goal("badges a", what, us(ours), base, us(theirs), ratio, 4, at_least=True)
    if "a badge-maker" in TIMES:
        theirs, base = TIMES["a badge-maker"], f"badge-maker ({BYTES['badge-maker']:.0f} B)"
        ratio = harness.paired("a render+sign", "a badge-maker")
        goal("badges a", what, us(ours), base, us(theirs), ratio, 2)
        goal("badges a", f"render only, no sign ({BYTES['render only']} B)", us(plain), base,
             us(theirs), harness.paired("a render only", "a badge-maker"))  # fmt: skip


@contextmanager
def as_before_the_log_check() -> Iterator[None]:
    """Badges as before #15: the database's numbers alone, signed with the latest log head."""

    def unchecked(merchant: Any, now: Any, stored: Any = None) -> Any:
        return service.stored_numbers(merchant, now, stored), numbers.MerchantState()

    checked, service.checked_numbers = service.checked_numbers, unchecked
    try:
        yield
    finally:
        service.checked_numbers = checked


@pytest.mark.parametrize("kind", ["cold", "hot", "check"])
def test_d_service_badge(benchmark: Any, shop: Shop, pytestconfig: Any, kind: str) -> None:
    """``service.badge(slug)`` cold or hot at 10 and ``big`` reviews, or cold at ``big`` with and
    without the log check, in turns; the session removed after each call, off the clock."""
    small, big = shop.slugs[10], shop.slugs[shop.big]
    cases = {"unchecked": (big, False), "checked": (big, True)} if kind == "check" else {
        "small": (small, True), "big": (big, True)}  # fmt: skip

    def badge(case: tuple[str, bool]) -> None:
        with nullcontext() if case[1] else as_before_the_log_check():
            assert service.badge(case[0]).status_code == 200

    def setup(case: Any) -> Any:
        if kind != "hot":
            service.clear_cache()
        return case

    with shop.app.app_context():
        assert "★" in service.badge(small).body.decode()
        rounds = 100 if quick(pytestconfig) else 300
        harness.alternate(benchmark, f"d {kind}", cases, badge, rounds, setup,
                          teardown=lambda _: db.session.remove(), warmup_rounds=6)  # fmt: skip


@harness.SUMMARIES.append
def summary_flat() -> None:
    big = harness.BIG_LABEL
    rows = [("check", "checked", "unchecked", "cold, checked,", "same, unchecked (as before)", 1.2)]
    rows += [(kind, "big", "small", kind + ",", "10 reviews", 1.1) for kind in ("cold", "hot")]
    for kind, top, bottom, what, base, limit in rows:
        value, base_value = ms(TIMES[f"d {kind} {top}"]), ms(TIMES[f"d {kind} {bottom}"])
        goal("badges d", f"service.badge() {what} {big} reviews ms", value, base, base_value,
             harness.paired(f"d {kind} {top}", f"d {kind} {bottom}"), limit)  # fmt: skip


def test_bc_served(shop: Shop, pytestconfig: pytest.Config) -> None:
    """The badge, the badge with ``If-None-Match``, a constant of its bytes and ``/healthz``
    in turns on one gunicorn; a ratio is the median of the per-round ratios."""
    rounds, seconds = (2, 3.0) if quick(pytestconfig) else (5, 6.0)
    slug = shop.slugs[1000]
    with shop.app.app_context():
        service.clear_cache()
        constant = service.badge(slug).body  # also the signing key and the log head
        db.session.remove()
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "bench_constant_app.py").write_text(CONSTANT_APP)
        Path(folder, "constant.svg").write_bytes(constant)
        server = harness.gunicorn(shop.db_url, shop.instance, "sync:2", "bench_constant_app:app",
                                  PYTHONPATH=folder, BENCH_CONSTANT_FILE=f"{folder}/constant.svg")
        with server as (url, pid):
            path = f"/badges/{slug}.svg"
            status, body, headers = harness.fetch(url + path)
            assert status == 200 and len(body) == len(constant)
            etag = {"If-None-Match": headers["ETag"]}
            assert harness.fetch(url + path, None, etag)[0] == 304
            runs = {"constant": ("/bench-constant", {}), "healthz": ("/healthz", {}),
                    "badge": (path, {}), "badge 304": (path, etag)}  # fmt: skip
            for where, extra in runs.values():  # every worker renders and caches once
                harness.get_load(url, where, extra, 1.0)
            rates: dict[str, list[float]] = {name: [] for name in runs}
            cpu = {name: [0.0, 0.0, 0] for name in runs}  # app s, pg s, requests
            for turn in range(rounds):
                for name in list(runs)[:: -1 if turn % 2 else 1]:
                    with harness.cpu_used(pid, shop.db_url) as used:
                        done, took, errors = harness.get_load(url, *runs[name], seconds)
                    assert errors == 0, (name, errors)
                    rates[name].append(done / took)
                    spent = (used["app"], used["pg"], done)
                    cpu[name] = [a + b for a, b in zip(cpu[name], spent, strict=True)]

    def rate(name: str) -> str:
        return f"{statistics.mean(rates[name]):,.0f}"

    def paired(name: str, base: str = "constant") -> float:
        return statistics.median(a / b for a, b in zip(rates[name], rates[base], strict=True))

    title = f"badges (b, c): gunicorn sync 2 workers, 4 connections; badge {len(body)} B"
    harness.TABLES[title] = [
        {"endpoint": name, "req/s": rate(name), "vs constant": f"{paired(name):.2f}x",
         "per round": " / ".join(f"{r:,.0f}" for r in rates[name]),
         "gunicorn cpu ms/req": ms(cpu[name][0] / cpu[name][2]),
         "pg cpu ms/req": ms(cpu[name][1] / cpu[name][2])}
        for name in runs
    ]  # fmt: skip
    for base, label in (("constant", "constant, same size"), ("healthz", "GET /healthz")):
        goal("badges b", "GET /badges/{slug}.svg req/s", rate("badge"), label, rate(base),
             paired("badge", base), 0.8, at_least=True)  # fmt: skip
    goal("badges c", "same, If-None-Match → 304 req/s", rate("badge 304"), "constant, same size",
         rate("constant"), paired("badge 304"))  # fmt: skip
