"""What the feeds keep between requests, shared by every process: each review's rendered
entry, and per merchant and feed the watermark the entries are up to date with."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from trustseal.clock import utcnow
from trustseal.dbtypes import UTCDateTime
from trustseal.extensions import Model


class FeedState(Model):
    """How far a merchant's feed is up to date: the merchant's latest log leaf its entries
    reflect (-1: none yet), the merchant's ``public_version`` then (a privacy erasure bumps
    it and appends no leaf), the digest of the document's head (the shop's name and address,
    the publisher), the rendering's ``format``, and the ETag of the document they make."""

    __tablename__ = "feed_states"

    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    feed: Mapped[str] = mapped_column(String(20), primary_key=True)
    format: Mapped[int]
    log_index: Mapped[int] = mapped_column(BigInteger)
    public_version: Mapped[int]
    head_sha256: Mapped[str] = mapped_column(String(64))
    etag: Mapped[str] = mapped_column(String(64))
    entries: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FeedEntry(Model):
    """One review's rendered entry in a merchant's feed (``entry_id``: the product review in
    the product feed, the review in the merchant feed), ordered by ``written_at``;
    ``has_text`` when it shows the reviewer's words (an erasure makes it stale). A product
    entry also keeps its product's id and the digest of how it named the product (title,
    address, SKU: the latest order line reviewed names it, so a new review may rename it in
    every entry)."""

    __tablename__ = "feed_entries"
    __table_args__ = (
        Index("ix_feed_entries_order", "merchant_id", "feed", "written_at", "entry_id"),
        Index("ix_feed_entries_review", "merchant_id", "feed", "review_id"),
        Index("ix_feed_entries_product", "merchant_id", "feed", "product_id"),
    )

    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    feed: Mapped[str] = mapped_column(String(20), primary_key=True)
    entry_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    review_id: Mapped[int] = mapped_column(BigInteger)
    written_at: Mapped[datetime] = mapped_column(UTCDateTime)
    has_text: Mapped[bool]
    product_id: Mapped[str | None] = mapped_column(String(100))
    product_sha256: Mapped[str | None] = mapped_column(String(64))
    xml: Mapped[str] = mapped_column(Text)
