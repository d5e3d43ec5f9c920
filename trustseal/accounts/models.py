"""Merchant users, password resets and the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from trustseal.clock import utcnow
from trustseal.dbtypes import UTCDateTime
from trustseal.extensions import Model


class MerchantUser(Model):
    """A person who works for one merchant (owner or member)."""

    __tablename__ = "merchant_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(10), default="owner")  # owner | member
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PasswordReset(Model):
    """A single-use password reset link (hash only)."""

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # staff | merchant
    user_id: Mapped[int]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEvent(Model):
    """Who did what, when, from where."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(300))  # "staff:3 ana@cert.pe", "merchant-key:bodega"
    action: Mapped[str] = mapped_column(String(200))  # "POST /console/m/bodega/seal"
    status: Mapped[int]
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class AccountSession(Model):
    """A signed-in browser: the cookie carries a random id, the table its hash.

    Signing out ends the row, so a copied cookie stops working at once.
    """

    __tablename__ = "account_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    principal: Mapped[str] = mapped_column(String(40), index=True)  # "staff:3", "merchant:7"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SignInThrottle(Model):
    """Failed sign-ins of one account (or of one trusted browser of it).

    ``key`` is a keyed hash of the email (so unknown emails are throttled alike), with the
    browser's device id appended for a trusted browser. After a few failures each further
    attempt waits a delay that doubles with every failure.
    """

    __tablename__ = "sign_in_throttles"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class SignupRequest(Model):
    """A merchant sign-up waiting for its email to be confirmed.

    The form (and the password's hash) is kept encrypted; the link carries a token of
    which only the hash is stored. Confirming creates the merchant and its owner.
    """

    __tablename__ = "signup_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    sealed: Mapped[str | None] = mapped_column(Text)  # cleared once used
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
