"""The shipment of an order — carrier, tracking page, promised date, when it left — from
the API and from each platform where it says so (docs/plugins.md: what each gives)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from plugins.shopify import fulfillment_shipping
from plugins.shopify import order_event as shopify_event
from plugins.vtex import order_event as vtex_event
from plugins.woocommerce import order_event as woo_event
from tests.helpers import bearer, make_merchant, order_body
from tests.plugin_payloads import (
    shopify_delivered_order,
    shopify_fulfillment,
    shopify_order,
    vtex_order,
    woo_order,
)
from trustseal.platforms import ShippingData

OLVA = "https://tracking.olvacourier.com/?tracking=OLV123456789PE"


@pytest.fixture
def key(app: Any) -> str:
    return make_merchant(app)[1]


def _post(client: FlaskClient, key: str, **body: Any) -> Any:
    return client.post("/api/v1/orders", json=order_body(**body), headers=bearer(key))


def test_the_api_keeps_the_shipment_part_by_part(client: FlaskClient, key: str):
    shipping = {"carrier": "Olva Courier", "tracking_url": OLVA, "promised_by": "2026-11-06"}
    created = _post(client, key, status="fulfilled", shipping=shipping)
    assert created.status_code == 201, created.json
    assert created.json["shipping"] == {**shipping, "shipped_at": None}
    later = {"shipped_at": "2026-11-02T14:00:00Z"}  # a later event adds what it knows
    moved = _post(client, key, status="delivered", shipping=later)
    assert moved.json["shipping"] == {**shipping, "shipped_at": "2026-11-02T14:00:00Z"}
    assert _post(client, key, external_id="A-2").json["shipping"] is None


@pytest.mark.parametrize(
    "shipping",
    [
        {"tracking_url": "http://olva.pe/t/1"},  # not https
        {"tracking_url": "javascript:alert(1)"},
        {"promised_by": "mañana"},
        {"promised_by": "2026-11-06T10:00:00Z"},  # a date, not a moment
        {"shipped_at": "ayer"},
        {"carrier": "x" * 101},
        {"eta": "2026-11-06"},
    ],
)
def test_a_wrong_shipment_is_422_and_records_nothing(
    client: FlaskClient, key: str, shipping: dict[str, Any]
):
    refused = _post(client, key, shipping=shipping)
    assert refused.status_code == 422 and "shipping" in refused.json["errors"]["json"]
    assert client.get("/api/v1/orders", headers=bearer(key)).json["items"] == []


def test_shopify_gives_the_first_fulfilments_carrier_tracking_and_departure():
    event = shopify_event(shopify_delivered_order(5_001))
    assert event.shipping == ShippingData(
        "Olva Courier", OLVA, None, datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
    )
    assert shopify_event(shopify_order(5_002)).shipping is None  # not shipped yet
    untracked = {**shopify_fulfillment(5_003), "tracking_company": None, "tracking_url": None}
    untracked["tracking_urls"] = []
    assert fulfillment_shipping(untracked) == ShippingData(
        shipped_at=datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
    )
    insecure = {**shopify_fulfillment(5_004), "tracking_url": "http://olva.pe/?t=1"}
    insecure["tracking_urls"] = []
    assert fulfillment_shipping(insecure).tracking_url is None  # https only


def test_vtex_gives_the_package_and_the_promised_date():
    event = vtex_event(vtex_order("1234567890-01", "invoiced", finished=True))
    assert event.shipping == ShippingData(
        "Olva",
        "https://tracking.olvacourier.com/?tracking=OLV99887766",
        date(2026, 11, 8),
        datetime(2026, 11, 3, 10, 0, tzinfo=UTC),
    )
    late = vtex_order("1234567890-03", "invoiced", finished=False)
    late["shippingData"]["logisticsInfo"][0]["shippingEstimateDate"] = "2026-11-09T03:00:00Z"
    assert vtex_event(late).shipping.promised_by == date(2026, 11, 8)  # 22:00 in Lima
    bare = vtex_order("1234567890-02", "handling", finished=None)
    bare["shippingData"] = {"address": {"city": "Lima"}}
    assert vtex_event(bare).shipping is None


def test_woocommerce_core_says_nothing_of_the_shipment():
    settings = {"completed_means": "delivered"}
    assert woo_event(woo_order(7_001, "completed"), settings).shipping is None
