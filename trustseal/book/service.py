"""The book domain's door: file entries, follow them up, answer them, report on them.

Numbers are correlative per merchant and year with no gaps and no reuse: an atomic
upsert of the counter row hands out the next number inside the filing's transaction, so
a failed filing gives its number back. Every filing and answer is a transparency-log
leaf with no personal data (number, kind, dates).

The Libro de Reclamaciones is Peru's (Código de Protección y Defensa del Consumidor, D.S.
011-2011-PCM): only a merchant in Peru has one (:func:`offered`). A shop elsewhere shows
its reviews and seal, but nobody files in its book (:class:`NoBook`, 404); an entry filed
before its country changed is still followed up and answered.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from statistics import median
from typing import TYPE_CHECKING, Any

from flask import current_app
from flask_babel import gettext
from sqlalchemy import Select, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from trustseal import countries, languages
from trustseal.book import deadlines, display
from trustseal.book.models import BookCounter, BookEntry, BookStaffNote
from trustseal.clock import rfc3339, utcnow
from trustseal.dbutil import execute_dml
from trustseal.errors import DomainError
from trustseal.extensions import db
from trustseal.hooks import service as hooks
from trustseal.jobs import service as jobs
from trustseal.mail import service as mail
from trustseal.merchants import service as merchants
from trustseal.resolutions import service as resolutions
from trustseal.staff import service as staff_service
from trustseal.tokens import hash_token
from trustseal.transparency import service as log
from trustseal.transparency.verify import ClaimSource, LoggedClaim

if TYPE_CHECKING:
    from trustseal.merchants.models import Merchant

COMPLAINTS = ("reclamo", "queja")
KINDS = (*COMPLAINTS, "felicitacion")
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud safely
CODE_LENGTH = 16
# What people type between the groups of a code: spaces of any kind, and the dashes a
# phone's keyboard or a word processor may turn the hyphen into.
_CODE_SEPARATORS = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2212")
COPY_JOB, MERCHANT_JOB, REMINDER_JOB, ANSWER_JOB, OVERDUE_JOB = (
    "book.consumer_copy",
    "book.merchant_notice",
    "book.reminder",
    "book.answer_notice",
    "book.overdue",
)
REMINDER_DAYS = (10, 13)
STAFF_NOTE_MAX = 2000
# Staff raise an overdue entry with its merchant at most once in this time (a double click
# or two staff members at once send one email, not two).
CONTACT_INTERVAL = timedelta(days=1)


class BookError(DomainError):
    """A refused book operation."""


NOT_IN_PERU = (
    "This shop has no Libro de Reclamaciones: the book is a legal requirement of Peru, and "
    "this shop does not operate in Peru. Its reviews and seal are at /m/{slug}."
)


class NoBook(BookError):
    """The merchant is not in Peru, so it has no Libro de Reclamaciones (404)."""

    def __init__(self, merchant: Merchant) -> None:
        super().__init__(404, NOT_IN_PERU.format(slug=merchant.slug))


def offered(merchant: Merchant) -> bool:
    """Whether the merchant has a Libro de Reclamaciones: a shop in Peru, where the law
    requires it (:func:`trustseal.countries.has_complaints_book`)."""
    return countries.has_complaints_book(merchant.country)


def require_book(merchant: Merchant) -> None:
    """Raise :class:`NoBook` unless the merchant has a Libro de Reclamaciones."""
    if not offered(merchant):
        raise NoBook(merchant)


@dataclass(frozen=True)
class Filed:
    """A new entry and its follow-up code (shown once, and in the emailed copy)."""

    entry: BookEntry
    code: str


def format_number(entry: BookEntry) -> str:
    """``000123-2026``."""
    return f"{entry.number:06d}-{entry.year}"


def parse_number(text: str) -> tuple[int, int] | None:
    """``(number, year)`` from ``000123-2026``, or None."""
    number, _, year = text.partition("-")
    if not (number.isdigit() and year.isdigit() and len(year) == 4):
        return None
    return int(number), int(year)


def new_code() -> str:
    """A follow-up code: 16 characters from 32 (80 bits) in groups of four (``K7QM-…``)."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def _compact_code(text: str) -> str:
    """A code as typed, without separators, in upper case (``k7qm 4xpa…`` → ``K7QM4XPA…``)."""
    return "".join(ch for ch in text.upper() if not ch.isspace() and ch not in _CODE_SEPARATORS)


