"""The CSV formats an import accepts, as small pure functions: which format a header is,
how a row of it becomes a review, and what is wrong with a row that cannot.

Formats (docs/imports.md says where each column name comes from):

- ``trustseal``: our own columns ``date, rating, title, body, author, product_id`` (with
  Spanish and Portuguese names of them too);
- ``judgeme``: Judge.me's review export (``title, body, rating, review_date, source,
  curated, reviewer_name, reviewer_email, product_id, product_handle, …``);
- ``yotpo``: Yotpo's review export (``Review Title, Review Content, Review Score, Date,
  Product ID, Display Name, Email, …``);
- ``trustpilot``: Trustpilot's service-review export (``Review Id, Review Created (UTC),
  Review Title, Review Content, Review Stars, Review Username, …``).

A header is read case-, accent- and spacing-insensitively (``Review_Score``, ``review
score`` and ``REVIEW SCORE`` are one column); columns the format does not use are ignored,
so a reviewer's email or IP address in an export is never read. Rows are numbered as a
spreadsheet shows the file: the header is row 1, the first review row 2.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum

from trustseal.api.fields import forbidden_character
from trustseal.clock import LIMA

DELIMITERS = (",", ";", "\t")
FIELDS = ("date", "rating", "title", "body", "author", "product_id")
MAX_LENGTH = {"title": 200, "body": 5000, "author": 80, "product_id": 100}
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # no online review is older
SLACK = timedelta(days=1)  # a date "today" in a time zone ahead of UTC is not the future


class Problem(StrEnum):
    """Why a row was not imported (each has its message in :mod:`trustseal.imports.service`)."""

    RATING_MISSING = "rating_missing"
    RATING_INVALID = "rating_invalid"
    DATE_MISSING = "date_missing"
    DATE_INVALID = "date_invalid"
    DATE_AMBIGUOUS = "date_ambiguous"
    DATE_OUT_OF_RANGE = "date_out_of_range"
    BODY_MISSING = "body_missing"
    TOO_LONG = "too_long"
    HIDDEN_CHARACTER = "hidden_character"
    SPAM = "spam"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class RowProblem:
    """A row left out: its number, why, and the column (as the file names it), the value
    (shortened) or the limit the message names."""

    row: int
    problem: Problem
    column: str | None = None
    value: str | None = None
    limit: int | None = None

    def as_json(self) -> dict[str, object]:
        """The stored form (``None`` fields left out)."""
        found: dict[str, object] = {"row": self.row, "code": self.problem.value}
        for name in ("column", "value", "limit"):
            if getattr(self, name) is not None:
                found[name] = getattr(self, name)
        return found

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> RowProblem:
        """Back from :meth:`as_json`."""
        limit = data.get("limit")
        return cls(
            row=int(str(data["row"])),
            problem=Problem(str(data["code"])),
            column=str(data["column"]) if data.get("column") is not None else None,
            value=str(data["value"]) if data.get("value") is not None else None,
            limit=int(str(limit)) if limit is not None else None,
        )


@dataclass(frozen=True)
class Format:
    """An export format: for each of our fields the column names that hold it, as the
    provider spells them (matched by :func:`normalize`; the first non-empty one wins),
    which fields must have a column, and an optional test that leaves a row out with a
    reason (the column it read)."""

    name: str
    label: str
    columns: Mapping[str, tuple[str, ...]]
    required: tuple[str, ...]
    skip: Callable[[Mapping[str, str]], str | None] | None = None
    skip_columns: tuple[str, ...] = ()


def _judgeme_spam(extra: Mapping[str, str]) -> str | None:
    """Judge.me's ``curated`` column says ``spam`` for a review the shop marked as spam."""
    return "curated" if extra.get("curated", "").strip().lower() == "spam" else None


