"""marshmallow schemas of the reviews and score API."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from trustseal.api.fields import StrictSchema, Text, UTCDateTime
from trustseal.api.pagination import InvalidCursor, PageArgsSchema, page_schema
from trustseal.merchants.schemas import ComplaintsSummarySchema, SealSummarySchema
from trustseal.orders.schemas import MAX_ITEMS, VerificationSchema
from trustseal.reviews import listing
from trustseal.reviews.personal_data import MASK, Kind
from trustseal.reviews.products import MAX_COMMENT, PRODUCT_ID_MAX
from trustseal.reviews.search import MAX_QUERY
from trustseal.reviews.service import REDACTION_MARK, FlagReason, RemovalReason, Sort

MAX_BODY = 5000
_rating = ma.validate.Range(min=1, max=5)


class DimensionsSchema(StrictSchema):
    """Optional 1-5 sub-ratings of a review."""

    product = ma.fields.Integer(strict=True, validate=_rating, allow_none=True)
    delivery = ma.fields.Integer(strict=True, validate=_rating, allow_none=True)
    service = ma.fields.Integer(strict=True, validate=_rating, allow_none=True)


class ProductRatingSchema(StrictSchema):
    """One product of the purchase, rated."""

    product_id = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=PRODUCT_ID_MAX),
        metadata={"description": "a product id of the purchase's items"},
    )
    rating = ma.fields.Integer(required=True, strict=True, validate=_rating)
    comment = Text(
        load_default=None,
        allow_none=True,
        multiline=True,
        validate=ma.validate.Length(max=MAX_COMMENT),
        metadata={"description": "a few words on this product (public; personal data masked)"},
    )


class ReviewCreateSchema(StrictSchema):
    """Body of ``POST /api/v1/reviews``."""

    token = ma.fields.String(required=True, validate=ma.validate.Length(min=10, max=200))
    rating = ma.fields.Integer(required=True, strict=True, validate=_rating)
    process_rating = ma.fields.Integer(required=True, strict=True, validate=_rating)
    title = Text(load_default=None, allow_none=True, validate=ma.validate.Length(max=200))
    body = Text(
        required=True, multiline=True, blank=False, validate=ma.validate.Length(max=MAX_BODY)
    )
    suggestion = Text(
        load_default=None,
        allow_none=True,
        multiline=True,
        validate=ma.validate.Length(max=2000),
    )
    display_name = Text(load_default=None, allow_none=True, validate=ma.validate.Length(max=80))
    on_time = ma.fields.Boolean(
        load_default=None,
        allow_none=True,
        truthy={True},
        falsy={False},
        metadata={"description": "did it arrive by the date the shop promised?"},
    )
    dimensions = ma.fields.Nested(DimensionsSchema, load_default=None, allow_none=True)
    recommend = ma.fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        validate=ma.validate.Range(min=0, max=10),
        metadata={"description": "would you recommend this shop? 0 (no) to 10 (surely)"},
    )
    products = ma.fields.List(
        ma.fields.Nested(ProductRatingSchema),
        load_default=None,
        allow_none=True,
        validate=ma.validate.Length(max=MAX_ITEMS),
        metadata={
            "description": "optional ratings of the purchase's products, each at most once; "
            "each is a product.rated leaf"
        },
    )


class ReceiptSchema(ma.Schema):
    """Proof that the review is in the transparency log."""

    leaf_index = ma.fields.Integer()
    leaf_hash = ma.fields.String()
    tree_size = ma.fields.Integer()
    root_hash = ma.fields.String()
    inclusion_proof = ma.fields.List(ma.fields.String())
    timestamp = ma.fields.String()
    signature = ma.fields.String()
    kid = ma.fields.String()


class ReviewCreatedSchema(ma.Schema):
    """Answer to a review submission."""

    id = ma.fields.Integer()
    status = ma.fields.String()
    receipt = ma.fields.Nested(ReceiptSchema)
    photo_upload = ma.fields.String(metadata={"description": "where to POST photos"})
    masked = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf([k.value for k in Kind])),
        metadata={
            "description": "the kinds of personal data found in the title, body or display "
            f"name and hidden before publication (each shows as {MASK!r}; a display name "
            "holding any is replaced by the default one): email, phone (a Peruvian mobile "
            "number), dni (eight digits standing alone)"
        },
    )


class PhotoSchema(ma.Schema):
    """A review photo."""

    url = ma.fields.String()
    thumbnail_url = ma.fields.String()
    width = ma.fields.Integer()
    height = ma.fields.Integer()


class ResponseSchema(ma.Schema):
    """The merchant's public answer."""

    body = ma.fields.String()
    created_at = UTCDateTime()
    updated_at = UTCDateTime()


