"""VTEX: the Orders Feed v3 hook (``POST /api/orders/hook/config``).

The hook carries no customer or items — only ``{Domain, OrderId, State, LastState,
LastChange, CurrentChange, Origin: {Account, Key}}`` — and no signature: trustseal
generates a secret header that the merchant puts in ``hook.headers``. Each delivery
queues a job that fetches the order from the OMS API with the store's app key and token
(timeouts, retries with backoff). Delivered = a package with ``courierStatus.finished``,
whatever the order status reads. VTEX retries for up to 4 days: deliveries are
deduplicated on OrderId + State + LastChange. Masked emails (``…@ct.vtex.com.br``) are not
kept: the merchant sends the review link itself (``POST /api/v1/orders/{id}/invitation``).
Every order carries the account's store preferences (``storePreferencesData``, from VTEX's
License Manager); its ``countryCode`` is the account's country: an account in Brazil makes
the store's orders default to Portuguese (:func:`account_country`).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import marshmallow as ma
import requests
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from plugins.common import full_name, locale_of, parse_time, shipping, text_id
from trustseal.platforms import (
    BadPayload,
    ItemData,
    NewStore,
    Parsed,
    Platform,
    PurchaseEvent,
    ShippingData,
    SignatureInvalid,
    Status,
    StoreContext,
    WebhookRequest,
    country_code,
    get_json,
    http_session,
    utcnow,
)

HOOK_HEADER = "X-Trustseal-Hook-Key"
MASKED_EMAIL_DOMAIN = "ct.vtex.com.br"
FEED_STATUSES = ["payment-approved", "ready-for-handling", "handling", "invoiced", "canceled"]
# Every change of an order in these statuses, not only status changes: a delivery is a
# tracking update (``courierStatus.finished``) while the order stays "invoiced", which a
# ``FromWorkflow`` filter would never report. ``disableSingleFire`` makes each change fire.
FEED_EXPRESSION = "status in [{}]".format(", ".join(f'"{s}"' for s in FEED_STATUSES))
STATUS = {
    "canceled": Status.CANCELLED,
    "cancel": Status.CANCELLED,
    "invoiced": Status.FULFILLED,
    "handling": Status.PAID,
    "ready-for-handling": Status.PAID,
    "waiting-ffmt-authorization": Status.PAID,
    "payment-approved": Status.PAID,
    "window-to-cancel": Status.PAID,
}


class VtexSettings(ma.Schema):
    """``{account, app_key, app_token}``."""

    class Meta:
        unknown = ma.RAISE

    account = ma.fields.String(
        required=True,
        validate=ma.validate.Regexp(r"^[a-z0-9][a-z0-9-]{0,62}$", error="The VTEX account name."),
    )
    app_key = ma.fields.String(required=True, validate=ma.validate.Length(min=4, max=200))
    app_token = ma.fields.String(required=True, validate=ma.validate.Length(min=4, max=400))


LIMA = ZoneInfo("America/Lima")


def api_base(account: str) -> str:
    """The OMS API root of an account (configurable so tests can use a local server)."""
    return str(current_app.config["TRUSTSEAL_VTEX_API_BASE"]).format(account=account).rstrip("/")


def delivered_at(order: Mapping[str, Any]) -> datetime | None:
    """When a package was delivered (``courierStatus.finished``), or None."""
    attachment = order.get("packageAttachment") or {}
    for package in attachment.get("packages") or []:
        courier = package.get("courierStatus") or {}
        if courier.get("finished"):
            return parse_time(courier.get("deliveredDate")) or utcnow()
    return None


def order_shipping(order: Mapping[str, Any]) -> ShippingData | None:
    """The shipment of an OMS order: the first package's courier, tracking page and
    invoice time (VTEX invoices a package when it leaves), and the promise: the latest
    ``shippingEstimateDate`` of its logistics lines, as a date in Lima (trustseal's
    shops are Peruvian first; a promise "by the 8th" ends at midnight there)."""
    attachment = order.get("packageAttachment") or {}
    packages = [p for p in attachment.get("packages") or [] if isinstance(p, Mapping)]
    first: Mapping[str, Any] = packages[0] if packages else {}
    data = order.get("shippingData") or {}
    estimates = [
        parse_time(line.get("shippingEstimateDate"))
        for line in (data.get("logisticsInfo") or [] if isinstance(data, Mapping) else [])
        if isinstance(line, Mapping)
    ]
    known = [moment for moment in estimates if moment is not None]
    return shipping(
        first.get("courier"),
        first.get("trackingUrl"),
        max(known).astimezone(LIMA).date() if known else None,
        parse_time(first.get("issuanceDate")),
    )


def order_event(order: Mapping[str, Any]) -> PurchaseEvent:
    """An OMS order as an event."""
    if not isinstance(order, Mapping) or "orderId" not in order:
        raise BadPayload("not a VTEX order")
    raw = str(order.get("status") or "")
    done = delivered_at(order)
    status = STATUS.get(raw, Status.PLACED)
    if done is not None and status is not Status.CANCELLED:
        status = Status.DELIVERED
    profile = order.get("clientProfileData") or {}
    email = str(profile.get("email") or "").strip().lower()
    if email.split("@")[-1].endswith(MASKED_EMAIL_DOMAIN) or "@" not in email:
        email = ""
    items = tuple(
        ItemData(
            product_id=text_id(item.get("productId") or item.get("id")),
            title=str(item.get("name") or "")[:500] or "?",
            quantity=max(1, int(item.get("quantity") or 1)),
            sku=(str(item["refId"]) if item.get("refId") else None),
            image_url=item.get("imageUrl") or None,
        )
        for item in order.get("items") or []
    )
    return PurchaseEvent(
        external_id=text_id(order["orderId"]),
        status=status,
        placed_at=parse_time(order.get("creationDate")) or utcnow(),
        delivered_at=done,
        shipping=order_shipping(order),
        customer_email=email or None,
        customer_name=full_name(profile.get("firstName"), profile.get("lastName")),
        customer_locale=locale_of(
            order.get("clientPreferencesData", {}).get("locale")
            if isinstance(order.get("clientPreferencesData"), Mapping)
            else None
        ),
        items=items,
        account_country=account_country(order),
    )


def account_country(order: Mapping[str, Any]) -> str | None:
    """The account's country as VTEX attaches it to every order: the store preferences its
    License Manager keeps (``storePreferencesData.countryCode``, ISO 3166-1 alpha-3:
    ``BRA``), as alpha-2 (``BR``); None when absent."""
    preferences = order.get("storePreferencesData")
    if not isinstance(preferences, Mapping):
        return None
    return country_code(preferences.get("countryCode"))


class VtexPlatform(Platform):
    """The VTEX plugin. Every order is fetched from the OMS, which VTEX runs: attested."""

    name = "vtex"
    title = "VTEX"
    settings_schema = VtexSettings
    can_fetch = True
    attests = True
    # Where the merchant finds each value (the dashboard shows it beside the form).
    credential_help = (
        _l(
            "Account name: the first part of your VTEX admin address, e.g. mitienda in "
            "https://mitienda.myvtex.com."
        ),
        _l(
            "In the VTEX admin click your profile avatar at the top, then Account settings → "
            "API keys (in older admins: Account settings → Account → Security → Application "
            "keys)."
        ),
        _l(
            "In the Generated tab click Generate key, name it (e.g. trustseal) and give it a "
            "role that can read orders: the OMS resources View order and List orders "
            "(OMSViewer and ListOrders)."
        ),
        _l(
            "Copy the API key into “App key” and the API token into “App token”: VTEX shows the "
            "token only once, through a single-use link."
        ),
    )

    def create(self, data: Mapping[str, Any], webhook_url: str) -> NewStore:
        """Keep the app key and token; generate the hook's secret header (shown once)."""
        hook_secret = secrets.token_urlsafe(32)
        headers = {HOOK_HEADER: hook_secret}
        config = {
            "filter": {
                "type": "FromOrders",
                "expression": FEED_EXPRESSION,
                "disableSingleFire": True,
            },
            "hook": {"url": webhook_url, "headers": headers},
        }
        return NewStore(
            data["account"],
            {},
            {
                "app_key": data["app_key"],
                "app_token": data["app_token"],
                "hook_secret": hook_secret,
            },
            {"hook_headers": headers, "hook_config": config},
        )

    def setup_instructions(self, store: StoreContext, shown: Mapping[str, Any]) -> list[str]:
        """Configure the Orders Feed hook."""
        return [
            _(
                "Create an app key in VTEX (License Manager) with the OMS role to view orders, and "
                "give its key and token to trustseal (done: they are stored encrypted)."
            ),
            _(
                "Send the hook configuration to VTEX: POST "
                "https://%(account)s.vtexcommercestable.com.br/api/orders/hook/config with the "
                "JSON body hook_config shown when this store was created.",
                account=store.identifier,
            ),
            _(
                "VTEX then calls %(url)s with the secret header %(header)s on every status change; "
                "trustseal fetches the order and records it.",
                url=store.webhook_url,
                header=HOOK_HEADER,
            ),
            _(
                "Masked customer emails are not kept: send the review link yourself from the "
                "order (POST /api/v1/orders/{id}/invitation)."
            ),
        ]

    def verify(self, request: WebhookRequest, store: StoreContext) -> None:
        """The secret header must match (constant time); VTEX's config ping is exempt."""
        if self._is_ping(request):
            return
        given = request.header(HOOK_HEADER) or ""
        if not hmac.compare_digest(given.encode(), store.secrets["hook_secret"].encode()):
            raise SignatureInvalid("missing or wrong hook header")

    @staticmethod
    def _is_ping(request: WebhookRequest) -> bool:
        try:
            body = request.json()
        except BadPayload:
            return False
        return isinstance(body, Mapping) and body.get("hookConfig") == "ping"

    def dedup_key(self, request: WebhookRequest) -> str | None:
        """OrderId + State + LastChange: VTEX retries the same change for up to 4 days."""
        try:
            body = request.json()
        except BadPayload:
            return None
        if not isinstance(body, Mapping) or "OrderId" not in body:
            return None
        return f"vtex:{body.get('OrderId')}:{body.get('State')}:{body.get('LastChange')}"

    def parse(self, request: WebhookRequest, store: StoreContext) -> Parsed:
        """A feed change: fetch the order in a job (the hook has no customer or items)."""
        body = request.json()
        if self._is_ping(request):
            return Parsed("ping", ping=True)
        if not isinstance(body, Mapping) or not body.get("OrderId"):
            raise BadPayload("missing OrderId")
        origin = body.get("Origin") or {}
        if origin.get("Account") and origin["Account"] != store.identifier:
            raise SignatureInvalid("the change is for another account")
        return Parsed(f"feed:{body.get('State')}", fetch=[text_id(body["OrderId"])])

    def _headers(self, store: StoreContext) -> dict[str, str]:
        return {
            "X-VTEX-API-AppKey": store.secrets["app_key"],
            "X-VTEX-API-AppToken": store.secrets["app_token"],
        }

    def fetch_order(self, store: StoreContext, external_id: str) -> list[PurchaseEvent]:
        """GET /api/oms/pvt/orders/{orderId}."""
        with http_session() as http:
            return [self._order(http, store, external_id)]

    def _order(
        self, http: requests.Session, store: StoreContext, external_id: str
    ) -> PurchaseEvent:
        """One order from the OMS, through an open session."""
        url = f"{api_base(store.identifier)}/api/oms/pvt/orders/{quote(external_id, safe='')}"
        order, _headers = get_json(http, url, self._headers(store))
        return order_event(order)

    def list_orders(self, store: StoreContext, since: datetime) -> Iterator[PurchaseEvent]:
        """Orders created since a date (the list API), each fetched in full."""
        page = 1
        until = utcnow()
        with http_session() as http:
            while True:
                query = urlencode(
                    {
                        "f_creationDate": f"creationDate:[{since:%Y-%m-%dT%H:%M:%S.000Z} TO "
                        f"{until:%Y-%m-%dT%H:%M:%S.999Z}]",
                        "page": page,
                        "per_page": 100,
                    }
                )
                data, _headers = get_json(
                    http,
                    f"{api_base(store.identifier)}/api/oms/pvt/orders?{query}",
                    self._headers(store),
                )
                found = data.get("list") or []
                for summary in found:
                    yield self._order(http, store, text_id(summary["orderId"]))
                paging = data.get("paging") or {}
                if not found or page >= int(paging.get("pages") or page):
                    return
                page += 1
