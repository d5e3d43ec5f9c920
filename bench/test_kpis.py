"""Every service KPI read at 1,000 and 1,000,000 reviews, from the kept replay state (#18)."""

from __future__ import annotations

import base64
import contextlib
import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import harness
import psycopg
import pytest
from conftest import RATINGS, Shop, quick
from harness import TIMES, goal, ms

from trustseal.badging import service as badges
from trustseal.extensions import db
from trustseal.transparency import numbers
from trustseal.transparency import service as log

READS = ("kpis(MerchantState.from_json(state))", "merchant_kpis(slug)", "GET /score")
DELIVERY = ("placed_on", "delivered_on", "promised_by")
WRITE = "UPDATE log_replay_states SET state = %s WHERE merchant_slug = %s"


@pytest.fixture(scope="module")
def kept(shop: Shop) -> Any:
    """The 1k and big merchants' kept states given KPI counts (README.md), put back after,
    checked against the score answer and the badge assertion: the states' texts."""
    state, start = numbers.MerchantState(), datetime.now(UTC) - timedelta(days=1000, hours=1)
    for n, draw in ((n, n * 2654435761 % 2**32) for n in range(1000)):
        at = [f"{start + timedelta(days=n, hours=h):%FT%TZ}" for h in (0, draw % 60, draw % 480)]
        day = [f"{start + timedelta(days=n - d):%F}" for d in (2 + draw % 9, 1, draw % 3)]
        state.apply(n, {"type": "review.published", "time": at[0], "rating": RATINGS[draw % 100],
                        "process_rating": 4, "recommend": draw % 11, "verification": {"level":
                        "platform"}, "delivery": dict(zip(DELIVERY, day, strict=True))})
        later = [("response.created", at[1])] * (draw % 3 == 0) + [
            ("book.answered", at[2]), ("book.confirmed", at[2])] * (draw % 50 == 0)  # fmt: skip
        for kind, time in later:  # what each kind reads of these
            state.apply(n, {"type": kind, "time": time, "reviewed_at": at[0], "rating": 5,
                            "filed_at": at[0], "resolved": draw % 4})  # fmt: skip
    kpi = json.dumps(asdict(state.kpi))  # then each leaf as if it came n / 1,000 times
    client, texts, before, rows = shop.app.test_client(), {}, {}, {}
    connect = lambda: psycopg.connect(harness.pq(shop.db_url), autocommit=True)  # noqa: E731
    try:  # the states are put back whatever happens
        with connect() as conn, shop.app.app_context():
            badges.clear_cache()
            for size, n in {"1k": 1000, "big": shop.big}.items():
                slug, times = shop.slugs[n], lambda i, k=n // 1000: int(i) * k
                before[slug] = log.replayed(slug).to_json()
                data = {**json.loads(before[slug]), "kpi": json.loads(kpi, parse_int=times)}
                state = numbers.MerchantState.from_json(json.dumps(data))
                conn.execute(WRITE, (texts.setdefault(size, state.to_json()), slug))
                read, score = log.merchant_kpis(slug), client.get(f"/api/v1/merchants/{slug}/score")
                token = client.get(f"/badges/{slug}/assertion").text.split(".")[1]
                assert read == numbers.kpis(state.sums, state.kpi) and read["resolution"]["rate"]
                assert json.loads(base64.urlsafe_b64decode(token + "=="))["kpis"] == read
                assert all(score.json[group] == read[group] for group in numbers.KPI_GROUPS)
                figures = ((f"{g} {k}", v) for g in numbers.KPI_GROUPS for k, v in read[g].items())
                for name, value in [("kept state, bytes", len(texts[size])), *figures]:
                    rows.setdefault(name, {})[slug] = value
        harness.TABLES["kpis: the kept states, as read"] = [{"": k, **v} for k, v in rows.items()]
        yield texts
    finally:
        with connect() as conn:
            conn.cursor().executemany(WRITE, [(text, slug) for slug, text in before.items()])


@pytest.mark.parametrize("read", READS)
def test_kpi_read(benchmark: Any, shop: Shop, kept: Any, pytestconfig: Any, read: str) -> None:
    """The KPIs read at 1k and big in turns (README.md)."""
    client, pure, served = shop.app.test_client(), read == READS[0], read == READS[2]

    def target(case: str) -> Any:
        if pure:
            return numbers.kpis((state := numbers.MerchantState.from_json(case)).sums, state.kpi)
        if not served:
            return log.merchant_kpis(case)
        assert client.get(f"/api/v1/merchants/{case}/score").status_code == 200

    cases = kept if pure else {"1k": shop.slugs[1000], "big": shop.slugs[shop.big]}
    rounds = (100 if quick(pytestconfig) else 300) * (10 if pure else 1)
    with contextlib.nullcontext() if served else shop.app.app_context():  # a request has its own
        harness.alternate(benchmark, f"kpis {read}", cases, target, rounds, warmup_rounds=6,
                          teardown=lambda _: served or db.session.remove())  # fmt: skip


@harness.SUMMARIES.append
def summary_kpis() -> None:
    for key in (f"kpis {read}" for read in READS):
        goal("kpis", f"{key[5:]} ms at {harness.BIG_LABEL}", ms(TIMES[f"{key} big"]), "1k",
             ms(TIMES[f"{key} 1k"]), harness.paired(f"{key} big", f"{key} 1k"), 1.5)  # fmt: skip
