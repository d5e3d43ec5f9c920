"""Layout → SVG bytes, through the one escaping builder (see :mod:`badges.assertion`)."""

from __future__ import annotations

from badges.layout import Circle, Layout, Polygon, Rect, Text
from badges.xml import Template, Writer, number

SVG_NS = "http://www.w3.org/2000/svg"
OPENBADGES_NS = "http://openbadges.org"
FONT = "DejaVu Sans,Verdana,Geneva,sans-serif"
_ANCHORS = {"start": None, "middle": "middle", "end": "end"}


_RECT = Template("rect", "x", "y", "width", "height", "rx", "fill")
_CIRCLE = Template("circle", "cx", "cy", "r", "fill", "stroke", "stroke-width")
_POLYGON = Template("polygon", "points", "fill")
_TEXT = Template(
    "text",
    *("x", "y", "font-size", "fill", "font-weight", "text-anchor", "textLength", "lengthAdjust"),
)
_SVG = Template(
    "svg",
    *("width", "height", "viewBox", "role", "aria-label", "aria-labelledby"),
    fixed={"xmlns": SVG_NS, "xmlns:openbadges": OPENBADGES_NS},
)
_TITLE = Template("title", "id")
_GROUP = Template("g", fixed={"font-family": FONT})
_LINK = Template("a", "href", "target")


def _write_shape(out: Writer, shape: Rect | Circle | Text | Polygon) -> None:
    if type(shape) is Rect:
        _RECT.empty(out, shape.x, shape.y, shape.w, shape.h, shape.rx or None, shape.fill)
    elif type(shape) is Circle:
        _CIRCLE.empty(
            out,
            shape.cx,
            shape.cy,
            shape.r,
            shape.fill or "none",
            shape.stroke,
            shape.stroke_width or None,
        )
    elif type(shape) is Polygon:
        points = " ".join(f"{number(x)},{number(y)}" for x, y in shape.points)
        _POLYGON.empty(out, points, shape.fill)
    else:
        _TEXT.with_text(
            out,
            shape.text,
            shape.x,
            shape.y,
            shape.size,
            shape.fill,
            "bold" if shape.bold else None,
            _ANCHORS[shape.anchor],
            shape.width or None,
            "spacingAndGlyphs" if shape.width else None,
        )


def render(layout: Layout, uid: str) -> bytes:
    """The SVG of a layout, without assertion. ``uid`` keeps ids unique on a page."""
    title_id = f"ts-{uid}-title"
    out = Writer()
    width, height = layout.width, layout.height
    _SVG.start(out, width, height, f"0 0 {width:g} {height:g}", "img", layout.label, title_id)
    _TITLE.with_text(out, layout.label, title_id)
    if layout.link:
        _LINK.start(out, layout.link, "_blank")
    _GROUP.start(out)
    for shape in layout.shapes:
        _write_shape(out, shape)
    _GROUP.end(out)
    if layout.link:
        _LINK.end(out)
    _SVG.end(out)
    return out.getvalue()
