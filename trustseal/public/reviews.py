"""The shopper's view of a shop: its public profile with the reviews, and the review form
of an invitation link."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_babel import get_locale

from trustseal.api.fields import refused_for_hidden_characters
from trustseal.api.pagination import InvalidCursor, decode_cursor
from trustseal.api.uploads import allow_upload
from trustseal.badging import service as badging
from trustseal.book import service as book
from trustseal.extensions import db
from trustseal.media import images
from trustseal.merchants import service as merchants
from trustseal.reviews import presenters, service
from trustseal.reviews.presenters import history_bars
from trustseal.reviews.schemas import ReviewCreateSchema
from trustseal.seals import service as seals

blp = Blueprint("public_reviews", __name__)

FORM_UPLOAD_LIMIT = service.MAX_PHOTOS * images.MAX_BYTES + 1024 * 1024
allow_upload("public_reviews.review_form", FORM_UPLOAD_LIMIT)
PAGE_SIZE = 20


@blp.get("/m/<slug>")
def profile(slug: str) -> str:
    """A merchant's public profile: score, history, reviews with answers and tombstones."""
    merchant = merchants.get_public(slug)
    if merchant is None:
        abort(404)
    rating = request.args.get("rating", type=int)
    if rating is not None and not 1 <= rating <= 5:
        rating = None
    cursor = request.args.get("cursor")
    if cursor is not None:
        try:
            decode_cursor(cursor)
        except InvalidCursor:
            cursor = None
    summary = service.merchant_score(merchant)
    page = service.reviews_page(merchant.id, PAGE_SIZE, cursor, rating)
    profile_url = url_for("public_reviews.profile", slug=slug, _external=False)
    base = current_app.config["TRUSTSEAL_BASE_URL"]
    return render_template(
        "profile.html",
        merchant=merchant,
        summary=summary,
        reviews=page["items"],
        next_cursor=page["next_cursor"],
        rating=rating,
        chart=history_bars(summary["history"]),
        json_ld=presenters.json_ld(merchant, summary, page["items"], base + profile_url),
        awaiting=presenters.awaiting_response,
        verification=presenters.verification_text,
        photo=service.photo_json,
        snippets=badging.embed_snippets(merchant, str(get_locale() or "es")),
        complaints=book.complaints_summary(merchant),
        criteria=seals.criterion_reviews(merchant),
        praise=[(book.public_name(e), e.detail, e.filed_at) for e in book.praise(merchant, 5)],
    )


def _closed_page(error: service.ReviewError) -> tuple[str, int]:
    return render_template("review_closed.html", message=str(error), code=error.code), error.code


@blp.route("/r/<token>", methods=["GET", "POST"])
def review_form(token: str) -> Any:
    """The review form of an invitation link (works without JavaScript)."""
    try:
        purchase, merchant = service.invitation_context(token)
    except service.ReviewError as error:
        return _closed_page(error)
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        values = {
            k: request.form.get(k, "")
            for k in ("rating", "process_rating", "title", "body", "suggestion", "display_name")
        }
        uploads = [f for f in request.files.getlist("photos") if f and f.filename]
        try:
            data = ReviewCreateSchema().load(
                {
                    "token": token,
                    **{k: v for k, v in values.items() if v != ""},
                    **{
                        k: int(values[k])
                        for k in ("rating", "process_rating")
                        if values[k].isdigit()
                    },
                }
            )
        except ma.ValidationError as invalid:
            errors = {
                k: v if isinstance(v, list) else [str(v)]
                for k, v in invalid.normalized_messages().items()
            }
            data = {}
        photos = []
        if len(uploads) > service.MAX_PHOTOS:
            errors["photos"] = ["too_many"]
        for upload in uploads[: service.MAX_PHOTOS]:
            try:
                photos.append(images.process_photo(upload.read()))
            except images.ImageRejected as rejected:
                errors.setdefault("photos", []).append(str(rejected.code))
        if not errors:
            data.pop("token")
            try:
                submitted = service.submit(
                    token, photos=tuple(photos), client_address=request.remote_addr, **data
                )
            except service.ReviewError as error:
                db.session.rollback()
                return _closed_page(error)
            db.session.commit()
            return render_template(
                "review_done.html",
                merchant=merchant,
                review=submitted.review,
                verification=presenters.verification_text,
                receipt=submitted.receipt,
            ), 201
    return render_template(
        "review_form.html",
        merchant=merchant,
        purchase=purchase,
        values=values,
        errors=errors,
        hidden_characters=refused_for_hidden_characters(errors),
        default_name=service.default_display_name(purchase.customer_name),
        max_photos=service.MAX_PHOTOS,
    ), (422 if errors else 200)
