"""Platform payloads written from each platform's documented shapes, signing helpers, and a
fake platform HTTP server on loopback — shared by the store and plugin tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.helpers import bearer, serve_in_background
from trustseal.extensions import db
from trustseal.orders.models import Purchase

# --- common -----------------------------------------------------------------------------


def hmac_b64(secret: str, body: bytes) -> str:
    """Base64 HMAC-SHA256 of a raw body (how Shopify and WooCommerce sign webhooks)."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def raw(payload: Any) -> bytes:
    """A JSON body as a platform sends it (Python ints of any size stay exact)."""
    return json.dumps(payload, ensure_ascii=False).encode()


def create_store(client: FlaskClient, key: str, platform: str, **settings: Any) -> dict[str, Any]:
    """POST /api/v1/stores and return the answer (asserting 201)."""
    answer = client.post(
        "/api/v1/stores", json={"platform": platform, **settings}, headers=bearer(key)
    )
    assert answer.status_code == 201, answer.json
    return answer.json  # type: ignore[no-any-return]


def count(app: Flask, model: type[Any], *where: Any) -> int:
    """Rows of a table (optionally filtered)."""
    with app.app_context():
        stmt = select(func.count()).select_from(model)
        for condition in where:
            stmt = stmt.where(condition)
        return db.session.scalar(stmt) or 0


def purchase(app: Flask, external_id: str) -> dict[str, Any]:
    """A purchase by external id, with its items and invitation state, as plain data."""
    with app.app_context():
        found = db.session.scalars(
            select(Purchase).where(Purchase.external_id == external_id)
        ).one()
        invitation = found.invitation
        return {
            "id": found.id,
            "external_id": found.external_id,
            "source": found.source,
            "status": found.status,
            "email": found.customer_email,
            "name": found.customer_name,
            "locale": found.customer_locale,
            "placed_at": found.placed_at,
            "delivered_at": found.delivered_at,
            "items": [
                {"product_id": i.product_id, "title": i.title, "quantity": i.quantity, "sku": i.sku}
                for i in found.items
            ],
            "invitation": None if invitation is None else invitation.state,
        }


# --- Shopify ----------------------------------------------------------------------------

SHOP = "cafe-andino.myshopify.com"
SHOPIFY_SECRET = "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"
SHOPIFY_TOKEN = "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"
SHOPIFY_API_VERSION = "2025-10"


def shopify_settings(**changes: Any) -> dict[str, Any]:
    """What a merchant posts to connect a Shopify store."""
    return {"shop_domain": SHOP, "client_secret": SHOPIFY_SECRET, **changes}


def shopify_line_item(
    line_id: int,
    product_id: int | None,
    title: str,
    quantity: int = 1,
    sku: str | None = None,
    price: str = "45.00",
) -> dict[str, Any]:
    """A Shopify order line (REST Admin API shape)."""
    return {
        "id": line_id,
        "admin_graphql_api_id": f"gid://shopify/LineItem/{line_id}",
        "product_id": product_id,
        "variant_id": None if product_id is None else product_id + 1000,
        "title": title,
        "name": title,
        "variant_title": None,
        "quantity": quantity,
        "current_quantity": quantity,
        "sku": sku,
        "price": price,
        "vendor": "Café Andino",
        "requires_shipping": True,
        "taxable": True,
        "fulfillable_quantity": quantity,
        "fulfillment_status": None,
        "gift_card": False,
    }