FORMATS: tuple[Format, ...] = (
    Format(
        "judgeme",
        "Judge.me",
        {
            "date": ("review_date",),
            "rating": ("rating",),
            "title": ("title", "review_title"),
            "body": ("body",),
            "author": ("reviewer_name",),
            "product_id": ("product_id", "product_handle"),
        },
        required=("date", "rating", "body", "author"),
        skip=_judgeme_spam,
        skip_columns=("curated",),
    ),
    Format(
        "yotpo",
        "Yotpo",
        {
            "date": ("Date",),
            "rating": ("Review Score",),
            "title": ("Review Title",),
            "body": ("Review Content",),
            "author": ("Display Name",),
            "product_id": ("Product ID",),
        },
        required=("date", "rating", "body"),
    ),
    Format(
        "trustpilot",
        "Trustpilot",
        {
            "date": ("Review Created (UTC)",),
            "rating": ("Review Stars",),
            "title": ("Review Title",),
            "body": ("Review Content",),
            "author": ("Review Username", "Consumer Name"),
            "product_id": (),
        },
        required=("date", "rating", "body"),
    ),
    Format(
        "trustseal",
        "trustseal",
        {
            "date": ("date", "fecha", "data"),
            "rating": ("rating", "calificación", "nota"),
            "title": ("title", "título"),
            "body": ("body", "reseña", "comentario"),
            "author": ("author", "autor", "nombre", "nome"),
            "product_id": ("product_id", "producto", "produto"),
        },
        required=("date", "rating", "body"),
    ),
)
"""Tried in this order: the most specific headers first (a Judge.me export has a
``rating`` and a ``body`` column too)."""

BY_NAME = {f.name: f for f in FORMATS}


def normalize(name: str) -> str:
    """A column name as matched: no byte-order mark or accents, lower case, runs of
    spaces, underscores and hyphens as one space (``Review_Created (UTC)`` →
    ``review created (utc)``)."""
    folded = unicodedata.normalize("NFKD", name.replace("\ufeff", "").strip().lower())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return " ".join(re.split(r"[\s_\-]+", folded)).strip()


@dataclass(frozen=True)
class Layout:
    """A file's format and where its columns are: for each field the positions to read
    (in preference order) with the header's own names, for the messages."""

    format: Format
    positions: Mapping[str, tuple[int, ...]]
    names: Mapping[int, str]
    skip_positions: Mapping[str, int] = field(default_factory=dict)

    def column(self, name: str) -> str:
        """The file's own name of the first column of field ``name``."""
        positions = self.positions.get(name) or ()
        return self.names[positions[0]] if positions else name


def detect(header: Sequence[str]) -> Layout | None:
    """The layout of a header row, or None when it is no format we read."""
    index: dict[str, int] = {}
    for position, name in enumerate(header):
        index.setdefault(normalize(name), position)
    for candidate in FORMATS:
        positions = {
            name: tuple(index[normalize(c)] for c in columns if normalize(c) in index)
            for name, columns in candidate.columns.items()
        }
        if all(positions[name] for name in candidate.required):
            return Layout(
                candidate,
                positions,
                {p: header[p].replace("\ufeff", "").strip() for p in range(len(header))},
                {c: index[c] for c in candidate.skip_columns if c in index},
            )
    return None


def accepted_columns() -> list[tuple[str, list[str]]]:
    """Each format's label and the columns it needs (for error messages and the page)."""
    return [
        (f.label, [f.columns[name][0] for name in f.required if f.columns[name]]) for f in FORMATS
    ]


@dataclass(frozen=True)
class ParsedRow:
    """A row that is a review, its texts as written (masked later by the service)."""

    row: int
    rating: int
    reviewed_at: datetime
    body: str
    title: str | None
    author: str | None
    product_id: str | None


def _cell(cells: Sequence[str], positions: Iterable[int]) -> str:
    for position in positions:
        if position < len(cells) and cells[position].strip():
            return cells[position].strip()
    return ""


