"""The shopper's view of a shop: its public profile with the reviews, and the review form
of an invitation link."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import marshmallow as ma
from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from trustseal.api.fields import forbidden_character, refused_for_hidden_characters
from trustseal.api.limits import public_write
from trustseal.api.uploads import allow_upload
from trustseal.book import service as book
from trustseal.extensions import db
from trustseal.imports import service as imports
from trustseal.media import images
from trustseal.merchants import service as merchants
from trustseal.reviews import presenters, products, service
from trustseal.reviews.personal_data import MASK
from trustseal.reviews.presenters import history_bars
from trustseal.reviews.same_origin import cross_site_refusal
from trustseal.reviews.schemas import ReviewCreateSchema
from trustseal.reviews.search import MAX_QUERY
from trustseal.seals import service as seals

if TYPE_CHECKING:
    from trustseal.merchants.models import Merchant

blp = Blueprint("public_reviews", __name__)

FORM_UPLOAD_LIMIT = service.MAX_PHOTOS * images.MAX_BYTES + 1024 * 1024
allow_upload("public_reviews.review_form", FORM_UPLOAD_LIMIT)
PAGE_SIZE = 20
IMPORTED_SHOWN = 10  # the most recent imported reviews on the profile (all: the API)
_YES = frozenset({"1", "true", "on", "yes"})


@dataclass(frozen=True)
class ProfileQuery:
    """What the profile's reviews section shows: filters, order and page number."""

    rating: int | None = None
    sort: service.Sort = service.Sort.RECENT
    q: str = ""
    with_photos: bool = False
    page: int = 1

    @classmethod
    def parse(cls, args: MultiDict[str, str]) -> ProfileQuery:
        """Read the query string leniently: a value out of range, unknown or unreadable
        falls back to its default (a link pasted wrong still shows the reviews)."""
        rating = args.get("rating", type=int)
        if rating is not None and not 1 <= rating <= 5:
            rating = None
        try:
            sort = service.Sort(args.get("sort", ""))
        except ValueError:
            sort = service.Sort.RECENT
        q = " ".join(args.get("q", "").split())[:MAX_QUERY]
        if forbidden_character(q):
            q = ""
        page = args.get("page", type=int) or 1
        return cls(
            rating=rating,
            sort=sort,
            q=q,
            with_photos=args.get("with_photos", "").lower() in _YES,
            page=max(page, 1),
        )

    def filter(self) -> service.ReviewFilter:
        """The reviews service's filter for this query."""
        return service.ReviewFilter(
            rating=self.rating, with_photos=self.with_photos, query=self.q or None, sort=self.sort
        )

    def params(self, **changes: Any) -> dict[str, Any]:
        """The query string of this view (with ``changes``), defaults left out."""
        view = replace(self, **changes)
        found: dict[str, Any] = {}
        if view.rating is not None:
            found["rating"] = view.rating
        if view.sort is not service.Sort.RECENT:
            found["sort"] = view.sort.value
        if view.q:
            found["q"] = view.q
        if view.with_photos:
            found["with_photos"] = 1
        if view.page > 1:
            found["page"] = view.page
        return found


@blp.get("/m/<slug>")
def profile(slug: str) -> str:
    """A merchant's public profile: score, history, reviews with answers and tombstones —
    sorted, searched and filtered, on numbered pages. Sets no cookie."""
    merchant = merchants.get_public(slug)
    if merchant is None:
        abort(404)
    query = ProfileQuery.parse(request.args)
    summary = service.merchant_score(merchant)
    page = service.reviews_numbered(merchant.id, query.filter(), query.page, PAGE_SIZE)
    query = replace(query, page=page.page)
    profile_url = url_for("public_reviews.profile", slug=slug, _external=False)
    base = current_app.config["TRUSTSEAL_BASE_URL"]

    def link(**changes: Any) -> str:
        """This profile's URL with the reviews' query changed (back to page 1 unless a
        page is given), pointing at the reviews."""
        changes.setdefault("page", 1)
        params = query.params(**changes)
        return url_for("public_reviews.profile", slug=slug, _anchor="reviews", **params)

    def helpful_url(review_id: int) -> str:
        """Where a review's "Helpful" button posts (it comes back to this very view)."""
        return url_for("public_reviews.helpful", slug=slug, review_id=review_id, **query.params())

    return render_template(
        "profile.html",
        merchant=merchant,
        summary=summary,
        reviews=page.items,
        rated_products=products.rated_products(merchant.id, [r.id for r in page.items]),
        page=page,
        query=query,
        sorts=[
            ("recent", _("Most recent")),
            ("highest", _("Highest rating")),
            ("lowest", _("Lowest rating")),
            ("helpful", _("Most helpful")),
        ],
        page_numbers=presenters.page_numbers(page.page, page.pages),
        link=link,
        helpful_url=helpful_url,
        voted=request.args.get("voted", type=int),
        rating=query.rating,
        chart=history_bars(summary["history"], width=360, height=150, top=14, bottom=28),
        json_ld=presenters.json_ld(merchant, summary, page.items, base + profile_url),
        awaiting=presenters.awaiting_response,
        verification=presenters.verification_text,
        photo=service.photo_json,
        criteria=seals.criterion_reviews(merchant),
        # apart from the verified ones, never counted: reviews from the previous provider
        # removed ones as tombstones, as in the public list
        imported=imports.imported_page(merchant.id, None, IMPORTED_SHOWN, None)[0],
        imported_total=imports.imported_count(merchant.id, with_removed=True),
        # a shop outside Peru has no Libro de Reclamaciones: no book section, no link to one
        **_book_section(merchant),
    )


