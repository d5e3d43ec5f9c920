"""Layout → PNG with Pillow (crisp at any scale), with the assertion in an iTXt chunk."""

from __future__ import annotations

import io
from functools import cache

from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo

from badges.layout import Circle, Layout, Rect, Text
from badges.widths import FONTS

ITXT_KEY = "openbadges"
_ANCHORS = {"start": "ls", "middle": "ms", "end": "rs"}


@cache
def _font(bold: bool, size_px: float) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONTS["bold" if bold else "regular"]), size_px)


def render(layout: Layout, assertion: str | None, scale: int = 1) -> bytes:
    """Paint the layout at ``scale`` (1 or 2) and embed the assertion, uncompressed."""
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
        else:
            _text(draw, shape, scale)
    info = PngInfo()
    if assertion is not None:
        info.add_itxt(ITXT_KEY, assertion, zip=False)
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info, optimize=True)
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


def read_assertion(png: bytes) -> str | None:
    """The JWS stored in a PNG's ``openbadges`` iTXt chunk, or None."""
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        value = getattr(image, "text", {}).get(ITXT_KEY)
    return str(value) if value is not None else None
