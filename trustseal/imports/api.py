"""The imports API: upload a file (merchant), follow its import (merchant), read a shop's
imported reviews (public), and remove or restore one (certifier staff)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import request
from flask.views import MethodView

from trustseal import i18n
from trustseal.api.auth import (
    MERCHANT_SECURITY,
    STAFF_SECURITY,
    current_merchant_id,
    current_staff,
    merchant_required,
    staff_required,
)
from trustseal.api.blueprint import Blueprint
from trustseal.api.errors import abort
from trustseal.api.fields import StrictSchema, Text, UTCDateTime
from trustseal.api.lookups import merchant_or_404
from trustseal.api.pagination import InvalidCursor, PageArgsSchema, page_schema
from trustseal.api.uploads import allow_upload
from trustseal.extensions import db
from trustseal.imports import service
from trustseal.imports.models import ReviewImport
from trustseal.reviews.products import PRODUCT_ID_MAX
from trustseal.reviews.service import RemovalReason
from trustseal.staff.service import Role

blp = Blueprint("imports", __name__, url_prefix="/api/v1/imports", description="Review imports")
merchant_blp = Blueprint(
    "merchant_imports", __name__, url_prefix="/api/v1/merchants", description="Imported reviews"
)
moderation_blp = Blueprint(
    "imported_reviews",
    __name__,
    url_prefix="/api/v1/imported-reviews",
    description="Staff moderation of imported reviews",
)

UPLOAD_LIMIT = service.MAX_FILE_BYTES + 64 * 1024  # the file and its multipart envelope
allow_upload("imports.ReviewImports", UPLOAD_LIMIT)


class ImportStartedSchema(ma.Schema):
    """An upload accepted: its import is queued."""

    import_id = ma.fields.Integer()
    status = ma.fields.String()
    format = ma.fields.String(metadata={"description": "trustseal | judgeme | yotpo | trustpilot"})
    total = ma.fields.Integer(metadata={"description": "review rows in the file"})


class RowErrorSchema(ma.Schema):
    """A row left out and why (``row`` as a spreadsheet numbers it: the header is 1)."""

    row = ma.fields.Integer()
    code = ma.fields.String()
    message = ma.fields.String()


class ImportSchema(ma.Schema):
    """An import and where it stands."""

    id = ma.fields.Integer()
    status = ma.fields.String(metadata={"description": "queued | running | done | failed"})
    format = ma.fields.String()
    filename = ma.fields.String()
    total = ma.fields.Integer()
    processed = ma.fields.Integer()
    imported = ma.fields.Integer()
    duplicates = ma.fields.Integer()
    error_count = ma.fields.Integer(metadata={"description": "rows left out, duplicates too"})
    errors = ma.fields.List(
        ma.fields.Nested(RowErrorSchema),
        metadata={"description": f"the first {service.MAX_ERRORS_KEPT} rows left out"},
    )
    failure = ma.fields.String(allow_none=True)
    created_at = UTCDateTime()
    started_at = UTCDateTime(allow_none=True)
    finished_at = UTCDateTime(allow_none=True)


class ImportedReviewSchema(ma.Schema):
    """An imported review: not verified, never counted; once removed by the certifier, a
    tombstone (status, reason and time; no rating, text or salt)."""

    id = ma.fields.Integer()
    rating = ma.fields.Integer(allow_none=True)
    title = ma.fields.String(allow_none=True)
    body = ma.fields.String(allow_none=True)
    author = ma.fields.String(allow_none=True)
    product_id = ma.fields.String(allow_none=True)
    reviewed_at = UTCDateTime(metadata={"description": "the date the provider gave it"})
    verified = ma.fields.Boolean(metadata={"description": "always false"})
    source = ma.fields.String(metadata={"description": "always import"})
    format = ma.fields.String()
    log_index = ma.fields.Integer(metadata={"description": "its review.imported leaf"})
    salt = ma.fields.String(allow_none=True)
    status = ma.fields.String(metadata={"description": "published | removed"})
    removal_reason = ma.fields.String(
        allow_none=True,
        metadata={"description": " | ".join(r.value for r in RemovalReason)},
    )
    removed_at = UTCDateTime(allow_none=True)


class ImportedModerationSchema(StrictSchema):
    """Body of ``POST /api/v1/imported-reviews/{id}/moderation``."""

    action = ma.fields.String(required=True, validate=ma.validate.OneOf(["remove", "restore"]))
    reason = Text(
        required=True,
        blank=False,
        validate=ma.validate.Length(max=service.MAX_REASON),
        metadata={
            "description": "remove: " + " | ".join(r.value for r in RemovalReason) + "; "
            "restore: why, in words"
        },
    )


ImportedReviewPageSchema = page_schema(ImportedReviewSchema, "ImportedReviewPage")


class ImportedListArgsSchema(PageArgsSchema):
    """Query arguments of a shop's imported reviews."""

    product_id = Text(load_default=None, validate=ma.validate.Length(min=1, max=PRODUCT_ID_MAX))