def _book_section(merchant: Merchant) -> dict[str, Any]:
    """What the profile's book section shows: nothing for a shop outside Peru."""
    if not book.offered(merchant):
        return {"book_offered": False, "complaints": None, "praise": []}
    return {
        "book_offered": True,
        "complaints": book.complaints_summary(merchant),
        "praise": [(book.public_name(e), e.detail, e.filed_at) for e in book.praise(merchant, 5)],
    }


@blp.post("/m/<slug>/r/<id:review_id>/helpful")
@public_write
def helpful(slug: str, review_id: int) -> Response:
    """The profile's "Helpful" button, without JavaScript: count the vote, then go back
    to the review (303) in the view it was cast from.

    No CSRF token: the profile sets no cookie (it stays cacheable and private), so there
    is no session to keep a token in, and the route is exempt from CSRFProtect (see
    :func:`_exempt_from_csrf`). What a token would stop — other sites making their
    visitors' browsers vote — is refused instead from what the browser itself says of the
    request's origin (``Sec-Fetch-Site``, ``Origin``: :mod:`trustseal.reviews.same_origin`).
    """
    if cross_site_refusal():
        abort(403, description=_("Votes are accepted from this site's own pages only."))
    merchant = merchants.get_public(slug)
    if merchant is None:
        abort(404)
    try:
        service.vote_helpful(
            review_id,
            address=request.remote_addr,
            user_agent=request.user_agent.string,
            merchant_id=merchant.id,
        )
    except service.ReviewError:
        db.session.rollback()
        abort(404)
    db.session.commit()
    back = ProfileQuery.parse(request.args).params()
    target = url_for(
        "public_reviews.profile", slug=slug, voted=review_id, _anchor=f"r{review_id}", **back
    )
    return redirect(target, code=303)


@blp.record_once
def _exempt_from_csrf(state: Any) -> None:
    """The "Helpful" button posts without a CSRF token (the profile has no session to
    keep one in); :func:`helpful` checks the request's origin instead. Said here, by
    name, where the view is — not by a list elsewhere that could drift from it."""
    state.app.extensions["csrf"].exempt(helpful)


def _receipt_page(merchant: Any, submitted: service.Submitted) -> str:
    """The page after a review is published: what was published (personal data masked,
    and why), and the log receipt in plain words with the links to check it — never the
    raw JSON of the API."""
    review, receipt = submitted.review, submitted.receipt
    return render_template(
        "review_done.html",
        merchant=merchant,
        review=review,
        photo_count=len(review.photos),
        verification=presenters.verification_text,
        receipt=receipt,
        masked=presenters.masked_words(submitted.masked),
        mask=MASK,
        links={
            "profile": url_for(
                "public_reviews.profile", slug=merchant.slug, _anchor=f"r{review.id}"
            ),
            "review": f"/api/v1/reviews/{review.id}",
            "proof": "/api/v1/log/proof/inclusion?index={}&tree_size={}".format(
                receipt["leaf_index"], receipt["tree_size"]
            ),
            "entry": "/api/v1/log/entries?start={0}&end={0}".format(receipt["leaf_index"]),
            "transparency": "/transparency",
        },
    )


def _closed_page(error: service.ReviewError) -> tuple[str, int]:
    return render_template("review_closed.html", message=str(error), code=error.code), error.code


