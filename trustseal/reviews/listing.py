"""How a shop's reviews are listed: filters, orders, and the two ways of paging them.

Orders (:class:`Sort`), each ending in publication time then id, so every order is total
and a page boundary never splits ties:

- ``recent`` (default): newest first by publication time (``created_at``: an imported
  review is backdated, so ids are not in date order), ties by id;
- ``highest`` / ``lowest``: by rating, then newest first;
- ``helpful``: most "helpful" votes first, then newest first.

In the rating and vote orders a removed review (a tombstone, whose rating is no longer
public) comes after every published one, so its position tells nothing of its rating.

The API pages with an opaque keyset cursor (stable under inserts; it names its order, and
a cursor of another order is refused); the profile page with numbered pages.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    SQLColumnExpression,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    tuple_,
)
from sqlalchemy.orm import selectinload

from trustseal.api.pagination import CURSOR_PATTERN, InvalidCursor
from trustseal.dbtypes import UTCDateTime
from trustseal.extensions import db
from trustseal.reviews.models import Review
from trustseal.reviews.search import search_terms


class Sort(StrEnum):
    """The orders a shop's reviews can be listed in."""

    RECENT = "recent"
    HIGHEST = "highest"
    LOWEST = "lowest"
    HELPFUL = "helpful"


@dataclass(frozen=True)
class ReviewFilter:
    """What to list of a shop's reviews, and in which order.

    ``rating`` and ``query`` list published reviews only (a tombstone has neither a
    public rating nor a text); ``with_photos`` those with photos.
    """

    rating: int | None = None
    with_photos: bool = False
    query: str | None = None
    sort: Sort = Sort.RECENT

    @property
    def terms(self) -> list[str]:
        """The query's words, folded as reviews' texts are (none: no text search)."""
        return search_terms(self.query)


@dataclass(frozen=True)
class _Key:
    """One column of an order: its SQL expression, direction, value of a loaded review,
    and how the value travels in a cursor."""

    expression: Callable[[], SQLColumnExpression[Any]]
    descending: bool
    value: Callable[[Review], Any]
    kind: type[int] | type[datetime]


def _ranked(removed: int, column: Any) -> ColumnElement[int]:
    return case((Review.status == "removed", removed), else_=column)


def _rank(review: Review, removed: int, value: int) -> int:
    return removed if review.status == "removed" else value


_TIME = _Key(lambda: Review.created_at, True, lambda r: r.created_at, datetime)
_ID = _Key(lambda: Review.id, True, lambda r: r.id, int)
_KEYS: dict[Sort, tuple[_Key, ...]] = {
    Sort.RECENT: (_TIME, _ID),
    Sort.HIGHEST: (
        _Key(lambda: _ranked(0, Review.rating), True, lambda r: _rank(r, 0, r.rating), int),
        _TIME,
        _ID,
    ),
    Sort.LOWEST: (
        _Key(lambda: _ranked(6, Review.rating), False, lambda r: _rank(r, 6, r.rating), int),
        _TIME,
        _ID,
    ),
    Sort.HELPFUL: (
        _Key(
            lambda: _ranked(-1, Review.helpful_count),
            True,
            lambda r: _rank(r, -1, r.helpful_count),
            int,
        ),
        _TIME,
        _ID,
    ),
}


def _conditions(merchant_id: int, wanted: ReviewFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Review.merchant_id == merchant_id]
    if wanted.rating is not None or wanted.terms:
        conditions.append(Review.status == "published")
    if wanted.rating is not None:
        conditions.append(Review.rating == wanted.rating)
    if wanted.with_photos:
        conditions.append(Review.has_photos.is_(True))
    for term in wanted.terms:  # every word, anywhere in the folded title and body
        conditions.append(Review.search_text.contains(term, autoescape=True))
    return conditions


def statement(merchant_id: int, wanted: ReviewFilter) -> Select[Review]:
    """The reviews of a shop that ``wanted`` selects, in its order, photos and answer
    loaded with them."""
    keys = _KEYS[wanted.sort]
    return (
        select(Review)
        .where(*_conditions(merchant_id, wanted))
        .options(selectinload(Review.photos), selectinload(Review.response))
        .order_by(*(k.expression().desc() if k.descending else k.expression() for k in keys))
    )


