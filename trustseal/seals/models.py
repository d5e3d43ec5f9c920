"""Seal state and decision history tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from trustseal.clock import utcnow
from trustseal.dbtypes import UTCDateTime
from trustseal.extensions import db


class Seal(db.Model):
    """A merchant's current seal (absent row: status ``none``)."""

    __tablename__ = "seals"

    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(10))  # pending|active|suspended|revoked|expired
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SealDecision(db.Model):
    """One decision about a seal, with its public reason."""

    __tablename__ = "seal_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    action: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(10))  # the status after the decision
    reason: Mapped[str] = mapped_column(Text)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    log_index: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CriterionReview(db.Model):
    """A merchant's evidence for one criterion and the certifier's verdict on it."""

    __tablename__ = "seal_criterion_reviews"

    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    criterion: Mapped[str] = mapped_column(String(40), primary_key=True)
    evidence_url: Mapped[str | None] = mapped_column(String(2000))
    evidence_note: Mapped[str | None] = mapped_column(Text)
    verdict: Mapped[str] = mapped_column(String(10), default="pending")  # pending|pass|fail
    verdict_note: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SiteCheck(db.Model):
    """The result of an automatic check of a merchant's site."""

    __tablename__ = "seal_site_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
