"""Shopify: webhooks signed with the app's client secret (HMAC-SHA256 over the raw body).

Topics: ``orders/create``, ``orders/updated``, ``orders/paid``, ``orders/fulfilled``,
``orders/cancelled``, ``refunds/create`` (a partial refund changes nothing; a full one
arrives as ``orders/updated`` with ``financial_status`` refunded),
``fulfillments/create|update`` (shipment status ``delivered`` means delivered) and the
mandatory privacy topics ``customers/data_request``, ``customers/redact`` and ``shop/redact``.
Deliveries are retried and duplicated: the ``X-Shopify-Webhook-Id`` deduplicates them.
Order ids exceed 2^53 and stay text.

The merchant supplies the client secret that signs the webhooks (a custom app), so what
they say is declared by the shop. With an Admin API access token, trustseal confirms each
order a webhook delivered by fetching it from the Admin API on ``<shop>.myshopify.com``,
which Shopify runs: that order is attested.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

import marshmallow as ma
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from plugins.common import (
    check_hmac_base64,
    full_name,
    locale_of,
    parse_time,
    shipping,
    text_id,
)
from trustseal.platforms import (
    BadPayload,
    ItemData,
    NewStore,
    Parsed,
    Platform,
    PlatformError,
    PrivacyRequest,
    PurchaseEvent,
    ShippingData,
    SignatureInvalid,
    Status,
    StoreContext,
    WebhookRequest,
    get_json,
    http_session,
    utcnow,
)

TOPICS = [
    "orders/create",
    "orders/updated",
    "orders/paid",
    "orders/fulfilled",
    "orders/cancelled",
    "refunds/create",
    "fulfillments/create",
    "fulfillments/update",
    "customers/data_request",
    "customers/redact",
    "shop/redact",
]
API_VERSION = "2025-10"
_SHOP = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")


class ShopifySettings(ma.Schema):
    """``{shop_domain, client_secret, access_token?}`` (the token to fetch orders: confirm
    delivered ones, reconcile)."""

    class Meta:
        unknown = ma.RAISE

    shop_domain = ma.fields.String(required=True)
    client_secret = ma.fields.String(required=True, validate=ma.validate.Length(min=8, max=200))
    access_token = ma.fields.String(load_default=None, validate=ma.validate.Length(max=200))

    @ma.validates("shop_domain")
    def _shop(self, value: str, **kwargs: Any) -> None:
        if not _SHOP.match(value.strip().lower()):
            raise ma.ValidationError("The shop's myshopify.com domain, e.g. tienda.myshopify.com.")


def admin_api(shop: str) -> str:
    """The Admin REST API root of a shop: ``https://<shop>/admin/api/<version>`` (the
    host configurable as ``TRUSTSEAL_SHOPIFY_API_BASE`` so tests can use a local server)."""
    base = str(current_app.config.get("TRUSTSEAL_SHOPIFY_API_BASE") or "https://{shop}")
    return f"{base.format(shop=shop).rstrip('/')}/admin/api/{API_VERSION}"


def delivered_fulfillment(order: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The order's first fulfilment whose shipment was delivered, or None."""
    for fulfillment in order.get("fulfillments") or []:
        if isinstance(fulfillment, Mapping) and fulfillment.get("shipment_status") == "delivered":
            return fulfillment
    return None


def fulfillment_shipping(fulfillment: Mapping[str, Any]) -> ShippingData | None:
    """The shipment a fulfilment describes: carrier, tracking page, and when it was created
    (it left). Shopify's REST fulfilment carries no promised delivery date."""
    urls = fulfillment.get("tracking_urls") or []
    url = fulfillment.get("tracking_url") or (urls[0] if isinstance(urls, list) and urls else None)
    return shipping(
        fulfillment.get("tracking_company"),
        url,
        shipped_at=parse_time(fulfillment.get("created_at")),
    )


def order_shipping(order: Mapping[str, Any]) -> ShippingData | None:
    """The shipment of an order: its first fulfilment (the first parcel that left)."""
    for fulfillment in order.get("fulfillments") or []:
        if isinstance(fulfillment, Mapping):
            return fulfillment_shipping(fulfillment)
    return None


def order_status(order: Mapping[str, Any]) -> Status:
    """A Shopify order's status in trustseal's terms (delivered: a fulfilment's shipment
    status says so, as in ``fulfillments/update``)."""
    if order.get("cancelled_at"):
        return Status.CANCELLED
    if order.get("financial_status") == "refunded":
        return Status.REFUNDED
    if delivered_fulfillment(order) is not None:
        return Status.DELIVERED
    if order.get("fulfillment_status") == "fulfilled":
        return Status.FULFILLED
    if order.get("financial_status") in ("paid", "partially_refunded"):
        return Status.PAID
    return Status.PLACED