def shopify_order(
    order_id: int,
    *,
    email: str | None = "Lucia.Quispe@example.com",
    first_name: str = "Lucía",
    last_name: str = "Quispe",
    financial_status: str = "pending",
    fulfillment_status: str | None = None,
    cancelled_at: str | None = None,
    created_at: str = "2026-11-01T10:00:00-05:00",
    locale: str = "es-PE",
    line_items: list[dict[str, Any]] | None = None,
    fulfillments: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A Shopify order (the body of orders/create, orders/paid, orders/fulfilled, ..., and
    of the Admin API's ``order``)."""
    customer = {
        "id": 7_390_812_345_678,
        "email": email,
        "first_name": first_name,
        "last_name": last_name,
        "phone": "+51987654321",
        "state": "enabled",
        "verified_email": True,
        "currency": "PEN",
        "tags": "",
    }
    return {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": f"#{1000 + order_id % 1000}",
        "order_number": 1000 + order_id % 1000,
        "email": email,
        "contact_email": email,
        "phone": None,
        "created_at": created_at,
        "processed_at": created_at,
        "updated_at": created_at,
        "cancelled_at": cancelled_at,
        "cancel_reason": "customer" if cancelled_at else None,
        "closed_at": None,
        "currency": "PEN",
        "presentment_currency": "PEN",
        "subtotal_price": "90.00",
        "total_price": "99.90",
        "total_tax": "13.73",
        "financial_status": financial_status,
        "fulfillment_status": fulfillment_status,
        "confirmed": True,
        "test": False,
        "customer_locale": locale,
        "source_name": "web",
        "tags": "",
        "customer": customer if email is not None or first_name else None,
        "billing_address": {
            "first_name": first_name,
            "last_name": last_name,
            "city": "Lima",
            "country_code": "PE",
        },
        "shipping_address": {
            "first_name": first_name,
            "last_name": last_name,
            "address1": "Av. Arequipa 1234",
            "city": "Lima",
            "country_code": "PE",
        },
        "line_items": line_items
        if line_items is not None
        else [
            shopify_line_item(
                order_id + 1, 8_123_456_789_012, "Café de Villa Rica 500 g", 2, "CAFE-500"
            ),
        ],
        "fulfillments": fulfillments or [],
        "refunds": [],
    }


def shopify_delivered_order(order_id: int, **changes: Any) -> dict[str, Any]:
    """A paid order whose shipment was delivered, as the Admin API answers it."""
    return shopify_order(
        order_id,
        financial_status="paid",
        fulfillment_status="fulfilled",
        fulfillments=[shopify_fulfillment(order_id)],
        **changes,
    )


def shopify_fulfillment(
    order_id: int,
    shipment_status: str | None = "delivered",
    fulfillment_id: int = 4_412_345_678_901,
    updated_at: str = "2026-11-04T16:30:00-05:00",
) -> dict[str, Any]:
    """The body of fulfillments/create and fulfillments/update."""
    return {
        "id": fulfillment_id,
        "admin_graphql_api_id": f"gid://shopify/Fulfillment/{fulfillment_id}",
        "order_id": order_id,
        "name": "#1001.1",
        "status": "success",
        "service": "manual",
        "shipment_status": shipment_status,
        "tracking_company": "Olva Courier",
        "tracking_number": "OLV123456789PE",
        "tracking_numbers": ["OLV123456789PE"],
        "tracking_url": "https://tracking.olvacourier.com/?tracking=OLV123456789PE",
        "created_at": "2026-11-02T09:00:00-05:00",
        "updated_at": updated_at,
        "line_items": [],
    }


def shopify_refund(order_id: int, refund_id: int = 9_912_345_678) -> dict[str, Any]:
    """The body of refunds/create."""
    return {
        "id": refund_id,
        "admin_graphql_api_id": f"gid://shopify/Refund/{refund_id}",
        "order_id": order_id,
        "created_at": "2026-11-06T12:00:00-05:00",
        "processed_at": "2026-11-06T12:00:00-05:00",
        "note": "Producto dañado",
        "restock": False,
        "refund_line_items": [],
        "transactions": [{"id": 1, "kind": "refund", "status": "success", "amount": "99.90"}],
        "order_adjustments": [],
    }


def shopify_customers_redact(email: str | None, order_ids: list[int]) -> dict[str, Any]:
    """The body of the mandatory customers/redact topic."""
    return {
        "shop_id": 954_889,
        "shop_domain": SHOP,
        "customer": {"id": 7_390_812_345_678, "email": email, "phone": "+51987654321"},
        "orders_to_redact": order_ids,
    }


def shopify_data_request(email: str, order_ids: list[int]) -> dict[str, Any]:
    """The body of the mandatory customers/data_request topic."""
    return {
        "shop_id": 954_889,
        "shop_domain": SHOP,
        "orders_requested": order_ids,
        "customer": {"id": 7_390_812_345_678, "email": email, "phone": "+51987654321"},
        "data_request": {"id": 9999},
    }


def shopify_headers(
    body: bytes,
    topic: str,
    webhook_id: str,
    *,
    secret: str = SHOPIFY_SECRET,
    shop: str = SHOP,
    signature: str | None = None,
) -> dict[str, str]:
    """The headers Shopify sends with a delivery (mixed case, as they arrive)."""
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": signature if signature is not None else hmac_b64(secret, body),
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Event-Id": f"evt-{webhook_id}",
        "X-Shopify-Triggered-At": "2026-11-01T15:00:00.123456789Z",
        "X-Shopify-API-Version": SHOPIFY_API_VERSION,
        "User-Agent": "Shopify-Captain-Hook",
    }


class ShopifyAdmin:
    """A fake Shopify Admin REST API for :data:`SHOP` (served by :func:`shopify_admin`):
    ``orders`` by id, answered only with :data:`SHOPIFY_TOKEN`."""

    def __init__(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.server: FakeServer | None = None

    def respond(self, seen: Seen) -> tuple[Any, ...]:
        """``GET /{shop}/admin/api/{version}/orders.json`` and ``…/orders/{id}.json``."""
        prefix = f"/{SHOP}/admin/api/{SHOPIFY_API_VERSION}/orders"
        if not seen.path.startswith(prefix):
            return 404, {"errors": "Not Found"}
        if seen.headers.get("x-shopify-access-token") != SHOPIFY_TOKEN:
            return 401, {"errors": "[API] Invalid API key or access token"}
        if seen.path == f"{prefix}.json":
            return 200, {"orders": list(self.orders.values())}
        order = self.orders.get(seen.path.removeprefix(f"{prefix}/").removesuffix(".json"))
        return (200, {"order": order}) if order else (404, {"errors": "Not Found"})

    @property
    def paths(self) -> list[str]:
        """The paths asked for, in order."""
        return [seen.path for seen in self.server.requests] if self.server else []


@contextmanager
def shopify_admin(app: Flask) -> Iterator[ShopifyAdmin]:
    """Serve a :class:`ShopifyAdmin` on loopback and point the app's Shopify API base at it."""
    fake = ShopifyAdmin()
    with fake_server(fake.respond) as server:
        fake.server = server
        app.config["TRUSTSEAL_SHOPIFY_API_BASE"] = f"{server.url}/{{shop}}"
        yield fake


# --- WooCommerce ------------------------------------------------------------------------

WOO_URL = "https://tienda.example.pe"


def woo_line_item(
    line_id: int, product_id: int, name: str, quantity: int = 1, sku: str = ""
) -> dict[str, Any]:
    """A REST v3 order line."""
    return {
        "id": line_id,
        "name": name,
        "product_id": product_id,
        "variation_id": 0,
        "quantity": quantity,
        "tax_class": "",
        "subtotal": "40.00",
        "total": "40.00",
        "sku": sku,
        "price": 40,
        "meta_data": [],
        "image": {"id": "", "src": ""},
    }


def woo_order(
    order_id: int,
    status: str = "processing",
    *,
    email: str | None = "Rosa.Huaman@example.com",
    date_completed_gmt: str | None = None,
    line_items: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A WooCommerce REST API v3 order (the body of order.* webhooks)."""
    return {
        "id": order_id,
        "parent_id": 0,
        "status": status,
        "currency": "PEN",
        "version": "9.4.2",
        "prices_include_tax": True,
        "date_created": "2026-11-01T10:00:00",
        "date_created_gmt": "2026-11-01T15:00:00",
        "date_modified": "2026-11-02T10:00:00",
        "date_modified_gmt": "2026-11-02T15:00:00",
        "discount_total": "0.00",
        "shipping_total": "10.00",
        "total": "90.00",
        "customer_id": 0,
        "order_key": f"wc_order_{order_id}abc",
        "billing": {
            "first_name": "Rosa",
            "last_name": "Huamán",
            "company": "",
            "address_1": "Jr. Puno 456",
            "city": "Cusco",
            "state": "CUS",
            "postcode": "08000",
            "country": "PE",
            "email": email or "",
            "phone": "+51984111222",
        },
        "shipping": {"first_name": "Rosa", "last_name": "Huamán", "city": "Cusco", "country": "PE"},
        "payment_method": "bacs",
        "payment_method_title": "Transferencia bancaria",
        "transaction_id": "",
        "customer_note": "",
        "date_paid_gmt": "2026-11-01T15:05:00" if status not in ("pending", "failed") else None,
        "date_completed_gmt": date_completed_gmt,
        "cart_hash": "",
        "meta_data": [],
        "line_items": line_items
        if line_items is not None
        else [woo_line_item(order_id * 10 + 1, 301, "Caf&eacute; &amp; t&eacute;", 2, "CT-1")],
        "tax_lines": [],
        "shipping_lines": [],
        "fee_lines": [],
        "coupon_lines": [],
        "refunds": [],
    }


def woo_headers(
    body: bytes,
    secret: str,
    topic: str = "order.updated",
    delivery_id: int = 1,
    *,
    webhook_id: int = 12,
    signature: str | None = None,
) -> dict[str, str]:
    """The headers WooCommerce sends with a delivery."""
    resource, _, event = topic.partition(".")
    return {
        "Content-Type": "application/json",
        "User-Agent": "WooCommerce/9.4.2 Hookshot (WordPress/6.7)",
        "X-WC-Webhook-Source": f"{WOO_URL}/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-Signature": signature if signature is not None else hmac_b64(secret, body),
        "X-WC-Webhook-ID": str(webhook_id),
        "X-WC-Webhook-Delivery-ID": str(delivery_id),
    }


# --- VTEX -------------------------------------------------------------------------------

VTEX_ACCOUNT = "bodegaandina"
VTEX_APP_KEY = "vtexappkey-bodegaandina-ABCDEF"
VTEX_APP_TOKEN = "TOKEN" + "x" * 60
HOOK_HEADER = "X-Trustseal-Hook-Key"


def vtex_settings(**changes: Any) -> dict[str, Any]:
    """What a merchant posts to connect a VTEX store."""
    return {
        "account": VTEX_ACCOUNT,
        "app_key": VTEX_APP_KEY,
        "app_token": VTEX_APP_TOKEN,
        **changes,
    }


def vtex_hook(
    order_id: str,
    state: str,
    last_change: str = "2026-11-04T16:30:00.0000000Z",
    *,
    last_state: str = "ready-for-handling",
    account: str = VTEX_ACCOUNT,
) -> dict[str, Any]:
    """What the Orders Feed v3 hook POSTs."""
    return {
        "Domain": "Marketplace",
        "OrderId": order_id,
        "State": state,
        "LastState": last_state,
        "LastChange": last_change,
        "CurrentChange": last_change,
        "Origin": {"Account": account, "Key": "vtexappkey-appvtex"},
    }


def vtex_order(
    order_id: str,
    status: str = "handling",
    *,
    email: str = "Carlos.Mamani@example.com",
    finished: bool | None = False,
    delivered_date: str | None = "2026-11-05T14:00:00.0000000+00:00",
    locale: str | None = "es-PE",
    country: str | None = "PER",
) -> dict[str, Any]:
    """An OMS order (GET /api/oms/pvt/orders/{orderId}); ``country`` is the account's, as
    every order carries it (``storePreferencesData.countryCode``, ISO 3166-1 alpha-3)."""
    packages = []
    if finished is not None:
        packages.append(
            {
                "items": [{"itemIndex": 0, "quantity": 1, "price": 4990}],
                "courier": "Olva",
                "invoiceNumber": "F001-00001234",
                "invoiceValue": 4990,
                "issuanceDate": "2026-11-03T10:00:00.0000000+00:00",
                "trackingNumber": "OLV99887766",
                "trackingUrl": "https://tracking.olvacourier.com/?tracking=OLV99887766",
                "type": "Output",
                "courierStatus": {
                    "status": "Entregado" if finished else "En ruta",
                    "finished": finished,
                    "deliveredDate": delivered_date if finished else None,
                    "data": [],
                },
            }
        )
    return {
        "orderId": order_id,
        "sequence": "502556",
        "marketplaceOrderId": "",
        "origin": "Marketplace",
        "affiliateId": "",
        "salesChannel": "1",
        "status": status,
        "statusDescription": status,
        "value": 4990,
        "creationDate": "2026-11-01T15:00:00.8999213+00:00",
        "lastChange": "2026-11-04T16:30:00.0000000+00:00",
        "totals": [{"id": "Items", "name": "Total de los items", "value": 4990}],
        "items": [
            {
                "uniqueId": "87F0945396994B349158C7D9C9941442",
                "id": "1",
                "productId": "9",
                "refId": "CAFE-250",
                "name": "Café orgánico de Chanchamayo 250 g",
                "quantity": 1,
                "seller": "1",
                "price": 4990,
                "listPrice": 4990,
                "imageUrl": "https://bodegaandina.vteximg.com.br/arquivos/ids/155392-55-55/cafe.jpg",
                "detailUrl": "/cafe-organico/p",
            }
        ],
        "clientProfileData": {
            "id": "clientProfileData",
            "email": email,
            "firstName": "Carlos",
            "lastName": "Mamani",
            "documentType": "dni",
            "document": "45678912",
            "phone": "+51911222333",
            "isCorporate": False,
            "userProfileId": "5a3692de-358a-4bea-8885-044bce33bb93",
        },
        "clientPreferencesData": {"locale": locale, "optinNewsLetter": False},
        "storePreferencesData": {
            "countryCode": country,
            "currencyCode": "BRL" if country == "BRA" else "PEN",
            "currencyLocale": 1046 if country == "BRA" else 10250,
            "currencySymbol": "R$" if country == "BRA" else "S/",
            "timeZone": "E. South America Standard Time"
            if country == "BRA"
            else "SA Pacific Standard Time",
        },
        "shippingData": {
            "address": {"city": "Lima", "country": "PER"},
            "logisticsInfo": [
                {
                    "itemIndex": 0,
                    "selectedSla": "Normal",
                    "deliveryCompany": "Olva",
                    "shippingEstimate": "5bd",
                    "shippingEstimateDate": "2026-11-08T14:00:00.0000000+00:00",
                }
            ],
        },
        "packageAttachment": {"packages": packages},
    }


# --- a fake platform server -------------------------------------------------------------


@dataclass
class Seen:
    """A request the fake server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


@dataclass
class FakeServer:
    """A platform API on loopback; ``respond(seen)`` returns (status, JSON body[, headers])."""

    respond: Callable[[Seen], tuple[Any, ...]]
    url: str = ""
    requests: list[Seen] = field(default_factory=list)


@contextmanager
def fake_server(respond: Callable[[Seen], tuple[Any, ...]]) -> Iterator[FakeServer]:
    """Serve ``respond`` on 127.0.0.1 in a thread for the duration of the block."""
    fake = FakeServer(respond)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            seen = Seen(
                "GET",
                parts.path,
                parse_qs(parts.query),
                {k.lower(): v for k, v in self.headers.items()},
            )
            fake.requests.append(seen)
            status, body, *rest = fake.respond(seen)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (rest[0] if rest else {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = serve_in_background(server)
    fake.url = f"http://127.0.0.1:{server.server_port}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
