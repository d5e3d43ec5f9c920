"""Layout → PNG with Pillow (crisp at any scale). The picture is rendered without the
assertion: its ``png_sha256`` is signed, then :func:`badges.assertion.embed_png_assertion`
adds the ``openbadges`` iTXt chunk."""

from __future__ import annotations

import io
from functools import cache

from PIL import Image, ImageDraw, ImageFont

from badges.layout import Circle, Layout, Polygon, Rect, Text
from badges.widths import FONTS

_ANCHORS = {"start": "ls", "middle": "ms", "end": "rs"}


@cache
def _font(bold: bool, size_px: float) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONTS["bold" if bold else "regular"]), size_px)


def render(layout: Layout, scale: int = 1) -> bytes:
    """Paint the layout at ``scale`` (1 or 2) as a PNG without any text chunk."""
    image = Image.new(
        "RGBA", (round(layout.width * scale), round(layout.height * scale)), (0, 0, 0, 0)
    )
    draw = ImageDraw.Draw(image)
    for shape in layout.shapes:
        if isinstance(shape, Rect):
            box = (
                shape.x * scale,
                shape.y * scale,
                (shape.x + shape.w) * scale - 1,
                (shape.y + shape.h) * scale - 1,
            )
            draw.rounded_rectangle(box, radius=shape.rx * scale, fill=shape.fill)
        elif isinstance(shape, Circle):
            box = (
                (shape.cx - shape.r) * scale,
                (shape.cy - shape.r) * scale,
                (shape.cx + shape.r) * scale,
                (shape.cy + shape.r) * scale,
            )
            draw.ellipse(
                box, fill=shape.fill, outline=shape.stroke, width=round(shape.stroke_width * scale)
            )
        elif isinstance(shape, Polygon):
            draw.polygon([(x * scale, y * scale) for x, y in shape.points], fill=shape.fill)
        else:
            _text(draw, shape, scale)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def _text(draw: ImageDraw.ImageDraw, shape: Text, scale: int) -> None:
    font = _font(shape.bold, shape.size * scale)
    draw.text(
        (shape.x * scale, shape.y * scale),
        shape.text,
        font=font,
        fill=shape.fill,
        anchor=_ANCHORS[shape.anchor],
    )