def order_event(order: Mapping[str, Any], status: Status | None = None) -> PurchaseEvent:
    """A full Shopify order as an event."""
    if not isinstance(order, Mapping) or "id" not in order:
        raise BadPayload("not a Shopify order")
    customer = order.get("customer") or {}
    email = order.get("email") or order.get("contact_email") or customer.get("email")
    items = tuple(
        ItemData(
            product_id=text_id(line.get("product_id") or line.get("variant_id") or line.get("id")),
            title=str(line.get("title") or line.get("name") or "")[:500] or "?",
            quantity=max(1, int(line.get("quantity") or 1)),
            sku=(line.get("sku") or None),
        )
        for line in order.get("line_items") or []
    )
    status = status or order_status(order)
    delivery = delivered_fulfillment(order) if status is Status.DELIVERED else None
    return PurchaseEvent(
        external_id=text_id(order["id"]),
        status=status,
        placed_at=parse_time(order.get("created_at"))
        or parse_time(order.get("processed_at"))
        or utcnow(),
        delivered_at=_moment(delivery) if delivery is not None else None,
        customer_email=str(email).strip().lower() if email else None,
        customer_name=full_name(customer.get("first_name"), customer.get("last_name")),
        customer_locale=locale_of(order.get("customer_locale")),
        items=items,
        shipping=order_shipping(order),
    )


