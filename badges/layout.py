"""What a badge shows, as shapes: the same layout feeds the SVG and the PNG renderers.

Three styles — ``compact`` (one line, like shields.io), ``seal`` (round) and ``card``
(score, stars, count, 12-month chart, latest testimonials, answer rate) — and states
that cannot be mistaken: suspended, revoked and expired say so in red with no score.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import final

from badges import text
from trustseal import languages

STYLES = ("compact", "seal", "card")
LANGS = languages.CODES  # es, en, pt (Brazilian Portuguese)
GREEN, RED, GREY, LABEL, GOLD, INK, MUTED = (
    "#0b6e4f",
    "#b42318",
    "#7a808a",
    "#4a4f57",
    "#e8a400",
    "#1d2433",
    "#5b6475",
)
BAD = frozenset({"suspended", "revoked", "expired"})


@final  # svg.py dispatches on ``type(shape) is …``: no subclass may slip through
@dataclass(slots=True)
class Rect:
    """A filled rectangle (rounded when ``rx``)."""

    x: float
    y: float
    w: float
    h: float
    fill: str
    rx: float = 0


@final  # svg.py dispatches on ``type(shape) is …``: no subclass may slip through
@dataclass(slots=True)
class Circle:
    """A circle, filled and/or stroked."""

    cx: float
    cy: float
    r: float
    fill: str | None = None
    stroke: str | None = None
    stroke_width: float = 0


@final  # svg.py dispatches on ``type(shape) is …``: no subclass may slip through
@dataclass(slots=True)
class Text:
    """One run of text; ``width`` is its measured width (kept by the SVG via textLength)."""

    x: float
    y: float
    text: str
    size: float
    fill: str
    bold: bool = False
    anchor: str = "start"  # start | middle | end
    width: float = 0


@final  # svg.py dispatches on ``type(shape) is …``: no subclass may slip through
@dataclass(slots=True)
class Polygon:
    """A filled polygon, its corners in drawing order."""

    points: tuple[tuple[float, float], ...]
    fill: str


Shape = Rect | Circle | Text | Polygon


@dataclass(frozen=True)
class Layout:
    """A badge ready to draw."""

    width: float
    height: float
    label: str  # the accessible name (aria-label and <title>)
    shapes: tuple[Shape, ...]
    link: str | None = None


@dataclass(frozen=True)
class Testimonial:
    """A short verified testimonial."""

    name: str
    rating: int
    text: str


@dataclass(frozen=True)
class BadgeView:
    """Everything a badge shows. ``labels`` are already translated by the caller."""

    status: str  # active | none | pending | suspended | revoked | expired | unknown
    name: str
    domain: str
    labels: Mapping[str, str]
    lang: str = "es"
    score: float | None = None
    rating_count: int = 0
    history: tuple[int, ...] = ()
    testimonials: tuple[Testimonial, ...] = ()
    response_rate: float | None = None
    kpis: tuple[str, ...] = ()  # the card's service indicators, worded (at most two)
    verify_url: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


def _text(
    x: float,
    y: float,
    value: str,
    size: float,
    fill: str,
    bold: bool = False,
    anchor: str = "start",
    measured: float | None = None,
) -> Text:
    width = text.width(value, size, bold) if measured is None else measured
    return Text(x, y, value, size, fill, bold, anchor, round(width, 2))


def stars(x: float, y: float, size: float, value: float | None) -> list[Text]:
    """Five stars from ``x``: filled (gold) up to the rounded value, then empty (grey)."""
    full = int((value or 0) + 0.25)
    shapes = []
    if full:
        shapes.append(_text(x, y, "★" * full, size, GOLD))
    if full < 5:
        shapes.append(_text(x + text.width("★" * full, size), y, "★" * (5 - full), size, "#c9ced6"))
    return shapes


# A regular five-pointed star: its inner radius over its outer one, and its width and height
# over its outer radius (point up).
STAR_INNER = 0.381966
STAR_WIDTH = 2 * math.cos(math.radians(18))
STAR_HEIGHT = 1 + math.cos(math.radians(36))


def star_points(x: float, y: float, width: float) -> tuple[tuple[float, float], ...]:
    """The ten corners of a star ``width`` px wide whose box starts at ``x``, ``y``."""
    outer = width / STAR_WIDTH
    cx, cy = x + width / 2, y + outer
    corners = []
    for k in range(10):
        radius = outer if k % 2 == 0 else outer * STAR_INNER
        angle = math.radians(-90 + 36 * k)
        corners.append(
            (round(cx + radius * math.cos(angle), 2), round(cy + radius * math.sin(angle), 2))
        )
    return tuple(corners)


def left_of(points: Sequence[tuple[float, float]], cut: float) -> tuple[tuple[float, float], ...]:
    """The part of a polygon left of the vertical line ``x = cut`` (Sutherland-Hodgman
    against one half-plane). Where that part is two pieces, they stay joined by an edge
    along the line, which has no width and fills nothing."""
    kept: list[tuple[float, float]] = []
    for n, (x1, y1) in enumerate(points):
        x0, y0 = points[n - 1]
        if (x0 <= cut) != (x1 <= cut):
            kept.append((cut, round(y0 + (cut - x0) / (x1 - x0) * (y1 - y0), 2)))
        if x1 <= cut:
            kept.append((x1, y1))
    return tuple(kept)


def rating_stars(
    x: float, y: float, width: float, value: float | None, on: str, off: str, gap: float
) -> list[Shape]:
    """Five stars ``width`` px wide each, ``gap`` apart, from ``x``, ``y`` (their top):
    filled in ``on`` up to ``value`` (0 to 5) — the star where it falls filled in part, left
    to right, by its fraction — and ``off`` beyond."""
    shapes: list[Shape] = []
    for n in range(5):
        corners = star_points(x + n * (width + gap), y, width)
        filled = min(1.0, max(0.0, (value or 0) - n))
        if filled < 1:
            shapes.append(Polygon(corners, off))
        if filled >= 1:
            shapes.append(Polygon(corners, on))
        elif filled > 0:
            shapes.append(Polygon(left_of(corners, x + n * (width + gap) + filled * width), on))
    return shapes


def _status_color(view: BadgeView) -> str:
    if view.status == "active":
        return GREEN
    return RED if view.status in BAD else GREY


def _status_word(view: BadgeView) -> str:
    return view.labels[f"status_{view.status}"]


def _count(view: BadgeView) -> str:
    noun = view.labels["review_one"] if view.rating_count == 1 else view.labels["review_many"]
    return f"{text.number(view.rating_count, view.lang)} {noun}"


def _score(view: BadgeView) -> str:
    return text.number(view.score, view.lang, 1) if view.score is not None else "\u2013"


def _label(view: BadgeView, score: str | None = None, count: str | None = None) -> str:
    name = text.clean(view.name)
    if view.status == "active":
        count = _count(view) if count is None else count
        if view.score is None:
            return f"{view.labels['seal_full']}: {name} — {_status_word(view)}, {count}"
        score = _score(view) if score is None else score
        return f"{view.labels['seal_full']}: {name} — {_status_word(view)}, {score} / 5, {count}"
    return f"{view.labels['seal_full']}: {name} — {_status_word(view)}"


def compact(view: BadgeView) -> Layout:
    """``Sello de Confianza | VIGENTE · ★ 4,6 · 1.234 opiniones`` in one 20-px line (the
    status word first, so a certified shop's badge says so in words)."""
    size, pad = 11.0, 6.0
    left = view.labels["seal_short"]
    score, count = _score(view), _count(view)
    if view.status != "active":
        right = _status_word(view)
    elif view.score is None:
        right = f"{_status_word(view)} · {count}"
    else:
        right = f"{_status_word(view)} · ★ {score} · {count}"
    bold = view.status in BAD
    left_text, right_text = text.width(left, size), text.width(right, size, bold)
    left_w, right_w = left_text + 2 * pad, right_text + 2 * pad
    width = round(left_w + right_w, 1)
    color = _status_color(view)
    shapes: list[Shape] = [
        Rect(0, 0, width, 20, LABEL, rx=3),
        Rect(left_w, 0, right_w, 20, color, rx=3),
        Rect(left_w, 0, 4, 20, color),  # squares the inner corner
        _text(pad, 14, left, size, "#fff", measured=left_text),
        _text(left_w + pad, 14, right, size, "#fff", bold=bold, measured=right_text),
    ]
    return Layout(width, 20, _label(view, score, count), tuple(shapes), view.verify_url)


SEAL_CENTER, SEAL_INNER, SEAL_MARGIN = 60.0, 50.0, 4.0


def seal_room(baseline: float, size: float) -> float:
    """The width a line of text at ``baseline`` and font ``size`` has inside the seal's
    white disc (the chord at the glyphs' edge farther from the centre, less a margin)."""
    top, bottom = baseline - 0.78 * size, baseline + 0.22 * size
    farthest = max(abs(top - SEAL_CENTER), abs(bottom - SEAL_CENTER))
    if farthest >= SEAL_INNER:
        return 0.0
    return 2 * (SEAL_INNER**2 - farthest**2) ** 0.5 - 2 * SEAL_MARGIN


def _seal_lines(
    words: str, baselines: list[float], size: float, fill: str, bold: bool, smallest: float
) -> list[Shape]:
    """``words`` centred on the given baselines inside the disc, at the largest font size
    from ``size`` down to ``smallest`` at which no word is cut."""
    step = baselines[1] - baselines[0] if len(baselines) > 1 else 0.0
    while True:
        lines = text.wrap(words, [seal_room(y, size) for y in baselines], size, bold)
        if size <= smallest or not any(line.endswith(text.ELLIPSIS) for line in lines):
            break
        size = round(size - 0.5, 1)
    shift = (len(baselines) - len(lines)) * step / 2  # fewer lines: centred on the same band
    return [
        _text(SEAL_CENTER, y + shift, line, size, fill, bold=bold, anchor="middle")
        for y, line in zip(baselines, lines, strict=False)
    ]


def seal(view: BadgeView) -> Layout:
    """A round seal: score, stars and count, or the status in red; every line measured
    against the disc at its height, so nothing crosses the ring."""
    color = _status_color(view)
    shapes: list[Shape] = [
        Circle(SEAL_CENTER, SEAL_CENTER, 58, fill=color),
        Circle(SEAL_CENTER, SEAL_CENTER, SEAL_INNER, fill="#fff"),
    ]
    shapes += _seal_lines(view.labels["seal_short"].upper(), [26.0, 33.0], 6.5, color, True, 5.5)
    if view.status == "active" and view.score is not None:
        shapes.append(_text(60, 62, _score(view), 24, INK, bold=True, anchor="middle"))
        star_w = text.width("★" * 5, 10)
        shapes += stars(60 - star_w / 2, 75, 10, view.score)
        shapes += _seal_lines(_count(view), [86.0], 7.5, MUTED, False, 6.0)
    elif view.status == "active":
        shapes += _seal_lines(_status_word(view), [50.0], 10, color, True, 7.0)
        shapes += _seal_lines(view.labels["no_score"], [64.0, 73.0], 7.5, MUTED, False, 6.0)
        shapes += _seal_lines(_count(view), [84.0], 7.5, MUTED, False, 6.0)
    else:
        shapes += _seal_lines(_status_word(view), [58.0, 70.0], 11, color, True, 7.0)
    shapes += _seal_lines(view.name, [96.0, 104.0], 7.5, INK, True, 6.0)
    return Layout(120, 120, _label(view), tuple(shapes), view.verify_url)


def _lines(
    x: float, y: float, words: str, room: float, size: float, fill: str, lines: int = 2
) -> tuple[list[Shape], float]:
    """``words`` wrapped into at most ``lines`` lines from baseline ``y``; the shapes and
    the baseline after the last line."""
    leading = size * 1.3
    wrapped = text.wrap(words, room, size, lines=lines)
    shapes: list[Shape] = [
        _text(x, y + n * leading, line, size, fill) for n, line in enumerate(wrapped)
    ]
    return shapes, y + len(wrapped) * leading


def card(view: BadgeView) -> Layout:
    """Score, stars, count, a 12-month bar chart, testimonials and the answer rate; a shop
    without a valid seal gets a shorter card that says so and why, with no score."""
    width, pad = 320.0, 12.0
    inner = width - 2 * pad
    color = _status_color(view)
    shapes: list[Shape] = [
        _text(pad, 50, text.fit(view.name, inner, 14, bold=True), 14, INK, bold=True),
    ]
    if view.status != "active":
        shapes.append(
            _text(pad, 80, text.fit(_status_word(view), inner, 18, bold=True), 18, color, bold=True)
        )
        explained, y = _lines(pad, 98, view.labels[f"explain_{view.status}"], inner, 9, MUTED)
        shapes += explained
        height = y + 22
    else:
        if view.score is not None:
            score = _score(view)
            shapes.append(_text(pad, 88, score, 28, INK, bold=True))
            shapes += stars(pad + text.width(score, 28, bold=True) + 8, 86, 14, view.score)
        else:
            shapes += _lines(pad, 80, view.labels["no_score"], 160, 11, INK)[0]
        shapes.append(_text(pad, 104, text.fit(_count(view), 160, 9.5), 9.5, MUTED))
        below = 116.0
        if view.response_rate is not None:
            rate = view.labels["answers"].replace(
                "{rate}", text.number(round(view.response_rate * 100), view.lang)
            )
            answered, below = _lines(pad, 116, rate, 166, 8.5, MUTED)
            shapes += answered
        shapes += _chart(view, x=186, baseline=104, w=122, h=44)
        y = 146.0
        if view.kpis:  # under the answer rate, across the card; testimonials move down
            below = max(below, 128.0) + 2
            for line in view.kpis[:2]:
                shapes.append(_text(pad, below, text.fit(line, inner, 9, bold=True), 9, INK, True))
                below += 12
            y = below + 16
        for quote in view.testimonials[:2]:
            line = f"“{text.clean(quote.text)}”"
            shapes += stars(pad, y, 9, quote.rating)
            offset = text.width("★" * 5, 9) + 5
            shapes.append(_text(pad + offset, y, text.fit(line, inner - offset, 9), 9, INK))
            shapes.append(
                _text(
                    pad + offset, y + 12, text.fit(f"— {quote.name}", inner - offset, 8), 8, MUTED
                )
            )
            y += 30
        height = max(y + 8, 150.0)
    footer = f"{view.labels['verify_at']} · {view.domain}"
    shapes.append(_text(pad, height - 10, text.fit(footer, inner, 8), 8, MUTED))
    frame: list[Shape] = [
        Rect(0, 0, width, height, "#fff", rx=8),
        Rect(0, 0, width, 30, color, rx=8),
        Rect(0, 22, width, 8, color),
        _text(pad, 20, view.labels["seal_full"], 12, "#fff", bold=True),
        _text(width - pad, 20, _status_word(view), 9.5, "#fff", bold=True, anchor="end"),
    ]
    return Layout(width, height, _label(view), tuple(frame + shapes), view.verify_url)


def _chart(view: BadgeView, x: float, baseline: float, w: float, h: float) -> list[Shape]:
    counts = list(view.history[-12:]) or [0] * 12
    top = max([*counts, 1])
    step = w / len(counts)
    shapes: list[Shape] = [
        Rect(
            x + n * step + 1,
            baseline - max(1.0, h * c / top),
            step - 2,
            max(1.0, h * c / top),
            GREEN if c else "#e3e6eb",
        )
        for n, c in enumerate(counts)
    ]
    shapes.append(_text(x, baseline + 11, text.fit(view.labels["last_12"], w, 7.5), 7.5, MUTED))
    return shapes


BUILDERS = {"compact": compact, "seal": seal, "card": card}


def layout(view: BadgeView, style: str) -> Layout:
    """The layout of a badge in one of :data:`STYLES`."""
    return BUILDERS[style](view)