def present_item(item: service.ImportedReviewItem, salts: dict[int, bytes]) -> dict[str, Any]:
    """Shape an imported review for :class:`ImportedReviewSchema` (``salts``: those of
    its page, :func:`service.salts`)."""
    salt = salts.get(item.log_index)
    return {
        **vars(item),
        "verified": False,
        "source": service.SOURCE,
        "salt": salt.hex() if salt is not None else None,
    }


def present(record: ReviewImport) -> dict[str, Any]:
    """Shape an import for :class:`ImportSchema` (messages in English, like the API's)."""
    with i18n.in_language("en"):
        errors = [
            {"row": p.row, "code": p.problem.value, "message": service.describe(p)}
            for p in service.problems(record)
        ]
    return {
        "id": record.id,
        "status": record.status,
        "format": record.format,
        "filename": record.filename,
        "total": record.total,
        "processed": record.processed,
        "imported": record.imported,
        "duplicates": record.duplicates,
        "error_count": record.error_count,
        "errors": errors,
        "failure": record.failure,
        "created_at": record.created_at,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
    }


@blp.route("/reviews")
class ReviewImports(MethodView):
    """Uploads of review files."""

    @blp.requires(merchant_required, MERCHANT_SECURITY)
    @blp.doc(
        requestBody={
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                }
            }
        },
    )
    @blp.response(202, ImportStartedSchema)
    @blp.alt_response(409, description="Another import of the shop is queued or running")
    @blp.alt_response(413, description="Over 20 MB or 50,000 rows")
    @blp.alt_response(415, description="The file is not UTF-8 CSV text (binary, another encoding)")
    @blp.alt_response(422, description="No file, a header of no accepted format, or no rows")
    def post(self) -> dict[str, Any]:
        """Import reviews from a CSV file (multipart field ``file``): trustseal's columns
        (date, rating, title, body, author, product_id) or the export of Judge.me, Yotpo
        or Trustpilot. A job reads it; follow it at ``GET /api/v1/imports/{id}``."""
        upload = request.files.get("file")  # none in a body that is not multipart
        if upload is None:
            abort(
                422,
                message="Send the file as the field 'file' of a multipart/form-data body.",
                errors={"files": {"file": ["Missing data for required field."]}},
            )
        started = service.start(current_merchant_id(), upload.filename or "", upload.read())
        db.session.commit()
        return {
            "import_id": started.id,
            "status": started.status,
            "format": started.format,
            "total": started.total,
        }


@blp.route("/<id:import_id>")
class ReviewImportById(MethodView):
    """One import."""

    @blp.requires(merchant_required, MERCHANT_SECURITY)
    @blp.response(200, ImportSchema)
    def get(self, import_id: int) -> dict[str, Any]:
        """Its status, progress and the rows left out (the shop's own imports only)."""
        return present(service.get(current_merchant_id(), import_id))


@merchant_blp.route("/<string:slug>/imported-reviews")
class MerchantImportedReviews(MethodView):
    """A shop's imported reviews."""

    @merchant_blp.arguments(ImportedListArgsSchema, location="query")
    @merchant_blp.response(200, ImportedReviewPageSchema)
    def get(self, args: dict[str, Any], slug: str) -> dict[str, Any]:
        """Reviews brought from the shop's previous provider, newest first by their date:
        not verified by trustseal, never in the score or the badge."""
        merchant = merchant_or_404(slug)
        try:
            items, next_cursor = service.imported_page(
                merchant.id, args["product_id"], args["limit"], args["cursor"]
            )
        except InvalidCursor:
            abort(422, message="Not a cursor from this list.")
        salts = service.salts(items)
        return {"items": [present_item(item, salts) for item in items], "next_cursor": next_cursor}


@moderation_blp.route("/<id:imported_review_id>/moderation")
class ImportedReviewModeration(MethodView):
    """Staff moderation of an imported review."""

    @moderation_blp.requires(
        staff_required(Role.ADMIN, Role.CERTIFIER, Role.MODERATOR), STAFF_SECURITY
    )
    @moderation_blp.arguments(ImportedModerationSchema)
    @moderation_blp.response(200, ImportedReviewSchema)
    @moderation_blp.alt_response(404, description="No such imported review")
    @moderation_blp.alt_response(409, description="Removed (or published) already")
    def post(self, data: dict[str, Any], imported_review_id: int) -> dict[str, Any]:
        """Remove an imported review for a published reason (its page then shows a
        tombstone with the reason) or restore it; each decision is an
        ``imported.removed`` / ``imported.restored`` leaf. The shop itself cannot."""
        item = service.moderate(imported_review_id, current_staff(), data["action"], data["reason"])
        db.session.commit()
        return present_item(item, service.salts([item]))