def normalize_code(text: str) -> str | None:
    """The follow-up code someone typed or pasted, written as it was given (``K7QM-4XPA-
    92HD-MW3R``): case, spaces and dashes do not matter, and a pasted follow-up link
    gives its code. None when the text cannot be a code (wrong length or characters)."""
    compact = _compact_code(text.strip().rstrip("/").rpartition("/")[2]).removesuffix(".PDF")
    if len(compact) != CODE_LENGTH or not set(compact) <= set(CODE_ALPHABET):
        return None
    return "-".join(compact[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def _code_hash(code: str) -> str:
    return hash_token(_compact_code(code))


def _next_number(merchant_id: int, year: int) -> int:
    """Atomically take the next correlative number (rolled back with the transaction)."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(BookCounter).values(merchant_id=merchant_id, year=year, last_number=1)
    upsert = stmt.on_conflict_do_update(
        index_elements=["merchant_id", "year"],
        set_={"last_number": BookCounter.last_number + 1},
    ).returning(BookCounter.last_number)
    return int(db.session.execute(upsert).scalar_one())


def file_entry(
    merchant: Merchant, data: dict[str, Any], locale: str = languages.DEFAULT
) -> Filed:
    """File a reclamo, queja or felicitación (inputs validated), in the caller's transaction
    (:class:`NoBook` for a merchant outside Peru)."""
    require_book(merchant)
    now = utcnow()
    year = deadlines.lima_date(now).year
    consumer, item = data["consumer"], data["item"]
    kind = data["kind"]
    code = new_code()
    entry = BookEntry(
        merchant_id=merchant.id,
        year=year,
        number=_next_number(merchant.id, year),
        code_hash=_code_hash(code),
        kind=kind,
        consumer_name=consumer["name"],
        document_type=consumer["document_type"],
        document_number=consumer["document_number"],
        email=consumer["email"],
        phone=consumer.get("phone"),
        address=consumer.get("address"),
        guardian=consumer.get("guardian"),
        item_type=item["type"],
        amount=item.get("amount"),
        currency=item.get("currency"),
        description=item["description"],
        detail=data["detail"],
        request=data.get("request"),
        order_ref=data.get("order_ref"),
        consent_email=data.get("consent_email", True),
        publish_praise=kind == "felicitacion" and data.get("publish_praise", False),
        locale=locale,
        filed_at=now,
        due_at=deadlines.due_date(now) if kind in COMPLAINTS else None,
        status="open" if kind in COMPLAINTS else "answered",
    )
    db.session.add(entry)
    db.session.flush()
    appended = log.append(
        log.Event(
            "book.filed",
            merchant=merchant.slug,
            at=now,
            data={
                "number": format_number(entry),
                "kind": kind,
                "filed_on": deadlines.lima_date(now).isoformat(),
                "due_on": entry.due_at.isoformat() if entry.due_at else None,
            },
        )
    )
    entry.log_index = appended.index
    if entry.consent_email and entry.email:
        # Rendered now: the follow-up code goes only into the (encrypted) outbox message,
        # never into a job payload.
        _queue_copy(entry, merchant, code)
    jobs.enqueue(MERCHANT_JOB, {"entry_id": entry.id})
    hooks.emit(merchant.id, merchant.slug, "book.filed", _hook_data(entry))
    if kind in COMPLAINTS:
        for day in REMINDER_DAYS:
            jobs.enqueue(
                REMINDER_JOB,
                {"entry_id": entry.id, "day": day},
                run_at=deadlines.reminder_moment(now, day),
            )
        assert entry.due_at is not None
        jobs.enqueue(OVERDUE_JOB, {"entry_id": entry.id}, run_at=deadlines.day_after(entry.due_at))
    return Filed(entry, code)


def _hook_data(entry: BookEntry) -> dict[str, Any]:
    """What a webhook says of an entry: its number, kind and dates (no personal data: the
    merchant reads the rest through the API)."""
    return {
        "number": format_number(entry),
        "kind": entry.kind,
        "filed_at": rfc3339(entry.filed_at),
        "due_on": entry.due_at.isoformat() if entry.due_at else None,
    }


def by_code(code: str) -> BookEntry | None:
    """The entry of a follow-up code."""
    return db.session.scalar(select(BookEntry).where(BookEntry.code_hash == _code_hash(code)))


def by_number(merchant: Merchant, number_text: str, lock: bool = False) -> BookEntry | None:
    """A merchant's entry by its ``000123-2026`` number."""
    parsed = parse_number(number_text)
    if parsed is None:
        return None
    stmt = select(BookEntry).where(
        BookEntry.merchant_id == merchant.id,
        BookEntry.number == parsed[0],
        BookEntry.year == parsed[1],
    )
    if lock:
        stmt = stmt.with_for_update()
    return db.session.scalar(stmt)


def today_lima() -> date:
    """Today's date in Lima."""
    return deadlines.lima_date(utcnow())


def state(entry: BookEntry, today: date | None = None) -> str:
    """``open``, ``overdue`` or ``answered`` (praise needs no answer: ``answered``)."""
    if entry.status == "answered":
        return "answered"
    return "overdue" if entry.due_at and entry.due_at < (today or today_lima()) else "open"


def unanswered(merchant_id: int, status: str | None = None) -> list[BookEntry]:
    """A merchant's unanswered reclamos and quejas (``status``: only ``open`` — not yet
    due — or ``overdue``; both by default), the earliest due first."""
    stmt = (
        entries_query(merchant_id, status)
        if status
        else select(BookEntry).where(
            BookEntry.merchant_id == merchant_id, BookEntry.status == "open"
        )
    )
    return list(db.session.scalars(stmt.order_by(BookEntry.due_at)))


TABS = ("open", "overdue", "answered")


@dataclass(frozen=True)
class DeskEntry:
    """A complaint as the merchant works on it: the entry, its number, and the business
    days left until its deadline (negative: days overdue; None once answered)."""

    entry: BookEntry
    number: str
    business_days_left: int | None


def merchant_desk(merchant_id: int, tab: str, limit: int = 200) -> list[DeskEntry]:
    """A merchant's reclamos and quejas in one of :data:`TABS`: the open and overdue ones
    earliest due first, the answered ones latest answered first."""
    stmt = entries_query(merchant_id, tab)
    if tab == "answered":
        stmt = stmt.order_by(BookEntry.answered_at.desc(), BookEntry.id.desc())
    else:
        stmt = stmt.order_by(BookEntry.due_at, BookEntry.id)
    today = today_lima()
    return [
        DeskEntry(
            entry,
            format_number(entry),
            None
            if entry.status == "answered" or entry.due_at is None
            else deadlines.business_days_between(today, entry.due_at),
        )
        for entry in db.session.scalars(stmt.limit(limit))
    ]


def desk_counts(merchant_id: int) -> dict[str, int]:
    """How many of a merchant's reclamos and quejas are in each of :data:`TABS`."""
    return {
        tab: db.session.scalar(
            entries_query(merchant_id, tab).with_only_columns(func.count(BookEntry.id))
        )
        or 0
        for tab in TABS
    }


def entries_query(merchant_id: int | None, status: str | None) -> Select[BookEntry]:
    """A merchant's entries (all merchants' when None), filtered by state."""
    stmt = select(BookEntry)
    if merchant_id is not None:
        stmt = stmt.where(BookEntry.merchant_id == merchant_id)
    today = today_lima()
    if status == "answered":
        stmt = stmt.where(BookEntry.status == "answered", BookEntry.kind.in_(COMPLAINTS))
    elif status == "open":
        stmt = stmt.where(BookEntry.status == "open", BookEntry.due_at >= today)
    elif status == "overdue":
        stmt = stmt.where(BookEntry.status == "open", BookEntry.due_at < today)
    return stmt


def answer(
    merchant: Merchant, number_text: str, text: str, communicated_at: datetime | None = None
) -> BookEntry:
    """Record the provider's answer (once), log it, and email it to the consumer."""
    entry = by_number(merchant, number_text, lock=True)
    if entry is None:
        raise BookError(404, "No such entry in this merchant's book.")
    if entry.kind not in COMPLAINTS:
        raise BookError(409, "A felicitación needs no answer.")
    if entry.status == "answered":
        raise BookError(409, "This entry was answered already.")
    now = utcnow()
    when = communicated_at or now
    if when > now + timedelta(minutes=5) or when < entry.filed_at:
        raise BookError(422, "The answer date must be between filing and now.")
    entry.answer, entry.answered_at, entry.status = text, when, "answered"
    on_time = entry.due_at is not None and deadlines.lima_date(when) <= entry.due_at
    log.append(
        log.Event(
            "book.answered",
            merchant=merchant.slug,
            at=now,
            data={
                "number": format_number(entry),
                "kind": entry.kind,
                "answered_on": deadlines.lima_date(when).isoformat(),
                "on_time": on_time,
                "filed_at": rfc3339(entry.filed_at),  # first-response time: to this leaf's
            },
        )
    )
    merchants.bump_public_version(merchant.id)  # the first-response numbers moved
    if entry.email:
        jobs.enqueue(ANSWER_JOB, {"entry_id": entry.id})
    return entry


def praise(merchant: Merchant, limit: int = 20) -> list[BookEntry]:
    """Published felicitaciones, newest first."""
    return list(
        db.session.scalars(
            select(BookEntry)
            .where(
                BookEntry.merchant_id == merchant.id,
                BookEntry.kind == "felicitacion",
                BookEntry.publish_praise.is_(True),
                BookEntry.erased_at.is_(None),
            )
            .order_by(BookEntry.id.desc())
            .limit(limit)
        )
    )


def public_name(entry: BookEntry) -> str:
    """First name and initial (``Rosa M.``) for published praise."""
    parts = (entry.consumer_name or "").split()
    if not parts:
        return "Cliente"
    return parts[0] if len(parts) == 1 else f"{parts[0]} {parts[-1][0].upper()}."


def complaints_summary(merchant: Merchant) -> dict[str, Any]:
    """Received in 12 months (``received_12m``, the sum of ``reclamos_12m`` and
    ``quejas_12m``), share answered on time, median answer days — no personal data."""
    since = utcnow() - timedelta(days=365)
    today = today_lima()
    rows = db.session.execute(
        select(
            BookEntry.kind,
            BookEntry.filed_at,
            BookEntry.due_at,
            BookEntry.answered_at,
            BookEntry.status,
        ).where(
            BookEntry.merchant_id == merchant.id,
            BookEntry.kind.in_(COMPLAINTS),
            BookEntry.filed_at >= since,
        )
    ).all()
    decided = [r for r in rows if r.status == "answered" or (r.due_at and r.due_at < today)]
    on_time = [
        r
        for r in decided
        if r.answered_at and r.due_at and deadlines.lima_date(r.answered_at) <= r.due_at
    ]
    days = [(r.answered_at - r.filed_at).total_seconds() / 86400 for r in rows if r.answered_at]
    reclamos = sum(1 for r in rows if r.kind == "reclamo")
    return {
        "received_12m": len(rows),
        "reclamos_12m": reclamos,
        "quejas_12m": len(rows) - reclamos,
        "answered_on_time_rate": round(len(on_time) / len(decided), 3) if decided else None,
        "median_answer_days": round(median(days), 1) if days else None,
    }


def erase_expired(now: datetime | None = None) -> int:
    """Erase consumers' data of entries older than the retention period; keep number,
    dates and kind. Returns how many entries were erased."""
    days = current_app.config["TRUSTSEAL_BOOK_RETENTION_DAYS"]
    cutoff = (now or utcnow()) - timedelta(days=days)
    result = execute_dml(
        update(BookEntry)
        .where(BookEntry.filed_at < cutoff, BookEntry.erased_at.is_(None))
        .values(
            consumer_name=None,
            document_type=None,
            document_number=None,
            email=None,
            phone=None,
            address=None,
            guardian=None,
            description=None,
            detail=None,
            request=None,
            order_ref=None,
            answer=None,
            amount=None,
            confirmation_comment=None,
            erased_at=now or utcnow(),
        )
    )
    # Staff notes may name the consumer: they go with the rest of the personal data.
    db.session.execute(
        update(BookStaffNote)
        .where(
            BookStaffNote.body.is_not(None),
            BookStaffNote.entry_id.in_(
                select(BookEntry.id).where(BookEntry.erased_at.is_not(None))
            ),
        )
        .values(body=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def counts(merchant_id: int) -> dict[str, int]:
    """Entries per state (for dashboards)."""
    return {
        s: int(
            db.session.scalar(
                select(func.count()).select_from(entries_query(merchant_id, s).subquery())
            )
            or 0
        )
        for s in ("open", "overdue", "answered")
    }


@dataclass(frozen=True)
class StaffNote:
    """A staff note or contact on an entry, with who wrote it."""

    action: str  # note | contact
    body: str | None  # None once erased with the entry's personal data
    author: str
    created_at: datetime

    @property
    def at_lima(self) -> datetime:
        """When, in Lima's time (as staff and merchants read it)."""
        return self.created_at.astimezone(deadlines.LIMA)


@dataclass(frozen=True)
class StaffEntry:
    """A reclamo or queja as certifier staff see it: dates in Lima, how late, what staff did."""

    entry: BookEntry
    merchant: Merchant
    number: str
    state: str
    filed_on: date
    days_overdue: int
    notes: list[StaffNote] = field(default_factory=list)

    @property
    def contacted_at(self) -> datetime | None:
        """When (in Lima) staff last raised this entry with the merchant, if ever."""
        return max((n.at_lima for n in self.notes if n.action == "contact"), default=None)


def days_overdue(entry: BookEntry, today: date | None = None) -> int:
    """Calendar days since the deadline of an unanswered complaint (0 when not overdue)."""
    if state(entry, today) != "overdue" or entry.due_at is None:
        return 0
    return ((today or today_lima()) - entry.due_at).days


def _staff_entry(entry: BookEntry, merchant: Merchant, notes: list[StaffNote]) -> StaffEntry:
    today = today_lima()
    return StaffEntry(
        entry=entry,
        merchant=merchant,
        number=format_number(entry),
        state=state(entry, today),
        filed_on=deadlines.lima_date(entry.filed_at),
        days_overdue=days_overdue(entry, today),
        notes=notes,
    )


def overdue_for_staff() -> list[StaffEntry]:
    """Every overdue reclamo and queja across merchants, the longest overdue first, with
    when staff last contacted the merchant about each (for the console)."""
    entries = list(db.session.scalars(entries_query(None, "overdue").order_by(BookEntry.due_at)))
    contacts: dict[int, list[StaffNote]] = {}
    if entries:
        rows = db.session.execute(
            select(BookStaffNote.entry_id, func.max(BookStaffNote.created_at))
            .where(
                BookStaffNote.entry_id.in_([e.id for e in entries]),
                BookStaffNote.action == "contact",
            )
            .group_by(BookStaffNote.entry_id)
        ).all()
        contacts = {row[0]: [StaffNote("contact", None, "", row[1])] for row in rows}
    found: list[StaffEntry] = []
    for entry in entries:
        merchant = merchants.get(entry.merchant_id)
        if merchant is not None:
            found.append(_staff_entry(entry, merchant, contacts.get(entry.id, [])))
    return found


def staff_entry(entry_id: int) -> StaffEntry | None:
    """A reclamo or queja for certifier staff, with its notes oldest first (None: no such
    complaint — praise has no staff page)."""
    entry = db.session.get(BookEntry, entry_id)
    merchant = merchants.get(entry.merchant_id) if entry else None
    if entry is None or merchant is None or entry.kind not in COMPLAINTS:
        return None
    rows = list(
        db.session.scalars(
            select(BookStaffNote)
            .where(BookStaffNote.entry_id == entry.id)
            .order_by(BookStaffNote.created_at, BookStaffNote.id)
        )
    )
    authors = staff_service.emails_of(row.staff_id for row in rows)
    notes = [
        StaffNote(row.action, row.body, authors.get(row.staff_id, "?"), row.created_at)
        for row in rows
    ]
    return _staff_entry(entry, merchant, notes)


def _complaint_for_staff(entry_id: int) -> BookEntry:
    entry = db.session.get(BookEntry, entry_id, with_for_update=True)
    if entry is None or entry.kind not in COMPLAINTS:
        raise BookError(404, gettext("No such complaint."))
    return entry


def _staff_text(text: str, required: bool) -> str | None:
    text = text.strip()
    if required and not text:
        raise BookError(422, gettext("Write the note."))
    if len(text) > STAFF_NOTE_MAX:
        raise BookError(422, gettext("At most %(n)s characters.", n=STAFF_NOTE_MAX))
    return text or None


def add_staff_note(entry_id: int, staff_id: int, text: str) -> BookStaffNote:
    """Keep a staff note with a complaint (internal; never public), in the caller's
    transaction. Raises :class:`BookError` (404 no such complaint, 422 empty or too long)."""
    body = _staff_text(text, required=True)
    entry = _complaint_for_staff(entry_id)
    note = BookStaffNote(entry_id=entry.id, staff_id=staff_id, action="note", body=body)
    db.session.add(note)
    db.session.flush()
    return note


def contact_merchant(entry_id: int, staff_id: int, message: str = "") -> BookStaffNote:
    """Email the merchant about an overdue complaint (through the outbox, in the caller's
    transaction) and record it with the entry, with ``message`` (optional) added to the
    email. Raises :class:`BookError`: 404 no such complaint, 409 not overdue or contacted
    within :data:`CONTACT_INTERVAL`, 422 message too long."""
    body = _staff_text(message, required=False)
    entry = _complaint_for_staff(entry_id)  # locked: two contacts at once send one email
    merchant = merchants.get(entry.merchant_id)
    if merchant is None:
        raise BookError(404, gettext("No such complaint."))
    today = today_lima()
    if state(entry, today) != "overdue":
        raise BookError(409, gettext("Only an overdue complaint can be raised with the merchant."))
    now = utcnow()
    recent = db.session.scalar(
        select(BookStaffNote.id).where(
            BookStaffNote.entry_id == entry.id,
            BookStaffNote.action == "contact",
            BookStaffNote.created_at > now - CONTACT_INTERVAL,
        )
    )
    if recent is not None:
        raise BookError(
            409,
            gettext("The merchant was contacted about this complaint less than a day ago."),
        )
    language = merchants.language(merchant)
    email = mail.render(
        "book_overdue_staff",
        language,
        **display.template_helpers(),
        entry=entry,
        merchant=merchant,
        number=format_number(entry),
        days=days_overdue(entry, today),
        message=body,
        dashboard_url=f"{_base_url()}/dashboard/complaints",
    )
    mail.queue(merchant.contact_email, email, language)
    note = BookStaffNote(
        entry_id=entry.id, staff_id=staff_id, action="contact", body=body, created_at=now
    )
    db.session.add(note)
    db.session.flush()
    return note


@dataclass(frozen=True)
class OverdueSummary:
    """A merchant's complaints unanswered as of a moment, against their legal deadlines.

    ``count`` are past their deadline, the worst by ``max_days_overdue`` calendar days;
    ``due_soon`` are not yet past it but due within the given business days (today
    included). The numbers (``000123-2026``, no personal data) are the oldest deadlines
    first, at most :data:`SUMMARY_NUMBERS` of each.
    """

    count: int
    max_days_overdue: int
    due_soon: int
    overdue_numbers: list[str]
    due_soon_numbers: list[str]


SUMMARY_NUMBERS = 20


def overdue_summary(merchant_id: int, at: datetime, soon_business_days: int = 2) -> OverdueSummary:
    """The merchant's reclamos and quejas unanswered at ``at``: how many are past their
    deadline (Lima dates), by how many days at worst, and how many fall due within
    ``soon_business_days`` business days. An entry filed after ``at``, or answered by
    then, does not count. Reads only entries open at ``at`` (a bounded, indexed query)."""
    today = deadlines.lima_date(at)
    horizon = deadlines.add_business_days(today, soon_business_days)
    rows = db.session.execute(
        select(BookEntry.number, BookEntry.year, BookEntry.due_at)
        .where(
            BookEntry.merchant_id == merchant_id,
            BookEntry.kind.in_(COMPLAINTS),
            BookEntry.due_at.is_not(None),
            BookEntry.due_at <= horizon,
            BookEntry.filed_at <= at,
            (BookEntry.status == "open") | (BookEntry.answered_at > at),
        )
        .order_by(BookEntry.due_at, BookEntry.id)
    ).all()
    overdue = [r for r in rows if r.due_at < today]
    soon = [r for r in rows if r.due_at >= today]

    def numbers(items: list[Any]) -> list[str]:
        return [f"{r.number:06d}-{r.year}" for r in items[:SUMMARY_NUMBERS]]

    return OverdueSummary(
        count=len(overdue),
        max_days_overdue=max(((today - r.due_at).days for r in overdue), default=0),
        due_soon=len(soon),
        overdue_numbers=numbers(overdue),
        due_soon_numbers=numbers(soon),
    )


def _entry_and_merchant(entry_id: int) -> tuple[BookEntry, Merchant] | None:
    entry = db.session.get(BookEntry, entry_id)
    merchant = merchants.get(entry.merchant_id) if entry else None
    return (entry, merchant) if entry and merchant else None


def _base_url() -> str:
    return str(current_app.config["TRUSTSEAL_BASE_URL"])


def lookup_url() -> str:
    """The page where a consumer types a follow-up code (``/libro``), as a full URL."""
    return f"{_base_url()}/libro"


def _queue_copy(entry: BookEntry, merchant: Merchant, code: str) -> None:
    """Queue the consumer's copy, with the number and the follow-up code."""
    assert entry.email  # the callers checked it
    mail.queue_to_consumer(
        entry.email,
        "book_copy",
        entry.locale,
        required_by_law=True,  # the consumer's copy of the Hoja de Reclamación
        **display.template_helpers(),
        entry=entry,
        merchant=merchant,
        number=format_number(entry),
        code=code,
        follow_url=f"{_base_url()}/libro/{code}",
        lookup_url=lookup_url(),
    )


@jobs.handler(COPY_JOB)
def send_copy(payload: dict[str, Any]) -> None:
    """Job (only those queued before copies were queued at filing): queue the copy."""
    found = _entry_and_merchant(payload["entry_id"])
    if found is None or not found[0].email or "code" not in payload:
        return
    _queue_copy(found[0], found[1], payload["code"])


@jobs.handler(MERCHANT_JOB)
def notify_merchant(payload: dict[str, Any]) -> None:
    """Job: tell the merchant a new entry was filed, with its deadline."""
    found = _entry_and_merchant(payload["entry_id"])
    if found is None:
        return
    entry, merchant = found
    language = merchants.language(merchant)
    message = mail.render(
        "book_merchant",
        language,
        **display.template_helpers(),
        entry=entry,
        merchant=merchant,
        number=format_number(entry),
    )
    mail.queue(merchant.contact_email, message, language)


@jobs.handler(REMINDER_JOB)
def remind_merchant(payload: dict[str, Any]) -> None:
    """Job: remind the merchant at 10 and 13 business days if still unanswered."""
    found = _entry_and_merchant(payload["entry_id"])
    if found is None or found[0].status == "answered":
        return
    entry, merchant = found
    language = merchants.language(merchant)
    message = mail.render(
        "book_reminder",
        language,
        **display.template_helpers(),
        entry=entry,
        merchant=merchant,
        number=format_number(entry),
        day=payload["day"],
    )
    mail.queue(merchant.contact_email, message, language)


@jobs.handler(OVERDUE_JOB)
def report_overdue(payload: dict[str, Any]) -> None:
    """Job, the day after a complaint's deadline: if it is still unanswered, tell the
    merchant's systems (``book.overdue``)."""
    found = _entry_and_merchant(payload["entry_id"])
    if found is None or state(found[0]) != "overdue":
        return
    entry, merchant = found
    hooks.emit(merchant.id, merchant.slug, "book.overdue", _hook_data(entry))


@jobs.handler(ANSWER_JOB)
def send_answer(payload: dict[str, Any]) -> None:
    """Job: email the merchant's answer to the consumer."""
    found = _entry_and_merchant(payload["entry_id"])
    if found is None:
        return
    entry, merchant = found
    if not entry.email or not entry.answer:
        return
    token = resolutions.offer("book", entry.id, merchant.id)
    mail.queue_to_consumer(
        entry.email,
        "book_answer",
        entry.locale,
        required_by_law=True,  # the merchant's answer to the complaint
        **display.template_helpers(),
        entry=entry,
        merchant=merchant,
        number=format_number(entry),
        lookup_url=lookup_url(),
        resolve_url=resolutions.link(token) if token else None,
    )


def resolution_case(entry_id: int) -> dict[str, Any] | None:
    """What the resolution page shows of an answered complaint: the shop, the entry's
    number and kind, the answer (None when there is nothing to confirm)."""
    found = _entry_and_merchant(entry_id)
    if found is None:
        return None
    entry, merchant = found
    if entry.status != "answered" or entry.kind not in COMPLAINTS or entry.erased_at:
        return None
    return {
        "merchant": merchant.name,
        "slug": merchant.slug,
        "number": format_number(entry),
        "kind": entry.kind,
        "answer": entry.answer,
        "answered_at": entry.answered_at,
    }


def record_confirmation(entry_id: int, outcome: resolutions.Outcome) -> dict[str, Any]:
    """The consumer's word on the answer to a complaint (the resolution loop): resolved or
    not, logged as ``book.confirmed``; the comment is kept for the merchant only. In the
    caller's transaction."""
    entry = db.session.scalar(
        select(BookEntry).where(BookEntry.id == entry_id).with_for_update()
    )
    merchant = merchants.get(entry.merchant_id) if entry else None
    if entry is None or merchant is None or entry.kind not in COMPLAINTS:
        raise BookError(404, "No such entry.")
    if entry.status != "answered" or entry.consumer_confirmation is not None:
        raise BookError(409, "This entry cannot be confirmed now.")
    now = utcnow().replace(microsecond=0)
    appended = log.append(
        log.Event(
            "book.confirmed",
            merchant=merchant.slug,
            at=now,
            data={
                "number": format_number(entry),
                "kind": entry.kind,
                "resolved": outcome.resolved,
                "filed_at": rfc3339(entry.filed_at),
            },
        )
    )
    entry.consumer_confirmation = "resolved" if outcome.resolved else "not_resolved"
    entry.confirmed_at, entry.confirmation_comment = now, outcome.comment
    entry.confirmation_log_index = appended.index
    merchants.bump_public_version(merchant.id)  # the resolution numbers moved
    return {"log_index": appended.index}


def logged_claims() -> Iterator[LoggedClaim]:
    """What the book says the log holds of the consumers' confirmations: each one's
    ``book.confirmed`` leaf, with its entry's number and verdict. Streamed, for
    ``trustseal log verify``."""
    slug_of = merchants.slug_lookup()
    rows = db.session.scalars(
        select(BookEntry)
        .where(BookEntry.confirmation_log_index.is_not(None))
        .order_by(BookEntry.id)
        .execution_options(yield_per=1000)
    )
    for entry in rows:
        number, slug = format_number(entry), slug_of(entry.merchant_id)
        yield LoggedClaim(
            name=f"confirmation of book entry {number} of {slug}",
            kind="book.confirmed",
            index=entry.confirmation_log_index,
            merchant_slug=slug,
            ids={"number": number},
            fields={"resolved": entry.consumer_confirmation == "resolved"},
        )


def claim_source() -> ClaimSource:
    """The book's claims; every ``book.confirmed`` leaf must name an entry's confirmation."""
    return ClaimSource(logged_claims, complete={"book.confirmed": "number"})


def complaints_part(merchant: Merchant) -> dict[str, Any]:
    """The ``complaints`` part of a merchant's public summary: ``received_12m`` (reclamos
    and quejas filed in the last 12 months), ``reclamos_12m``, ``quejas_12m`` and
    ``answered_on_time_rate``."""
    summary = complaints_summary(merchant)
    return {
        k: summary[k]
        for k in ("received_12m", "reclamos_12m", "quejas_12m", "answered_on_time_rate")
    }
