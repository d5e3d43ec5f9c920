"""Review, photo, response, flag and moderation tables, and the score aggregates."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from trustseal.clock import utcnow
from trustseal.dbtypes import UTCDateTime
from trustseal.extensions import Model


class Review(Model):
    """A review of one delivered purchase. Never deleted: removal makes a tombstone."""

    __tablename__ = "reviews"
    __table_args__ = (
        Index("ix_reviews_merchant_id_id", "merchant_id", "id"),
        Index("ix_reviews_merchant_rating_id", "merchant_id", "status", "rating", "id"),
        Index("ix_reviews_merchant_photos_id", "merchant_id", "has_photos", "id"),
        # The default order of a shop's reviews (publication time, ties by id) and the
        # detector's time windows: one index serves both.
        Index("ix_reviews_merchant_created_id", "merchant_id", "created_at", "id"),
        Index("ix_reviews_merchant_network", "merchant_id", "reviewer_network", "created_at"),
        Index("ix_reviews_merchant_identity", "merchant_id", "identity_key", "created_at"),
        Index("ix_reviews_merchant_text", "merchant_id", "text_key", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    purchase_id: Mapped[int] = mapped_column(ForeignKey("purchases.id"), unique=True)
    rating: Mapped[int]
    process_rating: Mapped[int]
    # Optional answers (API.md "Delivery, resolution and satisfaction"), in the log leaf when
    # given: did it arrive by the promised date, 1-5 for product, delivery and service, and
    # 0-10 "would you recommend this shop?".
    on_time: Mapped[bool | None]
    product_rating: Mapped[int | None]
    delivery_rating: Mapped[int | None]
    service_rating: Mapped[int | None]
    recommend: Mapped[int | None]
    # What the review adds to the delivery KPIs, as numbers.delivery_facts reads its leaf
    # (the purchase's platform dates, else the reviewer's on_time answer).
    delivered_on_time: Mapped[bool | None]
    delivery_days: Mapped[int | None]
    # The reviewer's answer to the resolution loop (one ``review.updated`` leaf): resolved or
    # not, and optionally an updated rating (which the score uses) and text, shown beside
    # the original.
    consumer_resolved: Mapped[bool | None]
    update_rating: Mapped[int | None]
    update_body: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    update_log_index: Mapped[int | None]
    title: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str | None] = mapped_column(Text)
    suggestion: Mapped[str | None] = mapped_column(Text)  # private, for the merchant only
    display_name: Mapped[str] = mapped_column(String(80))
    locale: Mapped[str] = mapped_column(String(5), default="es")
    status: Mapped[str] = mapped_column(String(10), default="published")  # published|removed
    removal_reason: Mapped[str | None] = mapped_column(String(20))
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # texts erased on request
    has_photos: Mapped[bool] = mapped_column(default=False)
    open_flags: Mapped[int] = mapped_column(default=0)
    log_index: Mapped[int | None]
    # When staff hid part of the text (reviews.service.redact): the latest
    # ``review.redacted`` leaf, which commits to the title and body shown now, and its
    # published reason. None: the ``review.published`` leaf commits to them.
    text_log_index: Mapped[int | None]
    redaction_reason: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The purchase's provenance when reviewed (a later upgrade of the purchase does not
    # change it): "platform" (attested) or "declared", and its source ("shopify", "api"…;
    # a declared review may name a platform its store's webhook came through). Public, in
    # the log leaf, counted in the score.
    verification_level: Mapped[str] = mapped_column(String(10), default="declared")
    verification_source: Mapped[str] = mapped_column(String(64), default="api")
    # Evidence for the fraud detector, as keyed hashes (HMAC with a server secret):
    # the reviewer's network (/24, /64), a normalized email and a normalized text. The
    # first two are personal data: erased with the review's texts.
    reviewer_network: Mapped[str | None] = mapped_column(String(64))
    identity_key: Mapped[str | None] = mapped_column(String(64))
    text_key: Mapped[str | None] = mapped_column(String(64))
    # "Helpful" votes, counted in the transaction of each vote (HelpfulVote), so a page of
    # reviews reads its counts in O(1).
    helpful_count: Mapped[int] = mapped_column(default=0, server_default="0")
    # Title and body folded for search (trustseal.reviews.search); None once erased.
    search_text: Mapped[str | None] = mapped_column(Text)

    photos: Mapped[list[ReviewPhoto]] = relationship(
        back_populates="review", order_by="ReviewPhoto.position"
    )
    response: Mapped[ReviewResponse | None] = relationship(back_populates="review")

    @property
    def current_rating(self) -> int:
        """The rating the score counts: the reviewer's update, else the original."""
        return self.update_rating if self.update_rating is not None else self.rating


