"""Fixed-window rate-limit counters, for deployments without Redis."""

from __future__ import annotations

from sqlalchemy import Float, String
from sqlalchemy.orm import Mapped, mapped_column

from trustseal.extensions import Model


class RateLimitCounter(Model):
    """Hits of one limit key in its current window (``expires_at``: seconds since epoch)."""

    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
