"""Layout → SVG bytes, through the one escaping builder (see :mod:`badges.assertion`)."""

from __future__ import annotations

from badges.layout import Circle, Layout, Rect, Text
from badges.xml import Element, element

SVG_NS = "http://www.w3.org/2000/svg"
OPENBADGES_NS = "http://openbadges.org"
FONT = "DejaVu Sans,Verdana,Geneva,sans-serif"
_ANCHORS = {"start": None, "middle": "middle", "end": "end"}


def _shape(shape: Rect | Circle | Text) -> Element:
    if isinstance(shape, Rect):
        return element(
            "rect",
            {
                "x": shape.x,
                "y": shape.y,
                "width": shape.w,
                "height": shape.h,
                "rx": shape.rx or None,
                "fill": shape.fill,
            },
        )
    if isinstance(shape, Circle):
        return element(
            "circle",
            {
                "cx": shape.cx,
                "cy": shape.cy,
                "r": shape.r,
                "fill": shape.fill or "none",
                "stroke": shape.stroke,
                "stroke-width": shape.stroke_width or None,
            },
        )
    return element(
        "text",
        {
            "x": shape.x,
            "y": shape.y,
            "font-size": shape.size,
            "fill": shape.fill,
            "font-weight": "bold" if shape.bold else None,
            "text-anchor": _ANCHORS[shape.anchor],
            "textLength": shape.width or None,
            "lengthAdjust": "spacingAndGlyphs" if shape.width else None,
        },
        shape.text,
    )


def render(layout: Layout, uid: str) -> bytes:
    """The SVG of a layout, without assertion. ``uid`` keeps ids unique on a page."""
    title_id = f"ts-{uid}-title"
    body = element("g", {"font-family": FONT}, *(_shape(s) for s in layout.shapes))
    if layout.link:
        body = element("a", {"href": layout.link, "target": "_blank"}, body)
    root = element(
        "svg",
        {
            "xmlns": SVG_NS,
            "xmlns:openbadges": OPENBADGES_NS,
            "width": layout.width,
            "height": layout.height,
            "viewBox": f"0 0 {layout.width:g} {layout.height:g}",
            "role": "img",
            "aria-label": layout.label,
            "aria-labelledby": title_id,
        },
        element("title", {"id": title_id}, layout.label),
        body,
    )
    return root.serialize().encode("utf-8")
