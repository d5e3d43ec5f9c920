"""WooCommerce: webhooks signed with a secret trustseal generates (``X-WC-Webhook-Signature``
= base64 HMAC-SHA256 of the raw body). The body is the REST v3 order.

On creation WooCommerce sends an unsigned ping (form body ``webhook_id=N``, no ``X-WC-*``
headers) that must get 200 and record nothing. WooCommerce does not retry a failed
delivery, so answers are fast and ``trustseal stores reconcile`` fills gaps through the
REST API (consumer key and secret). There is no "delivered" status: ``completed`` maps to
delivered unless the store says otherwise (``completed_means``), and a custom status
(e.g. ``delivered`` from a shipping plugin) can be named ``delivered_status``.
"""

from __future__ import annotations

import base64
import html
import re
import secrets
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import marshmallow as ma
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from plugins.common import check_hmac_base64, full_name, locale_of, parse_time, text_id
from trustseal.platforms import (
    BadPayload,
    ItemData,
    NewStore,
    Parsed,
    Platform,
    PlatformError,
    PurchaseEvent,
    Status,
    StoreContext,
    WebhookRequest,
    get_json,
    http_session,
    utcnow,
)

_PING = re.compile(rb"^webhook_id=\d+$")
BASE_STATUSES = {
    "pending": Status.PLACED,
    "on-hold": Status.PLACED,
    "failed": Status.PLACED,
    "checkout-draft": Status.PLACED,
    "processing": Status.PAID,
    "cancelled": Status.CANCELLED,
    "refunded": Status.REFUNDED,
    "trash": Status.CANCELLED,
}


class WooSettings(ma.Schema):
    """``{base_url, completed_means?, delivered_status?, consumer_key?, consumer_secret?}``."""

    class Meta:
        unknown = ma.RAISE

    base_url = ma.fields.URL(required=True, schemes={"https", "http"})
    completed_means = ma.fields.String(
        load_default="delivered", validate=ma.validate.OneOf(["delivered", "fulfilled"])
    )
    delivered_status = ma.fields.String(load_default=None, validate=ma.validate.Length(max=40))
    consumer_key = ma.fields.String(load_default=None, validate=ma.validate.Length(max=200))
    consumer_secret = ma.fields.String(load_default=None, validate=ma.validate.Length(max=200))


def is_ping(request: WebhookRequest) -> bool:
    """WooCommerce's creation ping: an unsigned form with only ``webhook_id``."""
    return request.header("X-WC-Webhook-Topic") is None and bool(_PING.match(request.body.strip()))


def order_event(order: Mapping[str, Any], settings: Mapping[str, Any]) -> PurchaseEvent:
    """A REST v3 order as an event."""
    if not isinstance(order, Mapping) or "id" not in order:
        raise BadPayload("not a WooCommerce order")
    raw = str(order.get("status") or "pending").removeprefix("wc-")
    delivered_status = settings.get("delivered_status")
    completed_at = parse_time(order.get("date_completed_gmt"))
    if raw == "completed":
        status = Status(settings.get("completed_means") or "delivered")
    elif delivered_status and raw == delivered_status.removeprefix("wc-"):
        status = Status.DELIVERED
    else:
        status = BASE_STATUSES.get(raw, Status.PLACED)
    billing = order.get("billing") or {}
    email = billing.get("email")
    items = tuple(
        ItemData(
            product_id=text_id(line.get("product_id") or line.get("id")),
            title=html.unescape(str(line.get("name") or ""))[:500] or "?",
            quantity=max(1, int(line.get("quantity") or 1)),
            sku=line.get("sku") or None,
        )
        for line in order.get("line_items") or []
    )
    return PurchaseEvent(
        external_id=text_id(order["id"]),
        status=status,
        placed_at=parse_time(order.get("date_created_gmt")) or utcnow(),
        delivered_at=completed_at if status is Status.DELIVERED else None,
        customer_email=str(email).strip().lower() if email else None,
        customer_name=full_name(billing.get("first_name"), billing.get("last_name")),
        customer_locale=locale_of(order.get("customer_locale")),
        items=items,
    )


