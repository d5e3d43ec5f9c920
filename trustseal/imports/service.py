"""The imports domain's door: take an upload, read it in a job, list what it brought in.

:func:`start` checks the file while the merchant waits (size, UTF-8 text, a known header,
the number of rows) and queues an ``imports.run`` job in the caller's transaction. The job
(:func:`run`) reads the file in chunks of :data:`CHUNK_ROWS` rows, each one transaction:
its reviews, their ``review.imported`` leaves (one ``append_many`` per chunk) and the
import's progress commit together, so no transaction spans the file, a crash loses at most
the chunk at hand, and the next run resumes after the last committed chunk. A chunk is
claimed by a compare-and-set on ``processed``: two runs of one import never both commit it.

Bad rows are reported (``{row, code, …}``, the first :data:`MAX_ERRORS_KEPT` kept) and
skipped. A review imported before (same merchant, format, author, date, rating and texts:
its fingerprint) is skipped as a duplicate, so uploading a file twice changes nothing.
Imported reviews are never rows of the reviews domain: no score, KPI or badge reads them.

Certifier staff may remove one for a published reason (:class:`reviews.RemovalReason`) and
restore it (:func:`moderate`): the public then sees a tombstone; each decision is recorded
(who, when, why) with its ``imported.removed`` / ``imported.restored`` leaf. The merchant
never removes the reviews it imported.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import islice
from typing import TYPE_CHECKING, Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from trustseal.api.fields import forbidden_character
from trustseal.api.pagination import InvalidCursor, decode_cursor, encode_cursor
from trustseal.clock import rfc3339, utcnow
from trustseal.dbutil import execute_core, execute_dml
from trustseal.errors import DomainError
from trustseal.extensions import db
from trustseal.imports import formats
from trustseal.imports.formats import Layout, ParsedRow, Problem, RowProblem
from trustseal.imports.models import ImportedModeration, ImportedReview, ReviewImport
from trustseal.jobs import service as jobs
from trustseal.merchants import service as merchants
from trustseal.reviews import service as reviews
from trustseal.transparency import service as log
from trustseal.transparency.verify import ClaimSource, LoggedClaim

if TYPE_CHECKING:
    from trustseal.staff.models import StaffUser

RUN_JOB = "imports.run"
EVENT = "review.imported"
REMOVED = "imported.removed"
RESTORED = "imported.restored"
DECISION_EVENTS = {"remove": REMOVED, "restore": RESTORED}  # a staff decision → its leaf
MAX_REASON = 300  # a restore's reason is free text
SOURCE = "import"
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 50_000
CHUNK_ROWS = 500
MAX_ERRORS_KEPT = 1000
MAX_FRUITLESS_RUNS = 5  # runs in a row that committed nothing: then the import fails
ACTIVE = ("queued", "running")
BUSY = "Another import of this shop is still running: wait until it ends."


class ImportRefused(DomainError):
    """An upload, a look-up or a staff decision refused (404, 409, 413, 415, 422);
    ``reason`` names the case for pages that word it in their own language."""

    def __init__(self, code: int, reason: str, message: str, field: str | None = None) -> None:
        super().__init__(code, message, field=field)
        self.reason = reason


@dataclass(frozen=True)
class ImportedReviewItem:
    """An imported review as the public sees it (its texts masked of personal data); a
    removed one is a tombstone: its status, reason and time, no rating, no text."""

    id: int
    rating: int | None
    title: str | None
    body: str | None
    author: str | None
    product_id: str | None
    reviewed_at: datetime
    log_index: int
    format: str
    status: str
    removal_reason: str | None
    removed_at: datetime | None


# ---------------------------------------------------------------------------------------
# reading a file


def _text(content: bytes) -> str:
    """The file as text: UTF-8, with or without a byte-order mark (415 otherwise)."""
    if b"\x00" in content:
        raise ImportRefused(415, "binary", "The file is not a CSV file (it holds binary data).")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportRefused(
            415, "not_utf8", "The file is not UTF-8 text: save it as CSV UTF-8 and upload it again."
        ) from None


def _reader(text: str, delimiter: str) -> Iterator[list[str]]:
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)


def _layout(text: str) -> tuple[Layout, str]:
    """The format and delimiter of a file, by its header row (422 for an unknown one)."""
    first = text.split("\n", 1)[0]
    for delimiter in formats.DELIMITERS:
        try:
            header = next(_reader(first, delimiter), [])
        except csv.Error:
            continue
        layout = formats.detect(header)
        if layout is not None:
            return layout, delimiter
    accepted = "; ".join(
        f"{label}: {', '.join(cols)}" for label, cols in formats.accepted_columns()
    )
    raise ImportRefused(
        422,
        "unknown_header",
        f"The first row names no format we read. Accepted formats and the columns they "
        f"need: {accepted}.",
        field="file",
    )


def _records(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """The data rows with their numbers as a spreadsheet shows them (the header is row 1),
    blank rows skipped."""
    reader = _reader(text, delimiter)
    next(reader, None)
    for number, cells in enumerate(reader, start=2):
        if any(cell.strip() for cell in cells):
            yield number, cells


def _survey(text: str, layout: Layout, delimiter: str) -> tuple[int, str | None]:
    """How many data rows the file has, and which way it writes slashed dates (422 when it
    is not readable as CSV, 413 past :data:`MAX_ROWS`)."""
    date_positions = layout.positions["date"]
    total = 0
    dates: list[str] = []
    try:
        for _row, cells in _records(text, delimiter):
            total += 1
            if total > MAX_ROWS:
                raise ImportRefused(
                    413, "too_many_rows", f"A file may hold at most {MAX_ROWS} reviews."
                )
            dates.extend(cells[p] for p in date_positions if p < len(cells))
    except csv.Error as error:
        raise ImportRefused(
            422,
            "unreadable",
            f"The file cannot be read as CSV after row {total + 1}: {error}.",
            field="file",
        ) from None
    if total == 0:
        raise ImportRefused(422, "empty", "The file has a header but no review rows.", field="file")
    return total, formats.slashed_order(dates)


def _filename(name: str) -> str:
    """The name an upload is listed under: its last path part, without the characters a
    name may not hold (a right-to-left override shows ``vsc.exe`` as ``exe.csv``)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    clean = "".join(c for c in base if forbidden_character(c) is None).strip()
    return clean[-255:] or "reviews.csv"


