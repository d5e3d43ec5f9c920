"""Merchant and merchant API key tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from trustseal.clock import utcnow
from trustseal.dbtypes import UTCDateTime
from trustseal.extensions import Model


class Merchant(Model):
    """A shop: its public identity and the legal identity the seal certifies."""

    __tablename__ = "merchants"
    __table_args__ = (
        Index(
            "uq_merchants_ruc_verified",
            "ruc",
            unique=True,
            postgresql_where=text("domain_status = 'verified'"),
            sqlite_where=text("domain_status = 'verified'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    domain: Mapped[str] = mapped_column(String(253))
    legal_name: Mapped[str | None] = mapped_column(String(300))
    # One *verified* merchant per RUC (a partial unique index): a sign-up that never
    # proves its domain cannot hold another shop's RUC hostage.
    ruc: Mapped[str | None] = mapped_column(String(11))
    address: Mapped[str | None] = mapped_column(String(500))
    contact_email: Mapped[str] = mapped_column(String(254))
    # ISO 3166-1 alpha-2 (trustseal/countries.py): only a shop in Peru has a Libro de
    # Reclamaciones. ``country_source`` says how it is known: "default" (nobody said: Peru),
    # "declared" (given when the merchant was created), or the platform whose account
    # attests it ("vtex"); a platform account's country replaces a default, never a
    # declared one (merchants.service.learn_country).
    country: Mapped[str] = mapped_column(String(2), default="PE")
    country_source: Mapped[str] = mapped_column(
        String(10), default="default", server_default="default"
    )
    sector: Mapped[str | None] = mapped_column(String(20))  # one of merchants.service.SECTORS
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Whether the merchant proved it controls its domain: "pending" (signed up itself:
    # not public yet) or "verified" (created by staff, or proved by DNS, by a file, or
    # verified by staff with a reason). ``domain_token`` is what the DNS record or the file
    # must say.
    domain_status: Mapped[str] = mapped_column(String(10), default="verified")
    domain_token: Mapped[str | None] = mapped_column(String(64))
    domain_method: Mapped[str | None] = mapped_column(String(10))  # created|dns|http|staff
    domain_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    domain_reason: Mapped[str | None] = mapped_column(Text)
    # Bumped, in the same transaction, by every domain that changes what the merchant's
    # badge shows (reviews, answers, moderation, seal decisions, verdicts, erasure): the
    # badge's cache key, read in one indexed row.
    public_version: Mapped[int] = mapped_column(default=0, server_default="0")

    api_keys: Mapped[list[ApiKey]] = relationship(back_populates="merchant")


class ApiKey(Model):
    """A merchant API key (``tsk_…``); only its SHA-256 is stored."""

    __tablename__ = "merchant_api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    merchant: Mapped[Merchant] = relationship(back_populates="api_keys")
