"""The merchant's service KPIs month by month, against the certified shops' median.

Small pure functions over plain values — the monthly series (:func:`series`), the
certified shops' medians (:func:`medians`), the chart geometry (:func:`chart`: plain
dataclasses of coordinates the template draws, as ``badges/layout.py`` does for badges) —
and one reader, :func:`merchant_panels`, that feeds them from the transparency log's
replay state (the only source of the KPIs) through the domains' doors.

Shares (CSAT, on time, answered within 24 h, resolved) are values from 0 to 1, drawn
on a 0-100 % axis; the NPS is a whole number from -100 to 100. A month's value needs one
event (None without any), while an all-time value is null below
:data:`numbers.KPI_MIN_SAMPLE` events.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import current_app
from flask_babel import LazyString, format_date
from flask_babel import lazy_gettext as _l

from trustseal.extensions import db
from trustseal.memo import TtlMemo
from trustseal.seals import service as seals
from trustseal.transparency import numbers
from trustseal.transparency import service as transparency

SECTOR_MIN_SHOPS = 10  # a sector benchmark needs this many certified shops in the sector

# the chart: a plot of 312 by 130 px, 12 columns of 26 px, each with an 18 px bar
WIDTH, HEIGHT = 372, 180
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 10, 40  # margins: axis labels and titles
BAR_GAP = 4


@dataclass(frozen=True)
class Kpi:
    """One service KPI: where :func:`numbers.kpis` keeps its all-time value and sample,
    which monthly counts (:data:`numbers.MONTH_COUNTS`) make its monthly value, and the
    words the page shows. An NPS is ``(hits - misses) / total`` in points; a share is
    ``hits / total``."""

    key: str
    group: str
    field: str
    measured: str
    hits: str
    total: str
    misses: str | None
    title: LazyString
    axis: LazyString  # the y axis title, with its unit
    sample: LazyString  # what the sample counts, plural
    advice: LazyString

    @property
    def is_nps(self) -> bool:
        """Whether the KPI is a net promoter score (points) rather than a share."""
        return self.misses is not None


KPIS = (
    Kpi(
        key="on_time",
        group="delivery",
        field="on_time_rate",
        measured="measured",
        hits="on_time_yes",
        total="on_time_n",
        misses=None,
        title=_l("Deliveries on time"),
        axis=_l("On time (%)"),
        sample=_l("reviews that say whether delivery was on time"),
        advice=_l(
            "Promise delivery dates you can keep: add a margin to the dates your checkout "
            "shows, ship within one working day of payment and send the tracking number. "
            "Find the carrier or zone that is late most often, and change it or promise "
            "longer times there."
        ),
    ),
    Kpi(
        key="csat",
        group="satisfaction",
        field="csat",
        measured="measured",
        hits="satisfied",
        total="reviews",
        misses=None,
        title=_l("Satisfied customers (CSAT)"),
        axis=_l("Rated 4 or 5 (%)"),
        sample=_l("reviews"),
        advice=_l(
            "Read your reviews of 1 to 3 stars and fix their most frequent cause first "
            "(product description, packaging, delivery). Answer each of them in public with "
            "what you changed, and make your product photos and sizes match what arrives."
        ),
    ),
    Kpi(
        key="nps",
        group="satisfaction",
        field="nps",
        measured="nps_measured",
        hits="promoters",
        total="recommend_n",
        misses="detractors",
        title=_l("Net Promoter Score (NPS)"),
        axis=_l("NPS (points, -100 to 100)"),
        sample=_l("answers to “Would you recommend this shop?”"),
        advice=_l(
            "Customers recommend shops that do more than they promised: follow up after "
            "delivery, make returns and exchanges easy and free of surprises, and ask the "
            "customers who answered 0 to 6 what would have changed their mind."
        ),
    ),
    Kpi(
        key="first_response",
        group="first_response",
        field="within_24h_rate",
        measured="measured",
        hits="within_target",
        total="responses",
        misses=None,
        title=_l("First answers within 24 hours"),
        axis=_l("Within 24 h (%)"),
        sample=_l("first answers to reviews and complaints"),
        advice=_l(
            "Answer every review and complaint within 24 hours: check the Reviews and "
            "Complaints tabs every working day and keep short answers ready to adapt. A "
            "first answer can say that you are looking into the problem and when you will "
            "write again."
        ),
    ),
    Kpi(
        key="resolution",
        group="resolution",
        field="rate",
        measured="measured",
        hits="resolved",
        total="resolution_n",
        misses=None,
        title=_l("Problems resolved"),
        axis=_l("Resolved (%)"),
        sample=_l("outcomes confirmed by customers"),
        advice=_l(
            "Close each complaint with a concrete solution (refund, replacement or repair) "
            "and a date, then ask the customer to confirm that it is solved. Follow up the "
            "open ones well before the 15 business-day deadline."
        ),
    ),
)


# -- the series --------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    """One month of a KPI: its value (None without events) and how many events count."""

    month: str
    value: float | None
    sample: int


def month_value(kpi: Kpi, counts: Mapping[str, int]) -> float | None:
    """A KPI's value from one month's counts: a share to three decimals, or the NPS;
    None when the month has no event for it."""
    total, hits = counts.get(kpi.total, 0), counts.get(kpi.hits, 0)
    if kpi.misses is not None:
        return numbers.net_promoter(hits, counts.get(kpi.misses, 0), total, minimum=1)
    return round(hits / total, 3) if total > 0 else None


def series(kpi: Kpi, months: Sequence[str], counts: Mapping[str, Mapping[str, int]]) -> list[Point]:
    """A KPI over ``months`` (oldest first) from the per-month counts of
    :attr:`numbers.KpiSums.months`."""
    points = []
    for month in months:
        counted = counts.get(month, {})
        points.append(Point(month, month_value(kpi, counted), max(0, counted.get(kpi.total, 0))))
    return points


# -- the benchmark -------------------------------------------------------------------------


@dataclass(frozen=True)
class Benchmark:
    """The median of a KPI over the certified shops that have a value for it (None when
    none has), ``shops`` of them out of ``certified``."""

    median: float | None
    shops: int
    certified: int


def kpi_value(kpi: Kpi, kpis: Mapping[str, Any]) -> float | None:
    """A KPI's all-time value in an answer of :func:`numbers.kpis` (None: too few events)."""
    value = kpis[kpi.group][kpi.field]
    return None if value is None else float(value)


