"""The values an order source hands to the orders door: a status, a line, an event.

Platform plugins build them (they reach them through :mod:`trustseal.platforms`, the one
trustseal module a plugin imports) and :func:`trustseal.orders.service.record_purchase_event`
records them. This module imports nothing from trustseal, so both can depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class Status(StrEnum):
    """A purchase's status as every source maps it."""

    PLACED = "placed"
    PAID = "paid"
    FULFILLED = "fulfilled"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


@dataclass(frozen=True)
class ItemData:
    """A purchase line as a source reports it."""

    product_id: str
    title: str
    quantity: int = 1
    sku: str | None = None
    url: str | None = None
    image_url: str | None = None


@dataclass(frozen=True)
class ShippingData:
    """What a source says of an order's shipment, each part when it knows it: the
    carrier, a tracking page, the delivery date promised to the customer and when it
    left (docs/plugins.md says what each platform gives)."""

    carrier: str | None = None
    tracking_url: str | None = None
    promised_by: date | None = None
    shipped_at: datetime | None = None


@dataclass(frozen=True)
class PurchaseEvent:
    """What a source says about one order at one moment (normalized)."""

    external_id: str
    status: Status
    placed_at: datetime
    customer_email: str | None = None
    customer_name: str | None = None
    # The customer's language code (es, en, pt: trustseal/languages.py); None when the
    # source does not say: the store's language, else the merchant's, applies.
    customer_locale: str | None = None
    delivered_at: datetime | None = None
    items: tuple[ItemData, ...] = field(default_factory=tuple)
    shipping: ShippingData | None = None
    # The country of the shop's account on the platform (ISO 3166-1 alpha-2), when the
    # platform states it with the order (VTEX: storePreferencesData.countryCode).
    account_country: str | None = None
