"""Store and webhook delivery tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from trustseal.clock import utcnow
from trustseal.dbtypes import UTCDateTime
from trustseal.extensions import Model


class Store(Model):
    """A merchant's shop on a platform; secrets are Fernet-encrypted JSON."""

    __tablename__ = "stores"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    platform: Mapped[str] = mapped_column(String(40))
    identifier: Mapped[str] = mapped_column(String(300))  # shop domain, base URL, account
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    secrets_encrypted: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="active")  # active|disabled
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookDelivery(Model):
    """A delivery already processed (platforms retry and duplicate)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("store_id", "dedup_key", name="uq_webhook_deliveries_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    dedup_key: Mapped[str] = mapped_column(String(300))
    topic: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