class ReviewUpdateSchema(ma.Schema):
    """The reviewer's answer to the resolution loop, shown beside the original."""

    rating = ma.fields.Integer(
        allow_none=True, metadata={"description": "the updated rating the score counts"}
    )
    body = ma.fields.String(allow_none=True)
    resolved = ma.fields.Boolean(metadata={"description": "did the answer resolve it?"})
    created_at = UTCDateTime()
    log_index = ma.fields.Integer(metadata={"description": "its review.updated leaf"})
    salt = ma.fields.String(
        allow_none=True, metadata={"description": "hex salt of the body's commitment"}
    )


class ReviewSchema(ma.Schema):
    """A review as anyone sees it (never an email; no text once removed)."""

    id = ma.fields.Integer()
    rating = ma.fields.Integer(allow_none=True)
    process_rating = ma.fields.Integer(allow_none=True)
    title = ma.fields.String(allow_none=True)
    body = ma.fields.String(allow_none=True)
    display_name = ma.fields.String(allow_none=True)
    verified_purchase = ma.fields.Boolean()
    created_at = UTCDateTime()
    photos = ma.fields.List(ma.fields.Nested(PhotoSchema))
    response = ma.fields.Nested(ResponseSchema, allow_none=True)
    update = ma.fields.Nested(ReviewUpdateSchema, allow_none=True)
    awaiting_response = ma.fields.Boolean()
    status = ma.fields.String()
    erased = ma.fields.Boolean(
        metadata={"description": "the text was erased at the customer's request"}
    )
    removal_reason = ma.fields.String(allow_none=True)
    removed_at = UTCDateTime(allow_none=True)
    log_index = ma.fields.Integer(
        allow_none=True, metadata={"description": "the index of its review.published leaf"}
    )
    on_time = ma.fields.Boolean(allow_none=True)
    dimensions = ma.fields.Nested(DimensionsSchema, allow_none=True)
    recommend = ma.fields.Integer(allow_none=True)
    text_log_index = ma.fields.Integer(
        allow_none=True,
        metadata={
            "description": "the leaf that commits to the title and body shown: log_index, "
            "or the latest review.redacted leaf once staff hid part of the text"
        },
    )
    redaction_reason = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "the published reason staff hid part of the text (each hidden "
            f"passage reads {REDACTION_MARK}); null when nothing was hidden"
        },
    )
    salt = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "hex salt of the text_sha256 commitments of the text_log_index "
            "leaf (SHA-256 of the salt followed by the UTF-8 text); null once erased or "
            "removed"
        },
    )
    verification = ma.fields.Nested(
        VerificationSchema,
        metadata={
            "description": "who vouches for the purchase reviewed: a platform (trustseal "
            "fetched the order from its API) or the merchant itself (declared: our API, the "
            "dashboard or a store webhook, whose secret the shop holds)"
        },
    )
    helpful_count = ma.fields.Integer(
        metadata={"description": "visitors who found the review helpful (one vote each)"}
    )


ReviewPageSchema = page_schema(ReviewSchema, "ReviewPageSchema")


