"""Telling the merchant about new reviews: a negative one (≤ 2 stars) at once, so it can be
answered while the customer still cares; the others in one daily digest per shop.

The digest covers one Lima calendar day. Each (merchant, day) is recorded in
``review_digests`` in the transaction that queues its email, so however many workers run
the hourly task, and however often, a day's digest goes out once.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Date, ForeignKey, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, mapped_column

from trustseal.clock import utcnow
from trustseal.dbtypes import UTCDateTime
from trustseal.dbutil import insert_ignoring_duplicate
from trustseal.extensions import Model, db
from trustseal.jobs import service as jobs
from trustseal.mail import service as mail
from trustseal.merchants import service as merchants
from trustseal.reviews.models import Review

LIMA = ZoneInfo("America/Lima")
ALERT_AT_MOST = 2  # stars: a review this low is emailed at once
DIGEST_SAMPLE = 5  # reviews quoted in a digest (the count says how many there were)


class ReviewDigest(Model):
    """A day's digest of new reviews, emailed to a merchant (once)."""

    __tablename__ = "review_digests"
    __table_args__ = (UniqueConstraint("merchant_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    day: Mapped[date] = mapped_column(Date)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)


def _dashboard_url(anchor: str = "") -> str:
    return f"{current_app.config['TRUSTSEAL_BASE_URL']}/dashboard/reviews{anchor}"


def alert_negative(review: Review) -> None:
    """Published listener: email the merchant a review of ≤ 2 stars now, in the review's
    transaction (the email exists only if the review does)."""
    if review.rating > ALERT_AT_MOST:
        return
    merchant = merchants.get(review.merchant_id)
    if merchant is None:
        return
    language = merchants.language(merchant)
    message = mail.render(
        "review_alert",
        language,
        merchant=merchant,
        review=review,
        url=_dashboard_url(f"#r{review.id}"),
    )
    mail.queue(merchant.contact_email, message, language)


def lima_day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC instants where the Lima calendar day ``day`` begins and ends."""
    start = datetime.combine(day, time(0), LIMA)
    return start.astimezone(ZoneInfo("UTC")), (start + timedelta(days=1)).astimezone(
        ZoneInfo("UTC")
    )


def send_digests(now: datetime | None = None) -> int:
    """Queue yesterday's (Lima) digest for every merchant with new reviews of 3 stars or
    more that day and none sent yet, in the caller's transaction; how many were queued.
    Run hourly by the worker."""
    now = now or utcnow()
    day = now.astimezone(LIMA).date() - timedelta(days=1)
    start, end = lima_day_bounds(day)
    published = (
        Review.status == "published",
        Review.rating > ALERT_AT_MOST,
        Review.created_at >= start,
        Review.created_at < end,
    )
    rows = db.session.execute(
        select(Review.merchant_id, func.count(), func.avg(Review.rating))
        .where(*published)
        .group_by(Review.merchant_id)
        .order_by(Review.merchant_id)
    ).all()
    queued = 0
    for merchant_id, count, average in rows:
        merchant = merchants.get(merchant_id)
        if merchant is None:
            continue
        fresh = insert_ignoring_duplicate(
            ReviewDigest,
            {"merchant_id": merchant_id, "day": day, "sent_at": now},
            ["merchant_id", "day"],
        )
        if fresh is None:
            continue  # sent already (another worker, or an earlier run)
        sample = db.session.scalars(
            select(Review)
            .where(Review.merchant_id == merchant_id, *published)
            .order_by(Review.created_at.desc(), Review.id.desc())
            .limit(DIGEST_SAMPLE)
        ).all()
        context: dict[str, Any] = {
            "merchant": merchant,
            "day": day,
            "count": count,
            "average": round(float(average), 1),
            "reviews": sample,
            "url": _dashboard_url(),
        }
        language = merchants.language(merchant)
        message = mail.render("review_digest", language, **context)
        mail.queue(merchant.contact_email, message, language)
        queued += 1
    return queued


jobs.periodic("reviews.digest", timedelta(hours=1))(send_digests)
