"""A minimal fourth platform: the smallest complete plugin (see docs/plugins.md).

"Fake" signs each webhook with a per-store secret that trustseal generates: the header
``X-Fake-Signature`` is the base64 HMAC-SHA256 of the raw body, and ``X-Fake-Delivery``
is the same on every retry of one delivery. The body is ``{"id", "status", "email",
"name", "placed_at", "items": [{"sku", "title", "qty"}]}``; ``{"ping": true}`` is a test
call. The tests copy this file next to a ``fake_platform-0.1.dist-info`` folder whose
``entry_points.txt`` registers it, exactly as installing the package in
``pyproject.toml`` (beside this file) would.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import marshmallow as ma
from flask_babel import gettext as _

from trustseal.platforms import (
    BadPayload,
    ItemData,
    NewStore,
    Parsed,
    Platform,
    PurchaseEvent,
    SignatureInvalid,
    Status,
    StoreContext,
    WebhookRequest,
)

STATUSES = {
    "new": Status.PLACED,
    "paid": Status.PAID,
    "shipped": Status.FULFILLED,
    "delivered": Status.DELIVERED,
    "cancelled": Status.CANCELLED,
}


class FakeSettings(ma.Schema):
    """What the merchant posts besides ``platform``: ``{shop}``."""

    class Meta:
        unknown = ma.RAISE

    shop = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=100))


class FakePlatform(Platform):
    """The Fake platform."""

    name = "fake"
    title = "Fake"
    settings_schema = FakeSettings

    def create(self, data: Mapping[str, Any], webhook_url: str) -> NewStore:
        """Generate the signing secret; it is shown to the merchant once."""
        secret = secrets.token_urlsafe(32)
        return NewStore(data["shop"], {}, {"secret": secret}, {"webhook_secret": secret})

    def setup_instructions(self, store: StoreContext, shown: Mapping[str, Any]) -> list[str]:
        """The steps, through gettext so each language gets its own."""
        return [
            _("Delivery URL: %(url)s", url=store.webhook_url),
            _("Secret: %(secret)s", secret=shown.get("webhook_secret", "…")),
        ]

    def verify(self, request: WebhookRequest, store: StoreContext) -> None:
        """Base64 HMAC-SHA256 of the raw body, compared in constant time."""
        claimed = (request.header("X-Fake-Signature") or "").encode()
        key = store.secrets["secret"].encode()
        expected = base64.b64encode(hmac.new(key, request.body, hashlib.sha256).digest())
        if not hmac.compare_digest(expected, claimed):
            raise SignatureInvalid("bad signature")

    def dedup_key(self, request: WebhookRequest) -> str | None:
        """The delivery id, the same on every retry."""
        delivery = request.header("X-Fake-Delivery")
        return f"fake:{delivery}" if delivery else None

    def parse(self, request: WebhookRequest, store: StoreContext) -> Parsed:
        """One order per webhook."""
        body = request.json()
        if not isinstance(body, Mapping):
            raise BadPayload("not an object")
        if body.get("ping"):
            return Parsed("ping", ping=True)
        if "id" not in body or body.get("status") not in STATUSES:
            raise BadPayload("an order needs an id and a known status")
        try:
            placed = datetime.fromisoformat(str(body.get("placed_at"))).astimezone(UTC)
        except ValueError as exc:
            raise BadPayload("placed_at is not an ISO 8601 time") from exc
        event = PurchaseEvent(
            external_id=str(body["id"]),
            status=STATUSES[body["status"]],
            placed_at=placed,
            customer_email=(body.get("email") or "").strip().lower() or None,
            customer_name=body.get("name") or None,
            items=tuple(
                ItemData(product_id=str(i["sku"]), title=str(i["title"]), quantity=int(i["qty"]))
                for i in body.get("items") or []
            ),
        )
        return Parsed(f"order.{body['status']}", events=[event])


class NotAPlatform:
    """Registered by mistake: the registry skips it (and says so in the log)."""