class ReviewListArgsSchema(PageArgsSchema):
    """Query arguments of a merchant's review list."""

    rating = ma.fields.Integer(load_default=None, validate=_rating)
    with_photos = ma.fields.Boolean(load_default=None)
    sort = ma.fields.String(
        load_default=Sort.RECENT.value,
        validate=ma.validate.OneOf([s.value for s in Sort]),
        metadata={
            "description": "recent: newest first by publication time (the default); "
            "highest / lowest: by rating, then newest; helpful: most helpful votes first, "
            "then newest. A removed review comes last in the last three"
        },
    )
    q = Text(
        load_default=None,
        validate=ma.validate.Length(max=MAX_QUERY),
        metadata={
            "description": "words that must all occur in the title or body (case and "
            "accents ignored); lists published reviews only"
        },
    )

    # The reviews' cursor carries its order's position (the page's own format): it
    # replaces the generic check of PageArgsSchema.
    @ma.validates("cursor")
    def _valid_cursor(self, value: str | None, **kwargs: Any) -> None:
        if value is not None:
            try:
                listing.decode_cursor(value)
            except InvalidCursor as exc:
                raise ma.ValidationError("Not a cursor from this list.") from exc

    @ma.validates_schema
    def _cursor_of_this_order(self, data: dict[str, Any], **kwargs: Any) -> None:
        cursor = data.get("cursor")
        if cursor is None:
            return
        try:
            sort, _ = listing.decode_cursor(cursor)
        except InvalidCursor:
            return  # reported by the field's own check
        if sort.value != data.get("sort", Sort.RECENT.value):
            raise ma.ValidationError(
                "This cursor belongs to another sort order; start again without it.",
                field_name="cursor",
            )


class HelpfulSchema(ma.Schema):
    """Answer to a "helpful" vote."""

    helpful_count = ma.fields.Integer(
        metadata={"description": "the review's helpful votes, this one included"}
    )


class ResponseBodySchema(StrictSchema):
    """Body of ``PUT /api/v1/reviews/{id}/response``."""

    body = Text(
        required=True, multiline=True, blank=False, validate=ma.validate.Length(max=MAX_BODY)
    )


class FlagCreateSchema(StrictSchema):
    """Body of ``POST /api/v1/reviews/{id}/flags``."""

    reason = ma.fields.String(
        required=True, validate=ma.validate.OneOf([r.value for r in FlagReason])
    )
    detail = Text(
        load_default=None, allow_none=True, multiline=True, validate=ma.validate.Length(max=2000)
    )


class FlagSchema(ma.Schema):
    """A flag as recorded."""

    id = ma.fields.Integer()
    reason = ma.fields.String()
    status = ma.fields.String()
    created_at = UTCDateTime()


class ModerationSchema(StrictSchema):
    """Body of ``POST /api/v1/reviews/{id}/moderation``."""

    action = ma.fields.String(
        required=True, validate=ma.validate.OneOf(["remove", "restore", "redact"])
    )
    reason = Text(
        required=True,
        blank=False,
        validate=ma.validate.Length(max=300),
        metadata={
            "description": "remove and redact: " + " | ".join(r.value for r in RemovalReason)
        },
    )
    passages = ma.fields.List(
        Text(blank=False, validate=ma.validate.Length(max=1000)),
        validate=ma.validate.Length(min=1, max=20),
        metadata={
            "description": "redact: the passages of the title or body to hide, as written; "
            f"each occurrence becomes {REDACTION_MARK}"
        },
    )

    @ma.validates_schema
    def _passages_for_redact(self, data: dict[str, Any], **_: Any) -> None:
        if (data.get("action") == "redact") != ("passages" in data):
            raise ma.ValidationError(
                "passages goes with action redact, and only with it.", "passages"
            )


class HistoryMonthSchema(ma.Schema):
    """One month of the testimonial history."""

    month = ma.fields.String()
    count = ma.fields.Integer()
    average = ma.fields.Float(allow_none=True)


class ProvenanceSchema(ma.Schema):
    """Published reviews counted by who vouches for their purchase."""

    platform = ma.fields.Integer(
        metadata={"description": "attested: fetched from the platform's own API"}
    )
    declared = ma.fields.Integer(metadata={"description": "declared by the merchant itself"})


def _share(description: str) -> ma.fields.Float:
    return ma.fields.Float(allow_none=True, metadata={"description": description})


