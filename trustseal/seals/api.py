"""The seal API: criteria, staff decisions, public history."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView

from trustseal.api.auth import (
    MERCHANT_SECURITY,
    STAFF_SECURITY,
    current_merchant,
    current_staff,
    merchant_required,
    staff_required,
)
from trustseal.api.blueprint import Blueprint
from trustseal.api.fields import StrictSchema, Text, UTCDateTime
from trustseal.api.lookups import merchant_or_404
from trustseal.extensions import db
from trustseal.merchants.schemas import SealSummarySchema
from trustseal.seals import criteria as checklist
from trustseal.seals import monitor, service
from trustseal.staff.service import Role

blp = Blueprint("seals", __name__, url_prefix="/api/v1", description="Seal")


class CriterionSchema(ma.Schema):
    """One certification criterion (``code``, ``group`` and ``text``: the names of the
    first version, kept)."""

    id = ma.fields.String()
    title = ma.fields.String()
    area = ma.fields.String()
    mandatory = ma.fields.Boolean()
    automatic = ma.fields.Boolean()
    source = ma.fields.String()
    code = ma.fields.String()
    group = ma.fields.String()
    text = ma.fields.String()


class CriterionVerdictSchema(CriterionSchema):
    """A criterion with a merchant's verdict, its date and evidence."""

    verdict = ma.fields.String()
    note = ma.fields.String(allow_none=True)
    evidence_url = ma.fields.String(allow_none=True)
    checked_at = UTCDateTime(allow_none=True)
    override = ma.fields.Boolean()


class VerdictInputSchema(StrictSchema):
    """One verdict of ``PUT /api/v1/merchants/{slug}/seal/criteria``."""

    id = ma.fields.String(required=True, validate=ma.validate.OneOf(list(checklist.BY_ID)))
    verdict = ma.fields.String(required=True, validate=ma.validate.OneOf(checklist.VERDICTS))
    note = Text(multiline=True, load_default=None, validate=ma.validate.Length(max=2000))
    evidence_url = ma.fields.String(load_default=None, validate=ma.validate.Length(max=2000))

    @ma.validates("evidence_url")
    def _https_only(self, value: str | None, **_: Any) -> None:
        if value and (problem := service.https_url_problem(value)):
            raise ma.ValidationError(problem)


class VerdictsSchema(StrictSchema):
    """Body of ``PUT /api/v1/merchants/{slug}/seal/criteria``."""

    verdicts = ma.fields.List(
        ma.fields.Nested(VerdictInputSchema),
        required=True,
        validate=ma.validate.Length(min=1, max=len(checklist.CRITERIA)),
    )


class ApplicationSchema(StrictSchema):
    """Body of ``POST /api/v1/seal/application``."""

    note = Text(multiline=True, load_default=None, validate=ma.validate.Length(max=1000))


class ApplicationStateSchema(ma.Schema):
    """An application's standing."""

    status = ma.fields.String()
    unmet_mandatory = ma.fields.List(ma.fields.String())


class RuleSchema(ma.Schema):
    """A published rule that suspends an active seal automatically."""

    id = ma.fields.String()
    description = ma.fields.String()
    threshold = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Raw())  # numbers


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
    automatic = ma.fields.Boolean()
    rule = ma.fields.String(allow_none=True)


@blp.route("/seal/criteria")
class Criteria(MethodView):
    """The certification criteria."""

    @blp.response(200, CriterionSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """What a shop must show to earn the seal: each criterion's area, source, whether
        it binds (``mandatory``) and whether the site check judges it (``automatic``)."""
        return checklist.criteria()


@blp.route("/seal/rules")
class Rules(MethodView):
    """The monitoring rules."""

    @blp.response(200, RuleSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """The rules that suspend an active seal automatically, with their thresholds."""
        return [rule.as_dict() for rule in monitor.rules()]


@blp.route("/merchants/<string:slug>/seal/criteria")
class MerchantCriteria(MethodView):
    """A merchant's verdicts, criterion by criterion."""

    @blp.response(200, CriterionVerdictSchema(many=True))
    def get(self, slug: str) -> list[dict[str, Any]]:
        """Every criterion with the certifier's verdict on this shop and its date (public)."""
        return service.criterion_reviews(merchant_or_404(slug))

    @blp.requires(staff_required(Role.ADMIN, Role.CERTIFIER), STAFF_SECURITY)
    @blp.arguments(VerdictsSchema)
    @blp.response(200, CriterionVerdictSchema(many=True))
    def put(self, data: dict[str, Any], slug: str) -> list[dict[str, Any]]:
        """Set verdicts, all or none; each change is a log event. Setting an automatic
        criterion overrides the site check; ``pending`` hands it back to the check."""
        merchant = merchant_or_404(slug)
        changes = [
            service.VerdictChange(v["id"], v["verdict"], v["note"], v["evidence_url"])
            for v in data["verdicts"]
        ]
        service.set_verdicts(merchant, changes, current_staff())
        db.session.commit()
        return service.criterion_reviews(merchant)


@blp.route("/seal/application")
class Application(MethodView):
    """A merchant's application for the seal."""

    @blp.requires(merchant_required, MERCHANT_SECURITY)
    @blp.arguments(ApplicationSchema)
    @blp.response(201, ApplicationStateSchema)
    @blp.alt_response(409, description="Already pending or active, or the domain is unproven")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Apply for the seal; staff are emailed. The answer lists the mandatory criteria
        that do not pass yet (their verdicts: ``GET /merchants/{slug}/seal/criteria``)."""
        merchant = current_merchant()
        service.apply(merchant, (data["note"] or "").strip())
        db.session.commit()
        return service.application_state(merchant)


@blp.route("/merchants/<string:slug>/seal")
class SealDecisionView(MethodView):
    """Staff decisions about a seal."""

    @blp.requires(staff_required(Role.ADMIN, Role.CERTIFIER), STAFF_SECURITY)
    @blp.arguments(DecisionCreateSchema)
    @blp.response(200, SealSummarySchema)
    @blp.alt_response(
        409,
        description="The action does not apply to the current status, or (approve, reinstate) "
        "mandatory criteria do not pass: ``errors.json.criteria`` lists them",
    )
    def post(self, data: dict[str, Any], slug: str) -> dict[str, Any]:
        """Approve, suspend, revoke or reinstate a seal, with a public reason."""
        merchant = merchant_or_404(slug)
        service.decide(
            merchant,
            service.Action(data["action"]),
            data["reason"].strip(),
            current_staff(),
            data["valid_until"],
        )
        db.session.commit()
        return service.summary(merchant)


@blp.route("/merchants/<string:slug>/seal/history")
class SealHistory(MethodView):
    """The public history of a seal."""

    @blp.response(200, DecisionSchema(many=True))
    def get(self, slug: str) -> list[Any]:
        """Every decision with its public reason, oldest first."""
        return service.history(merchant_or_404(slug))
