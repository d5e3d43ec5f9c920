"""Staff user and staff token tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from trustseal.clock import utcnow
from trustseal.dbtypes import UTCDateTime
from trustseal.extensions import Model


class StaffUser(Model):
    """A person working for the certifier."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    session_version: Mapped[int] = mapped_column(default=1)
    totp_secret: Mapped[str | None] = mapped_column(Text)  # encrypted (secretbox)
    # The last 30-second step whose code signed in: that code (or an older one) is refused.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)

    tokens: Mapped[list[StaffToken]] = relationship(back_populates="staff")


class StaffToken(Model):
    """A staff API token (``tss_…``); only its SHA-256 is stored."""

    __tablename__ = "staff_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    staff: Mapped[StaffUser] = relationship(back_populates="tokens")