def count(merchant_id: int, wanted: ReviewFilter) -> int:
    """How many reviews of a shop ``wanted`` selects."""
    total = db.session.scalar(
        select(func.count()).select_from(Review).where(*_conditions(merchant_id, wanted))
    )
    return int(total or 0)


# --- keyset pages (the API) ---

_CURSOR = re.compile(CURSOR_PATTERN)
MAX_CURSOR = 200
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


def encode_cursor(sort: Sort, review: Review) -> str:
    """The opaque cursor after ``review`` in ``sort`` order."""
    values = [_dump(key, key.value(review)) for key in _KEYS[sort]]
    raw = json.dumps({"s": sort.value, "k": values}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _dump(key: _Key, value: Any) -> Any:
    return value.isoformat() if key.kind is datetime else value


def decode_cursor(cursor: str) -> tuple[Sort, list[Any]]:
    """The order and the position a cursor names; :class:`InvalidCursor` for anything
    this module did not make."""
    if len(cursor) > MAX_CURSOR or not _CURSOR.fullmatch(cursor):
        raise InvalidCursor(cursor)
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        sort = Sort(data["s"])
        raw = data["k"]
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
        raise InvalidCursor(cursor) from exc
    keys = _KEYS[sort]
    if not isinstance(raw, list) or len(raw) != len(keys):
        raise InvalidCursor(cursor)
    return sort, [_load(key, value, cursor) for key, value in zip(keys, raw, strict=True)]


def _load(key: _Key, value: Any, cursor: str) -> Any:
    if key.kind is datetime:
        if not isinstance(value, str):
            raise InvalidCursor(cursor)
        try:
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is None:
                raise InvalidCursor(cursor)
            return moment.astimezone(UTC)
        except (ValueError, OverflowError) as exc:  # year 0 or 10000 once in UTC
            raise InvalidCursor(cursor) from exc
    if not isinstance(value, int) or isinstance(value, bool) or not _INT_MIN <= value <= _INT_MAX:
        raise InvalidCursor(cursor)  # every integer key is a 32-bit column
    return value


def _after(keys: Sequence[_Key], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after the position ``values`` in the order ``keys``. One row-value
    comparison when every key runs the same way (an index range on PostgreSQL and SQLite
    alike), else the expanded form."""
    expressions = [key.expression() for key in keys]
    bound = [
        literal(v, type_=UTCDateTime() if key.kind is datetime else Integer())
        for key, v in zip(keys, values, strict=True)
    ]
    if len({key.descending for key in keys}) == 1:
        left, right = tuple_(*expressions), tuple_(*bound)
        return left < right if keys[0].descending else left > right
    branches = []
    for n, key in enumerate(keys):
        equal = [expressions[i] == bound[i] for i in range(n)]
        beyond = expressions[n] < bound[n] if key.descending else expressions[n] > bound[n]
        branches.append(and_(*equal, beyond))
    return or_(*branches)


def keyset_page(
    merchant_id: int, wanted: ReviewFilter, limit: int, cursor: str | None
) -> dict[str, Any]:
    """One page of at most ``limit`` reviews and the cursor of the next (None at the end).

    A cursor made for another order raises :class:`InvalidCursor`.
    """
    stmt = statement(merchant_id, wanted)
    if cursor is not None:
        sort, values = decode_cursor(cursor)
        if sort is not wanted.sort:
            raise InvalidCursor(cursor)
        stmt = stmt.where(_after(_KEYS[sort], values))
    rows = db.session.scalars(stmt.limit(limit + 1)).all()
    items = list(rows[:limit])
    next_cursor = encode_cursor(wanted.sort, items[-1]) if len(rows) > limit else None
    return {"items": items, "next_cursor": next_cursor}


# --- numbered pages (the profile) ---


@dataclass(frozen=True)
class NumberedPage:
    """Page ``page`` of ``pages`` (at least 1), its reviews and how many match in all."""

    items: list[Review]
    total: int
    page: int
    pages: int


def numbered_page(merchant_id: int, wanted: ReviewFilter, page: int, per_page: int) -> NumberedPage:
    """Page ``page`` (from 1) of ``per_page`` reviews; a page past the end is the last."""
    total = count(merchant_id, wanted)
    pages = max(1, math.ceil(total / per_page))
    page = min(max(page, 1), pages)
    rows = db.session.scalars(
        statement(merchant_id, wanted).offset((page - 1) * per_page).limit(per_page)
    ).all()
    return NumberedPage(list(rows), total, page, pages)
