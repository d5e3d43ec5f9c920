"""Import tables: each upload (with its file until it is read, its progress and the rows it
left out) and the reviews it brought in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from trustseal.clock import utcnow
from trustseal.dbtypes import UTCDateTime
from trustseal.extensions import Model

_ACTIVE = text("status IN ('queued', 'running')")


class ReviewImport(Model):
    """One uploaded file and where its reading stands.

    ``status``: ``queued`` (a job will read it), ``running`` (chunks being committed:
    ``processed`` rows so far), ``done`` or ``failed`` (``failure`` says why). The file
    stays in ``content`` until the import ends. ``errors`` keeps the first rows left out
    (``{row, code, column?, value?, limit?}``); ``error_count`` counts them all. At most one
    import per merchant is queued or running (a partial unique index).
    """

    __tablename__ = "review_imports"
    __table_args__ = (
        Index(
            "uq_review_imports_active_merchant",
            "merchant_id",
            unique=True,
            postgresql_where=_ACTIVE,
            sqlite_where=_ACTIVE,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="queued")
    format: Mapped[str] = mapped_column(String(20))
    filename: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)  # read once a run
    delimiter: Mapped[str] = mapped_column(String(1))
    date_order: Mapped[str | None] = mapped_column(String(3))
    total: Mapped[int] = mapped_column(Integer)
    processed: Mapped[int] = mapped_column(Integer, default=0)
    imported: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    failure: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ImportedReview(Model):
    """A review brought in from another provider: shown apart, never counted. Its texts
    are masked of personal data before they are stored and logged; ``fingerprint`` (of
    format, author, date, rating and texts) keeps a second upload from doubling it.

    ``status``: ``published``, or ``removed`` by certifier staff for a published
    ``removal_reason`` (then shown as a tombstone; every decision is an
    :class:`ImportedModeration` row and a leaf)."""

    __tablename__ = "imported_reviews"
    __table_args__ = (
        UniqueConstraint("merchant_id", "fingerprint"),
        # status last: the public list (tombstones too) walks the order, and the lists and
        # counts of published ones alone filter in the index
        Index("ix_imported_reviews_listing", "merchant_id", "reviewed_at", "id", "status"),
        Index(
            "ix_imported_reviews_product",
            "merchant_id",
            "product_id",
            "reviewed_at",
            "id",
            "status",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    import_id: Mapped[int] = mapped_column(ForeignKey("review_imports.id"), index=True)
    row: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(20))
    author: Mapped[str | None] = mapped_column(String(80))
    rating: Mapped[int] = mapped_column(SmallInteger)
    title: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    product_id: Mapped[str | None] = mapped_column(String(100))
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fingerprint: Mapped[str] = mapped_column(String(64))
    log_index: Mapped[int] = mapped_column(Integer, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(10), default="published")
    removal_reason: Mapped[str | None] = mapped_column(String(20))
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ImportedModeration(Model):
    """A staff decision on an imported review (``remove`` or ``restore``), its reason and
    its ``imported.removed`` / ``imported.restored`` leaf."""

    __tablename__ = "imported_review_moderation"

    id: Mapped[int] = mapped_column(primary_key=True)
    imported_review_id: Mapped[int] = mapped_column(ForeignKey("imported_reviews.id"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    action: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    log_index: Mapped[int] = mapped_column(Integer, unique=True)
