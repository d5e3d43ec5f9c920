"""marshmallow fields and base schemas shared by every domain."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import marshmallow as ma

from trustseal import languages
from trustseal.clock import rfc3339
from trustseal.validators import RUC_PATTERN, ruc_is_valid

# Characters no text typed by a person may hold: C0 and C1 controls, DEL, the bidirectional
# formatting characters (marks, embeddings, overrides, isolates: a name written with U+202E
# shows "gnp.exe" as "exe.png"), the line and paragraph separators, the byte-order mark, the
# deprecated format characters and the interlinear annotations. Multi-line text may hold
# tabs and line breaks (an HTML textarea sends CR LF). Lone surrogates are refused too (no
# database stores them), though a pattern cannot say so portably.
_CONTROLS = "\x00-\x1f"
_CONTROLS_MULTILINE = "\x00-\x08\x0b\x0c\x0e-\x1f"
_FORMATTING = "\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u206f\ufeff\ufff9-\ufffb"
_SURROGATES = "\ud800-\udfff"
_FORBIDDEN = {
    False: re.compile(f"[{_CONTROLS}{_FORMATTING}{_SURROGATES}]"),
    True: re.compile(f"[{_CONTROLS_MULTILINE}{_FORMATTING}{_SURROGATES}]"),
}
FORBIDDEN_MESSAGE = "Invisible control or text-direction characters are not allowed (found {})."
BLANK_MESSAGE = "Must not be blank."
DATE_RANGE_MESSAGE = "A date between the years 1 and 9999 (UTC)."


def refused_for_hidden_characters(messages: Mapping[str, Any]) -> bool:
    """Whether a form's validation errors include a text refused for control or
    text-direction characters (so the page can say so, not just "check the fields")."""
    prefix = FORBIDDEN_MESSAGE.split("(")[0]
    return any(
        str(message).startswith(prefix)
        for value in messages.values()
        for message in (value if isinstance(value, list) else [value])
    )


def forbidden_character(text: str, multiline: bool = False) -> str | None:
    """The first character ``text`` may not hold, as ``U+XXXX``; None when it is clean."""
    found = _FORBIDDEN[multiline].search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"


def _ecma(ranges: str) -> str:
    """A character-class body with every character written ``\\uXXXX`` (ECMA 262 syntax)."""
    return "".join(ch if ch == "-" else f"\\u{ord(ch):04x}" for ch in ranges)


def text_pattern(multiline: bool = False, blank: bool = True) -> str:
    """The OpenAPI ``pattern`` of the text :class:`InputSchema` accepts: no forbidden
    character (tabs and line breaks only when ``multiline``) and, unless ``blank``, at
    least one character that is not white space."""
    forbidden = _ecma((_CONTROLS_MULTILINE if multiline else _CONTROLS) + _FORMATTING)
    allowed = f"[^{forbidden}]*"
    return f"^{allowed}$" if blank else f"^{allowed}[^\\s{forbidden}]{allowed}$"


class UTCDateTime(ma.fields.DateTime):
    """RFC 3339 in and out; output always UTC with ``Z``; naive input is taken as UTC."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return rfc3339(value)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        try:
            return parsed.astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:00:00+14:00 is in year 0 in UTC
            raise ma.ValidationError(DATE_RANGE_MESSAGE) from None


