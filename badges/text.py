"""Measuring, truncating and formatting the text a badge shows."""

from __future__ import annotations

import unicodedata
from functools import cache, reduce
from operator import add

from babel.numbers import get_decimal_symbol, get_group_symbol

from badges.widths import REFERENCE_SIZE, widths_of
from trustseal import languages

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


def _cut(text: str, max_width: float, size: float, bold: bool) -> str:
    """The longest start of ``text`` that fits ``max_width`` with an ellipsis after it,
    ending at a word boundary when the text has one there (a single word too long for
    the line is cut inside, as nothing else would fit)."""
    budget = max_width - width(ELLIPSIS, size, bold)
    table = widths_of("bold" if bold else "regular")
    used, kept = 0.0, []
    for char in text:
        used += table[char] * size / REFERENCE_SIZE
        if used > budget:
            break
        kept.append(char)
    start = "".join(kept)
    cut_inside_word = len(start) < len(text) and not text[len(start)].isspace()
    if cut_inside_word and " " in start.strip():
        start = start.rstrip()[: start.rstrip().rfind(" ")]
    return start.rstrip(" ,;:\u2014\u2013-\u00b7") + ELLIPSIS


def fit(text: str, max_width: float, size: float, bold: bool = False) -> str:
    """``text`` on one line of ``max_width`` px: whole, or cut after a whole word (by
    measured width, not characters) with an ellipsis."""
    text = clean(text)
    if width(text, size, bold) <= max_width:
        return text
    return _cut(text, max_width, size, bold)


def wrap(
    text: str, max_width: float | list[float], size: float, bold: bool = False, lines: int = 2
) -> list[str]:
    """``text`` broken at spaces into at most ``lines`` lines, each within its width
    (``max_width``, or one width per line for a round shape); what does not fit ends the
    last line after a whole word with an ellipsis. Never cuts a word that fits a line."""
    widths = max_width if isinstance(max_width, list) else [max_width] * lines
    words = clean(text).split(" ")
    out: list[str] = []
    while words and len(out) < len(widths):
        room = widths[len(out)]
        line = words.pop(0)
        while words and width(f"{line} {words[0]}", size, bold) <= room:
            line = f"{line} {words.pop(0)}"
        last = len(out) == len(widths) - 1
        if width(line, size, bold) > room or (last and words):
            rest = " ".join([line, *words])
            line = _cut(rest, room, size, bold)
            words = []
            if out and len(line.removesuffix(ELLIPSIS)) < len(rest.split(" ")[0]):
                # Not even the first word fits whole: end the line before instead.
                out[-1] = _cut(f"{out[-1]} {rest}", widths[len(out) - 1], size, bold)
                break
        out.append(line)
    return out


@cache
def _separators(lang: str) -> dict[int, str]:
    """Python's ``,`` and ``.`` of a formatted number → the language's grouping and
    decimal marks, as Babel's data for its locale gives them."""
    locale = languages.locale_of(lang)
    return str.maketrans({",": get_group_symbol(locale), ".": get_decimal_symbol(locale)})


def number(value: float | int, lang: str, decimals: int = 0) -> str:
    """``1.234`` / ``4,6`` in Spanish and Brazilian Portuguese, ``1,234`` / ``4.6`` in
    English (always grouped: a badge prints ``1.234 opiniones``)."""
    return f"{value:,.{decimals}f}".translate(_separators(lang))
