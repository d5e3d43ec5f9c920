"""What a badge shows, as shapes: the same layout feeds the SVG and the PNG renderers.

Three styles — ``compact`` (one line, like shields.io), ``seal`` (round) and ``card``
(score, stars, count, 12-month chart, latest testimonials, answer rate) — and states
that cannot be mistaken: suspended, revoked and expired say so in red with no score.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import final

from badges import text

STYLES = ("compact", "seal", "card")
LANGS = ("es", "en")
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


Shape = Rect | Circle | Text


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
        score = _score(view) if score is None else score
        count = _count(view) if count is None else count
        return f"{view.labels['seal_full']}: {name} — {score} / 5, {count}"
    return f"{view.labels['seal_full']}: {name} — {_status_word(view)}"


def compact(view: BadgeView) -> Layout:
    """``Sello de Confianza | ★ 4,6 · 1.234 opiniones`` in one 20-px line."""
    size, pad = 11.0, 6.0
    left = view.labels["seal_short"]
    score, count = _score(view), _count(view)
    right = f"★ {score} · {count}" if view.status == "active" else _status_word(view)
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


def seal(view: BadgeView) -> Layout:
    """A round seal: score, stars and count, or the status in red."""
    color = _status_color(view)
    shapes: list[Shape] = [
        Circle(60, 60, 58, fill=color),
        Circle(60, 60, 50, fill="#fff"),
        _text(60, 30, view.labels["seal_short"].upper(), 6.5, color, bold=True, anchor="middle"),
    ]
    name = text.fit(view.name, 74, 7.5, bold=True)
    if view.status == "active":
        shapes.append(_text(60, 64, _score(view), 26, INK, bold=True, anchor="middle"))
        star_w = text.width("★" * 5, 10)
        shapes += stars(60 - star_w / 2, 78, 10, view.score)
        shapes.append(_text(60, 90, text.fit(_count(view), 76, 7.5), 7.5, MUTED, anchor="middle"))
    else:
        word = text.fit(_status_word(view), 84, 10, bold=True)
        shapes.append(_text(60, 64, word, 10, color, bold=True, anchor="middle"))
    shapes.append(_text(60, 101, name, 7.5, INK, bold=True, anchor="middle"))
    return Layout(120, 120, _label(view), tuple(shapes), view.verify_url)


def card(view: BadgeView) -> Layout:
    """Score, stars, count, a 12-month bar chart, testimonials and the answer rate."""
    width, height, pad = 320.0, 214.0, 12.0
    inner = width - 2 * pad
    color = _status_color(view)
    shapes: list[Shape] = [
        Rect(0, 0, width, height, "#fff", rx=8),
        Rect(0, 0, width, 30, color, rx=8),
        Rect(0, 22, width, 8, color),
        _text(pad, 20, view.labels["seal_full"], 12, "#fff", bold=True),
        _text(width - pad, 20, _status_word(view), 9.5, "#fff", bold=True, anchor="end"),
        _text(pad, 50, text.fit(view.name, inner, 14, bold=True), 14, INK, bold=True),
    ]
    if view.status != "active":
        shapes.append(
            _text(pad, 86, text.fit(_status_word(view), inner, 18, bold=True), 18, color, bold=True)
        )
        shapes.append(
            _text(pad, 108, text.fit(view.labels[f"explain_{view.status}"], inner, 9), 9, MUTED)
        )
    else:
        score = _score(view)
        shapes.append(_text(pad, 88, score, 28, INK, bold=True))
        shapes += stars(pad + text.width(score, 28, bold=True) + 8, 86, 14, view.score)
        shapes.append(_text(pad, 104, text.fit(_count(view), 150, 9.5), 9.5, MUTED))
        if view.response_rate is not None:
            rate = view.labels["answers"].replace(
                "{rate}", text.number(round(view.response_rate * 100), view.lang)
            )
            shapes.append(_text(pad, 117, text.fit(rate, 160, 8.5), 8.5, MUTED))
        shapes += _chart(view, x=186, baseline=104, w=122, h=44)
        y = 140
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
    footer = f"{view.labels['verify_at']} · {view.domain}"
    shapes.append(_text(pad, height - 10, text.fit(footer, inner, 8), 8, MUTED))
    return Layout(width, height, _label(view), tuple(shapes), view.verify_url)


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
