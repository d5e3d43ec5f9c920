"""The reviews and score API blueprints (thin: parse, call the service, dump)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView

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
from trustseal.api.limits import public_write
from trustseal.api.lookups import merchant_or_404
from trustseal.api.pagination import PageArgsSchema
from trustseal.api.uploads import allow_upload
from trustseal.extensions import db
from trustseal.reviews import presenters, products, service
from trustseal.reviews.models import Review
from trustseal.reviews.same_origin import cross_site_refusal
from trustseal.reviews.schemas import (
    FlagCreateSchema,
    FlagSchema,
    HelpfulSchema,
    ModerationSchema,
    PhotoSchema,
    ProductReviewPageSchema,
    ProductSummarySchema,
    ResponseBodySchema,
    ResponseSchema,
    ReviewCreatedSchema,
    ReviewCreateSchema,
    ReviewListArgsSchema,
    ReviewPageSchema,
    ReviewSchema,
)
from trustseal.staff.service import Role

blp = Blueprint("reviews", __name__, url_prefix="/api/v1/reviews", description="Reviews")
merchant_blp = Blueprint(
    "merchant_reviews", __name__, url_prefix="/api/v1/merchants", description="Reviews and score"
)

PHOTO_UPLOAD_LIMIT = 11 * 1024 * 1024
allow_upload("reviews.ReviewPhotos", PHOTO_UPLOAD_LIMIT)


def _review(review_id: int) -> Review:
    review = service.get(review_id)
    if review is None:
        abort(404, message="No such review.")
    return review


@blp.route("")
class Reviews(MethodView):
    """Review submission."""

    @public_write  # outermost: a request is counted before anything else reads it
    @blp.arguments(ReviewCreateSchema)
    @blp.response(201, ReviewCreatedSchema)
    @blp.alt_response(404, description="Unknown token")
    @blp.alt_response(409, description="The purchase was reviewed already")
    @blp.alt_response(410, description="The invitation expired or the order was cancelled")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Publish a verified-purchase review with an invitation token."""
        token = data.pop("token")
        submitted = service.submit(token, client_address=request.remote_addr, **data)
        db.session.commit()
        return {
            "id": submitted.review.id,
            "status": submitted.review.status,
            "receipt": submitted.receipt,
            "photo_upload": f"/api/v1/reviews/{submitted.review.id}/photos",
            "masked": list(submitted.masked),
        }


@blp.route("/<id:review_id>")
class ReviewById(MethodView):
    """One review."""

    @blp.response(200, ReviewSchema)
    def get(self, review_id: int) -> dict[str, Any]:
        """Return a review as the public sees it."""
        return presenters.review_json(_review(review_id))


@blp.route("/<id:review_id>/photos")
class ReviewPhotos(MethodView):
    """Photos of a review."""

    @public_write  # outermost: a request is counted before anything else reads it
    @blp.doc(
        parameters=[
            {
                "in": "header",
                "name": "X-Review-Token",
                "required": True,
                "schema": {"type": "string"},
            }
        ],
        requestBody={
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"photo": {"type": "string", "format": "binary"}},
                        "required": ["photo"],
                    }
                }
            }
        },
    )
    @blp.response(201, PhotoSchema)
    @blp.alt_response(413, description="Over 10 MB")
    @blp.alt_response(415, description="Not JPEG, PNG or WebP")
    def post(self, review_id: int) -> dict[str, Any]:
        """Attach a photo (JPEG/PNG/WebP, ≤ 10 MB, ≤ 5 per review, within 24 h)."""
        token = request.headers.get("X-Review-Token", "")
        if not token:
            abort(401, message="Send the review token in the X-Review-Token header.")
        upload = request.files.get("photo")
        if upload is None:
            abort(
                422,
                message="Send the photo as the multipart field 'photo'.",
                errors={"files": {"photo": ["Missing data for required field."]}},
            )
        _, shown = service.add_photo(review_id, token, upload.read())
        db.session.commit()
        return shown


@blp.route("/<id:review_id>/helpful")
class ReviewHelpful(MethodView):
    """ "Helpful" votes."""

    @public_write  # outermost: a request is counted before anything else reads it
    @blp.response(201, HelpfulSchema)
    @blp.alt_response(200, schema=HelpfulSchema, description="This visitor had voted already")
    @blp.alt_response(403, description="Sent by a page of another site")
    @blp.alt_response(404, description="Unknown or removed review")
    def post(self, review_id: int) -> Any:
        """Say a review was helpful: one vote per visitor (no account, no cookie); the
        same visitor again is 200 with the same count. Not from another site's pages."""
        refusal = cross_site_refusal()
        if refusal:
            abort(403, message=refusal)
        vote = service.vote_helpful(
            review_id, address=request.remote_addr, user_agent=request.user_agent.string
        )
        db.session.commit()
        return {"helpful_count": vote.helpful_count}, (201 if vote.counted else 200)


