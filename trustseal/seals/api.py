"""The seal API: criteria, staff decisions, public history."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import abort

from trustseal.api.auth import STAFF_SECURITY, current_staff, staff_required
from trustseal.api.blueprint import Blueprint
from trustseal.api.fields import StrictSchema, Text, UTCDateTime
from trustseal.api.lookups import merchant_or_404
from trustseal.extensions import db
from trustseal.merchants.schemas import SealSummarySchema
from trustseal.seals import criteria, service
from trustseal.staff.service import Role

blp = Blueprint("seals", __name__, url_prefix="/api/v1", description="Seal")


class CriterionSchema(ma.Schema):
    """One certification criterion."""

    code = ma.fields.String()
    group = ma.fields.String()
    text = ma.fields.String()


class DecisionCreateSchema(StrictSchema):
    """Body of ``POST /api/v1/merchants/{slug}/seal``."""

    action = ma.fields.String(
        required=True, validate=ma.validate.OneOf([a.value for a in service.Action])
    )
    reason = Text(
        required=True, multiline=True, blank=False, validate=ma.validate.Length(min=3, max=1000)
    )
    valid_until = UTCDateTime(load_default=None)


class DecisionSchema(ma.Schema):
    """A decision in a seal's public history."""

    action = ma.fields.String()
    status = ma.fields.String()
    reason = ma.fields.String()
    valid_until = UTCDateTime(allow_none=True)
    created_at = UTCDateTime()
    log_index = ma.fields.Integer(allow_none=True)


@blp.route("/seal/criteria")
class Criteria(MethodView):
    """The certification criteria."""

    @blp.response(200, CriterionSchema(many=True))
    def get(self) -> list[dict[str, str]]:
        """What a shop must show to earn the seal."""
        return criteria.criteria()


@blp.route("/merchants/<string:slug>/seal")
class SealDecisionView(MethodView):
    """Staff decisions about a seal."""

    @blp.requires(staff_required(Role.ADMIN, Role.CERTIFIER), STAFF_SECURITY)
    @blp.arguments(DecisionCreateSchema)
    @blp.response(200, SealSummarySchema)
    @blp.alt_response(409, description="The action does not apply to the current status")
    def post(self, data: dict[str, Any], slug: str) -> dict[str, Any]:
        """Approve, suspend, revoke or reinstate a seal, with a public reason."""
        merchant = merchant_or_404(slug)
        try:
            service.decide(
                merchant,
                service.Action(data["action"]),
                data["reason"].strip(),
                current_staff(),
                data["valid_until"],
            )
        except service.SealError as error:
            errors = {"json": {error.field: [str(error)]}} if error.field else None
            abort(error.code, message=str(error), **({"errors": errors} if errors else {}))
        db.session.commit()
        return service.summary(merchant)


@blp.route("/merchants/<string:slug>/seal/history")
class SealHistory(MethodView):
    """The public history of a seal."""

    @blp.response(200, DecisionSchema(many=True))
    def get(self, slug: str) -> list[Any]:
        """Every decision with its public reason, oldest first."""
        return service.history(merchant_or_404(slug))