TEXT_FIELDS = ("title", "body", "suggestion", "display_name")
NUMBER_FIELDS = ("rating", "process_rating", "recommend")
DIMENSION_FIELDS = {f"dimension_{name}": name for name in service.DIMENSIONS}
FORM_FIELDS = (*TEXT_FIELDS, *NUMBER_FIELDS, "on_time", *DIMENSION_FIELDS)


def _typed_answers(values: dict[str, str]) -> dict[str, Any]:
    """The form's strings as the API's body: numbers as numbers, "yes"/"no" as booleans,
    the sub-ratings under ``dimensions``; what is left blank is not sent (a number field
    holding something else is sent as typed, for the schema to refuse)."""
    typed: dict[str, Any] = {k: values[k] for k in TEXT_FIELDS if values[k] != ""}
    for name in NUMBER_FIELDS:
        if values[name] != "":
            typed[name] = form_number(values[name])
    if values["on_time"] in ("yes", "no"):
        typed["on_time"] = values["on_time"] == "yes"
    dimensions = {
        name: form_number(values[field])
        for field, name in DIMENSION_FIELDS.items()
        if values[field] != ""
    }
    if dimensions:
        typed["dimensions"] = dimensions
    return typed


def form_number(value: str) -> int | str:
    """An answer of up to three ASCII digits as a number; anything else as typed (the
    schema refuses it; ``int`` would take "²" or a 5,000-digit string)."""
    return int(value) if re.fullmatch(r"[0-9]{1,3}", value) else value


@dataclass(frozen=True)
class ProductAnswers:
    """The form's product ratings: the values to show again, the API's ``products``
    list with the form field of each (``product-<n>``), and the errors by field."""

    values: dict[str, str]
    given: list[dict[str, Any]]
    fields: list[str]
    errors: dict[str, list[str]]


def _product_answers(form: Mapping[str, str], lines: Sequence[Any]) -> ProductAnswers:
    """Read ``product-<n>-rating`` and ``-comment`` for the n-th product of the purchase
    (a comment without stars, or stars out of range, is an error of that product)."""
    values: dict[str, str] = {}
    given: list[dict[str, Any]] = []
    fields: list[str] = []
    errors: dict[str, list[str]] = {}
    for position, line in enumerate(lines):
        key = f"product-{position}"
        rating = values[f"{key}-rating"] = form.get(f"{key}-rating", "")
        comment = values[f"{key}-comment"] = form.get(f"{key}-comment", "").strip()
        if rating == "":
            if comment:
                errors[key] = ["rating"]
            continue
        stars = form_number(rating)
        if not isinstance(stars, int) or not 1 <= stars <= 5:
            errors[key] = ["invalid"]
            continue
        given.append({"product_id": line.product_id, "rating": stars, "comment": comment or None})
        fields.append(key)
    return ProductAnswers(values, given, fields, errors)


@blp.route("/r/<token>", methods=["GET", "POST"])
def review_form(token: str) -> Any:
    """The review form of an invitation link (works without JavaScript)."""
    try:
        purchase, merchant = service.invitation_context(token)
    except service.ReviewError as error:
        return _closed_page(error)
    lines = products.products_of(purchase)
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        values = {k: request.form.get(k, "") for k in FORM_FIELDS}
        rated = _product_answers(request.form, lines)
        values |= rated.values
        errors = dict(rated.errors)
        uploads = [f for f in request.files.getlist("photos") if f and f.filename]
        try:
            answers = _typed_answers(values) | ({"products": rated.given} if rated.given else {})
            data = ReviewCreateSchema().load({"token": token, **answers})
        except ma.ValidationError as invalid:
            messages = invalid.normalized_messages()
            by_product = messages.pop("products", {})
            if isinstance(by_product, dict):  # problems of some products, by position
                for position, problems in by_product.items():
                    errors[rated.fields[position]] = [str(problems)]
            elif by_product:  # a problem of the list itself: shown on every product
                errors |= {field: [str(by_product)] for field in rated.fields}
            errors |= {k: v if isinstance(v, list) else [str(v)] for k, v in messages.items()}
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
            return _receipt_page(merchant, submitted), 201
    return render_template(
        "review_form.html",
        merchant=merchant,
        purchase=purchase,
        action=url_for("public_reviews.review_form", token=token, lang=request.args.get("lang")),
        values=values,
        errors=errors,
        hidden_characters=refused_for_hidden_characters(errors),
        default_name=service.default_display_name(purchase.customer_name),
        max_photos=service.MAX_PHOTOS,
        products=lines,
    ), (422 if errors else 200)
