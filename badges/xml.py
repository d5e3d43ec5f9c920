"""The one XML builder: every text and attribute value is escaped here, nowhere else.

:func:`tag` writes an element straight to a string. What it returns is :class:`Markup`
(already-escaped XML); any other ``str`` handed to it as a child is character data and
gets escaped, so markup can only come out of this module.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ATTR = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"})


# Characters XML 1.0 does not allow at all (controls, surrogates, U+FFFE/U+FFFF).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


# One scan finds whether a value needs any work at all (most attribute values do not).
_NEEDS_WORK = re.compile("[&<>\"'\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]").search


class Markup(str):
    """XML that this module wrote (escaped); never construct one outside it."""

    __slots__ = ()


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


class Template:
    """An element whose tag and attribute names are fixed; only the values vary.

    ``Template("rect", "x", "y")(0, 1.5)`` is ``<rect x="0" y="1.5"/>``. A ``None``
    value leaves its attribute out; children are handled as in :func:`tag`. ``fixed``
    attributes have the same value in every element and come first.
    """

    __slots__ = ("_close", "_open", "_prefixes")

    def __init__(self, name: str, *attributes: str, fixed: Mapping[str, str] | None = None):
        """Prepare the fixed parts of the element once."""
        constant = "".join(f' {key}="{escape_attr(value)}"' for key, value in (fixed or {}).items())
        self._open = f"<{name}{constant}"
        self._prefixes = tuple(f' {attribute}="' for attribute in attributes)
        self._close = f"</{name}>"

    def __call__(self, *values: object, children: tuple[str, ...] = ()) -> Markup:
        """The element with these attribute values (in the template's order)."""
        out = [self._open]
        for prefix, value in zip(self._prefixes, values, strict=True):  # inlined: hot
            kind = type(value)
            if kind is str:
                text = escape_attr(value) if _NEEDS_WORK(value) else value  # type: ignore[arg-type]
            elif kind is float:
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
        if not children:
            out.append("/>")
            return Markup("".join(out))
        out.append(">")
        for child in children:
            out.append(child if type(child) is Markup else escape_text(child))
        out.append(self._close)
        return Markup("".join(out))


def tag(name: str, attrs: Mapping[str, object], *children: str) -> Markup:
    """The element ``name`` with ``attrs`` (``None`` values left out) and ``children``.

    A child that is :class:`Markup` is inserted as it is; any other string is text and
    is escaped. Without children the element is written empty (``<name …/>``).
    """
    return Template(name, *attrs)(*attrs.values(), children=children)
