"""The fraud signals API (staff only; thin: parse, call the service, dump)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView

from trustseal.api.auth import STAFF_SECURITY, current_staff, staff_required
from trustseal.api.blueprint import Blueprint
from trustseal.api.fields import StrictSchema, Text, UTCDateTime
from trustseal.api.lookups import merchant_or_404
from trustseal.api.pagination import PageArgsSchema, keyset_page, page_schema
from trustseal.extensions import db
from trustseal.signals import service
from trustseal.signals.models import FraudSignal
from trustseal.staff.service import Role
from trustseal.validators import SLUG_PATTERN

blp = Blueprint("signals", __name__, url_prefix="/api/v1/signals", description="Fraud signals")

STAFF = staff_required(Role.ADMIN, Role.CERTIFIER, Role.MODERATOR)


class SignalListArgsSchema(PageArgsSchema):
    """Query arguments of ``GET /api/v1/signals``."""

    merchant = ma.fields.String(
        load_default=None,
        validate=ma.validate.Regexp(SLUG_PATTERN, error="Not a merchant slug."),
    )
    status = ma.fields.String(
        load_default=None, validate=ma.validate.OneOf([s.value for s in service.Status])
    )


class SignalDecisionSchema(StrictSchema):
    """Body of ``PUT /api/v1/signals/{id}``."""

    status = ma.fields.String(required=True, validate=ma.validate.OneOf(service.DECISIONS))
    reason = Text(
        required=True, multiline=True, blank=False, validate=ma.validate.Length(min=3, max=1000)
    )


class SignalSchema(ma.Schema):
    """A suspicious pattern in a merchant's reviews, with its evidence."""

    id = ma.fields.Integer()
    merchant = ma.fields.String(metadata={"description": "the merchant's slug"})
    kind = ma.fields.String(metadata={"enum": [k.value for k in service.Kind]})
    review_ids = ma.fields.List(ma.fields.Integer())
    evidence = ma.fields.Dict(
        metadata={
            "description": "rule (the thresholds that fired), count, first_at, last_at, "
            "reviews [{id, purchase_id, reviewed_at, purchase_recorded_at, reviewable_at "
            "(server times: the order recorded, its review invitation opened), "
            "verification; minutes_after_reviewable for fast_review}], purchase_ids; "
            "match (email|text) for repeated_identity; earlier_signal_ids (decided signals "
            "that held reviews of the pattern); full (it lists the most reviews a signal "
            "holds, the pattern goes on in another) and continues_signal_id (the full "
            "signal this one continues); emailed (staff were emailed when it opened: at "
            "most once per merchant and kind an hour)"
        }
    )
    created_at = UTCDateTime()
    status = ma.fields.String(metadata={"enum": [s.value for s in service.Status]})
    reason = ma.fields.String(metadata={"description": "once decided"})
    decided_at = UTCDateTime(metadata={"description": "once decided"})


SignalPageSchema = page_schema(SignalSchema, "SignalPage")


@blp.route("")
class Signals(MethodView):
    """The detector's findings."""

    @blp.requires(STAFF, STAFF_SECURITY)
    @blp.arguments(SignalListArgsSchema, location="query")
    @blp.response(200, SignalPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List fraud signals newest first, by merchant and status."""
        merchant_id = merchant_or_404(args["merchant"]).id if args["merchant"] else None
        stmt = service.signals_query(merchant_id, args["status"])
        page = keyset_page(stmt, FraudSignal.id, args["limit"], args["cursor"])
        return {**page, "items": service.as_json(page["items"])}


@blp.route("/<id:signal_id>")
class SignalById(MethodView):
    """A staff decision on one signal."""

    @blp.requires(STAFF, STAFF_SECURITY)
    @blp.arguments(SignalDecisionSchema)
    @blp.response(200, SignalSchema)
    @blp.alt_response(404, description="No such signal")
    @blp.alt_response(409, description="The signal was decided already")
    def put(self, data: dict[str, Any], signal_id: int) -> dict[str, Any]:
        """Confirm a signal (its reviews go to moderation) or dismiss it, with a reason."""
        signal = service.decide(signal_id, data["status"], data["reason"], current_staff())
        db.session.commit()
        return service.as_json([signal])[0]