def medians(all_kpis: Iterable[Mapping[str, Any]]) -> dict[str, Benchmark]:
    """Per KPI key, the median of the non-null all-time values among ``all_kpis`` (one
    answer of :func:`numbers.kpis` per certified shop), to three decimals."""
    answers = list(all_kpis)
    found: dict[str, Benchmark] = {}
    for kpi in KPIS:
        values = [v for answer in answers if (v := kpi_value(kpi, answer)) is not None]
        median = round(statistics.median(values), 3) if values else None
        found[kpi.key] = Benchmark(median, len(values), len(answers))
    return found


def needs_advice(value: float | None, benchmark: float | None) -> bool:
    """Whether to show how to improve: the KPI is not measured yet, or below the median."""
    return value is None or (benchmark is not None and value < benchmark)


# -- the chart -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """One month's column: its bar (``h`` 0 and no value: nothing drawn but the dash at
    ``cx``), its axis label and the name its tooltip shows."""

    month: str
    label: str
    name: str
    value: float | None
    sample: int
    x: float
    y: float
    w: float
    h: float
    cx: float


@dataclass(frozen=True)
class Tick:
    """A value on the y axis: its grid line's height and its text."""

    y: float
    text: str


@dataclass(frozen=True)
class Chart:
    """A KPI chart ready to draw: the plot spans ``left`` to ``right``, ``top`` to ``bottom``,
    bars grow from ``zero_y``; ``benchmark_y`` is the median's line (None: no median)."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    zero_y: float
    bars: list[Bar]
    ticks: list[Tick]
    benchmark_y: float | None
    tick_x: int  # the right end of the tick texts
    month_y: int  # the baseline of the month labels
    title_y: int  # the baseline of the x axis title
    middle_x: float  # the plot's middle (the axis titles' anchors)
    middle_y: float
    y_title_x: int


def axis_range(kpi: Kpi) -> tuple[int, int]:
    """The y axis from bottom to top, in the unit drawn: % for a share, points for NPS."""
    return (-100, 100) if kpi.is_nps else (0, 100)


def drawn(kpi: Kpi, value: float) -> float:
    """A value in the unit drawn (a share times 100)."""
    return value if kpi.is_nps else value * 100


def chart(
    kpi: Kpi,
    points: Sequence[Point],
    benchmark: float | None,
    month_words: Callable[[str], tuple[str, str]] = lambda month: (month[5:], month),
) -> Chart:
    """The geometry of a KPI's monthly chart, with its median's line. ``month_words``
    gives a month's axis label and tooltip name (default: ``"03"``, ``"2026-03"``)."""
    low, high = axis_range(kpi)
    plot_h = HEIGHT - TOP - BOTTOM
    bottom = HEIGHT - BOTTOM

    def y_of(value: float) -> float:
        return round(TOP + (high - value) / (high - low) * plot_h, 1)

    zero = y_of(0)
    step = (WIDTH - LEFT - RIGHT) / max(1, len(points))
    bars = []
    for n, point in enumerate(points):
        x = round(LEFT + n * step + BAR_GAP, 1)
        w = round(step - 2 * BAR_GAP, 1)
        top = y_of(drawn(kpi, point.value)) if point.value is not None else zero
        label, name = month_words(point.month)
        bars.append(
            Bar(
                month=point.month,
                label=label,
                name=name,
                value=point.value,
                sample=point.sample,
                x=x,
                y=min(top, zero),
                w=w,
                h=round(abs(zero - top), 1),
                cx=round(x + w / 2, 1),
            )
        )
    ticks = [Tick(y_of(v), str(v)) for v in range(low, high + 1, (high - low) // 4)]
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=WIDTH - RIGHT,
        top=TOP,
        bottom=bottom,
        zero_y=zero,
        bars=bars,
        ticks=ticks,
        benchmark_y=y_of(drawn(kpi, benchmark)) if benchmark is not None else None,
        tick_x=LEFT - 4,
        month_y=bottom + 12,
        title_y=HEIGHT - 4,
        middle_x=(LEFT + WIDTH - RIGHT) / 2,
        middle_y=(TOP + bottom) / 2,
        y_title_x=12,
    )


# -- one panel per KPI ---------------------------------------------------------------------


@dataclass(frozen=True)
class Panel:
    """What the page shows for one KPI: the shop's all-time value, its sample and the
    sample that makes it measured, the certified shops' median, the monthly chart, and
    whether to show the advice."""

    kpi: Kpi
    value: float | None
    measured: int
    min_sample: int
    benchmark: Benchmark
    chart: Chart
    advice: bool


def panels(
    kpis: Mapping[str, Any],
    counts: Mapping[str, Mapping[str, int]],
    benchmarks: Mapping[str, Benchmark],
    months: Sequence[str],
    month_words: Callable[[str], tuple[str, str]] = lambda month: (month[5:], month),
) -> list[Panel]:
    """One :class:`Panel` per KPI, from the shop's all-time KPIs (:func:`numbers.kpis`),
    its monthly counts and the certified shops' :func:`medians`."""
    shown = []
    for kpi in KPIS:
        value = kpi_value(kpi, kpis)
        benchmark = benchmarks[kpi.key]
        shown.append(
            Panel(
                kpi=kpi,
                value=value,
                measured=int(kpis[kpi.group][kpi.measured]),
                min_sample=int(kpis["min_sample"]),
                benchmark=benchmark,
                chart=chart(kpi, series(kpi, months, counts), benchmark.median, month_words),
                advice=needs_advice(value, benchmark.median),
            )
        )
    return shown


# -- reading -------------------------------------------------------------------------------


def month_words(month: str) -> tuple[str, str]:
    """A ``YYYY-MM`` month's axis label and name in the request's language
    (``"ene"``, ``"ene 2026"``)."""
    first = date(int(month[:4]), int(month[5:7]), 1)
    return format_date(first, "LLL"), format_date(first, "MMM y")


@dataclass(frozen=True)
class Benchmarks:
    """The certified shops' medians of each KPI: over all of them (``overall``), and per
    declared sector that has at least :data:`SECTOR_MIN_SHOPS` certified shops."""

    overall: dict[str, Benchmark]
    by_sector: dict[str, dict[str, Benchmark]]

    def for_sector(self, sector: str | None) -> tuple[dict[str, Benchmark], str | None]:
        """The medians to compare a shop of ``sector`` with, and the sector they are of
        (None: all certified shops, when the sector has too few)."""
        if sector is not None and sector in self.by_sector:
            return self.by_sector[sector], sector
        return self.overall, None


def sector_medians(
    kpis_by_slug: Mapping[str, Mapping[str, Any]], sectors: Mapping[str, str | None]
) -> Benchmarks:
    """:class:`Benchmarks` of the certified shops (``kpis_by_slug``: each one's
    :func:`numbers.kpis`; ``sectors``: each one's declared sector, if any)."""
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for slug, kpis in kpis_by_slug.items():
        sector = sectors.get(slug)
        if sector is not None:
            grouped.setdefault(sector, []).append(kpis)
    return Benchmarks(
        medians(kpis_by_slug.values()),
        {s: medians(found) for s, found in grouped.items() if len(found) >= SECTOR_MIN_SHOPS},
    )


_benchmarks: TtlMemo[Benchmarks] = TtlMemo(16)


def certified_benchmarks() -> Benchmarks:
    """The certified shops' (active seal) medians of each KPI, from their replay states
    in one read, remembered for ``TRUSTSEAL_BENCHMARK_SECONDS`` (default 5 minutes) per
    process and database: the page of every shop shares them."""
    ttl = float(current_app.config["TRUSTSEAL_BENCHMARK_SECONDS"])
    return _benchmarks.get_or_load(str(db.engine.url), ttl, _read_benchmarks)


def _read_benchmarks() -> Benchmarks:
    certified = seals.active_seal_merchants()
    kpis = transparency.kpis_of_merchants([merchant.slug for merchant in certified])
    return sector_medians(kpis, {merchant.slug: merchant.sector for merchant in certified})


def merchant_panels(
    merchant_slug: str, now: datetime, sector: str | None = None
) -> tuple[list[Panel], str | None]:
    """The KPI panels of a shop's analytics page: its last 12 months up to ``now``
    against the certified shops' medians — of its ``sector`` when that has enough
    certified shops — and the sector they are of (None: all certified shops)."""
    state = transparency.replayed(merchant_slug)
    benchmarks, compared = certified_benchmarks().for_sector(sector)
    shown = panels(
        numbers.kpis(state.sums, state.kpi),
        state.kpi.months,
        benchmarks,
        numbers.last_months(now),
        month_words,
    )
    return shown, compared
