"""The mail outbox: each message once, with a stable Message-ID."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from trustseal.clock import utcnow
from trustseal.dbtypes import UTCDateTime
from trustseal.extensions import Model


class OutboxMessage(Model):
    """A rendered email waiting to be sent, or the record that it was sent.

    The message itself (it may carry a reset link or a follow-up code) is kept encrypted
    (secretbox) only until it is sent; then ``sealed`` is cleared and ``sent_at`` set, so a
    retry of the delivery finds it sent and does not send it again.
    """

    __tablename__ = "mail_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    template: Mapped[str] = mapped_column(String(64))
    sealed: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class SuppressedAddress(Model):
    """An address that asked for no more emails (Ley 29733): honoured for every merchant.

    Kept as a hash of the normalized address (``mail.service.address_hash``), not the
    address itself; unkeyed so that rotating the secret key never forgets a request.
    """

    __tablename__ = "suppressed_addresses"

    address_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    how: Mapped[str] = mapped_column(String(10))  # page|one_click
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