class Text(ma.fields.String):
    """Text typed by a person (a name, a title, a message), stripped of surrounding white
    space; ``blank=False`` refuses one that is empty once stripped.

    ``multiline`` text (bodies, details, reasons) may hold tabs and line breaks; every
    other control or text-direction character is refused by :class:`InputSchema`. The
    OpenAPI document states both rules as the field's ``pattern`` (:func:`text_pattern`).
    """

    def __init__(self, *, multiline: bool = False, blank: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.multiline = multiline
        self.blank = blank

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if not text and not self.blank:
            raise ma.ValidationError(BLANK_MESSAGE)
        return text


def text_field_properties(
    converter: Any, field: ma.fields.Field, ret: dict[str, Any], **kwargs: Any
) -> dict[str, Any]:
    """apispec attribute function: the ``pattern`` of every free string an input schema
    takes (one with no pattern, format or enum of its own), as :class:`InputSchema` and
    :class:`Text` enforce it."""
    if not isinstance(field, ma.fields.String) or not isinstance(field.root, InputSchema):
        return {}
    if {"pattern", "format", "enum"} & set(ret):
        return {}
    blank = getattr(field, "blank", True)
    found = {"pattern": text_pattern(getattr(field, "multiline", False), blank)}
    if not blank:
        found["minLength"] = max(ret.get("minLength", 0), 1)
    return found


# A language by its code, or a BCP 47 tag of it (a region or other subtags after it).
LANGUAGE_PATTERN = (
    r"^(?:[Ee][Ss]|[Ee][Nn]|[Pp][Tt])(?:[-_][A-Za-z0-9]{1,8}){0,3}$"
)


class LanguageCode(ma.fields.String):
    """A language trustseal speaks, by code (``es``, ``en``, ``pt``) or as a tag of one
    (``pt-BR``, ``es_PE``, ``EN``): loaded as its code (:mod:`trustseal.languages`)."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = kwargs.setdefault("metadata", {})
        metadata.setdefault("pattern", LANGUAGE_PATTERN)
        metadata.setdefault("example", "pt")
        kwargs.setdefault(
            "validate",
            ma.validate.Regexp(
                LANGUAGE_PATTERN, error=f"One of: {', '.join(languages.CODES)} (or a tag: pt-BR)."
            ),
        )
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        self._validate(text)  # the pattern first: its message names the accepted values
        code = languages.code_of(text)
        if code is None:  # not reached while the pattern lists the same languages
            raise ma.ValidationError(f"One of: {', '.join(languages.CODES)}.")
        return code


class Ruc(ma.validate.Regexp):
    """A RUC: 11 digits with a known prefix (the pattern the OpenAPI document shows) and a
    valid SUNAT check digit."""

    MESSAGE = "A RUC has 11 digits and a valid check digit."

    def __init__(self) -> None:
        super().__init__(RUC_PATTERN, error=self.MESSAGE)

    # Regexp also takes bytes; a RUC field is a string, so this takes str alone.
    def __call__(self, value: str) -> str:  # type: ignore[override]
        """Return ``value`` when it is a valid RUC; raise a ValidationError otherwise."""
        if not ruc_is_valid(value):
            raise ma.ValidationError(self.MESSAGE)
        return value


def _strings(value: Any) -> Iterator[str]:
    """Every string in a decoded JSON value (dictionary keys included), without recursion."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, Mapping):
            for key, child in item.items():
                stack.extend((str(key), child))
        elif isinstance(item, list | tuple):
            stack.extend(item)


def _checks_itself(field: ma.fields.Field | None) -> bool:
    """True for a nested input schema (or a list of them): it checks its own text."""
    if isinstance(field, ma.fields.List):
        field = field.inner
    return isinstance(field, ma.fields.Nested) and isinstance(field.schema, InputSchema)


class InputSchema(ma.Schema):
    """Base of every input schema: text may not hold control or text-direction characters
    (:func:`forbidden_character`), wherever it hides (keys, lists, unknown fields), so
    they are refused with a 422 naming the field and the character."""

    @ma.pre_load(pass_collection=True)
    def _refuse_forbidden_characters(self, data: Any, **kwargs: Any) -> Any:
        items = data if isinstance(data, list) else [data]
        for item in items:
            if isinstance(item, Mapping):
                self._check_text(item)
        return data

    def _check_text(self, data: Mapping[str, Any]) -> None:
        plan = self._text_plan()
        errors: dict[str, list[str]] = {}
        for key, value in data.items():
            multiline = plan.get(key, False)
            if multiline is None:
                continue  # a nested input schema checks its own text
            pattern = _FORBIDDEN[multiline]
            if isinstance(value, str):  # the common case, without a generator
                found = _FORBIDDEN[False].search(key) or pattern.search(value)
            else:
                found = _FORBIDDEN[False].search(str(key)) or next(
                    filter(None, map(pattern.search, _strings(value))), None
                )
            if found:
                errors[str(key)] = [FORBIDDEN_MESSAGE.format(f"U+{ord(found.group()):04X}")]
        if errors:
            raise ma.ValidationError(errors)

    def _text_plan(self) -> dict[str, bool | None]:
        """For each input key: whether its text may span lines, or None for a nested input
        schema. Built once per schema instance (routes reuse theirs)."""
        plan: dict[str, bool | None] | None = self.__dict__.get("_plan")
        if plan is None:
            plan = {
                field.data_key or name: None
                if _checks_itself(field)
                else bool(getattr(field, "multiline", False))
                for name, field in self.fields.items()
            }
            self.__dict__["_plan"] = plan
        return plan


class StrictSchema(InputSchema):
    """Input schema that refuses unknown fields (422 naming them)."""

    class Meta:
        unknown = ma.RAISE


class OpenSchema(InputSchema):
    """Input schema that ignores unknown fields (for forward-compatible payloads)."""

    class Meta:
        unknown = ma.EXCLUDE
