"""The fraud signal table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from trustseal.clock import utcnow
from trustseal.dbtypes import UTCDateTime
from trustseal.extensions import Model


class FraudSignal(Model):
    """A suspicious pattern found in one merchant's reviews, with its evidence.

    ``dedup_key`` names the pattern instance (kind, and what it is about: a window, a
    network, an identity), so scanning again adds to an open signal instead of opening a
    second one.
    """

    __tablename__ = "fraud_signals"
    __table_args__ = (
        Index("ix_fraud_signals_status_id", "status", "id"),
        # the detector's look-up of a merchant's latest signals of one kind
        Index("ix_fraud_signals_merchant_kind_id", "merchant_id", "kind", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    # burst, fast_review, shared_network or repeated_identity
    kind: Mapped[str] = mapped_column(String(20))
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(10), default="open")  # open|dismissed|confirmed
    review_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
