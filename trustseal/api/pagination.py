"""Keyset pagination (API.md "Lists"): ``?limit=&cursor=`` → ``{items, next_cursor}``.

The cursor is opaque to clients: URL-safe base64 of the last row's key. Rows are
ordered newest first by a monotonically increasing integer key, so pages stay
stable while new rows are inserted.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from typing import Any

import marshmallow as ma
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

from trustseal.api.fields import StrictSchema
from trustseal.extensions import db

CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"  # URL-safe base64 without padding
_CURSOR = re.compile(CURSOR_PATTERN)


KEY_MAX = 2**63 - 1


class InvalidCursor(ValueError):
    """The cursor was not produced by this service."""


def encode_cursor(key: int) -> str:
    """Make an opaque cursor from a row key."""
    raw = json.dumps({"k": key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> int:
    """Read a row key back from a cursor; raise :class:`InvalidCursor` on anything else."""
    if not _CURSOR.fullmatch(cursor):
        raise InvalidCursor(cursor)
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
        key = value["k"]
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
        raise InvalidCursor(cursor) from exc
    if not isinstance(key, int) or isinstance(key, bool) or not 0 <= key <= KEY_MAX:
        raise InvalidCursor(cursor)  # a database integer is at most 64 bits
    return key


class PageArgsSchema(StrictSchema):
    """The ``limit`` and ``cursor`` query arguments of every list."""

    limit = ma.fields.Integer(
        load_default=20, validate=ma.validate.Range(min=1, max=100), metadata={"example": 20}
    )
    cursor = ma.fields.String(
        load_default=None,
        validate=[
            ma.validate.Length(max=200),
            ma.validate.Regexp(CURSOR_PATTERN, error="Not a cursor from this list."),
        ],
    )

    @ma.validates("cursor")
    def _valid_cursor(self, value: str | None, **kwargs: Any) -> None:
        if value is not None:
            try:
                decode_cursor(value)
            except InvalidCursor as exc:
                raise ma.ValidationError("Not a cursor from this list.") from exc


def page_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """Build the ``{items, next_cursor}`` response schema for an item schema."""
    return type(
        name,
        (ma.Schema,),
        {
            "items": ma.fields.List(ma.fields.Nested(item_schema)),
            "next_cursor": ma.fields.String(allow_none=True),
        },
    )


def keyset_page(
    stmt: Select[Any], key: InstrumentedAttribute[int], limit: int, cursor: str | None
) -> dict[str, Any]:
    """Run ``stmt`` newest first by ``key`` and return one page with its next cursor."""
    if cursor is not None:
        stmt = stmt.where(key < decode_cursor(cursor))
    rows: Sequence[Any] = db.session.scalars(stmt.order_by(key.desc()).limit(limit + 1)).all()
    items = list(rows[:limit])
    next_cursor = encode_cursor(getattr(items[-1], key.key)) if len(rows) > limit else None
    return {"items": items, "next_cursor": next_cursor}