class WooCommercePlatform(Platform):
    """The WooCommerce plugin."""

    name = "woocommerce"
    title = "WooCommerce"
    settings_schema = WooSettings
    # Self-hosted: its REST API is the shop's own server, so nothing from it is attested.
    attests = False
    # Where the merchant finds each value (the dashboard shows it beside the form).
    credential_help = (
        _l(
            "Store address: your shop's https address, as in WordPress → Settings → General "
            "→ Site Address (URL)."
        ),
        _l("In WordPress go to WooCommerce → Settings → Advanced → REST API and click Add key."),
        _l(
            "Write a description (e.g. trustseal), choose a user who can see the orders, and "
            "set Permissions to Read."
        ),
        _l(
            "Click Generate API key and copy the Consumer key and the Consumer secret into the "
            "fields of the same names now: WooCommerce does not show the secret again."
        ),
        _l("The REST API needs permalinks other than Plain (WordPress → Settings → Permalinks)."),
    )

    def create(self, data: Mapping[str, Any], webhook_url: str) -> NewStore:
        """Generate the webhook secret (shown once) and keep the optional REST keys."""
        secret = secrets.token_urlsafe(32)
        kept = {"webhook_secret": secret}
        for name in ("consumer_key", "consumer_secret"):
            if data.get(name):
                kept[name] = data[name]
        settings = {k: data[k] for k in ("completed_means", "delivered_status")}
        return NewStore(data["base_url"].rstrip("/"), settings, kept, {"webhook_secret": secret})

    def setup_instructions(self, store: StoreContext, shown: Mapping[str, Any]) -> list[str]:
        """WooCommerce → Settings → Advanced → Webhooks."""
        secret = shown.get("webhook_secret", _("(the secret shown when the store was created)"))
        return [
            _("In WordPress go to WooCommerce → Settings → Advanced → Webhooks → Add webhook."),
            _(
                'Create two webhooks, one with topic "Order created" and one with "Order '
                'updated"; status Active; API version WP REST API Integration v3.'
            ),
            _("Delivery URL: %(url)s", url=store.webhook_url),
            _("Secret: %(secret)s", secret=secret),
            _(
                'When an order is "Completed" trustseal takes it as delivered and invites the '
                'customer to review; set completed_means to "fulfilled" if you mark orders '
                "completed when they ship."
            ),
            _(
                "WooCommerce does not retry failed deliveries: add a REST API key (read), then "
                '"Re-sync orders" on the Stores page of your dashboard fetches the orders a '
                "delivery missed."
            ),
        ]

    def verify(self, request: WebhookRequest, store: StoreContext) -> None:
        """The creation ping is unsigned; everything else must carry the HMAC."""
        if is_ping(request):
            return
        check_hmac_base64(
            store.secrets["webhook_secret"], request.body, request.header("X-WC-Webhook-Signature")
        )

    def dedup_key(self, request: WebhookRequest) -> str | None:
        """The delivery id (with the webhook id) is the same on a manual re-delivery."""
        delivery = request.header("X-WC-Webhook-Delivery-ID")
        return f"wc:{request.header('X-WC-Webhook-ID')}:{delivery}" if delivery else None

    def parse(self, request: WebhookRequest, store: StoreContext) -> Parsed:
        """Orders created, updated, restored or deleted."""
        if is_ping(request):
            return Parsed("ping", ping=True)
        topic = (request.header("X-WC-Webhook-Topic") or "").strip()
        if topic not in ("order.created", "order.updated", "order.restored", "order.deleted"):
            return Parsed(topic or "(none)", ignored=True)
        body = request.json()
        if topic == "order.deleted":
            if not isinstance(body, Mapping) or "id" not in body:
                raise BadPayload("missing id")
            return Parsed(
                topic,
                events=[
                    PurchaseEvent(
                        external_id=text_id(body["id"]), status=Status.CANCELLED, placed_at=utcnow()
                    )
                ],
            )
        return Parsed(topic, events=[order_event(body, store.settings)])

    def list_orders(self, store: StoreContext, since: datetime) -> Iterator[PurchaseEvent]:
        """Orders since a date through the REST API v3 (needs a consumer key and secret)."""
        key, secret = store.secrets.get("consumer_key"), store.secrets.get("consumer_secret")
        if not key or not secret:
            raise PlatformError("set a WooCommerce REST API key to reconcile this store")
        auth = base64.b64encode(f"{key}:{secret}".encode()).decode()
        headers = {"Authorization": f"Basic {auth}"}
        page = 1
        with http_session() as http:
            while True:
                query = urlencode(
                    {
                        "after": since.strftime("%Y-%m-%dT%H:%M:%S"),
                        "dates_are_gmt": "true",  # else "after" is read in the shop's time zone
                        "per_page": 100,
                        "page": page,
                        "orderby": "id",
                        "order": "asc",
                    }
                )
                orders, _headers = get_json(
                    http, f"{store.identifier}/wp-json/wc/v3/orders?{query}", headers
                )
                if not orders:
                    return
                for order in orders:
                    yield order_event(order, store.settings)
                page += 1
