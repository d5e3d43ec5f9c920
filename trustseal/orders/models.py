"""Purchase, purchase item, review invitation and invitation token tables."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from trustseal.clock import utcnow
from trustseal.dbtypes import UTCDateTime
from trustseal.extensions import Model


class Purchase(Model):
    """One order of one customer at one merchant, as its source reported it."""

    __tablename__ = "purchases"
    __table_args__ = (
        UniqueConstraint("merchant_id", "source", "external_id", name="uq_purchases_source_key"),
        Index("ix_purchases_merchant_status", "merchant_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    source: Mapped[str] = mapped_column(String(64))  # "api" or "store:<id>": the id's namespace
    # Provenance, set when the purchase is first recorded; it only ever moves from declared
    # to attested. ``attested``: trustseal fetched the order itself from an API the
    # platform runs, with the store's credentials; else the merchant declared it (through
    # our API, the dashboard, an import, or a store's webhook: the shop holds its secret).
    # ``origin``: the platform's name ("shopify"…) or the declaring channel ("api",
    # "dashboard", "import").
    attested: Mapped[bool] = mapped_column(default=False)
    origin: Mapped[str] = mapped_column(String(64), default="api")
    external_id: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(12))
    customer_email: Mapped[str | None] = mapped_column(String(254))
    customer_name: Mapped[str | None] = mapped_column(String(200))
    customer_locale: Mapped[str] = mapped_column(String(5), default="es")
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The shipment, as its source reports it (ShippingData; each part optional).
    carrier: Mapped[str | None] = mapped_column(String(100))
    tracking_url: Mapped[str | None] = mapped_column(String(2000))
    promised_by: Mapped[date | None] = mapped_column(Date)
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    items: Mapped[list[PurchaseItem]] = relationship(
        back_populates="purchase", order_by="PurchaseItem.id"
    )
    invitation: Mapped[ReviewInvitation | None] = relationship(back_populates="purchase")


class PurchaseItem(Model):
    """A line of a purchase."""

    __tablename__ = "purchase_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    purchase_id: Mapped[int] = mapped_column(ForeignKey("purchases.id"), index=True)
    product_id: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[int]
    sku: Mapped[str | None] = mapped_column(String(100))
    url: Mapped[str | None] = mapped_column(String(2000))
    image_url: Mapped[str | None] = mapped_column(String(2000))

    purchase: Mapped[Purchase] = relationship(back_populates="items")


class ReviewInvitation(Model):
    """The right to review one delivered purchase, once, before it expires."""

    __tablename__ = "review_invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    purchase_id: Mapped[int] = mapped_column(ForeignKey("purchases.id"), unique=True)
    state: Mapped[str] = mapped_column(String(10), default="open")  # open|used|cancelled
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # its one reminder
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    purchase: Mapped[Purchase] = relationship(back_populates="invitation")
    tokens: Mapped[list[InvitationToken]] = relationship(back_populates="invitation")


class InvitationToken(Model):
    """One link to an invitation (email, or one the merchant sends itself); hash only."""

    __tablename__ = "invitation_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("review_invitations.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(10))  # email|merchant
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    invitation: Mapped[ReviewInvitation] = relationship(back_populates="tokens")


class DeclaredLinkCount(Model):
    """Review links issued for a merchant's declared purchases, per UTC hour: the counter
    behind the per-merchant limit (rows older than a day are pruned)."""

    __tablename__ = "declared_link_counts"

    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    hour: Mapped[str] = mapped_column(String(13), primary_key=True)  # 2026-12-02T14
    count: Mapped[int] = mapped_column(default=0)
