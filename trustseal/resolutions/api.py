"""The resolution loop's API: the consumer's answer, with the single-use token."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView

from trustseal.api.blueprint import Blueprint
from trustseal.api.fields import StrictSchema, Text
from trustseal.api.limits import public_write
from trustseal.extensions import db
from trustseal.resolutions import service

blp = Blueprint(
    "resolutions", __name__, url_prefix="/api/v1/resolutions", description="Resolution loop"
)

MAX_COMMENT = 2000


class ResolutionCreateSchema(StrictSchema):
    """Body of ``POST /api/v1/resolutions``."""

    token = ma.fields.String(required=True, validate=ma.validate.Length(min=10, max=200))
    resolved = ma.fields.Boolean(required=True, truthy={True}, falsy={False})
    rating = ma.fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        validate=ma.validate.Range(min=1, max=5),
        metadata={"description": "an updated rating, for a review only"},
    )
    comment = Text(
        load_default=None,
        allow_none=True,
        multiline=True,
        validate=ma.validate.Length(max=MAX_COMMENT),
        metadata={
            "description": "for a review: shown beside the original; for a book entry: "
            "private, for the merchant"
        },
    )


class ResolutionSchema(ma.Schema):
    """The recorded answer."""

    subject = ma.fields.String(metadata={"description": "review | book"})
    resolved = ma.fields.Boolean()
    log_index = ma.fields.Integer(metadata={"description": "the leaf that logs it"})


@blp.route("")
class Resolutions(MethodView):
    """The consumer's answer to "was it resolved?"."""

    @public_write  # outermost: a request is counted before anything else reads it
    @blp.arguments(ResolutionCreateSchema)
    @blp.response(201, ResolutionSchema)
    @blp.alt_response(404, description="Unknown token")
    @blp.alt_response(409, description="The link was used already, or the review was removed")
    @blp.alt_response(410, description="The link expired")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Say once whether the merchant's answer resolved the case; for a review, an
        updated rating and text may be added (both logged, shown beside the original)."""
        outcome = service.Outcome(data["resolved"], data["rating"], data["comment"] or None)
        recorded = service.submit(data["token"], outcome)
        db.session.commit()
        return recorded
