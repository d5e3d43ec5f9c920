"""Seal state and decision history tables."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from trustseal.clock import utcnow
from trustseal.dbtypes import UTCDateTime
from trustseal.extensions import Model


class Seal(Model):
    """A merchant's current seal (absent row: status ``none``)."""

    __tablename__ = "seals"

    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(10))  # pending|active|suspended|revoked|expired
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SealDecision(Model):
    """One decision about a seal, with its public reason."""

    __tablename__ = "seal_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    action: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(10))  # the status after the decision
    reason: Mapped[str] = mapped_column(Text)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    # taken by the monitor under a published rule (``rule`` names it), not by a person
    automatic: Mapped[bool] = mapped_column(default=False, server_default=false())
    rule: Mapped[str | None] = mapped_column(String(40))
    log_index: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CriterionReview(Model):
    """A merchant's evidence for one criterion and the certifier's verdict on it."""

    __tablename__ = "seal_criterion_reviews"

    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    criterion: Mapped[str] = mapped_column(String(40), primary_key=True)
    evidence_url: Mapped[str | None] = mapped_column(String(2000))
    evidence_note: Mapped[str | None] = mapped_column(Text)
    # pending|pass|fail|not_applicable
    verdict: Mapped[str] = mapped_column(String(16), default="pending")
    verdict_note: Mapped[str | None] = mapped_column(Text)
    # the certifier's evidence link (public); ``evidence_url`` is the merchant's
    verdict_evidence_url: Mapped[str | None] = mapped_column(String(2000))
    # staff set this automatic criterion themselves: the site check no longer changes it
    override: Mapped[bool] = mapped_column(default=False, server_default=false())
    verdict_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when the verdict was set
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SiteCheck(Model):
    """The result of an automatic check of a merchant's site."""

    __tablename__ = "seal_site_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SealMonitorWarning(Model):
    """A warning emailed to a merchant that a monitoring rule is about to suspend its seal:
    at most one per merchant, rule and day (Lima), whoever runs the monitor."""

    __tablename__ = "seal_monitor_warnings"

    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    rule: Mapped[str] = mapped_column(String(40), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
