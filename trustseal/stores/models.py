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
    # The country of the shop's platform account (ISO 3166-1 alpha-2) once the platform
    # said it (VTEX: its store preferences), and the language code of its orders whose
    # customer's language the platform does not give (Portuguese for Brazil); None: unknown,
    # the merchant's language applies.
    country: Mapped[str | None] = mapped_column(String(2))
    language: Mapped[str | None] = mapped_column(String(5))
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


class StoreSync(Model):
    """A store's latest re-sync of its orders (the dashboard's button), one row per store.

    ``status``: ``queued``, ``running`` (``orders`` counts those recorded so far), ``done``
    or ``failed`` (``error`` is a reason code, never the platform's own words: they may
    carry URLs). The job's payload holds only the store's id and the date.
    """

    __tablename__ = "store_syncs"

    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(10))
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    orders: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(String(40))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
