"""The orders API blueprint (thin: parse, call the service, dump)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask.views import MethodView

from trustseal.api.auth import MERCHANT_SECURITY, current_merchant_id, merchant_required
from trustseal.api.blueprint import Blueprint
from trustseal.api.errors import abort
from trustseal.api.pagination import keyset_page
from trustseal.dbutil import commit_with_retries
from trustseal.extensions import db
from trustseal.orders import service
from trustseal.orders.models import Purchase
from trustseal.orders.schemas import (
    BatchAnswerSchema,
    InvitationLinkSchema,
    OrderBatchSchema,
    OrderCreateSchema,
    OrderListArgsSchema,
    OrderPageSchema,
    OrderSchema,
)

blp = Blueprint("orders", __name__, url_prefix="/api/v1/orders", description="Orders")

API_SOURCE = "api"


def present(purchase: Purchase, items: Sequence[Any] | None = None) -> dict[str, Any]:
    """Shape a purchase for :class:`OrderSchema` as plain values.

    Plain values, because the response is written after the commit, which expires ORM
    objects: reading them then would load each line again. ``items`` are the lines when
    they are in hand (a purchase just recorded); otherwise they are read from the purchase.
    """
    invitation = purchase.invitation
    return {
        "id": purchase.id,
        "external_id": purchase.external_id,
        "source": purchase.origin,
        "verification": service.verification(purchase),
        "status": purchase.status,
        "customer": {
            "email": purchase.customer_email,
            "name": purchase.customer_name,
            "locale": purchase.customer_locale,
        },
        "placed_at": purchase.placed_at,
        "delivered_at": purchase.delivered_at,
        "shipping": service.shipping_of(purchase),
        "created_at": purchase.created_at,
        "updated_at": purchase.updated_at,
        "items": [
            service.item_values(item) for item in (purchase.items if items is None else items)
        ],
        "invitation": None
        if invitation is None
        else {
            "status": service.invitation_status(invitation),
            "expires_at": invitation.expires_at,
            "sent_at": invitation.sent_at,
        },
    }


def _event(data: dict[str, Any]) -> service.PurchaseEvent:
    customer = data["customer"]
    return service.PurchaseEvent(
        external_id=data["external_id"],
        status=service.Status(data["status"]),
        placed_at=data["placed_at"],
        delivered_at=data["delivered_at"],
        customer_email=customer["email"].strip().lower(),
        customer_name=customer["name"],
        customer_locale=customer["locale"],
        items=tuple(service.ItemData(**item) for item in data["items"]),
        shipping=service.ShippingData(**data["shipping"]) if data["shipping"] else None,
    )


def _own_purchase(order_id: int) -> Purchase:
    purchase = service.get_purchase(current_merchant_id(), order_id)
    if purchase is None:
        abort(404, message="No such order for this merchant.")
    return purchase


@blp.route("")
class Orders(MethodView):
    """The merchant's orders."""

    @blp.requires(merchant_required, MERCHANT_SECURITY)
    @blp.arguments(OrderCreateSchema)
    @blp.response(201, OrderSchema, description="A new order")
    @blp.alt_response(200, schema=OrderSchema, description="The same external_id again")
    def post(self, data: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """Record an order (idempotent on external_id; status only moves forward)."""
        recorded = service.record_purchase_event(current_merchant_id(), API_SOURCE, _event(data))
        answer = present(recorded.purchase, recorded.items)  # in hand: no reload after commit
        db.session.commit()
        return answer, 201 if recorded.created else 200

    @blp.requires(merchant_required, MERCHANT_SECURITY)
    @blp.arguments(OrderListArgsSchema, location="query")
    @blp.response(200, OrderPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List the merchant's orders from every source, newest first."""
        stmt = service.purchases_query(current_merchant_id(), args["external_id"], args["status"])
        page = keyset_page(stmt, Purchase.id, args["limit"], args["cursor"])
        return {**page, "items": [present(p) for p in page["items"]]}


@blp.route("/batch")
class OrderBatch(MethodView):
    """Many orders at once (imports, backfills, busy shops)."""

    @blp.requires(merchant_required, MERCHANT_SECURITY)
    @blp.arguments(OrderBatchSchema)
    @blp.response(200, BatchAnswerSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Record up to 500 orders in one transaction: all or none (same rules as one)."""
        merchant_id = current_merchant_id()
        events = [_event(order) for order in data["orders"]]

        def record() -> list[dict[str, Any]]:
            return [
                {
                    "external_id": recorded.purchase.external_id,
                    "id": recorded.purchase.id,
                    "status": recorded.purchase.status,
                    "created": recorded.created,
                }
                for recorded in service.record_purchase_events(merchant_id, API_SOURCE, events)
            ]

        # A deadlock or serialization failure with a concurrent writer is retried whole.
        return {"results": commit_with_retries(record)}


@blp.route("/<id:order_id>")
class OrderById(MethodView):
    """One of the merchant's orders."""

    @blp.requires(merchant_required, MERCHANT_SECURITY)
    @blp.response(200, OrderSchema)
    def get(self, order_id: int) -> dict[str, Any]:
        """Return an order with its review invitation."""
        return present(_own_purchase(order_id))


@blp.route("/<id:order_id>/invitation")
class OrderInvitation(MethodView):
    """The review link of a delivered order."""

    @blp.requires(merchant_required, MERCHANT_SECURITY)
    @blp.response(201, InvitationLinkSchema)
    @blp.alt_response(409, description="Not delivered, cancelled/refunded or already reviewed")
    @blp.alt_response(410, description="The invitation has expired")
    @blp.alt_response(
        429,
        description="Too many links for orders the merchant declared itself, its store "
        "webhooks' included (TRUSTSEAL_DECLARED_LINKS_PER_HOUR and _PER_DAY, per merchant)",
    )
    def post(self, order_id: int) -> dict[str, Any]:
        """Issue a review link to send through the merchant's own channel."""
        purchase = _own_purchase(order_id)
        try:
            link = service.issue_invitation_link(purchase)
        except service.InvitationRefused as refused:
            codes = {"expired": 410, "rate_limited": 429}
            abort(codes.get(refused.reason, 409), message=str(refused))
        db.session.commit()
        return {"token": link.token, "url": link.url, "expires_at": link.expires_at}
