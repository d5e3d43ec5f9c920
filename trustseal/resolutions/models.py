"""Resolution requests: one single-use link per answered review or book entry."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from trustseal.clock import utcnow
from trustseal.dbtypes import UTCDateTime
from trustseal.extensions import Model


class ResolutionRequest(Model):
    """The link a consumer got to say whether an answer resolved their case.

    The token itself is only in the email (the outbox keeps it encrypted until sent);
    here its SHA-256. Issuing the link again (a retried email) replaces the hash, so only
    the last link sent works, and only once."""

    __tablename__ = "resolution_requests"
    __table_args__ = (UniqueConstraint("subject", "subject_id", name="uq_resolution_subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(10))  # review | book
    subject_id: Mapped[int]
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved: Mapped[bool | None]