def start(merchant_id: int, filename: str, content: bytes) -> ReviewImport:
    """Check an uploaded file and queue its import, in the caller's transaction.

    413 over :data:`MAX_FILE_BYTES` or :data:`MAX_ROWS`; 415 not UTF-8 text; 422 an
    unknown header, unreadable CSV or no rows; 409 while another import of the merchant
    is queued or running.
    """
    if len(content) > MAX_FILE_BYTES:
        raise ImportRefused(
            413, "too_large", f"A file may be at most {MAX_FILE_BYTES // 2**20} MB."
        )
    text = _text(content)
    layout, delimiter = _layout(text)
    total, date_order = _survey(text, layout, delimiter)
    if active(merchant_id) is not None:
        raise ImportRefused(409, "busy", BUSY)
    record = ReviewImport(
        merchant_id=merchant_id,
        status="queued",
        format=layout.format.name,
        filename=_filename(filename),
        content=content,
        delimiter=delimiter,
        date_order=date_order,
        total=total,
        processed=0,
        imported=0,
        duplicates=0,
        error_count=0,
        errors=[],
        runs=0,
    )
    db.session.add(record)
    try:
        db.session.flush()
    except IntegrityError:  # another upload took the merchant's one active slot meanwhile
        raise ImportRefused(409, "busy", BUSY) from None
    jobs.enqueue(RUN_JOB, {"import_id": record.id})
    return record


# ---------------------------------------------------------------------------------------
# the merchant's imports


def active(merchant_id: int) -> ReviewImport | None:
    """The merchant's import that is queued or running, if any."""
    return db.session.scalar(
        select(ReviewImport).where(
            ReviewImport.merchant_id == merchant_id, ReviewImport.status.in_(ACTIVE)
        )
    )