class ShopifyPlatform(Platform):
    """The Shopify plugin."""

    name = "shopify"
    title = "Shopify"
    settings_schema = ShopifySettings
    can_fetch = True  # with the store's Admin API access token
    attests = True  # the Admin API on <shop>.myshopify.com is run by Shopify
    # Where the merchant finds each value (the dashboard shows it beside the form).
    credential_help = (
        _l(
            "In your Shopify admin go to Settings → Apps and sales channels → Develop apps "
            "and open your store's custom app. (Since 1 January 2026 Shopify no longer lets "
            "you create new apps there: new apps are made in Shopify's Dev Dashboard.)"
        ),
        _l(
            "Configure its Admin API scopes: tick read_orders, save, and install the app on "
            "your store."
        ),
        _l(
            "In its API credentials tab, reveal the Admin API access token (Shopify shows it "
            "only once) and paste it in “Admin API access token”."
        ),
        _l(
            "In the same tab copy the API secret key, which signs the webhooks, into “App "
            "client secret”. (An app made in the Dev Dashboard shows it as Client secret, "
            "under Settings.)"
        ),
        _l(
            "Shop domain: the address ending in .myshopify.com, listed in your admin under "
            "Settings → Domains."
        ),
    )

    def create(self, data: Mapping[str, Any], webhook_url: str) -> NewStore:
        """Keep the client secret (encrypted) that Shopify signs webhooks with."""
        secrets = {"client_secret": data["client_secret"]}
        if data.get("access_token"):
            secrets["access_token"] = data["access_token"]
        return NewStore(data["shop_domain"].strip().lower(), {"topics": TOPICS}, secrets)

    def setup_instructions(self, store: StoreContext, shown: Mapping[str, Any]) -> list[str]:
        """Where to point each webhook topic."""
        return [
            _(
                "In your Shopify app settings (Partners dashboard or the app's TOML), subscribe "
                "these webhook topics, API version %(version)s, format JSON:",
                version=API_VERSION,
            ),
            ", ".join(TOPICS),
            _("Delivery URL for every topic: %(url)s", url=store.webhook_url),
            _(
                "Shopify signs each delivery with your app's client secret; trustseal keeps it "
                "encrypted and checks every signature."
            ),
            _(
                "Add an Admin API access token with read_orders: trustseal then confirms each "
                'delivered order with Shopify itself, and its review reads "verified by '
                'Shopify"; without it, reviews read as reported by the shop (you hold the '
                "secret that signs the webhooks)."
            ),
            _(
                "To fetch orders a webhook missed, add an Admin API access token with "
                'read_orders, then use "Re-sync orders" on the Stores page of your dashboard.'
            ),
        ]

    def verify(self, request: WebhookRequest, store: StoreContext) -> None:
        """HMAC-SHA256 of the raw body with the client secret, base64, constant time."""
        check_hmac_base64(
            store.secrets["client_secret"], request.body, request.header("X-Shopify-Hmac-Sha256")
        )
        shop = (request.header("X-Shopify-Shop-Domain") or "").strip().lower()
        if shop and shop != store.identifier:
            raise SignatureInvalid("the delivery is for another shop")

    def dedup_key(self, request: WebhookRequest) -> str | None:
        """One id per delivery, the same on every retry."""
        webhook_id = request.header("X-Shopify-Webhook-Id") or request.header("X-Shopify-Event-Id")
        return f"shopify:{webhook_id}" if webhook_id else None

    def parse(self, request: WebhookRequest, store: StoreContext) -> Parsed:
        """Map each topic to purchase events or a privacy request."""
        topic = (request.header("X-Shopify-Topic") or "").strip()
        body = request.json()
        if not isinstance(body, Mapping):
            raise BadPayload("the body is not a JSON object")
        if topic in ("orders/create", "orders/updated"):
            return Parsed(topic, events=[order_event(body)])
        fixed = {
            "orders/paid": Status.PAID,
            "orders/fulfilled": Status.FULFILLED,
            "orders/cancelled": Status.CANCELLED,
        }
        if topic in fixed:
            return Parsed(topic, events=[order_event(body, fixed[topic])])
        if topic == "refunds/create":
            # A refund may be partial (shipping, one line): it must not close the
            # customer's right to review. A full refund arrives as orders/updated with
            # financial_status "refunded", which is final.
            if "order_id" not in body:
                raise BadPayload("missing order_id")
            return Parsed(topic, ignored=True)
        if topic in ("fulfillments/create", "fulfillments/update"):
            delivered = body.get("shipment_status") == "delivered"
            status = Status.DELIVERED if delivered else Status.FULFILLED
            return Parsed(topic, events=[_status_only(body, status)])
        if topic in ("customers/redact", "customers/data_request"):
            customer = body.get("customer") or {}
            ids = body.get("orders_to_redact") or body.get("orders_requested") or []
            kind = "customer_redact" if topic == "customers/redact" else "customer_data"
            return Parsed(
                topic,
                privacy=PrivacyRequest(kind, customer.get("email"), tuple(text_id(i) for i in ids)),
            )
        if topic == "shop/redact":
            return Parsed(topic, privacy=PrivacyRequest("shop_redact"))
        return Parsed(topic or "(none)", ignored=True)

    def fetches(self, store: StoreContext) -> bool:
        """Only with the store's Admin API access token."""
        return bool(store.secrets.get("access_token"))

    @staticmethod
    def _auth(store: StoreContext, purpose: str) -> dict[str, str]:
        token = store.secrets.get("access_token")
        if not token:
            raise PlatformError(f"set an Admin API access token to {purpose}")
        return {"X-Shopify-Access-Token": token}

    def fetch_order(self, store: StoreContext, external_id: str) -> list[PurchaseEvent]:
        """``GET /admin/api/{version}/orders/{id}.json`` (needs an access token)."""
        headers = self._auth(store, "fetch this store's orders")
        url = f"{admin_api(store.identifier)}/orders/{quote(external_id, safe='')}.json"
        with http_session() as http:
            data, _headers = get_json(http, url, headers)
        order = data.get("order") if isinstance(data, Mapping) else None
        return [order_event(order or {})]

    def list_orders(self, store: StoreContext, since: datetime) -> Iterator[PurchaseEvent]:
        """Orders since a date through the Admin REST API (needs an access token)."""
        headers = self._auth(store, "reconcile this store")
        query = urlencode({"status": "any", "limit": 250, "created_at_min": since.isoformat()})
        url: str | None = f"{admin_api(store.identifier)}/orders.json?{query}"
        with http_session() as http:
            while url:
                data, answer = get_json(http, url, headers)
                for order in data.get("orders", []):
                    yield order_event(order)
                url = _next_link(answer.get("Link", ""))


def _status_only(body: Mapping[str, Any], status: Status) -> PurchaseEvent:
    """An event that only moves an order (a refund, a fulfilment) by its ``order_id``."""
    if "order_id" not in body:
        raise BadPayload("missing order_id")
    moment = _moment(body)
    return PurchaseEvent(
        external_id=text_id(body["order_id"]),
        status=status,
        placed_at=parse_time(body.get("created_at")) or utcnow(),
        delivered_at=moment if status is Status.DELIVERED else None,
        # No shipment here: an order may have several parcels, and each fulfilment's own
        # webhook would overwrite the others'. The order's events (orders/updated) carry
        # its first fulfilment, which is the one kept.
    )


def _moment(fulfillment: Mapping[str, Any]) -> datetime | None:
    """When a fulfilment last changed (its delivery, for a delivered one)."""
    return parse_time(fulfillment.get("updated_at")) or parse_time(fulfillment.get("created_at"))


def _next_link(header: str) -> str | None:
    for part in header.split(","):
        if 'rel="next"' in part:
            return part.split(";")[0].strip().strip("<>")
    return None