def _measured(description: str) -> ma.fields.Integer:
    return ma.fields.Integer(metadata={"description": description})


class DeliveryKpiSchema(ma.Schema):
    """Delivered on time and days to deliver (docs/verify.md, "The service KPIs")."""

    on_time_rate = _share("share delivered by the promised day")
    measured = _measured("reviews that say whether it arrived on time")
    median_days_to_deliver = ma.fields.Integer(allow_none=True)
    days_measured = _measured("platform-attested purchases with order and delivery days")


class SatisfactionKpiSchema(ma.Schema):
    """CSAT and NPS."""

    csat = _share("share of published ratings of 4 or 5")
    measured = _measured("published reviews")
    nps = ma.fields.Integer(
        allow_none=True, metadata={"description": "% promoters (9-10) minus % detractors (0-6)"}
    )
    nps_measured = _measured("reviews that answered 'would you recommend?'")


class FirstResponseKpiSchema(ma.Schema):
    """How soon the shop first answers reviews and complaints."""

    median_hours = ma.fields.Float(allow_none=True)
    within_24h_rate = _share("share answered within 24 hours")
    measured = _measured("first answers to reviews and complaints")


class ResolutionKpiSchema(ma.Schema):
    """What consumers said after the shop answered."""

    rate = _share("share of consumers who said it was resolved")
    median_days = ma.fields.Integer(
        allow_none=True, metadata={"description": "from the review or complaint to 'resolved'"}
    )
    measured = _measured("consumers who answered the resolution link")


class ScoreSchema(ma.Schema):
    """``GET /api/v1/merchants/{slug}/score``."""

    score = ma.fields.Float(allow_none=True)
    rating_count = ma.fields.Integer()
    removed_count = ma.fields.Integer()
    distribution = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    average = ma.fields.Float(allow_none=True)
    process_score = ma.fields.Float(allow_none=True)
    response_rate = ma.fields.Float(allow_none=True)
    median_response_hours = ma.fields.Float(allow_none=True)
    complaints = ma.fields.Nested(ComplaintsSummarySchema)
    history = ma.fields.List(ma.fields.Nested(HistoryMonthSchema))
    provenance = ma.fields.Nested(
        ProvenanceSchema,
        metadata={"description": "published reviews by who vouches for their purchase"},
    )
    seal = ma.fields.Nested(SealSummarySchema)
    formula_version = ma.fields.String()
    delivery = ma.fields.Nested(DeliveryKpiSchema)
    satisfaction = ma.fields.Nested(SatisfactionKpiSchema)
    first_response = ma.fields.Nested(FirstResponseKpiSchema)
    resolution = ma.fields.Nested(ResolutionKpiSchema)
    kpi_min_sample = ma.fields.Integer(
        metadata={"description": "a KPI is null until this many events measure it"}
    )


class ProductSummarySchema(ma.Schema):
    """A product's numbers (verified purchases only)."""

    product_id = ma.fields.String()
    title = ma.fields.String(metadata={"description": "as the latest order item reviewed names it"})
    image_url = ma.fields.String(allow_none=True)
    url = ma.fields.String(allow_none=True)
    rating = ma.fields.Float(
        allow_none=True, metadata={"description": "mean rating, one decimal; null without any"}
    )
    count = ma.fields.Integer(metadata={"description": "published reviews rating it"})
    distribution = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())


class ProductReviewSchema(ma.Schema):
    """A published review of one product."""

    id = ma.fields.Integer()
    review_id = ma.fields.Integer(metadata={"description": "the shop review it belongs to"})
    product_id = ma.fields.String()
    rating = ma.fields.Integer()
    comment = ma.fields.String(allow_none=True)
    review_title = ma.fields.String(allow_none=True)
    review_body = ma.fields.String(allow_none=True)
    display_name = ma.fields.String()
    created_at = UTCDateTime()
    verification_level = ma.fields.String()
    response = ma.fields.String(allow_none=True)
    log_index = ma.fields.Integer(metadata={"description": "its product.rated leaf"})


ProductReviewPageSchema = page_schema(ProductReviewSchema, "ProductReviewPageSchema")
