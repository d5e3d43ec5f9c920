"""The analytics page's service KPIs: the monthly series and the chart geometry against
hand-computed examples, the certified shops' medians, and the page itself (charts with
labelled axes, the median, the advice) for a shop among certified and uncertified ones."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete, event

from tests.helpers import bearer, make_staff
from tests.signing_in import make_merchant_user, sign_in
from trustseal.clock import utcnow
from trustseal.dashboard import analytics
from trustseal.dashboard.analytics import Benchmark, Point
from trustseal.extensions import db
from trustseal.merchants import service as merchants
from trustseal.seals.models import Seal
from trustseal.transparency import numbers
from trustseal.transparency import service as transparency
from trustseal.transparency.models import ReplayState

KPI = {kpi.key: kpi for kpi in analytics.KPIS}
MONTHS = ["2026-01", "2026-02", "2026-03"]


# -- the series ---------------------------------------------------------------------------


def test_a_month_without_events_has_no_value_and_a_share_keeps_three_decimals():
    counts = {
        "2026-01": {"reviews": 6, "satisfied": 5, "on_time_n": 3, "on_time_yes": 3},
        "2026-03": {"reviews": 0, "satisfied": 0},  # a review removed: nothing left
    }
    assert analytics.series(KPI["csat"], MONTHS, counts) == [
        Point("2026-01", 0.833, 6),
        Point("2026-02", None, 0),
        Point("2026-03", None, 0),
    ]
    on_time = analytics.series(KPI["on_time"], MONTHS, counts)
    assert [p.value for p in on_time] == [1.0, None, None]
    assert [p.value for p in analytics.series(KPI["resolution"], MONTHS, counts)] == [None] * 3


@pytest.mark.parametrize(
    ("promoters", "detractors", "total", "nps"),
    [
        (1, 0, 8, 13),  # 12.5 rounds half away from zero
        (0, 1, 8, -13),
        (2, 1, 3, 33),  # 33.33…
        (1, 1, 1, 0),  # one answer is enough for a month
        (0, 0, 0, None),
    ],
)
def test_the_monthly_nps_is_rounded_half_away_from_zero(promoters, detractors, total, nps):
    counts = {"recommend_n": total, "promoters": promoters, "detractors": detractors}
    assert analytics.month_value(KPI["nps"], counts) == nps
    if nps is not None and total >= numbers.KPI_MIN_SAMPLE:
        assert nps == numbers.net_promoter(promoters, detractors, total)


def test_the_monthly_nps_agrees_with_the_published_one_from_ten_answers():
    counts = {"recommend_n": 40, "promoters": 21, "detractors": 6}  # 37.5
    assert analytics.month_value(KPI["nps"], counts) == 38 == numbers.net_promoter(21, 6, 40)


# -- the benchmark ------------------------------------------------------------------------


def kpis_with(**values: Any) -> dict[str, Any]:
    """An answer of numbers.kpis with some KPI values set (by KPI key)."""
    answer = numbers.kpis(numbers.ReviewSums(), numbers.KpiSums())
    for key, value in values.items():
        answer[KPI[key].group][KPI[key].field] = value
    return answer


def test_the_median_counts_only_the_shops_with_a_value():
    found = analytics.medians(
        [
            kpis_with(csat=0.75, nps=25, on_time=0.8),
            kpis_with(csat=None, nps=0, on_time=0.9),
            kpis_with(csat=1.0, nps=None),
            kpis_with(csat=0.8),
        ]
    )
    assert found["csat"] == Benchmark(0.8, 3, 4)
    assert found["nps"] == Benchmark(12.5, 2, 4)  # even: the middle two's mean
    assert found["on_time"] == Benchmark(0.85, 2, 4)
    assert found["resolution"] == Benchmark(None, 0, 4)
    assert analytics.medians([])["csat"] == Benchmark(None, 0, 0)


@pytest.mark.parametrize(
    ("value", "median", "advice"),
    [
        (None, 0.8, True),
        (None, None, True),
        (0.7, 0.8, True),
        (0.8, 0.8, False),
        (0.9, None, False),
    ],
)
def test_advice_when_not_measured_or_below_the_median(value, median, advice):
    assert analytics.needs_advice(value, median) is advice


# -- the geometry -------------------------------------------------------------------------


def test_a_share_chart_on_a_percent_axis_with_the_median_line():
    points = [Point("2026-01", 0.5, 4), Point("2026-02", None, 0)]
    chart = analytics.chart(KPI["csat"], points, 0.8)
    # plot: x 48..360, y 10..140 (130 px for 0..100 %); two columns of 156 px
    assert (chart.left, chart.right, chart.top, chart.bottom, chart.zero_y) == (
        48,
        360,
        10,
        140,
        140,
    )
    first, second = chart.bars
    assert (first.x, first.y, first.w, first.h, first.cx) == (52, 75, 148, 65, 126)
    assert (first.label, first.name, first.sample) == ("01", "2026-01", 4)
    assert (second.x, second.y, second.h, second.value) == (208, 140, 0, None)
    assert [(t.y, t.text) for t in chart.ticks] == [
        (140, "0"),
        (107.5, "25"),
        (75, "50"),
        (42.5, "75"),
        (10, "100"),
    ]
    assert chart.benchmark_y == 36  # 80 %: 10 + 130 · 0.2
    assert (chart.tick_x, chart.month_y, chart.title_y, chart.middle_x, chart.middle_y) == (
        44,
        152,
        176,
        204,
        75,
    )


def test_an_nps_chart_grows_up_and_down_from_zero_over_twelve_months():
    values: list[float | None] = [-50, 100] + [None] * 10
    points = [Point(f"2026-{n:02d}", v, 1) for n, v in enumerate(values, 1)]
    chart = analytics.chart(KPI["nps"], points, None, lambda m: (f"m{m[5:]}", f"month {m}"))
    assert chart.zero_y == 75 and chart.benchmark_y is None
    down, up = chart.bars[:2]
    assert (down.x, down.y, down.w, down.h) == (52, 75, 18, 32.5)
    assert (up.x, up.y, up.h) == (78, 10, 65)
    assert chart.bars[11].x == 52 + 11 * 26
    assert [b.label for b in chart.bars][:2] == ["m01", "m02"] and up.name == "month 2026-02"
    assert [t.text for t in chart.ticks] == ["-100", "-50", "0", "50", "100"]
    assert analytics.chart(KPI["nps"], points, 50).benchmark_y == 42.5


def test_panels_put_the_shop_against_the_median():
    shop = kpis_with(csat=0.75, nps=25, on_time=0.95)
    shop["satisfaction"]["measured"] = 12
    medians = analytics.medians([shop, kpis_with(csat=0.8, nps=0, on_time=0.9)])
    shown = {p.kpi.key: p for p in analytics.panels(shop, {}, medians, MONTHS)}
    assert [key for key, p in shown.items() if p.advice] == ["csat", "first_response", "resolution"]
    assert (shown["csat"].value, shown["csat"].measured, shown["csat"].min_sample) == (0.75, 12, 10)
    assert shown["csat"].benchmark.median == 0.775
    assert [b.value for b in shown["csat"].chart.bars] == [None] * 3


# -- the database: many shops' KPIs in one query --------------------------------------------


def _leaves(
    slug: str, month: str, ratings: list[tuple[int, int | None, bool | None]], answers: list[float]
) -> numbers.MerchantState:
    """A shop's state from leaves: one review per (rating, recommend, on time), published
    on the 5th of ``month``; then the first reviews answered after so many hours."""
    replay = numbers.Replay()
    written = datetime.fromisoformat(f"{month}-05T10:00:00+00:00")
    index = 0
    for review_id, (rating, recommend, on_time) in enumerate(ratings):
        leaf = {
            "type": "review.published",
            "merchant": slug,
            "time": _rfc3339(written),
            "review_id": review_id,
            "rating": rating,
            "process_rating": rating,
            "verification": {"level": "declared"},
            "recommend": recommend,
            "on_time": on_time,
        }
        assert replay.feed(index, leaf) is None
        index += 1
    for review_id, hours in enumerate(answers):
        leaf = {
            "type": "response.created",
            "merchant": slug,
            "time": _rfc3339(written + timedelta(hours=hours)),
            "review_id": review_id,
        }
        assert replay.feed(index, leaf) is None
        index += 1
    return replay.states[slug]


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _store(app: Flask, slug: str, state: numbers.MerchantState, certified: bool) -> None:
    with app.app_context():
        merchant = merchants.get_by_slug(slug)
        if merchant is None:
            merchant = merchants.create_merchant(
                name=slug.title(), domain=f"{slug}.pe", contact_email=f"hola@{slug}.pe", slug=slug
            ).merchant
        db.session.add(
            ReplayState(merchant_slug=slug, last_index=state.last_index, state=state.to_json())
        )
        if certified:
            db.session.add(Seal(merchant_id=merchant.id, status="active", valid_until=None))
        db.session.commit()


@pytest.fixture
def shops(app: Flask) -> Iterator[str]:
    """bodega (its owner signed up) and two other certified shops, plus one uncertified
    shop whose numbers must not count; reviews and answers last month. Returns that month."""
    month = numbers.last_months(utcnow())[-2]
    make_merchant_user(app)
    # bodega: CSAT 9/12 = 75 %, NPS (6 - 3)/12 = 25, on time 10/12, 5 of 10 answers in 24 h
    bodega = [(5, 10, True)] * 6 + [(5, 7, True)] * 3 + [(2, 3, True)] + [(2, 3, False)] * 2
    _store(app, "bodega", _leaves("bodega", month, bodega, [2] * 5 + [72] * 5), True)
    # alpaca: 100 %, NPS 100, on time 100 %, answers 100 % in 24 h
    _store(app, "alpaca", _leaves("alpaca", month, [(5, 10, True)] * 20, [1] * 10), True)
    # cuy: CSAT 80 %, NPS 0, on time 90 %, 80 % in 24 h
    cuy = [(4, 10, True)] * 5 + [(4, 3, True)] * 3 + [(1, 3, True)] + [(1, 3, False)]
    _store(app, "cuy", _leaves("cuy", month, cuy, [3] * 8 + [30] * 2), True)
    # zorro, not certified: all bad
    _store(app, "zorro", _leaves("zorro", month, [(1, 0, False)] * 10, [90] * 10), False)
    yield month


def test_the_kpis_of_many_shops_in_one_query(app, shops):
    with app.app_context():
        statements: list[str] = []

        def count(*args: Any) -> None:
            statements.append(args[2])

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            found = transparency.kpis_of_merchants(["cuy", "bodega", "nobody", "cuy"])
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert len([s for s in statements if "log_replay_states" in s]) == 1
        assert sorted(found) == ["bodega", "cuy", "nobody"]
        assert found["bodega"] == transparency.merchant_kpis("bodega")
        assert found["cuy"]["satisfaction"]["csat"] == 0.8
        assert found["nobody"]["satisfaction"]["csat"] is None
        assert transparency.kpis_of_merchants([]) == {}


def test_the_medians_are_remembered_for_a_while(app, shops):
    with app.app_context():
        assert analytics.certified_benchmarks().overall["csat"] == Benchmark(0.8, 3, 3)
        app.config["TRUSTSEAL_BENCHMARK_SECONDS"] = 300
        try:
            assert analytics.certified_benchmarks().overall["csat"].median == 0.8
            db.session.execute(delete(Seal).where(Seal.merchant_id != _id_of("bodega")))
            assert analytics.certified_benchmarks().overall["csat"].median == 0.8  # remembered
            app.config["TRUSTSEAL_BENCHMARK_SECONDS"] = 0
            assert analytics.certified_benchmarks().overall["csat"] == Benchmark(0.75, 1, 1)
        finally:
            analytics._benchmarks.clear()
            db.session.rollback()


def _id_of(slug: str) -> int:
    merchant = merchants.get_by_slug(slug)
    assert merchant is not None
    return merchant.id


def _section(page: str, key: str) -> str:
    found = re.search(rf'<section class="card kpi" id="kpi-{key}">(.*?)</section>', page, re.S)
    assert found, key
    return found.group(1)


def test_the_page_charts_each_kpi_against_the_certified_median_with_advice(app, shops):
    month = shops
    dashboard = app.test_client()
    sign_in(dashboard, "duena@bodega.pe", "clave-segura-123")
    answer = dashboard.get("/dashboard/analytics?lang=en")
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert page.count('<svg class="chart"') == 2  # the existing charts stay
    charts = re.findall(
        r'<svg class="kpi-chart" role="img" aria-label="([^"]+)"[^>]*><title>', page
    )
    assert len(charts) == 5
    assert "median of certified shops: 80%" in charts[1]
    assert "(3 have an active seal)" in page
    assert "it is compared with every certified shop" in page

    labelled = datetime.fromisoformat(f"{month}-01")
    name = labelled.strftime("%b %Y")
    csat = _section(page, "csat")
    assert "Satisfied customers (CSAT)" in csat
    assert ">Rated 4 or 5 (%)</text>" in csat and ">Month</text>" in csat
    for tick in ("0", "25", "50", "75", "100"):
        assert f'text-anchor="end">{tick}</text>' in csat
    assert f'text-anchor="middle">{labelled.strftime("%b")}</text>' in csat
    assert f"<title>{name}: 75% (reviews: 12)</title>" in csat  # the month's sample
    assert csat.count(": no data</title>") == 11
    assert "Your shop (all time): <strong>75%</strong>" in csat
    assert "Median of certified shops: <strong>80%</strong> (3 certified shops)" in csat
    assert 'class="benchmark"' in csat and "Dashed line: median of certified shops (80%)" in csat
    assert "What to do to improve" in csat  # 75 % is below 80 %

    nps = _section(page, "nps")
    assert 'text-anchor="end">-100</text>' in nps and ">NPS (points, -100 to 100)</text>" in nps
    assert "<strong>25</strong> (3 certified shops)" in nps  # median of 25, 100, 0
    assert "What to do to improve" not in nps  # at the median: no advice

    on_time = _section(page, "on_time")
    assert "Median of certified shops: <strong>90%</strong>" in on_time  # not zorro's 0 %
    assert "What to do to improve" in on_time  # 83 % < 90 %
    first = _section(page, "first_response")
    assert f"<title>{name}: 50% (first answers to reviews and complaints: 10)</title>" in first
    assert "Median of certified shops: <strong>80%</strong>" in first
    assert "What to do to improve" in first
    resolution = _section(page, "resolution")
    assert "not measured yet: at least 10 outcomes confirmed by customers are needed" in resolution
    assert "no certified shop has enough data yet" in resolution
    assert 'class="benchmark"' not in resolution
    assert "What to do to improve" in resolution and "15 business-day deadline" in resolution


def test_the_page_of_a_new_shop_says_nothing_is_measured_yet(app):
    make_merchant_user(app)
    dashboard = app.test_client()
    sign_in(dashboard, "duena@bodega.pe", "clave-segura-123")
    page = dashboard.get("/dashboard/analytics?lang=en").get_data(as_text=True)
    assert page.count('class="kpi-chart"') == 5
    assert page.count("What to do to improve") == 5
    assert page.count("no certified shop has enough data yet") == 5
    assert page.count(": no data</title>") == 60


def _kpis_with(csat: float) -> dict[str, Any]:
    """An answer of numbers.kpis with only a CSAT."""
    kpis = numbers.kpis(numbers.ReviewSums(), numbers.KpiSums())
    kpis["satisfaction"]["csat"] = csat
    return kpis


def test_a_sector_with_ten_certified_shops_gets_its_own_medians() -> None:
    shops = {f"moda-{n}": _kpis_with(0.9) for n in range(10)}
    shops |= {f"hogar-{n}": _kpis_with(0.5) for n in range(9)}
    shops |= {"sin-sector": _kpis_with(0.7)}
    sectors = {slug: slug.split("-")[0] for slug in shops if slug != "sin-sector"}
    found = analytics.sector_medians(shops, {**sectors, "sin-sector": None})
    assert found.overall["csat"] == Benchmark(0.8, 20, 20)  # between the 10th and 11th
    assert set(found.by_sector) == {"moda"}  # hogar has nine: too few
    assert found.by_sector["moda"]["csat"] == Benchmark(0.9, 10, 10)
    assert found.for_sector("moda") == (found.by_sector["moda"], "moda")
    assert found.for_sector("hogar") == (found.overall, None)
    assert found.for_sector(None) == (found.overall, None)


def test_the_api_and_signup_take_a_sector(app, client) -> None:
    staff = bearer(make_staff(app, "admin", "admin@sello.pe"))
    body = {"name": "Moda Sol", "domain": "modasol.pe", "contact_email": "hola@modasol.pe"}
    bad = client.post("/api/v1/merchants", json={**body, "sector": "weapons"}, headers=staff)
    assert bad.status_code == 422 and "sector" in bad.json["errors"]["json"]
    made = client.post("/api/v1/merchants", json={**body, "sector": "fashion"}, headers=staff)
    assert made.status_code == 201 and made.json["sector"] == "fashion"
    assert client.get(f"/api/v1/merchants/{made.json['slug']}").json["sector"] == "fashion"
    page = client.get("/signup?lang=en").get_data(as_text=True)
    assert '<option value="fashion">Fashion and accessories</option>' in page