def _short(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


_RATING = re.compile(r"^([1-5])(?:[.,]0+)?$")
_SLASHED = re.compile(
    r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$"
)
_UTC_WORD = re.compile(r"\s*(?:UTC|GMT)$", re.IGNORECASE)


def parse_rating(text: str) -> int | None:
    """A whole number of stars from 1 to 5 (``4``, ``4.0``, ``4,0``); None otherwise."""
    found = _RATING.match(text.strip())
    return int(found.group(1)) if found else None


def slashed_order(values: Iterable[str]) -> str | None:
    """Which way a file writes its ``d/m/yyyy`` dates, as its own rows show: ``dmy`` when
    some first number is above 12 and no second one is, ``mdy`` the other way round;
    None when the rows do not tell (or contradict each other)."""
    day_first = month_first = False
    for value in values:
        found = _SLASHED.match(value.strip())
        if found:
            day_first |= int(found.group(1)) > 12
            month_first |= int(found.group(2)) > 12
    if day_first != month_first:
        return "dmy" if day_first else "mdy"
    return None


def parse_date(text: str, order: str | None) -> datetime | Problem:
    """A review's date: ISO 8601 (``2025-03-02``, ``2025-03-02 10:12:00 UTC``,
    ``2025-03-02T10:12:00-05:00``) or ``d/m/yyyy`` / ``m/d/yyyy`` (with ``order``, or
    when a number above 12 tells). A time without a zone is UTC; a date alone is that
    day in Lima. A :class:`Problem` when it cannot be read."""
    value = text.strip()
    slashed = _SLASHED.match(value)
    if slashed:
        first, second, year = (int(slashed.group(i)) for i in (1, 2, 3))
        if first > 12 or (order == "dmy" and second <= 12):
            day, month = first, second
        elif second > 12 or order == "mdy" or first == second:
            day, month = second, first
        else:
            return Problem.DATE_AMBIGUOUS
        hour, minute, second_ = (int(slashed.group(i) or 0) for i in (4, 5, 6))
        try:
            if slashed.group(4) is None:
                return datetime(year, month, day, tzinfo=LIMA).astimezone(UTC)
            return datetime(year, month, day, hour, minute, second_, tzinfo=UTC)
        except ValueError:
            return Problem.DATE_INVALID
    utc_word = _UTC_WORD.search(value)
    if utc_word:
        value = value[: utc_word.start()]
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return Problem.DATE_INVALID
    if len(value) <= 10:  # a date alone: that day in Lima
        return datetime.combine(parsed.date(), time(), LIMA).astimezone(UTC)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        return Problem.DATE_INVALID


def _text(
    layout: Layout, name: str, value: str, row: int, multiline: bool
) -> str | RowProblem | None:
    """A text field checked: length, then hidden characters; single-line text has its
    runs of white space (line breaks too) made one space."""
    if not multiline:
        value = " ".join(value.split())
    if not value:
        return None
    column = layout.column(name)
    if len(value) > MAX_LENGTH[name]:
        return RowProblem(row, Problem.TOO_LONG, column, limit=MAX_LENGTH[name])
    hidden = forbidden_character(value, multiline)
    if hidden:
        return RowProblem(row, Problem.HIDDEN_CHARACTER, column, value=hidden)
    return value


def read_row(
    layout: Layout, cells: Sequence[str], row: int, order: str | None, now: datetime
) -> ParsedRow | RowProblem:
    """A data row as a review, or the first problem that keeps it out."""
    if layout.format.skip is not None:
        extra = {name: cells[p] for name, p in layout.skip_positions.items() if p < len(cells)}
        reason = layout.format.skip(extra)
        if reason:
            return RowProblem(row, Problem.SPAM, layout.names[layout.skip_positions[reason]])
    positions = layout.positions
    rating_text = _cell(cells, positions["rating"])
    if not rating_text:
        return RowProblem(row, Problem.RATING_MISSING, layout.column("rating"))
    rating = parse_rating(rating_text)
    if rating is None:
        return RowProblem(
            row, Problem.RATING_INVALID, layout.column("rating"), value=_short(rating_text)
        )
    date_text = _cell(cells, positions["date"])
    if not date_text:
        return RowProblem(row, Problem.DATE_MISSING, layout.column("date"))
    reviewed_at = parse_date(date_text, order)
    if isinstance(reviewed_at, Problem):
        return RowProblem(row, reviewed_at, layout.column("date"), value=_short(date_text))
    if not EARLIEST <= reviewed_at <= now + SLACK:
        return RowProblem(
            row, Problem.DATE_OUT_OF_RANGE, layout.column("date"), value=_short(date_text)
        )
    texts: dict[str, str | None] = {}
    for name in ("body", "title", "author", "product_id"):
        checked = _text(layout, name, _cell(cells, positions[name]), row, name == "body")
        if isinstance(checked, RowProblem):
            return checked
        texts[name] = checked
    body = texts["body"]
    if body is None:
        return RowProblem(row, Problem.BODY_MISSING, layout.column("body"))
    return ParsedRow(
        row=row,
        rating=rating,
        reviewed_at=reviewed_at.replace(microsecond=0),
        body=body,
        title=texts["title"],
        author=texts["author"],
        product_id=texts["product_id"],
    )
