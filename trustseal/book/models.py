"""Book entries and their per-merchant, per-year counters."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from trustseal.clock import utcnow
from trustseal.dbtypes import UTCDateTime
from trustseal.extensions import Model


class BookCounter(Model):
    """The last correlative number used by a merchant in a year."""

    __tablename__ = "book_counters"

    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(default=0)


class BookEntry(Model):
    """A Hoja de Reclamación (reclamo or queja) or a felicitación."""

    __tablename__ = "book_entries"
    __table_args__ = (
        UniqueConstraint("merchant_id", "year", "number", name="uq_book_entries_number"),
        Index("ix_book_entries_merchant_filed", "merchant_id", "filed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    year: Mapped[int]
    number: Mapped[int]
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(12))  # reclamo | queja | felicitacion
    # 1. the consumer (personal data: never public, erased after the retention period)
    consumer_name: Mapped[str | None] = mapped_column(String(200))
    document_type: Mapped[str | None] = mapped_column(String(10))
    document_number: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(30))
    address: Mapped[str | None] = mapped_column(String(300))
    guardian: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # 2. the good or service
    item_type: Mapped[str] = mapped_column(String(10))  # producto | servicio
    amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    currency: Mapped[str | None] = mapped_column(String(3))
    description: Mapped[str | None] = mapped_column(Text)
    # 3. detail and request
    detail: Mapped[str | None] = mapped_column(Text)
    request: Mapped[str | None] = mapped_column(Text)
    order_ref: Mapped[str | None] = mapped_column(String(100))
    consent_email: Mapped[bool] = mapped_column(default=False)
    publish_praise: Mapped[bool] = mapped_column(default=False)
    locale: Mapped[str] = mapped_column(String(5), default="es")
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[date | None] = mapped_column(Date)
    # 4. the provider's observations and actions
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | answered
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    log_index: Mapped[int | None]
    # 5. the consumer's word on the answer (the resolution loop, a ``book.confirmed`` leaf):
    # resolved | not_resolved, and a private comment for the merchant.
    consumer_confirmation: Mapped[str | None] = mapped_column(String(12))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmation_comment: Mapped[str | None] = mapped_column(Text)
    confirmation_log_index: Mapped[int | None]


class BookStaffNote(Model):
    """What certifier staff did about an entry: a note, or the merchant contacted (with the
    words added to that email). Internal: never in a public answer; erased with the
    entry's personal data."""

    __tablename__ = "book_staff_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("book_entries.id"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    action: Mapped[str] = mapped_column(String(10), default="note")  # note | contact
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