class ReviewPhoto(Model):
    """A photo attached by the reviewer, re-encoded without metadata."""

    __tablename__ = "review_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"), index=True)
    position: Mapped[int]
    key: Mapped[str] = mapped_column(String(200))
    thumbnail_key: Mapped[str] = mapped_column(String(200))
    width: Mapped[int]
    height: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    review: Mapped[Review] = relationship(back_populates="photos")


class HelpfulVote(Model):
    """One visitor's "helpful" vote on a review. The visitor is a keyed hash (HMAC) of
    the review, the client's network address and its User-Agent — never the raw values,
    and not linkable from one review to another."""

    __tablename__ = "review_helpful_votes"
    __table_args__ = (UniqueConstraint("review_id", "voter_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"))
    voter_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReviewResponse(Model):
    """The merchant's public answer to a review (editable; every version is kept)."""

    __tablename__ = "review_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"), unique=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    review: Mapped[Review] = relationship(back_populates="response")


class ResponseRevision(Model):
    """One version of a merchant's answer, in order."""

    __tablename__ = "review_response_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("review_responses.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReviewFlag(Model):
    """A merchant's request that staff look at a review; the review stays visible."""

    __tablename__ = "review_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"), index=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    reason: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="open")  # open|resolved
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ModerationAction(Model):
    """A staff decision on a review (remove, restore, redact part of its text, keep it),
    with its public reason."""

    __tablename__ = "review_moderation"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    action: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    log_index: Mapped[int | None]  # a redaction's review.redacted leaf


class ScoreAggregate(Model):
    """Running sums per merchant, so reading the score costs O(1) (see score.py)."""

    __tablename__ = "review_aggregates"

    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    published: Mapped[int] = mapped_column(default=0)
    removed: Mapped[int] = mapped_column(default=0)
    rating_sum: Mapped[int] = mapped_column(default=0)
    process_sum: Mapped[int] = mapped_column(default=0)
    dist_1: Mapped[int] = mapped_column(default=0)
    dist_2: Mapped[int] = mapped_column(default=0)
    dist_3: Mapped[int] = mapped_column(default=0)
    dist_4: Mapped[int] = mapped_column(default=0)
    dist_5: Mapped[int] = mapped_column(default=0)
    decay_weight: Mapped[float] = mapped_column(Float, default=0.0)  # Σ 2^(t/H)
    decay_rating: Mapped[float] = mapped_column(Float, default=0.0)  # Σ r·2^(t/H)
    negative: Mapped[int] = mapped_column(default=0)  # published with rating ≤ 2
    negative_answered: Mapped[int] = mapped_column(default=0)
    declared: Mapped[int] = mapped_column(default=0)  # published, of declared purchases


class ScoreMonth(Model):
    """Published reviews per merchant and calendar month (UTC)."""

    __tablename__ = "review_months"

    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM
    count: Mapped[int] = mapped_column(default=0)
    rating_sum: Mapped[int] = mapped_column(default=0)


class ResponseTimeBucket(Model):
    """How many reviews got their first answer within a bucket of hours."""

    __tablename__ = "review_response_times"

    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    bucket: Mapped[int] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(default=0)


class ProductReview(Model):
    """A reviewer's rating (and optional words) of one product of the purchase reviewed.

    It lives and dies with its shop review: shown while the review is published, gone
    from the lists and the product's numbers while it is removed, its words erased with
    the review's. Its ``product.rated`` leaf commits to the rating and the words."""

    __tablename__ = "product_reviews"
    __table_args__ = (
        UniqueConstraint("review_id", "product_id", name="uq_product_reviews_review_product"),
        # A product's list, newest first (keyset on id).
        Index("ix_product_reviews_product_id", "merchant_id", "product_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"), index=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    product_id: Mapped[str] = mapped_column(String(100))
    rating: Mapped[int]
    comment: Mapped[str | None] = mapped_column(Text)
    log_index: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    review: Mapped[Review] = relationship()


class ProductAggregate(Model):
    """Running sums per product of a merchant (its shown ratings: those of published
    reviews), and how the product is named and pictured, from the latest order item
    reviewed: reading a product's summary costs O(1)."""

    __tablename__ = "product_aggregates"

    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    product_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    sku: Mapped[str | None] = mapped_column(String(100))
    url: Mapped[str | None] = mapped_column(String(2000))
    image_url: Mapped[str | None] = mapped_column(String(2000))
    count: Mapped[int] = mapped_column(default=0)
    rating_sum: Mapped[int] = mapped_column(default=0)
    dist_1: Mapped[int] = mapped_column(default=0)
    dist_2: Mapped[int] = mapped_column(default=0)
    dist_3: Mapped[int] = mapped_column(default=0)
    dist_4: Mapped[int] = mapped_column(default=0)
    dist_5: Mapped[int] = mapped_column(default=0)
