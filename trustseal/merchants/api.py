"""The merchants API blueprint (thin: parse, call the service, dump)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import abort

from trustseal.api.auth import STAFF_SECURITY, staff_required
from trustseal.api.blueprint import Blueprint
from trustseal.extensions import db
from trustseal.merchants import service
from trustseal.merchants.schemas import (
    MerchantCreatedSchema,
    MerchantCreateSchema,
    MerchantPublicSchema,
)
from trustseal.staff.service import Role

blp = Blueprint("merchants", __name__, url_prefix="/api/v1/merchants", description="Merchants")


@blp.route("")
class Merchants(MethodView):
    """The collection of merchants."""

    @blp.requires(staff_required(Role.ADMIN, Role.CERTIFIER), STAFF_SECURITY)
    @blp.arguments(MerchantCreateSchema)
    @blp.response(201, MerchantCreatedSchema)
    @blp.alt_response(409, description="The slug is taken")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a merchant (staff) and return its first API key, shown once."""
        try:
            created = service.create_merchant(**data)
        except service.SlugTaken:
            abort(409, message="This slug is taken.", errors={"json": {"slug": ["Taken."]}})
        db.session.commit()
        return {**service.private_summary(created.merchant), "api_key": created.api_key}


@blp.route("/<string:slug>")
class MerchantBySlug(MethodView):
    """One merchant, as the public sees it."""

    @blp.response(200, MerchantPublicSchema)
    def get(self, slug: str) -> dict[str, Any]:
        """Return a merchant's public summary: identity, seal and score."""
        merchant = service.get_by_slug(slug)
        if merchant is None:
            abort(404, message="No merchant with this slug.")
        return service.public_summary(merchant)