def get(merchant_id: int, import_id: int) -> ReviewImport:
    """One of the merchant's imports; 404 for another merchant's or an unknown one."""
    found = db.session.get(ReviewImport, import_id)
    if found is None or found.merchant_id != merchant_id:
        raise ImportRefused(404, "not_found", "No such import.")
    return found


def imports_of(merchant_id: int, limit: int = 20) -> list[ReviewImport]:
    """The merchant's latest imports, newest first."""
    return list(
        db.session.scalars(
            select(ReviewImport)
            .where(ReviewImport.merchant_id == merchant_id)
            .order_by(ReviewImport.id.desc())
            .limit(limit)
        )
    )


def problems(record: ReviewImport) -> list[RowProblem]:
    """The rows an import left out that it kept (the first :data:`MAX_ERRORS_KEPT`)."""
    return [RowProblem.from_json(item) for item in record.errors or []]


def describe(problem: RowProblem) -> str:
    """Why a row was left out, in the language being rendered."""
    column, value, limit = problem.column or "", problem.value or "", problem.limit
    messages = {
        Problem.RATING_MISSING: lambda: _("The column %(column)s is empty.", column=column),
        Problem.RATING_INVALID: lambda: _(
            "The column %(column)s must hold a whole number from 1 to 5, not “%(value)s”.",
            column=column,
            value=value,
        ),
        Problem.DATE_MISSING: lambda: _("The column %(column)s is empty.", column=column),
        Problem.DATE_INVALID: lambda: _(
            "The date “%(value)s” cannot be read: write it as YYYY-MM-DD.", value=value
        ),
        Problem.DATE_AMBIGUOUS: lambda: _(
            "The date “%(value)s” could be day/month or month/day: write it as YYYY-MM-DD.",
            value=value,
        ),
        Problem.DATE_OUT_OF_RANGE: lambda: _(
            "The date “%(value)s” is not between the year 2000 and today.", value=value
        ),
        Problem.BODY_MISSING: lambda: _(
            "The column %(column)s is empty: a review needs its text.", column=column
        ),
        Problem.TOO_LONG: lambda: _(
            "The column %(column)s is longer than %(limit)s characters.",
            column=column,
            limit=limit,
        ),
        Problem.HIDDEN_CHARACTER: lambda: _(
            "The column %(column)s holds an invisible control or text-direction character "
            "(%(value)s).",
            column=column,
            value=value,
        ),
        Problem.SPAM: lambda: _(
            "Marked as spam in the column %(column)s: not imported.", column=column
        ),
        Problem.DUPLICATE: lambda: _(
            "Already imported: a review with the same author, date, rating and text is there."
        ),
    }
    return str(messages[problem.problem]())


# ---------------------------------------------------------------------------------------
# the job


def fingerprint(format_name: str, parsed: ParsedRow, texts: reviews.PublicTexts) -> str:
    """What makes two imported reviews the same: format, author, date, rating and texts."""
    key = [
        format_name,
        texts.display_name,
        rfc3339(parsed.reviewed_at),
        parsed.rating,
        texts.title,
        texts.body,
    ]
    return hashlib.sha256(json.dumps(key, ensure_ascii=False).encode()).hexdigest()


@dataclass
class _Chunk:
    """What one chunk brings: reviews to insert with their leaves, rows left out."""

    rows: list[dict[str, Any]]
    events: list[log.Event]
    problems: list[RowProblem]
    duplicates: int


