"""marshmallow fields and base schemas shared by every domain."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import marshmallow as ma

from trustseal.clock import rfc3339


class UTCDateTime(ma.fields.DateTime):
    """RFC 3339 in and out; output always UTC with ``Z``; naive input is taken as UTC."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return rfc3339(value)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)


def _nul_paths(value: Any, path: str = "") -> list[str]:
    """Where a NUL character hides in a decoded JSON value (keys included)."""
    if isinstance(value, str):
        return [path or "_schema"] if "\x00" in value else []
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            found += [where] if "\x00" in str(key) else _nul_paths(item, where)
        return found
    if isinstance(value, list):
        return [p for n, item in enumerate(value) for p in _nul_paths(item, f"{path}.{n}")]
    return []


class InputSchema(ma.Schema):
    """Base of every input schema: text may not hold NUL characters (no database stores
    them faithfully), so they are refused with a 422 naming the field."""

    @ma.pre_load(pass_collection=True)
    def _refuse_nul(self, data: Any, **kwargs: Any) -> Any:
        paths = _nul_paths(data)
        if paths:
            raise ma.ValidationError(
                {p.split(".")[0]: ["NUL characters are not allowed."] for p in paths}
            )
        return data


class StrictSchema(InputSchema):
    """Input schema that refuses unknown fields (422 naming them)."""

    class Meta:
        unknown = ma.RAISE


class OpenSchema(InputSchema):
    """Input schema that ignores unknown fields (for forward-compatible payloads)."""

    class Meta:
        unknown = ma.EXCLUDE
