"""The "Libro de Reclamaciones" button: the open-book icon and the words the law expects."""

from __future__ import annotations

from badges import layout as shapes
from badges import svg
from badges.text import width

LABEL = "Libro de Reclamaciones"


def render(link: str) -> bytes:
    """An SVG button linking to the merchant's virtual book."""
    size = 12.0
    text_w = width(LABEL, size, bold=True)
    w, h = round(40 + text_w + 12, 1), 40.0
    ink, paper = "#1d2433", "#ffffff"
    parts: tuple[shapes.Shape, ...] = (
        shapes.Rect(0, 0, w, h, paper, rx=6),
        shapes.Rect(1, 1, w - 2, h - 2, "#f4f5f7", rx=5),
        # an open book: two pages and a spine
        shapes.Rect(9, 11, 10, 18, ink, rx=1.5),
        shapes.Rect(20, 11, 10, 18, ink, rx=1.5),
        shapes.Rect(11, 13, 6, 14, paper),
        shapes.Rect(22, 13, 6, 14, paper),
        shapes.Text(40, 25, LABEL, size, ink, bold=True, width=round(text_w, 2)),
    )
    return svg.render(shapes.Layout(w, h, LABEL, parts, link), "libro")
