"""The one XML builder: every text and attribute value is escaped here, nowhere else."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ATTR = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"})


# Characters XML 1.0 does not allow at all (controls, surrogates, U+FFFE/U+FFFF).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


# One scan finds whether a value needs any work at all (most attribute values do not).
_NEEDS_WORK = re.compile("[&<>\"'\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def escape_text(value: str) -> str:
    """Escape character data (``]]>`` cannot survive: ``>`` is always escaped)."""
    if not _NEEDS_WORK.search(value):
        return value
    return _NOT_XML.sub("", value).translate(_TEXT)


def escape_attr(value: str) -> str:
    """Escape a double-quoted attribute value."""
    if not _NEEDS_WORK.search(value):
        return value
    return _NOT_XML.sub("", value).translate(_ATTR)


def _attribute_text(value: object) -> str:
    """An attribute value as text: strings escaped; numbers (nothing to escape) compact."""
    if isinstance(value, str):
        return escape_attr(value)
    if isinstance(value, float):
        text = f"{value:.2f}".rstrip("0").rstrip(".")
        return text if text != "-0" else "0"
    return escape_attr(str(value))


@dataclass(slots=True)
class Element:
    """An XML element with attributes, text and children."""

    tag: str
    attrs: Mapping[str, object] = field(default_factory=dict)
    children: list[Element | str] = field(default_factory=list)

    def add(self, *children: Element | str) -> Element:
        """Append children (elements, or text that will be escaped); return self."""
        self.children.extend(children)
        return self

    def serialize(self) -> str:
        """The element as a string of well-formed XML."""
        parts: list[str] = []
        self._write(parts)
        return "".join(parts)

    def _write(self, out: list[str]) -> None:
        out.append("<" + self.tag)
        for name, value in self.attrs.items():
            if value is not None:
                out.append(f' {name}="{_attribute_text(value)}"')
        if not self.children:
            out.append("/>")
            return
        out.append(">")
        for child in self.children:
            if isinstance(child, Element):
                child._write(out)
            else:
                out.append(escape_text(child))
        out.append(f"</{self.tag}>")


def element(
    tag: str, attrs: Mapping[str, object] | None = None, *children: Element | str
) -> Element:
    """Shorthand for :class:`Element`."""
    return Element(tag, dict(attrs or {}), list(children))


def join(elements: Iterable[Element]) -> str:
    """Serialize elements one after another."""
    return "".join(e.serialize() for e in elements)
