"""The one XML builder: every text and attribute value is escaped here, nowhere else.

A document is written front to back into a :class:`Writer` through :class:`Template`
elements (tag and attribute names fixed once, values escaped on every write); text can
only go in escaped. Nothing is built twice: the parts are joined once at the end.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ATTR = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"})


# Characters XML 1.0 does not allow at all (controls, surrogates, U+FFFE/U+FFFF).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


# One scan finds whether a value needs any work at all (most attribute values do not).
_NEEDS_WORK = re.compile("[&<>\"'\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]").search


def number(value: float) -> str:
    """A coordinate as attributes write one: two decimals at most, no trailing zeros."""
    text = "%.2f" % value  # noqa: UP031 (the fastest float format here)
    if text[-1] == "0":
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def escape_text(value: str) -> str:
    """Escape character data (``]]>`` cannot survive: ``>`` is always escaped)."""
    if not _NEEDS_WORK(value):
        return value
    return _NOT_XML.sub("", value).translate(_TEXT)


def escape_attr(value: str) -> str:
    """Escape a double-quoted attribute value."""
    if not _NEEDS_WORK(value):
        return value
    return _NOT_XML.sub("", value).translate(_ATTR)


class Writer:
    """A document being written; only :class:`Template` and :meth:`text` add to it."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        """An empty document."""
        self._parts: list[str] = []

    def text(self, value: str) -> None:
        """Character data, escaped."""
        self._parts.append(escape_text(value))

    def getvalue(self) -> bytes:
        """The document as UTF-8."""
        return "".join(self._parts).encode("utf-8")


class Template:
    """An element whose tag and attribute names are fixed; only the values vary.

    ``Template("rect", "x", "y").empty(w, 0, 1.5)`` writes ``<rect x="0" y="1.5"/>``. A
    ``None`` value leaves its attribute out. ``fixed`` attributes have the same value in
    every element and come first.
    """

    __slots__ = ("_close", "_open", "_prefixes")

    def __init__(self, name: str, *attributes: str, fixed: Mapping[str, str] | None = None) -> None:
        """Prepare the fixed parts of the element once."""
        constant = "".join(f' {key}="{escape_attr(value)}"' for key, value in (fixed or {}).items())
        self._open = f"<{name}{constant}"
        self._prefixes = tuple(f' {attribute}="' for attribute in attributes)
        self._close = f"</{name}>"

    def _write_start(self, out: list[str], values: tuple[Any, ...]) -> None:
        # ``values`` holds Any: the branches dispatch on ``kind``, which mypy cannot follow.
        out.append(self._open)
        for prefix, value in zip(self._prefixes, values, strict=True):  # inlined: hot
            kind = type(value)
            if kind is str:
                text = escape_attr(value) if _NEEDS_WORK(value) else value
            elif kind is float:  # number(value), inlined: the badge's hot path
                text = "%.2f" % value  # noqa: UP031 (the fastest float format here)
                if text[-1] == "0":
                    text = text.rstrip("0").rstrip(".")
                    if text == "-0":
                        text = "0"
            elif kind is int:
                text = str(value)
            elif value is None:
                continue
            else:
                text = escape_attr(str(value))
            out += (prefix, text, '"')

    def empty(self, writer: Writer, *values: object) -> None:
        """Write the element without content: ``<name …/>``."""
        out = writer._parts
        self._write_start(out, values)
        out.append("/>")

    def start(self, writer: Writer, *values: object) -> None:
        """Write the start tag; children follow, then :meth:`end`."""
        out = writer._parts
        self._write_start(out, values)
        out.append(">")

    def end(self, writer: Writer) -> None:
        """Write the end tag."""
        writer._parts.append(self._close)

    def with_text(self, writer: Writer, text: str, *values: object) -> None:
        """Write the element around ``text`` (escaped)."""
        out = writer._parts
        self._write_start(out, values)
        out += (">", escape_text(text), self._close)
