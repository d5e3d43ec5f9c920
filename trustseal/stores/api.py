"""The stores API (merchant) and the one webhook route every platform calls."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, jsonify, request
from flask.views import MethodView

from trustseal.api.auth import MERCHANT_SECURITY, current_merchant, merchant_required
from trustseal.api.blueprint import Blueprint
from trustseal.api.errors import abort
from trustseal.api.fields import OpenSchema, UTCDateTime
from trustseal.api.uploads import allow_upload
from trustseal.extensions import db
from trustseal.platforms import WebhookRequest
from trustseal.stores import service
from trustseal.stores.models import Store

WEBHOOK_MAX_BYTES = 4 * 1024 * 1024  # a large Shopify order with many lines fits
allow_upload("webhooks.receive", WEBHOOK_MAX_BYTES)

blp = Blueprint("stores", __name__, url_prefix="/api/v1/stores", description="Stores")
webhooks = Blueprint("webhooks", __name__, url_prefix="/webhooks", description="Webhooks")


class StoreCreateSchema(OpenSchema):
    """``{platform, ...}``: the other fields depend on the platform (see its plugin)."""

    platform = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=40),
        metadata={"description": "An installed platform plugin (shopify, woocommerce, vtex)."},
    )


class StoreSchema(ma.Schema):
    """A store."""

    id = ma.fields.Integer()
    platform = ma.fields.String()
    identifier = ma.fields.String()
    status = ma.fields.String()
    webhook_url = ma.fields.String()
    settings = ma.fields.Dict()
    created_at = UTCDateTime()
    last_event_at = UTCDateTime(allow_none=True)
    country = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "The country of the shop's platform account (ISO 3166-1 alpha-2) "
            "once the platform stated it with an order trustseal fetched (VTEX); null until "
            "then."
        },
    )
    language = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "The language code its orders default to when the platform gives "
            "no customer language: pt for an account in Brazil; null: the shop's language."
        },
    )


class StoreCreatedSchema(StoreSchema):
    """A new store with its setup instructions and any generated secret (shown once)."""

    instructions = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.List(ma.fields.String())
    )
    webhook_secret = ma.fields.String()
    hook_headers = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())
    hook_config = ma.fields.Dict()


def present(store: Store) -> dict[str, Any]:
    """Shape a store for :class:`StoreSchema` (never its secrets)."""
    return {
        "id": store.id,
        "platform": store.platform,
        "identifier": store.identifier,
        "status": store.status,
        "webhook_url": service.webhook_url(store),
        "settings": store.settings,
        "created_at": store.created_at,
        "last_event_at": store.last_event_at,
        "country": store.country,
        "language": store.language,
    }


@blp.route("")
class Stores(MethodView):
    """The merchant's stores."""

    @blp.requires(merchant_required, MERCHANT_SECURITY)
    @blp.arguments(StoreCreateSchema)
    @blp.response(201, StoreCreatedSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Connect a store (shopify, woocommerce, vtex): webhook URL, secrets, instructions."""
        name = data.pop("platform")
        try:
            plugin = service.platform(name)
        except service.StoreError:
            abort(
                422,
                message="Unknown platform.",
                errors={"json": {"platform": [f"One of: {', '.join(service.platforms())}."]}},
            )
        body = request.get_json(silent=True) or {}
        try:
            settings = plugin.settings_schema().load(
                {k: v for k, v in body.items() if k != "platform"}
            )
        except ma.ValidationError as invalid:
            abort(422, message="Invalid store settings.", errors={"json": invalid.messages})
        created = service.create_store(current_merchant(), name, settings)
        db.session.commit()
        return {**present(created.store), "instructions": created.instructions, **created.shown}

    @blp.requires(merchant_required, MERCHANT_SECURITY)
    @blp.response(200, StoreSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """The merchant's stores, newest first."""
        return [present(s) for s in service.stores_of(current_merchant())]


@blp.route("/<id:store_id>")
class StoreById(MethodView):
    """One store."""

    @blp.requires(merchant_required, MERCHANT_SECURITY)
    @blp.response(200, StoreSchema)
    def delete(self, store_id: int) -> dict[str, Any]:
        """Disable a store: its webhooks answer 410 from now on; its purchases stay."""
        store = service.disable(current_merchant(), store_id)
        db.session.commit()
        return present(store)


@webhooks.route("/<string:platform>/<id:store_id>", methods=["POST"])
@webhooks.doc(summary="What a platform calls (signature checked by its plugin)")
def receive(platform: str, store_id: int) -> Response:
    """Verify, deduplicate and durably record a platform's webhook before answering 2xx."""
    incoming = WebhookRequest(
        headers={k.lower(): v for k, v in request.headers.items()},
        body=request.get_data(cache=False),
        content_type=request.content_type or "",
    )
    outcome = service.handle_webhook(platform, store_id, incoming)
    db.session.commit()  # durable before the platform hears 200
    return jsonify(outcome)
