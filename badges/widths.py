"""Advance widths of the shipped DejaVu Sans fonts, from a precomputed table.

``badges/widths.json`` holds, for each weight, the advance width of every character in
the ranges below at a font size of 100 px, measured with Pillow's ``getlength``.
Rebuild it with ``python -m badges.widths`` after changing the fonts or the ranges.
Characters outside the table are measured on first use and remembered.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from PIL import ImageFont

HERE = Path(__file__).resolve().parent
FONTS = {
    "regular": HERE / "fonts" / "DejaVuSans.ttf",
    "bold": HERE / "fonts" / "DejaVuSans-Bold.ttf",
}
TABLE = HERE / "widths.json"
REFERENCE_SIZE = 100
RANGES = [(0x20, 0x7F), (0xA0, 0x250), (0x2010, 0x2030), (0x2190, 0x21A0), (0x2605, 0x2607)]


def _font(weight: str) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONTS[weight]), REFERENCE_SIZE)


def build() -> dict[str, dict[str, float]]:
    """Measure every character of :data:`RANGES` in both weights."""
    table: dict[str, dict[str, float]] = {}
    for weight in FONTS:
        font = _font(weight)
        table[weight] = {
            chr(code): round(font.getlength(chr(code)), 3)
            for start, end in RANGES
            for code in range(start, end)
        }
    return table


class _Widths(dict[str, float]):
    """Character → width at 100 px; a character outside the table is measured once."""

    def __init__(self, weight: str, known: dict[str, float]) -> None:
        super().__init__(known)
        self.weight = weight

    def __missing__(self, char: str) -> float:
        width = float(_font(self.weight).getlength(char))
        self[char] = width
        return width


@cache
def widths_of(weight: str) -> dict[str, float]:
    """The table of one weight (character → width at 100 px); indexing never misses."""
    table = json.loads(TABLE.read_text(encoding="utf-8"))
    return _Widths(weight, table[weight])


if __name__ == "__main__":
    TABLE.write_text(json.dumps(build(), ensure_ascii=False, sort_keys=True), encoding="utf-8")
    print(f"wrote {TABLE}")