def _prepare(
    record: ReviewImport,
    layout: Layout,
    slug: str,
    batch: Sequence[tuple[int, list[str]]],
    now: datetime,
) -> _Chunk:
    """Read a chunk's rows: the reviews to import (masked, with their leaves) and the
    rows left out, duplicates of what the shop imported before included."""
    chunk = _Chunk([], [], [], 0)
    candidates: list[tuple[ParsedRow, reviews.PublicTexts, str]] = []
    for number, cells in batch:
        parsed = formats.read_row(layout, cells, number, record.date_order, now)
        if isinstance(parsed, RowProblem):
            chunk.problems.append(parsed)
            continue
        texts = reviews.public_texts(parsed.title, parsed.body, parsed.author)
        if texts.display_name:  # shown as the reviews show a customer: "Lucía Q."
            texts = replace(texts, display_name=reviews.default_display_name(texts.display_name))
        candidates.append((parsed, texts, fingerprint(record.format, parsed, texts)))
    known = set(
        db.session.scalars(
            select(ImportedReview.fingerprint).where(
                ImportedReview.merchant_id == record.merchant_id,
                ImportedReview.fingerprint.in_([c[2] for c in candidates]),
            )
        )
    )
    for parsed, texts, print_ in candidates:
        if print_ in known:
            chunk.problems.append(RowProblem(parsed.row, Problem.DUPLICATE))
            chunk.duplicates += 1
            continue
        known.add(print_)
        data: dict[str, Any] = {
            "import_id": record.id,
            "row": parsed.row,
            "rating": parsed.rating,
            "reviewed_at": rfc3339(parsed.reviewed_at),
            "source": SOURCE,
            "format": record.format,
        }
        if parsed.product_id is not None:
            data["product_id"] = parsed.product_id
        leaf_texts = {"title": texts.title, "body": texts.body, "author": texts.display_name}
        chunk.events.append(
            log.Event(
                EVENT,
                merchant=slug,
                data=data,
                texts={k: v for k, v in leaf_texts.items() if v is not None},
                at=parsed.reviewed_at,
            )
        )
        chunk.rows.append(
            {
                "merchant_id": record.merchant_id,
                "import_id": record.id,
                "row": parsed.row,
                "format": record.format,
                "author": texts.display_name,
                "rating": parsed.rating,
                "title": texts.title,
                "body": texts.body,
                "product_id": parsed.product_id,
                "reviewed_at": parsed.reviewed_at,
                "fingerprint": print_,
                "created_at": now,
            }
        )
    chunk.problems.sort(key=lambda p: p.row)
    return chunk


