"""marshmallow schemas of the orders API."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from trustseal.api.fields import LanguageCode, StrictSchema, Text, UTCDateTime
from trustseal.api.pagination import PageArgsSchema, page_schema
from trustseal.orders.service import Status

STATUSES = [status.value for status in Status]

MAX_ITEMS = 250  # lines of one order


class ExternalId(Text):
    """An id given by a shop: a string, or an integer of any size (kept exactly as text);
    stripped, and never blank."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {}).setdefault(
            "description", "A string, or an integer of any size (kept exactly as text)."
        )
        super().__init__(blank=False, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        return str(super()._deserialize(value, attr, data, **kwargs))


class CustomerSchema(StrictSchema):
    """The customer of an order (private: never shown publicly)."""

    email = ma.fields.Email(required=True, validate=ma.validate.Length(max=254))
    name = Text(load_default=None, validate=ma.validate.Length(max=200))
    locale = LanguageCode(
        load_default=None,
        metadata={
            "description": "The customer's language for the review invitation: es, en or pt "
            "(Portuguese, Brazil); a tag such as pt-BR or es-PE is read as its language. "
            "Left out: the shop's language (pt for a shop in Brazil, else es).",
        },
    )


class ItemSchema(StrictSchema):
    """An order line."""

    product_id = ExternalId(required=True, validate=ma.validate.Length(max=100))
    title = Text(required=True, blank=False, validate=ma.validate.Length(max=500))
    quantity = ma.fields.Integer(
        load_default=1, strict=True, validate=ma.validate.Range(min=1, max=100_000)
    )
    sku = ma.fields.String(load_default=None, validate=ma.validate.Length(max=100))
    url = ma.fields.URL(load_default=None, validate=ma.validate.Length(max=2000))
    image_url = ma.fields.URL(load_default=None, validate=ma.validate.Length(max=2000))


class ShippingSchema(StrictSchema):
    """The shipment of an order, each part optional (what the shop or platform knows)."""

    carrier = Text(load_default=None, allow_none=True, validate=ma.validate.Length(max=100))
    tracking_url = ma.fields.URL(
        load_default=None,
        allow_none=True,
        schemes={"https"},
        validate=ma.validate.Length(max=2000),
        metadata={"description": "the carrier's tracking page (https)"},
    )
    promised_by = ma.fields.Date(
        load_default=None,
        allow_none=True,
        metadata={"description": "the delivery date promised to the customer"},
    )
    shipped_at = UTCDateTime(load_default=None, allow_none=True)


class ShippingOutSchema(ma.Schema):
    """The shipment of an order as recorded."""

    carrier = ma.fields.String(allow_none=True)
    tracking_url = ma.fields.String(allow_none=True)
    promised_by = ma.fields.Date(allow_none=True)
    shipped_at = UTCDateTime(allow_none=True)


class OrderCreateSchema(StrictSchema):
    """Body of ``POST /api/v1/orders``."""

    external_id = ExternalId(required=True, validate=ma.validate.Length(max=100))
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(STATUSES))
    customer = ma.fields.Nested(CustomerSchema, required=True)
    placed_at = UTCDateTime(required=True)
    delivered_at = UTCDateTime(load_default=None)
    items = ma.fields.List(
        ma.fields.Nested(ItemSchema),
        required=True,
        validate=ma.validate.Length(min=1, max=MAX_ITEMS),
    )
    shipping = ma.fields.Nested(ShippingSchema, load_default=None, allow_none=True)


class InvitationSummarySchema(ma.Schema):
    """The review invitation of an order."""

    status = ma.fields.String()
    expires_at = UTCDateTime()
    sent_at = UTCDateTime(allow_none=True)


class OrderItemOutSchema(ma.Schema):
    """An order line as stored."""

    product_id = ma.fields.String()
    title = ma.fields.String()
    quantity = ma.fields.Integer()
    sku = ma.fields.String(allow_none=True)
    url = ma.fields.String(allow_none=True)
    image_url = ma.fields.String(allow_none=True)


class OrderCustomerOutSchema(ma.Schema):
    """The customer as stored (shown to the merchant only)."""

    email = ma.fields.String(allow_none=True)
    name = ma.fields.String(allow_none=True)
    locale = ma.fields.String()


class VerificationSchema(ma.Schema):
    """Who vouches for a purchase (and so for its review)."""

    level = ma.fields.String(
        metadata={
            "enum": ["platform", "declared"],
            "description": "platform: trustseal fetched the order from the platform's own "
            "API with the store's credentials; declared: the merchant reported it (our API, "
            "the dashboard, or a store webhook whose secret the shop holds)",
        }
    )
    source = ma.fields.String(
        metadata={
            "description": "the platform (shopify, woocommerce…; for a declared order, the "
            "platform whose webhook brought it) or api|dashboard|import"
        }
    )


class OrderSchema(ma.Schema):
    """An order as the merchant sees it."""

    id = ma.fields.Integer()
    external_id = ma.fields.String()
    source = ma.fields.String(
        metadata={"description": "the platform that reported it, or api|dashboard|import"}
    )
    verification = ma.fields.Nested(VerificationSchema)
    status = ma.fields.String()
    customer = ma.fields.Nested(OrderCustomerOutSchema)
    placed_at = UTCDateTime()
    delivered_at = UTCDateTime(allow_none=True)
    created_at = UTCDateTime()
    updated_at = UTCDateTime()
    items = ma.fields.List(ma.fields.Nested(OrderItemOutSchema))
    shipping = ma.fields.Nested(ShippingOutSchema, allow_none=True)
    invitation = ma.fields.Nested(InvitationSummarySchema, allow_none=True)


OrderPageSchema = page_schema(OrderSchema, "OrderPageSchema")


class OrderListArgsSchema(PageArgsSchema):
    """Query arguments of ``GET /api/v1/orders``."""

    external_id = ExternalId(load_default=None, validate=ma.validate.Length(max=100))
    status = ma.fields.String(load_default=None, validate=ma.validate.OneOf(STATUSES))


class InvitationLinkSchema(ma.Schema):
    """A review link the merchant sends through its own channel (token shown once)."""

    token = ma.fields.String()
    url = ma.fields.String()
    expires_at = UTCDateTime()


class OrderBatchSchema(StrictSchema):
    """Body of ``POST /api/v1/orders/batch``: up to 500 orders in one transaction."""

    orders = ma.fields.List(
        ma.fields.Nested(OrderCreateSchema),
        required=True,
        validate=ma.validate.Length(min=1, max=500),
    )


class BatchResultSchema(ma.Schema):
    """What happened to one order of a batch."""

    external_id = ma.fields.String()
    id = ma.fields.Integer()
    status = ma.fields.String()
    created = ma.fields.Boolean()


class BatchAnswerSchema(ma.Schema):
    """Answer to a batch: one result per order, in order."""

    results = ma.fields.List(ma.fields.Nested(BatchResultSchema))
