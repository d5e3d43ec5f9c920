"""Layout → SVG bytes, through the one escaping builder (see :mod:`badges.assertion`)."""

from __future__ import annotations

from badges.layout import Circle, Layout, Rect, Text
from badges.xml import Markup, Template

SVG_NS = "http://www.w3.org/2000/svg"
OPENBADGES_NS = "http://openbadges.org"
FONT = "DejaVu Sans,Verdana,Geneva,sans-serif"
_ANCHORS = {"start": None, "middle": "middle", "end": "end"}


_RECT = Template("rect", "x", "y", "width", "height", "rx", "fill")
_CIRCLE = Template("circle", "cx", "cy", "r", "fill", "stroke", "stroke-width")
_TEXT = Template(
    "text",
    *("x", "y", "font-size", "fill", "font-weight", "text-anchor", "textLength", "lengthAdjust"),
)
_SVG = Template(
    "svg",
    *("width", "height", "viewBox", "aria-label", "aria-labelledby"),
    fixed={"xmlns": SVG_NS, "xmlns:openbadges": OPENBADGES_NS, "role": "img"},
)
_TITLE = Template("title", "id")
_GROUP = Template("g", fixed={"font-family": FONT})
_LINK = Template("a", "href", fixed={"target": "_blank"})


def _shape(shape: Rect | Circle | Text) -> Markup:
    if type(shape) is Rect:
        return _RECT(shape.x, shape.y, shape.w, shape.h, shape.rx or None, shape.fill)
    if type(shape) is Circle:
        return _CIRCLE(
            shape.cx,
            shape.cy,
            shape.r,
            shape.fill or "none",
            shape.stroke,
            shape.stroke_width or None,
        )
    return _TEXT(
        shape.x,
        shape.y,
        shape.size,
        shape.fill,
        "bold" if shape.bold else None,
        _ANCHORS[shape.anchor],
        shape.width or None,
        "spacingAndGlyphs" if shape.width else None,
        children=(shape.text,),
    )


def render(layout: Layout, uid: str) -> bytes:
    """The SVG of a layout, without assertion. ``uid`` keeps ids unique on a page."""
    title_id = f"ts-{uid}-title"
    body = _GROUP(children=tuple(map(_shape, layout.shapes)))
    if layout.link:
        body = _LINK(layout.link, children=(body,))
    root = _SVG(
        layout.width,
        layout.height,
        f"0 0 {layout.width:g} {layout.height:g}",
        layout.label,
        title_id,
        children=(_TITLE(title_id, children=(layout.label,)), body),
    )
    return root.encode("utf-8")