@blp.route("/<id:review_id>/response")
class ReviewResponseView(MethodView):
    """The merchant's public answer."""

    @blp.requires(merchant_required, MERCHANT_SECURITY)
    @blp.arguments(ResponseBodySchema)
    @blp.response(200, ResponseSchema)
    def put(self, data: dict[str, Any], review_id: int) -> Any:
        """Answer a review in public, or edit the answer (every version is kept)."""
        response = service.respond(review_id, current_merchant_id(), data["body"])
        db.session.commit()
        return response


@blp.route("/<id:review_id>/flags")
class ReviewFlags(MethodView):
    """Merchant flags."""

    @blp.requires(merchant_required, MERCHANT_SECURITY)
    @blp.arguments(FlagCreateSchema)
    @blp.response(202, FlagSchema)
    def post(self, data: dict[str, Any], review_id: int) -> Any:
        """Ask staff to look at a review; it stays visible meanwhile."""
        reason = service.FlagReason(data["reason"])
        entry = service.flag(review_id, current_merchant_id(), reason, data["detail"])
        db.session.commit()
        return entry


@blp.route("/<id:review_id>/moderation")
class ReviewModeration(MethodView):
    """Staff moderation."""

    @blp.requires(staff_required(Role.ADMIN, Role.CERTIFIER, Role.MODERATOR), STAFF_SECURITY)
    @blp.arguments(ModerationSchema)
    @blp.response(200, ReviewSchema)
    def post(self, data: dict[str, Any], review_id: int) -> dict[str, Any]:
        """Remove a review for a published reason, restore it, or hide passages of its
        text (redact) for a published reason; each is logged."""
        if data["action"] == "redact":
            review = service.redact(review_id, current_staff(), data["passages"], data["reason"])
        else:
            review = service.moderate(review_id, current_staff(), data["action"], data["reason"])
        db.session.commit()
        return presenters.review_json(_review(review.id))


@merchant_blp.route("/<string:slug>/reviews")
class MerchantReviews(MethodView):
    """A merchant's reviews."""

    @merchant_blp.arguments(ReviewListArgsSchema, location="query")
    @merchant_blp.response(200, ReviewPageSchema)
    def get(self, args: dict[str, Any], slug: str) -> dict[str, Any]:
        """List reviews newest first by publication time, removed ones as tombstones, or
        by rating or helpful votes; filter by rating, photos and words of the text."""
        merchant = merchant_or_404(slug)
        wanted = service.ReviewFilter(
            rating=args["rating"],
            with_photos=bool(args["with_photos"]),
            query=args["q"],
            sort=service.Sort(args["sort"]),
        )
        page = service.reviews_page(merchant.id, args["limit"], args["cursor"], wanted)
        return {**page, "items": presenters.reviews_json(page["items"])}


PRODUCT = "<path:product_id>"  # a platform's id may hold "/" (percent-encoded or not)


def _product_id_or_404(product_id: str) -> str:
    if not products.valid_product_id(product_id):
        abort(404, message="No product has this id.")
    return product_id


@merchant_blp.route(f"/<string:slug>/products/{PRODUCT}/summary")
class ProductSummaryView(MethodView):
    """A product's numbers."""

    @merchant_blp.response(200, ProductSummarySchema)
    @merchant_blp.alt_response(404, description="Unknown shop, or no review rated the product")
    def get(self, slug: str, product_id: str) -> dict[str, Any]:
        """A product's mean rating, count and distribution, from verified purchases only
        (imported reviews never count)."""
        merchant = merchant_or_404(slug)
        found = products.summary(merchant.id, _product_id_or_404(product_id))
        if found is None:
            abort(404, message="No review rated this product.")
        return presenters.product_summary_json(found)


@merchant_blp.route(f"/<string:slug>/products/{PRODUCT}/reviews")
class ProductReviewsView(MethodView):
    """A product's reviews."""

    @merchant_blp.arguments(PageArgsSchema, location="query")
    @merchant_blp.response(200, ProductReviewPageSchema)
    def get(self, args: dict[str, Any], slug: str, product_id: str) -> dict[str, Any]:
        """List a product's published reviews, newest first (an empty list for a product
        nobody rated)."""
        merchant = merchant_or_404(slug)
        items, cursor = products.reviews_page(
            merchant.id, _product_id_or_404(product_id), args["limit"], args["cursor"]
        )
        return {"items": items, "next_cursor": cursor}
