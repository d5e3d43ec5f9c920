"""A product's stars and count, as a layout for the SVG renderer (the product widget).

``★★★★⯪ 4,6 23 opiniones verificadas`` in one 20-px line: five stars filled to the mean
rating (the last one in part), the rating in bold, the count; or grey stars and "no
reviews yet". Every run of text is measured with the badge's width tables, so the
picture is as wide as its words in any language, and the SVG keeps them to that width.
"""

from __future__ import annotations

from dataclasses import dataclass

from badges import layout as shapes
from badges import text

THEMES = ("light", "dark")
HEIGHT = 20.0
STAR, GAP = 14.0, 2.0  # each star's width, and the space between two
SIZE = 11.0  # the words' font size
SPACE = 5.0  # between the stars, the rating and the count


@dataclass(frozen=True)
class Palette:
    """The colours of one theme: words, muted words, filled and empty stars."""

    text: str
    muted: str
    on: str
    off: str


# Light for light pages, dark for dark ones (the picture's background is transparent).
PALETTES = {
    "light": Palette(shapes.INK, shapes.MUTED, shapes.GOLD, "#c9ced6"),
    "dark": Palette("#f4f5f7", "#c3c8d1", "#f5b301", "#59606d"),
}


@dataclass(frozen=True)
class ProductStars:
    """What the picture shows, worded by the caller in its language: ``score`` is the
    rating as written there (``4,6``; None without reviews), ``count`` the words after it
    (``23 opiniones verificadas`` or ``Sin opiniones aún``), ``label`` the accessible name."""

    rating: float | None
    score: str | None
    count: str
    label: str
    theme: str = "light"


def stars_layout(view: ProductStars) -> shapes.Layout:
    """The picture's layout: stars, then the rating in bold, then the count."""
    palette = PALETTES[view.theme]
    drawn = shapes.rating_stars(0, 3.5, STAR, view.rating, palette.on, palette.off, GAP)
    x = 5 * STAR + 4 * GAP + SPACE
    baseline = 14.5
    if view.score is not None:
        width = text.width(view.score, SIZE, bold=True)
        drawn.append(
            shapes.Text(x, baseline, view.score, SIZE, palette.text, True, width=round(width, 2))
        )
        x += width + SPACE
    words = text.clean(view.count)
    width = text.width(words, SIZE)
    drawn.append(shapes.Text(x, baseline, words, SIZE, palette.muted, width=round(width, 2)))
    return shapes.Layout(round(x + width + 1, 1), HEIGHT, text.clean(view.label), tuple(drawn))
