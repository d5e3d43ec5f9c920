"""The outgoing webhooks API (merchant): subscribe, list, delete, test, read deliveries."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView

from trustseal.api.auth import MERCHANT_SECURITY, current_merchant, merchant_required
from trustseal.api.blueprint import Blueprint
from trustseal.api.fields import StrictSchema, UTCDateTime
from trustseal.extensions import db
from trustseal.hooks import service
from trustseal.hooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

blp = Blueprint("hooks", __name__, url_prefix="/api/v1/webhooks", description="Outgoing webhooks")


class EndpointCreateSchema(StrictSchema):
    """Body of ``POST /api/v1/webhooks``."""

    url = ma.fields.String(required=True, validate=ma.validate.Length(min=8, max=2000))
    events = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(service.EVENTS)),
        required=True,
        validate=ma.validate.Length(min=1, max=len(service.EVENTS)),
    )


class EndpointSchema(ma.Schema):
    """An endpoint (never its secret)."""

    id = ma.fields.Integer()
    url = ma.fields.String()
    events = ma.fields.List(ma.fields.String())
    created_at = UTCDateTime()


class EndpointCreatedSchema(EndpointSchema):
    """A new endpoint with its signing secret, shown this once."""

    secret = ma.fields.String(
        metadata={"description": "verify X-Trustseal-Signature with it; shown only now"}
    )


class AttemptSchema(ma.Schema):
    """One POST of a delivery."""

    attempted_at = UTCDateTime()
    status_code = ma.fields.Integer(allow_none=True)
    error = ma.fields.String(allow_none=True)
    duration_ms = ma.fields.Integer()


class DeliverySchema(ma.Schema):
    """A delivery and its attempts."""

    id = ma.fields.Integer()
    event_id = ma.fields.String()
    event = ma.fields.String()
    status = ma.fields.String(metadata={"description": "pending | delivered | failed"})
    attempts = ma.fields.List(ma.fields.Nested(AttemptSchema))
    last_status_code = ma.fields.Integer(allow_none=True)
    next_attempt_at = UTCDateTime(allow_none=True)
    created_at = UTCDateTime()
    finished_at = UTCDateTime(allow_none=True)


class TestSentSchema(ma.Schema):
    """The test delivery queued."""

    delivery_id = ma.fields.Integer()
    event_id = ma.fields.String()


def present(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """Shape an endpoint for :class:`EndpointSchema`."""
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": endpoint.events,
        "created_at": endpoint.created_at,
    }


def present_delivery(delivery: WebhookDelivery, attempts: list[WebhookAttempt]) -> dict[str, Any]:
    """Shape a delivery for :class:`DeliverySchema`."""
    return {
        "id": delivery.id,
        "event_id": delivery.event_id,
        "event": delivery.event_type,
        "status": delivery.status,
        "attempts": attempts,
        "last_status_code": delivery.last_status_code,
        "next_attempt_at": delivery.next_attempt_at if delivery.status == "pending" else None,
        "created_at": delivery.created_at,
        "finished_at": delivery.finished_at,
    }


@blp.route("")
class Endpoints(MethodView):
    """The merchant's webhook endpoints."""

    @blp.requires(merchant_required, MERCHANT_SECURITY)
    @blp.arguments(EndpointCreateSchema)
    @blp.response(201, EndpointCreatedSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Subscribe a URL (https) to events; the answer carries the signing secret once."""
        endpoint, secret = service.create_endpoint(
            current_merchant().id, body["url"], body["events"]
        )
        db.session.commit()
        return {**present(endpoint), "secret": secret}

    @blp.requires(merchant_required, MERCHANT_SECURITY)
    @blp.response(200, EndpointSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """The endpoints, oldest first."""
        return [present(e) for e in service.endpoints(current_merchant().id)]


@blp.route("/<id:endpoint_id>")
class Endpoint(MethodView):
    """One endpoint."""

    @blp.requires(merchant_required, MERCHANT_SECURITY)
    @blp.response(204)
    def delete(self, endpoint_id: int) -> None:
        """Stop sending to it (its delivery log stays readable)."""
        service.delete_endpoint(current_merchant().id, endpoint_id)
        db.session.commit()


@blp.route("/<id:endpoint_id>/test")
class EndpointTest(MethodView):
    """The "send test" button."""

    @blp.requires(merchant_required, MERCHANT_SECURITY)
    @blp.response(202, TestSentSchema)
    def post(self, endpoint_id: int) -> dict[str, Any]:
        """Queue a signed ``webhook.test`` delivery to the endpoint."""
        merchant = current_merchant()
        delivery = service.send_test(merchant.id, merchant.slug, endpoint_id)
        db.session.commit()
        return {"delivery_id": delivery.id, "event_id": delivery.event_id}


@blp.route("/<id:endpoint_id>/deliveries")
class Deliveries(MethodView):
    """The delivery log."""

    @blp.requires(merchant_required, MERCHANT_SECURITY)
    @blp.response(200, DeliverySchema(many=True))
    def get(self, endpoint_id: int) -> list[dict[str, Any]]:
        """The latest 50 deliveries, newest first, each with every attempt's response."""
        found = service.deliveries(current_merchant().id, endpoint_id)
        return [present_delivery(delivery, attempts) for delivery, attempts in found]
