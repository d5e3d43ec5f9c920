"""Measuring, truncating and formatting the text a badge shows."""

from __future__ import annotations

import unicodedata
from functools import reduce
from operator import add

from badges.widths import REFERENCE_SIZE, widths_of

ELLIPSIS = "…"


def clean(text: str) -> str:
    """Drop control and bidirectional-override characters; fold white space.

    RTL marks and overrides could reorder the text around them in a badge; controls
    are not valid XML.
    """
    if text.isprintable():  # no C* category and no separator but the space: only fold
        return " ".join(text.split())
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if category in ("Cc", "Cf", "Cs", "Co", "Cn"):
            kept.append(" " if char in "\t\n\r" else "")
        else:
            kept.append(char)
    return " ".join("".join(kept).split())


def width(text: str, size: float, bold: bool = False) -> float:
    """The rendered width of ``text`` in px at font ``size``."""
    table = widths_of("bold" if bold else "regular")
    # Plain left-to-right addition (sum() compensates from Python 3.12 on): the same
    # widths, hence the same bytes and ETags, whatever the interpreter.
    return reduce(add, map(table.__getitem__, text), 0.0) * size / REFERENCE_SIZE


def fit(text: str, max_width: float, size: float, bold: bool = False) -> str:
    """``text`` cut by measured width (not characters) to fit, with an ellipsis."""
    text = clean(text)
    if width(text, size, bold) <= max_width:
        return text
    budget = max_width - width(ELLIPSIS, size, bold)
    table = widths_of("bold" if bold else "regular")
    used, kept = 0.0, []
    for char in text:
        used += table[char] * size / REFERENCE_SIZE
        if used > budget:
            break
        kept.append(char)
    return "".join(kept).rstrip() + ELLIPSIS


_SPANISH_SEPARATORS = str.maketrans({",": ".", ".": ","})


def number(value: float | int, lang: str, decimals: int = 0) -> str:
    """``1.234`` / ``4,6`` in Spanish, ``1,234`` / ``4.6`` in English."""
    text = f"{value:,.{decimals}f}"
    return text.translate(_SPANISH_SEPARATORS) if lang == "es" else text