def _commit_chunk(
    import_id: int, layout: Layout, slug: str, batch: Sequence[tuple[int, list[str]]], done: int
) -> bool:
    """Import one chunk in one transaction; False when another run took it first."""
    claimed = execute_dml(
        update(ReviewImport)
        .where(
            ReviewImport.id == import_id,
            ReviewImport.status == "running",
            ReviewImport.processed == done,
        )
        .values(processed=done + len(batch), runs=0)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        return False
    record = db.session.get(ReviewImport, import_id, populate_existing=True)
    assert record is not None
    chunk = _prepare(record, layout, slug, batch, utcnow())
    if chunk.events:
        appended = log.append_many(chunk.events)
        for row, leaf in zip(chunk.rows, appended, strict=True):
            row["log_index"] = leaf.index
        # executemany, not one multi-row INSERT: a statement of 7,000 placeholders costs
        # the driver more to parse than the rows cost to send
        execute_core(insert(ImportedReview), chunk.rows)
        merchants.bump_public_version(record.merchant_id)  # the shop's pages show them
    record.imported += len(chunk.rows)
    record.duplicates += chunk.duplicates
    record.error_count += len(chunk.problems)
    room = MAX_ERRORS_KEPT - len(record.errors or [])
    if room > 0 and chunk.problems:
        record.errors = [*(record.errors or []), *(p.as_json() for p in chunk.problems[:room])]
    db.session.commit()
    return True


def _finish(import_id: int, status: str, failure: str | None = None) -> None:
    execute_dml(
        update(ReviewImport)
        .where(ReviewImport.id == import_id, ReviewImport.status.in_(ACTIVE))
        .values(status=status, failure=failure, content=None, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def run(import_id: int, budget_seconds: float | None = None) -> str:
    """Read an import's file from where it stopped, a chunk per transaction, until it
    ends or ``budget_seconds`` (a third of the job lease) pass — then queue another run.
    The import's status after it: ``done``, ``running`` or ``failed``."""
    started = time.monotonic()
    budget = (
        budget_seconds
        if budget_seconds is not None
        else current_app.config["TRUSTSEAL_JOB_LEASE_SECONDS"] / 3
    )
    record = db.session.get(ReviewImport, import_id)
    if record is None or record.status not in ACTIVE:
        return record.status if record else "gone"
    if record.runs >= MAX_FRUITLESS_RUNS:
        _finish(
            import_id,
            "failed",
            f"Stopped after {record.runs} attempts in a row that could not import the rows "
            f"after row {record.processed + 1}; the {record.imported} reviews imported stay.",
        )
        return "failed"
    record.runs += 1
    record.status = "running"
    record.started_at = record.started_at or utcnow()
    merchant = merchants.get(record.merchant_id)
    assert merchant is not None and record.content is not None
    slug, content, done = merchant.slug, record.content, record.processed
    delimiter = record.delimiter
    db.session.commit()  # the attempt is counted even if it dies

    text = _text(content)
    layout = _layout(text)[0]
    rows = islice(_records(text, delimiter), done, None)
    while True:
        batch = list(islice(rows, CHUNK_ROWS))
        if not batch:
            _finish(import_id, "done")
            return "done"
        if not _commit_chunk(import_id, layout, slug, batch, done):
            return "running"  # another run has this import
        done += len(batch)
        if time.monotonic() - started > budget:
            jobs.enqueue(RUN_JOB, {"import_id": import_id})
            return "running"


@jobs.handler(RUN_JOB)
def _run_job(payload: dict[str, Any]) -> None:
    run(int(payload["import_id"]))


# ---------------------------------------------------------------------------------------
# imported reviews, as the public reads them

# The listing's order is (reviewed_at, id), newest first; its cursor packs both into the
# one integer the API's cursors carry: seconds since the epoch above the 31 bits of an id.
_ID_BITS = 31


def _item(row: ImportedReview) -> ImportedReviewItem:
    shown = row.status == "published"
    return ImportedReviewItem(
        id=row.id,
        rating=row.rating if shown else None,
        title=row.title if shown else None,
        body=row.body if shown else None,
        author=row.author if shown else None,
        product_id=row.product_id,
        reviewed_at=row.reviewed_at,
        log_index=row.log_index,
        format=row.format,
        status=row.status,
        removal_reason=row.removal_reason,
        removed_at=row.removed_at,
    )


def _of(merchant_id: int, product_id: str | None, published_only: bool) -> list[Any]:
    """The conditions of a merchant's imported reviews (of one product, if given)."""
    where = [ImportedReview.merchant_id == merchant_id]
    if product_id is not None:
        where.append(ImportedReview.product_id == product_id)
    if published_only:
        where.append(ImportedReview.status == "published")
    return where


def _listing(merchant_id: int, product_id: str | None, published_only: bool = False) -> Any:
    return (
        select(ImportedReview)
        .where(*_of(merchant_id, product_id, published_only))
        .order_by(ImportedReview.reviewed_at.desc(), ImportedReview.id.desc())
    )


def imported_reviews(
    merchant_id: int, product_id: str | None, limit: int
) -> list[ImportedReviewItem]:
    """A merchant's published imported reviews (of one product, if given), newest first."""
    rows = db.session.scalars(_listing(merchant_id, product_id, published_only=True).limit(limit))
    return [_item(row) for row in rows]


def imported_page(
    merchant_id: int, product_id: str | None, limit: int, cursor: str | None
) -> tuple[list[ImportedReviewItem], str | None]:
    """One page of imported reviews, removed ones as tombstones, and the cursor of the next
    (None at the end); :class:`~trustseal.api.pagination.InvalidCursor` for a cursor not
    from this list."""
    stmt = _listing(merchant_id, product_id)
    if cursor is not None:
        key = decode_cursor(cursor)
        try:
            moment = datetime.fromtimestamp(key >> _ID_BITS, UTC)
        except (OverflowError, OSError, ValueError) as error:
            raise InvalidCursor(cursor) from error
        last_id = key & (2**_ID_BITS - 1)
        stmt = stmt.where(
            tuple_(ImportedReview.reviewed_at, ImportedReview.id) < tuple_(moment, last_id)
        )
    rows = list(db.session.scalars(stmt.limit(limit + 1)))
    items = [_item(row) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        next_cursor = encode_cursor((int(last.reviewed_at.timestamp()) << _ID_BITS) | last.id)
    return items, next_cursor


def imported_count(
    merchant_id: int, product_id: str | None = None, with_removed: bool = False
) -> int:
    """How many published imported reviews a merchant has (of one product, if given);
    ``with_removed``: their tombstones too (what :func:`imported_page` lists)."""
    stmt = select(func.count()).select_from(ImportedReview)
    stmt = stmt.where(*_of(merchant_id, product_id, published_only=not with_removed))
    return int(db.session.scalar(stmt) or 0)


def salts(items: Sequence[ImportedReviewItem]) -> dict[int, bytes]:
    """The salts of the items' leaves (to check their texts against the log); none for a
    tombstone, whose text is not shown."""
    return log.salts(item.log_index for item in items if item.status == "published")


# ---------------------------------------------------------------------------------------
# staff moderation


def _lock(imported_review_id: int) -> ImportedReview:
    found = db.session.scalars(
        select(ImportedReview)
        .where(ImportedReview.id == imported_review_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if found is None:
        raise ImportRefused(404, "not_found", "No such imported review.")
    return found


def moderate(
    imported_review_id: int, staff: StaffUser, action: str, reason: str
) -> ImportedReviewItem:
    """Remove an imported review for a published reason (a :class:`reviews.RemovalReason`
    value) or restore it (``reason``: why, in at most :data:`MAX_REASON` characters), in
    the caller's transaction: the decision is recorded (staff, time, reason) with its
    ``imported.removed`` / ``imported.restored`` leaf. Returns the item as the public
    list now shows it. 404 unknown; 409 removed or published already; 422 an unknown
    action or reason."""
    if action not in DECISION_EVENTS:
        raise ImportRefused(422, "action", "action is remove or restore.", field="action")
    row = _lock(imported_review_id)
    now = utcnow()
    if action == "remove":
        if row.status == "removed":
            raise ImportRefused(409, "removed", "The imported review is removed already.")
        refusal = reviews.removal_refusal(reason)
        if refusal:
            raise ImportRefused(422, "removal_reason", refusal, field="reason")
        row.status, row.removal_reason, row.removed_at = "removed", reason, now
    else:
        if row.status != "removed":
            raise ImportRefused(409, "published", "The imported review is published already.")
        reason = reason.strip()
        if not reason or len(reason) > MAX_REASON:
            raise ImportRefused(
                422,
                "restore_reason",
                f"Say why it is restored, in at most {MAX_REASON} characters.",
                field="reason",
            )
        row.status, row.removal_reason, row.removed_at = "published", None, None
    merchant = merchants.get(row.merchant_id)
    assert merchant is not None
    leaf = log.append(
        log.Event(
            DECISION_EVENTS[action],
            merchant=merchant.slug,
            data={"imported_review_id": row.id, "reason": reason},
        )
    )
    db.session.add(
        ImportedModeration(
            imported_review_id=row.id,
            staff_id=staff.id,
            action=action,
            reason=reason,
            created_at=now,
            log_index=leaf.index,
        )
    )
    merchants.bump_public_version(row.merchant_id)  # cached widget pages showed it
    return _item(row)


# ---------------------------------------------------------------------------------------
# what the imports domain claims the log holds (checked by ``trustseal log verify``)


def _status_problem(row: Any) -> str | None:
    """How an imported review's status, reason and removal time disagree with its last
    recorded decision (``row.action`` None: it has none, so it is published), or None."""
    review = row.ImportedReview
    if row.action == "remove":
        expected = ("removed", row.reason, row.decided_at)
        decision = f"its last recorded decision (leaf {row.decided_index}) removed it"
    else:
        expected = ("published", None, None)
        decision = (
            "no removal is recorded"
            if row.action is None
            else f"its last recorded decision (leaf {row.decided_index}) restored it"
        )
    if (review.status, review.removal_reason, review.removed_at) == expected:
        return None
    return (
        f"its status is {review.status!r} (reason {review.removal_reason!r}, removed at "
        f"{rfc3339(review.removed_at)}), but {decision}"
        + (f" for {row.reason!r} at {rfc3339(row.decided_at)}" if row.action == "remove" else "")
    )


def _review_claims(slug: Callable[[int], str | None]) -> Iterator[LoggedClaim]:
    """Each imported review's ``review.imported`` leaf: its import and row, rating, date,
    product, format and texts; and its status as its last decision left it. Streamed."""
    last = (
        select(
            ImportedModeration.imported_review_id,
            func.max(ImportedModeration.log_index).label("log_index"),
        )
        .group_by(ImportedModeration.imported_review_id)
        .subquery()
    )
    rows = db.session.execute(
        select(
            ImportedReview,
            ImportedModeration.action,
            ImportedModeration.reason,
            ImportedModeration.created_at.label("decided_at"),
            ImportedModeration.log_index.label("decided_index"),
        )
        .outerjoin(last, last.c.imported_review_id == ImportedReview.id)
        .outerjoin(ImportedModeration, ImportedModeration.log_index == last.c.log_index)
        .order_by(ImportedReview.id)
        .execution_options(yield_per=5_000)
    )
    for found in rows:
        row = found.ImportedReview
        yield LoggedClaim(
            name=f"imported review {row.id}",
            kind=EVENT,
            index=row.log_index,
            merchant_slug=slug(row.merchant_id),
            ids={"import_id": row.import_id, "row": row.row},
            fields={
                "rating": row.rating,
                "reviewed_at": rfc3339(row.reviewed_at),
                "source": SOURCE,
                "format": row.format,
                **({"product_id": row.product_id} if row.product_id is not None else {}),
            },
            extra={} if row.product_id is not None else {"product_id": None},
            texts={"title": row.title, "body": row.body, "author": row.author},
            record_problem=_status_problem(found),
        )


def _decision_claims(slug: Callable[[int], str | None]) -> Iterator[LoggedClaim]:
    """Each staff decision names its ``imported.removed`` / ``imported.restored`` leaf,
    with its imported review and reason. Streamed, in log order."""
    rows = db.session.execute(
        select(
            ImportedModeration.imported_review_id,
            ImportedModeration.action,
            ImportedModeration.reason,
            ImportedModeration.log_index,
            ImportedReview.merchant_id,
        )
        .join(ImportedReview, ImportedReview.id == ImportedModeration.imported_review_id)
        .order_by(ImportedModeration.log_index)
        .execution_options(yield_per=5_000)
    )
    for row in rows:
        known = row.action in DECISION_EVENTS
        yield LoggedClaim(
            name=f"{'restore' if row.action == 'restore' else 'removal'} of imported review "
            f"{row.imported_review_id}",
            kind=DECISION_EVENTS.get(row.action, REMOVED),
            index=row.log_index,
            merchant_slug=slug(row.merchant_id),
            ids={"imported_review_id": row.imported_review_id},
            fields={"reason": row.reason},
            record_problem=None if known else f"its action is {row.action!r}",
        )


def logged_claims() -> Iterator[LoggedClaim]:
    """What the imports domain says the log holds: every imported review's
    ``review.imported`` leaf (and a status its decisions explain), every removal and
    restore's leaf. Streamed, for ``trustseal log verify``."""
    slug = merchants.slug_lookup()
    yield from _review_claims(slug)
    yield from _decision_claims(slug)


def claim_source() -> ClaimSource:
    """The imports domain's claims; every ``review.imported`` leaf must name a stored
    imported review, every ``imported.removed`` / ``imported.restored`` leaf a recorded
    decision."""
    return ClaimSource(
        logged_claims,
        complete={
            EVENT: "import_id",
            REMOVED: "imported_review_id",
            RESTORED: "imported_review_id",
        },
    )
