"""The signing key table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from trustseal.clock import utcnow
from trustseal.dbtypes import UTCDateTime
from trustseal.extensions import Model


class SigningKey(Model):
    """An Ed25519 key; the private half is encrypted with the data key (Fernet)."""

    __tablename__ = "signing_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    public_x: Mapped[str] = mapped_column(String(64))
    private_encrypted: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="current")  # current|retired
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
