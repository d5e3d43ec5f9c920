"""The reviews domain's door: submit, attach photos, answer, flag, moderate, list.

Every change that the public can see is appended to the transparency log and counted
in the running score in the same transaction as the change itself.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import chain
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app
from sqlalchemy import ColumnElement, and_, case, func, select, update
from sqlalchemy.orm import selectinload

from trustseal.clock import rfc3339, utcnow
from trustseal.dbutil import insert_ignoring_duplicate
from trustseal.errors import DomainError
from trustseal.extensions import db
from trustseal.hooks import service as hooks
from trustseal.jobs import service as jobs
from trustseal.mail import service as mail
from trustseal.media import images
from trustseal.media.storage import storage
from trustseal.merchants import service as merchants
from trustseal.orders import service as orders
from trustseal.resolutions import service as resolutions
from trustseal.reviews import listing, personal_data, score
from trustseal.reviews import products as product_ratings
from trustseal.reviews.listing import NumberedPage as NumberedPage
from trustseal.reviews.listing import ReviewFilter as ReviewFilter
from trustseal.reviews.listing import Sort as Sort
from trustseal.reviews.models import (
    HelpfulVote,
    ModerationAction,
    ResponseRevision,
    Review,
    ReviewFlag,
    ReviewPhoto,
    ReviewResponse,
)
from trustseal.reviews.search import search_terms, search_text
from trustseal.transparency import numbers
from trustseal.transparency import service as log
from trustseal.transparency.verify import ClaimSource, LoggedClaim

if TYPE_CHECKING:
    from trustseal.merchants.models import Merchant
    from trustseal.orders.models import Purchase
    from trustseal.staff.models import StaffUser

MAX_PHOTOS = 5
PHOTO_WINDOW = timedelta(hours=24)
RESPONSE_NOTICE_JOB = "reviews.response_notice"
# The job's name predates redaction; kept so that notices queued before still run.
MODERATION_NOTICE_JOB = "reviews.removal_notice"


class RemovalReason(StrEnum):
    """The published reasons for which staff may remove a review."""

    PERSONAL_DATA = "personal_data"
    OFFENSIVE = "offensive"
    SPAM = "spam"
    NOT_GENUINE = "not_genuine"


class FlagReason(StrEnum):
    """Why a merchant asks staff to look at a review."""

    NOT_GENUINE = "not_genuine"
    PERSONAL_DATA = "personal_data"
    OFFENSIVE = "offensive"
    SPAM = "spam"
    OTHER = "other"


class ReviewError(DomainError):
    """A review operation refused."""


@dataclass(frozen=True)
class Submitted:
    """A published review, its transparency-log receipt, and the kinds of personal data
    (:class:`personal_data.Kind` values: ``email``, ``phone``, ``dni``) masked in it
    before publication."""

    review: Review
    receipt: dict[str, Any]
    masked: tuple[str, ...] = ()


_REFUSAL_CODES = {"unknown": 404, "used": 409, "expired": 410, "cancelled": 410}


def default_display_name(customer_name: str | None) -> str:
    """First name and last initial (``Lucía Quispe`` → ``Lucía Q.``); never the email."""
    parts = (customer_name or "").split()
    if not parts:
        return "Cliente verificado"
    if len(parts) == 1:
        return parts[0][:40]
    return f"{parts[0][:40]} {parts[-1][0].upper()}."


def invitation_context(token: str) -> tuple[Purchase, Merchant]:
    """The purchase and merchant behind a usable review token (for the form).

    Raises :class:`ReviewError` 404 unknown, 409 used, 410 expired or cancelled.
    """
    return _purchase_and_merchant(orders.check_invitation, token)


def _purchase_and_merchant(find: Any, token: str) -> tuple[Purchase, Merchant]:
    """The purchase and merchant of a token's invitation (checked or claimed by ``find``)."""
    try:
        invitation = find(token)
    except orders.InvitationRefused as refused:
        raise ReviewError(_REFUSAL_CODES[refused.reason], str(refused)) from refused
    purchase = invitation.purchase
    merchant = merchants.get(purchase.merchant_id)
    assert merchant is not None
    if not merchants.is_public(merchant):  # no review in the name of an unproven shop
        raise ReviewError(404, "This review link is not valid.")
    return purchase, merchant


def _review_event(kind: str, review: Review, merchant: Merchant, **data: Any) -> log.Event:
    """A removal or restore: its leaf repeats what the review adds to the public numbers,
    so the log's replay folds it in O(1) (docs/verify.md, "Leaves")."""
    return log.Event(
        kind,
        merchant=merchant.slug,
        data={
            "review_id": review.id,
            **_effect(review),
            "answered": review.response is not None,
            **data,
        },
    )


def _effect(review: Review) -> dict[str, Any]:
    """What a review's later leaves repeat of its ``review.published`` leaf (with the
    rating its author's update gave it): :data:`numbers.REVIEW_EFFECT`."""
    return {
        "published_index": review.log_index,
        "rating": review.current_rating,
        "process_rating": review.process_rating,
        "reviewed_at": rfc3339(review.created_at),
        "level": review.verification_level,
        "recommend": review.recommend,
        "delivered_on_time": review.delivered_on_time,
        "delivery_days": review.delivery_days,
    }


PublishedListener = Callable[[Review], None]
PUBLISHED_LISTENERS = "trustseal.review_published_listeners"  # app.extensions key


def wire_published_listeners(app: Flask, listeners: Iterable[PublishedListener]) -> None:
    """Composition, in the app factory: the functions called with each review just
    published, in its transaction (another domain's hook — the fraud detector queues its
    scan there)."""
    app.extensions[PUBLISHED_LISTENERS] = tuple(listeners)


def _keyed(purpose: str, value: str) -> str:
    key = detector_key(current_app.config["SECRET_KEY"])  # the detector's own key
    return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def network_key(address: str | None) -> str | None:
    """A keyed hash of the network an address belongs to (IPv4 /24, IPv6 /64): one
    household or office, without keeping the address."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 64
    return _keyed("network", str(ipaddress.ip_network((ip, prefix), strict=False)))


_TRAILING_DIGITS = re.compile(r"\d+$")


def identity_key(email: str | None) -> str | None:
    """A keyed hash of an email with the usual variations folded: case, dots and
    ``+tags`` in the local part, trailing digits (``ana.p+1@…``, ``anap7@…`` → one)."""
    if not email or "@" not in email:
        return None
    local, _, domain = email.strip().lower().rpartition("@")
    local = _TRAILING_DIGITS.sub("", local.split("+", 1)[0].replace(".", "")) or local
    return _keyed("identity", f"{local}@{domain}")


_NOT_WORD = re.compile(r"[\W_]+")


def text_key(title: str | None, body: str | None) -> str | None:
    """A keyed hash of a review's words with case, accents, punctuation and spacing
    folded, so copies that differ only in those show up as one."""
    words = " ".join(filter(None, (title, body)))
    folded = unicodedata.normalize("NFKD", words.casefold())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    folded = _NOT_WORD.sub(" ", folded).strip()
    return _keyed("text", folded) if folded else None


@dataclass(frozen=True)
class PublicTexts:
    """What a review will publish once its personal data is masked."""

    title: str | None
    body: str
    display_name: str | None
    masked: tuple[str, ...]


def public_texts(title: str | None, body: str, display_name: str | None) -> PublicTexts:
    """Mask the personal data (emails, mobile numbers, DNIs) of a review's public texts
    with :data:`personal_data.MASK`. A display name holding any is dropped (the default
    name from the order is shown instead). The private suggestion is not public and is
    left as written."""
    masked_title = personal_data.mask(title) if title else None
    masked_body = personal_data.mask(body)
    masked_name = personal_data.mask(display_name) if display_name else None
    kinds = set(masked_body.kinds)
    for part in (masked_title, masked_name):
        if part is not None:
            kinds |= part.kinds
    return PublicTexts(
        title=masked_title.text if masked_title else None,
        body=masked_body.text,
        display_name=None if masked_name is None or masked_name.kinds else masked_name.text,
        masked=tuple(personal_data.in_order(kinds)),
    )


DIMENSIONS = ("product", "delivery", "service")  # the optional 1-5 sub-ratings
ANSWER_KEYS = ("on_time", "dimensions", "recommend")  # the optional answers in a leaf


def answers_in_leaf(
    on_time: bool | None, dimensions: Mapping[str, int | None], recommend: int | None
) -> dict[str, Any]:
    """What a ``review.published`` leaf says of the optional questions: only those
    answered (``on_time``, ``dimensions`` {product, delivery, service}, ``recommend``)."""
    answered: dict[str, Any] = {}
    if on_time is not None:
        answered["on_time"] = on_time
    given = {name: dimensions[name] for name in DIMENSIONS if dimensions.get(name) is not None}
    if given:
        answered["dimensions"] = given
    if recommend is not None:
        answered["recommend"] = recommend
    return answered


def submit(
    token: str,
    *,
    rating: int,
    process_rating: int,
    body: str,
    title: str | None = None,
    suggestion: str | None = None,
    display_name: str | None = None,
    on_time: bool | None = None,
    dimensions: Mapping[str, int | None] | None = None,
    recommend: int | None = None,
    products: Sequence[Mapping[str, Any]] | None = None,
    photos: tuple[images.ProcessedPhoto, ...] = (),
    at: datetime | None = None,
    client_address: str | None = None,
) -> Submitted:
    """Publish a review through its invitation token (once per purchase), with photos
    already checked by :func:`images.process_photo`. ``at`` backdates an import;
    ``client_address`` is kept only as a keyed hash of its network. The optional answers
    (on time, ``dimensions`` 1-5 by :data:`DIMENSIONS`, ``recommend`` 0-10) go into the
    leaf when given (:func:`answers_in_leaf`). ``products`` rates products of the
    purchase (``product_id``, ``rating`` 1-5, optional ``comment``): one
    ``product.rated`` leaf each (:mod:`trustseal.reviews.products`).

    Personal data in the title, body and display name is masked first
    (:func:`public_texts`): what is stored, shown and committed to in the log leaf is the
    masked text; :attr:`Submitted.masked` says which kinds were hidden.
    """
    purchase, merchant = _purchase_and_merchant(orders.claim_invitation, token)
    try:
        rated, masked_in_products = product_ratings.checked(purchase, products)
    except product_ratings.ProductRatingError as refused:
        raise ReviewError(refused.code, str(refused), field=refused.field) from refused
    shown = public_texts(title or None, body, display_name or None)
    title, body = shown.title, shown.body
    verification = orders.verification(purchase)
    dimensions = dimensions or {}
    delivery = orders.delivery_dates(purchase)
    facts = {
        "verification": verification,
        **answers_in_leaf(on_time, dimensions, recommend),
        **({"delivery": delivery} if delivery else {}),
    }
    delivered_on_time, delivery_days = numbers.delivery_facts(facts)
    review = Review(
        merchant_id=merchant.id,
        purchase_id=purchase.id,
        rating=rating,
        process_rating=process_rating,
        on_time=on_time,
        product_rating=dimensions.get("product"),
        delivery_rating=dimensions.get("delivery"),
        service_rating=dimensions.get("service"),
        recommend=recommend,
        delivered_on_time=delivered_on_time,
        delivery_days=delivery_days,
        title=title or None,
        body=body,
        suggestion=suggestion or None,
        display_name=shown.display_name or default_display_name(purchase.customer_name),
        locale=purchase.customer_locale,
        status="published",
        created_at=at or utcnow(),
        verification_level=verification["level"],
        verification_source=verification["source"],
        reviewer_network=network_key(client_address),
        identity_key=identity_key(purchase.customer_email),
        text_key=text_key(title, body),
        search_text=search_text(title, body),
    )
    db.session.add(review)
    db.session.flush()
    appended = log.append(
        log.Event(
            "review.published",
            merchant=merchant.slug,
            data={
                "review_id": review.id,
                "rating": rating,
                "process_rating": process_rating,
                "purchase_id": purchase.id,
                **facts,
            },
            texts=committed_texts(title, body),
            at=review.created_at,
        )
    )
    review.log_index = appended.index
    score.count_published(review)
    hooks.emit(
        merchant.id,
        merchant.slug,
        "review.published",
        {
            "review_id": review.id,
            "rating": rating,
            "process_rating": process_rating,
            "purchase_id": purchase.id,
            "log_index": appended.index,
            "created_at": rfc3339(review.created_at),
        },
    )
    product_ratings.record(review, purchase, rated, merchant.slug)
    for position, processed in enumerate(photos[:MAX_PHOTOS]):
        _attach(review, processed, position)
    for listener in current_app.extensions.get(PUBLISHED_LISTENERS, ()):
        listener(review)
    found = {personal_data.Kind(kind) for kind in shown.masked} | masked_in_products
    masked = personal_data.in_order(found)
    return Submitted(review, log.receipt(appended), tuple(masked))


def committed_texts(title: str | None, body: str) -> dict[str, str]:
    """The texts a review's leaf commits to: the body, and the title when there is one."""
    return {"body": body, **({"title": title} if title else {})}


def text_leaf_index(review: Review) -> int | None:
    """The leaf whose ``text_sha256`` commits to the review's title and body as shown: the
    latest ``review.redacted`` leaf, else its ``review.published`` leaf."""
    return review.text_log_index if review.text_log_index is not None else review.log_index


def get(review_id: int) -> Review | None:
    """A review with its photos and answer, or None (also when its shop is not public)."""
    review = db.session.scalars(
        select(Review)
        .where(Review.id == review_id)
        .options(selectinload(Review.photos), selectinload(Review.response))
    ).one_or_none()
    if review is None:
        return None
    merchant = merchants.get(review.merchant_id)
    return review if merchant is not None and merchants.is_public(merchant) else None


def _lock(review_id: int) -> Review:
    review = db.session.scalars(
        select(Review)
        .where(Review.id == review_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if review is None:
        raise ReviewError(404, "No such review.")
    return review


def _owned(review_id: int, merchant_id: int) -> Review:
    review = _lock(review_id)
    if review.merchant_id != merchant_id:
        raise ReviewError(404, "No such review.")
    return review


def add_photo(review_id: int, token: str, data: bytes) -> tuple[ReviewPhoto, dict[str, Any]]:
    """Attach a photo to one's own review (the review's token, ≤ 5, within 24 h)."""
    review = _lock(review_id)
    if not review_token_matches(review, token):
        raise ReviewError(401, "The review token does not match this review.")
    if review.status != "published":
        raise ReviewError(409, "The review was removed.")
    if utcnow() - review.created_at > PHOTO_WINDOW:
        raise ReviewError(409, "Photos can be added within 24 hours of the review.")
    count = len(review.photos)
    if count >= MAX_PHOTOS:
        raise ReviewError(409, f"A review may have at most {MAX_PHOTOS} photos.")
    try:
        processed = images.process_photo(data)
    except images.ImageRejected as rejected:
        raise ReviewError(rejected.code, str(rejected), field="photo") from rejected
    photo = _attach(review, processed, count)
    return photo, photo_json(photo)


def _attach(review: Review, processed: images.ProcessedPhoto, position: int) -> ReviewPhoto:
    store = storage()
    photo = ReviewPhoto(
        review_id=review.id,
        position=position,
        key=store.save(processed.image, ".jpg"),
        thumbnail_key=store.save(processed.thumbnail, ".jpg"),
        width=processed.width,
        height=processed.height,
    )
    db.session.add(photo)
    review.has_photos = True
    db.session.flush()
    return photo


def photo_json(photo: ReviewPhoto) -> dict[str, Any]:
    """The public shape of a photo."""
    store = storage()
    return {
        "url": store.url(photo.key),
        "thumbnail_url": store.url(photo.thumbnail_key),
        "width": photo.width,
        "height": photo.height,
    }


def respond(
    review_id: int, merchant_id: int, body: str, at: datetime | None = None
) -> ReviewResponse:
    """Create or edit the merchant's public answer; every version is kept and logged."""
    review = _owned(review_id, merchant_id)
    if review.status != "published":
        raise ReviewError(409, "The review was removed; it cannot be answered.")
    merchant = merchants.get(merchant_id)
    assert merchant is not None
    now = (at or utcnow()).replace(microsecond=0)  # whole seconds, as in the leaf
    response = review.response
    if response is None:
        response = ReviewResponse(review_id=review.id, body=body, created_at=now, updated_at=now)
        db.session.add(response)
        db.session.flush()
        kind = "response.created"
        score.count_first_answer(review, now)
        jobs.enqueue(RESPONSE_NOTICE_JOB, {"review_id": review.id})
    else:
        if response.body == body:
            return response
        response.body = body
        response.updated_at = now
        kind = "response.edited"
    db.session.add(ResponseRevision(response_id=response.id, body=body, created_at=now))
    first = kind == "response.created"  # the first answer moves the answer-time numbers
    log.append(
        log.Event(
            kind,
            merchant=merchant.slug,
            data={"review_id": review.id, **(_effect(review) if first else {})},
            texts={"body": body},
            at=now,
        )
    )
    return response


def flag(review_id: int, merchant_id: int, reason: FlagReason, detail: str | None) -> ReviewFlag:
    """Record a merchant's flag; the review stays visible while staff look."""
    review = _owned(review_id, merchant_id)
    entry = ReviewFlag(
        review_id=review.id, merchant_id=merchant_id, reason=reason.value, detail=detail
    )
    db.session.add(entry)
    db.session.execute(
        update(Review).where(Review.id == review.id).values(open_flags=Review.open_flags + 1)
    )
    db.session.flush()
    merchant = merchants.get(merchant_id)
    assert merchant is not None
    hooks.emit(
        merchant_id,
        merchant.slug,
        "review.flagged",
        {"review_id": review.id, "flag_id": entry.id, "reason": entry.reason},
    )
    return entry


def removal_refusal(reason: str) -> str | None:
    """Why ``reason`` cannot justify a removal (it is not one of the published
    :class:`RemovalReason` values), or None when it can."""
    if reason in {r.value for r in RemovalReason}:
        return None
    return "Removal needs a published reason: " + ", ".join(r.value for r in RemovalReason)


def moderate(review_id: int, staff: StaffUser, action: str, reason: str) -> Review:
    """Remove (for a published reason) or restore a review; logged and counted."""
    review = _lock(review_id)
    merchant = merchants.get(review.merchant_id)
    assert merchant is not None
    now = utcnow()
    if action == "remove":
        if review.status == "removed":
            raise ReviewError(409, "The review is removed already.")
        refusal = removal_refusal(reason)
        if refusal:
            raise ReviewError(422, refusal, field="reason")
        score.count_removed(review)
        product_ratings.count_removed(review)
        review.status, review.removal_reason, review.removed_at = "removed", reason, now
        log.append(_review_event("review.removed", review, merchant, reason=reason))
        jobs.enqueue(MODERATION_NOTICE_JOB, {"review_id": review.id, "action": "remove"})
    elif action == "restore":
        if review.status != "removed":
            raise ReviewError(409, "The review is published already.")
        score.count_restored(review)
        product_ratings.count_restored(review)
        review.status, review.removal_reason, review.removed_at = "published", None, None
        log.append(_review_event("review.restored", review, merchant, reason=reason))
    else:
        raise ReviewError(422, "action is remove or restore.", field="action")
    _decided(review, staff, action, reason, now)
    return review


def _decided(
    review: Review,
    staff: StaffUser,
    action: str,
    reason: str,
    now: datetime,
    log_index: int | None = None,
) -> None:
    """Record a staff decision on a review (``log_index``: a redaction's leaf); it answers
    the review's open flags."""
    db.session.add(
        ModerationAction(
            review_id=review.id,
            staff_id=staff.id,
            action=action,
            reason=reason,
            created_at=now,
            log_index=log_index,
        )
    )
    db.session.execute(
        update(ReviewFlag)
        .where(ReviewFlag.review_id == review.id, ReviewFlag.status == "open")
        .values(status="resolved", resolved_at=now)
    )
    review.open_flags = 0


# What a hidden passage becomes in the text: the same in every language.
REDACTION_MARK = "[…]"


def redact(review_id: int, staff: StaffUser, passages: Iterable[str], reason: str) -> Review:
    """Hide passages of a published review's title and body for a published reason (a
    phone number, an insult): every occurrence becomes :data:`REDACTION_MARK`; the rating
    and the rest of the text stay, and the reviewer is told why.

    Logged as a ``review.redacted`` leaf that names the reason and the fields changed and
    commits to the new title and body; the salts of the earlier texts' commitments are
    forgotten, so the service no longer lets anyone test a guess of what was hidden (one
    who copied the old salt before still can). To hide all of a text, remove the review
    (its tombstone stays) instead. Refused (422) when nothing would change.
    """
    review = _lock(review_id)
    if review.status == "removed" or review.erased_at is not None:
        raise ReviewError(409, "The review has no text left to redact.")
    if reason not in {r.value for r in RemovalReason}:
        raise ReviewError(
            422,
            "Redaction needs a published reason: " + ", ".join(r.value for r in RemovalReason),
            field="reason",
        )
    wanted = [p.strip() for p in passages if p and p.strip()]
    if not wanted:
        raise ReviewError(422, "Give the passage to hide, as it is written.", field="passages")
    before = {"title": review.title or "", "body": review.body or ""}
    after = dict(before)
    for passage in wanted:
        if not any(passage in text for text in after.values()):
            raise ReviewError(
                422, f"The text does not contain {passage!r}: copy it as written.", field="passages"
            )
        after = {name: text.replace(passage, REDACTION_MARK) for name, text in after.items()}
    if not after["body"].replace(REDACTION_MARK, "").strip():
        raise ReviewError(
            422, "Nothing of the text would be left: remove the review instead.", field="passages"
        )
    if after == before:
        raise ReviewError(422, "These passages are hidden already.", field="passages")
    merchant = merchants.get(review.merchant_id)
    assert merchant is not None
    earlier = text_leaf_index(review)
    review.title, review.body = after["title"] or None, after["body"]
    review.search_text = search_text(review.title, review.body)
    appended = log.append(
        log.Event(
            "review.redacted",
            merchant=merchant.slug,
            data={
                "review_id": review.id,
                "reason": reason,
                "fields": sorted(name for name in before if before[name] != after[name]),
            },
            texts=committed_texts(review.title, review.body),
        )
    )
    if earlier is not None:
        log.forget_text(earlier)
    review.text_log_index, review.redaction_reason = appended.index, reason
    _decided(review, staff, "redact", reason, utcnow(), log_index=appended.index)
    jobs.enqueue(MODERATION_NOTICE_JOB, {"review_id": review.id, "action": "redact"})
    merchants.bump_public_version(merchant.id)  # a testimonial may show the text
    return review


def reviews_page(
    merchant_id: int,
    limit: int,
    cursor: str | None,
    wanted: ReviewFilter | None = None,
) -> dict[str, Any]:
    """One page of a merchant's reviews (``wanted``: filters and order, newest first by
    default) and the next page's cursor. Raises ``InvalidCursor`` for a cursor this
    service did not give, or gave for another order."""
    return listing.keyset_page(merchant_id, wanted or ReviewFilter(), limit, cursor)


def reviews_numbered(
    merchant_id: int, wanted: ReviewFilter, page: int, per_page: int
) -> NumberedPage:
    """Page ``page`` (from 1; past the end: the last) of a merchant's reviews as
    ``wanted`` filters and orders them, with the number of pages."""
    return listing.numbered_page(merchant_id, wanted, page, per_page)


# --- "helpful" votes ---


@dataclass(frozen=True)
class HelpfulVoteResult:
    """The review's count after a vote, and whether this vote was new."""

    review_id: int
    helpful_count: int
    counted: bool


def _visitor_address(address: str | None) -> str:
    """The address a visitor is known by: an IPv6 one by its /64 (one subscriber's
    network, whose addresses rotate at will), an IPv4-mapped one as IPv4."""
    if not address:
        return ""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return ""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network((ip, 64), strict=False))
    return str(ip)


def voter_key(review_id: int, address: str | None, user_agent: str | None) -> str:
    """Who votes, as a keyed hash (HMAC, the detector's key derived from the app's
    secret) of the review, the client's address and its User-Agent: one vote per
    visitor and review, without keeping either value, and no way to follow one visitor
    from review to review (the review is in the hash)."""
    visitor = f"{review_id}|{_visitor_address(address)}|{(user_agent or '')[:300]}"
    return _keyed("helpful", visitor)


def vote_helpful(
    review_id: int,
    *,
    address: str | None,
    user_agent: str | None,
    merchant_id: int | None = None,
) -> HelpfulVoteResult:
    """Count one visitor's "helpful" vote on a published review; the same visitor again
    changes nothing (``counted`` False, same count). The count is kept on the review in
    the vote's transaction. Raises :class:`ReviewError` 404 for an unknown or removed
    review, one of a shop that is not public, or not of ``merchant_id`` when given."""
    review = get(review_id)
    if review is None or review.status != "published":
        raise ReviewError(404, "No such review.")
    if merchant_id is not None and review.merchant_id != merchant_id:
        raise ReviewError(404, "No such review.")
    new = insert_ignoring_duplicate(
        HelpfulVote,
        {"review_id": review.id, "voter_hash": voter_key(review.id, address, user_agent)},
        ["review_id", "voter_hash"],
    )
    if new is None:
        current = db.session.scalar(select(Review.helpful_count).where(Review.id == review.id))
        return HelpfulVoteResult(review.id, int(current or 0), False)
    counted = db.session.execute(
        update(Review)
        .where(Review.id == review.id)
        .values(helpful_count=Review.helpful_count + 1)
        .returning(Review.helpful_count)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    return HelpfulVoteResult(review.id, int(counted), True)


def review_token_matches(review: Review, token: str) -> bool:
    """Whether a token is one of the links of this review's invitation."""
    invitation = orders.invitation_for_token(token)
    return invitation is not None and invitation.purchase_id == review.purchase_id


def merchant_score(merchant: Merchant, now: datetime | None = None) -> dict[str, Any]:
    """The score answer for a merchant (running sums plus the other domains' parts)."""
    result = score.score_of(merchant.id, now or utcnow())
    result["complaints"] = merchants.summary_part("complaints", merchant)
    result["seal"] = merchants.summary_part("seal", merchant)
    kpis = log.merchant_kpis(merchant.slug)
    result["kpi_min_sample"] = kpis.pop("min_sample")
    result.update(kpis)
    return result


@jobs.handler(RESPONSE_NOTICE_JOB)
def send_response_notice(payload: dict[str, Any]) -> None:
    """Job: tell the reviewer that the merchant answered in public."""
    review = get(payload["review_id"])
    if review is None or review.response is None or review.status != "published":
        return
    purchase = orders.purchase(review.purchase_id)
    if purchase is None or not purchase.customer_email:
        return
    merchant = merchants.get(review.merchant_id)
    if merchant is None:
        return
    token = None
    if review.current_rating <= resolutions.OFFER_MAX_RATING:
        token = resolutions.offer("review", review.id, merchant.id)
    mail.queue_to_consumer(
        purchase.customer_email,
        "response_notice",
        review.locale,
        merchant=merchant,
        review=review,
        profile_url=f"{current_app.config['TRUSTSEAL_BASE_URL']}/m/{merchant.slug}#r{review.id}",
        resolve_url=resolutions.link(token) if token else None,
    )


def resolution_case(review_id: int) -> dict[str, Any] | None:
    """What the resolution page shows of a review: the shop, the review and the answer
    (None when the review is gone or removed)."""
    review = get(review_id)
    if review is None or review.status != "published" or review.response is None:
        return None
    merchant = merchants.get(review.merchant_id)
    assert merchant is not None
    return {
        "merchant": merchant.name,
        "slug": merchant.slug,
        "rating": review.rating,
        "title": review.title,
        "body": review.body,
        "answer": review.response.body,
        "answered_at": review.response.created_at,
    }


def record_update(review_id: int, outcome: resolutions.Outcome) -> dict[str, Any]:
    """The reviewer's answer to the resolution loop: resolved or not, and optionally an
    updated rating and text, shown beside the original. One ``review.updated`` leaf logs
    it (the text as a salted commitment); the score counts the updated rating (formula
    2026-12). In the caller's transaction."""
    review = _lock(review_id)
    if review.status != "published":
        raise ReviewError(409, "The review was removed; it cannot be updated.")
    if review.updated_at is not None:
        raise ReviewError(409, "The review was updated already.")
    merchant = merchants.get(review.merchant_id)
    assert merchant is not None
    now = utcnow().replace(microsecond=0)  # whole seconds, as in the leaf
    body = public_texts(None, outcome.comment, None).body if outcome.comment else None
    appended = log.append(
        log.Event(
            "review.updated",
            merchant=merchant.slug,
            data={
                "review_id": review.id,
                **_effect(review),
                "answered": review.response is not None,
                "new_rating": outcome.rating,
                "resolved": outcome.resolved,
            },
            texts={"body": body} if body else None,
            at=now,
        )
    )
    previous = review.current_rating
    review.consumer_resolved = outcome.resolved
    review.update_rating, review.update_body = outcome.rating, body
    review.updated_at, review.update_log_index = now, appended.index
    score.count_update(review, previous)
    hooks.emit(
        merchant.id,
        merchant.slug,
        "review.updated",
        {
            "review_id": review.id,
            "rating": review.rating,
            "new_rating": outcome.rating,
            "resolved": outcome.resolved,
            "log_index": appended.index,
        },
    )
    return {"log_index": appended.index}


@jobs.handler(MODERATION_NOTICE_JOB)
def send_moderation_notice(payload: dict[str, Any]) -> None:
    """Job: tell the reviewer that the certifier removed the review or hid part of its
    text, and the reason it published (unless the review was restored meanwhile)."""
    review = get(payload["review_id"])
    redacted = payload.get("action") == "redact"
    if review is None or review.status != ("published" if redacted else "removed"):
        return
    purchase = orders.purchase(review.purchase_id)
    merchant = merchants.get(review.merchant_id)
    if purchase is None or not purchase.customer_email or merchant is None:
        return
    base = current_app.config["TRUSTSEAL_BASE_URL"]
    mail.queue_to_consumer(
        purchase.customer_email,
        "review_redacted" if redacted else "review_removed",
        review.locale,
        merchant=merchant,
        review=review,
        mark=REDACTION_MARK,
        profile_url=f"{base}/m/{merchant.slug}#r{review.id}",
        rules_url=f"{base}/score",
    )


def text_withheld(review: Review) -> bool:
    """Whether even the merchant no longer sees a review's title and body: it was removed
    because it held personal data (the certifier's reason), which nobody should keep."""
    return review.status == "removed" and review.removal_reason == RemovalReason.PERSONAL_DATA


def score_summary(merchant: Merchant) -> dict[str, Any]:
    """The ``score`` part of a merchant's public summary: score and count."""
    full = score.score_of(merchant.id, utcnow())
    return {"score": full["score"], "rating_count": full["rating_count"]}


def latest_published(merchant_id: int, limit: int = 3) -> list[Review]:
    """The newest published reviews of a merchant, by publication time (testimonials)."""
    return list(
        db.session.scalars(
            select(Review)
            .where(Review.merchant_id == merchant_id, Review.status == "published")
            .order_by(Review.created_at.desc(), Review.id.desc())
            .limit(limit)
        )
    )


ERASED_NAME = "Cliente verificado"


def erase_personal_data(purchase_ids: list[int]) -> int:
    """Erase the texts and name of the reviews of these purchases (a privacy request).

    The rating, dates and log leaves stay, so scores and proofs are unchanged; the salts
    of the text commitments are deleted, so nobody can test a guess against them.
    Photos are deleted too. Returns how many reviews were erased.
    """
    if not purchase_ids:
        return 0
    reviews = list(
        db.session.scalars(
            select(Review)
            .where(Review.purchase_id.in_(purchase_ids))
            .options(selectinload(Review.photos))
            .with_for_update(of=Review)  # a redaction at the same time forgets its salt too
        )
    )
    store = storage()
    for review in reviews:
        review.title = review.body = review.suggestion = review.update_body = None
        review.display_name = ERASED_NAME
        review.erased_at = utcnow()
        review.reviewer_network = review.identity_key = review.text_key = None
        review.search_text = None
        for index in (review.log_index, review.text_log_index, review.update_log_index):
            if index is not None:
                log.forget_text(index)
        for photo in review.photos:
            store.delete(photo.key)
            store.delete(photo.thumbnail_key)
            db.session.delete(photo)
        review.has_photos = False
    product_ratings.erase(review.id for review in reviews)
    for merchant_id in {review.merchant_id for review in reviews}:
        merchants.bump_public_version(merchant_id)  # a testimonial may have changed
    return len(reviews)


def flagged(limit: int = 100) -> list[Review]:
    """Published reviews with open flags, oldest flag first (the moderation queue)."""
    return list(
        db.session.scalars(
            select(Review)
            .where(Review.open_flags > 0, Review.status == "published")
            .order_by(Review.id)
            .limit(limit)
        )
    )


def open_flags_of(review_id: int) -> list[ReviewFlag]:
    """The open flags of a review."""
    return list(
        db.session.scalars(
            select(ReviewFlag).where(ReviewFlag.review_id == review_id, ReviewFlag.status == "open")
        )
    )


def keep(review_id: int, staff: StaffUser, reason: str) -> Review:
    """Staff looked at the flags and keep the review: flags resolved, the decision kept."""
    review = _lock(review_id)
    _decided(review, staff, "keep", reason, utcnow())
    return review


def reviews_for_answering(merchant_id: int, limit: int = 50) -> list[Review]:
    """The merchant's published reviews without an answer, negative ones first."""
    return list(
        db.session.scalars(
            select(Review)
            .outerjoin(ReviewResponse)
            .where(
                Review.merchant_id == merchant_id,
                Review.status == "published",
                ReviewResponse.id.is_(None),
            )
            .order_by(Review.rating, Review.id)
            .limit(limit)
        )
    )


def monthly_answer_hours(merchant_id: int, months: list[str]) -> dict[str, float | None]:
    """Median hours to the first answer, per month of the review (for trend charts)."""
    rows = db.session.execute(
        select(Review.created_at, ReviewResponse.created_at)
        .join(ReviewResponse, ReviewResponse.review_id == Review.id)
        .where(Review.merchant_id == merchant_id)
    ).all()
    by_month: dict[str, list[float]] = {}
    for posted, answered in rows:
        by_month.setdefault(numbers.month_of(posted), []).append(
            (answered - posted).total_seconds() / 3600
        )
    result: dict[str, float | None] = {}
    for month in months:
        values = sorted(by_month.get(month, []))
        result[month] = round(values[len(values) // 2], 1) if values else None
    return result


def photo_share(merchant_id: int) -> float | None:
    """The share of published reviews that have photos."""
    total = (
        db.session.scalar(
            select(func.count())
            .select_from(Review)
            .where(Review.merchant_id == merchant_id, Review.status == "published")
        )
        or 0
    )
    if not total:
        return None
    with_photos = (
        db.session.scalar(
            select(func.count())
            .select_from(Review)
            .where(
                Review.merchant_id == merchant_id,
                Review.status == "published",
                Review.has_photos.is_(True),
            )
        )
        or 0
    )
    return round(with_photos / total, 3)


# --- queries for the fraud detector ---
# The signals domain reads reviews only through these: facts without texts or personal
# data, and bounded, indexed queries around one review (its merchant, window and key).

DETECTOR_FLAG = "fraud_signal"  # the reason of a flag raised by a confirmed fraud signal
_DETECTOR_KEY_LABEL = b"trustseal detector keys v1"
_detector_keys: dict[str, bytes] = {}


def detector_key(secret: str) -> bytes:
    """The key of the detector's keyed hashes (networks, identities, texts): derived once
    per secret as HMAC-SHA256(SECRET_KEY, label), so they are never made with the key
    that signs sessions itself."""
    key = _detector_keys.get(secret)
    if key is None:
        key = hmac.new(secret.encode(), _DETECTOR_KEY_LABEL, hashlib.sha256).digest()
        _detector_keys[secret] = key
    return key


@dataclass(frozen=True)
class DetectorFacts:
    """What the fraud detector knows of a review: ids, time, provenance, keyed hashes."""

    id: int
    merchant_id: int
    purchase_id: int
    status: str
    created_at: datetime
    verification_level: str
    verification_source: str
    reviewer_network: str | None
    identity_key: str | None
    text_key: str | None
    body_length: int


_FACT_COLUMNS = (
    Review.id,
    Review.merchant_id,
    Review.purchase_id,
    Review.status,
    Review.created_at,
    Review.verification_level,
    Review.verification_source,
    Review.reviewer_network,
    Review.identity_key,
    Review.text_key,
    func.coalesce(func.length(Review.body), 0),
)


def detector_facts(review_id: int) -> DetectorFacts | None:
    """The detector's view of one review, or None."""
    row = db.session.execute(select(*_FACT_COLUMNS).where(Review.id == review_id)).one_or_none()
    return DetectorFacts(*row) if row is not None else None


def detector_window(
    merchant_id: int,
    since: datetime,
    until: datetime,
    *,
    limit: int,
    declared: bool = False,
    network: str | None = None,
    identity: str | None = None,
    text: str | None = None,
) -> list[DetectorFacts]:
    """Published reviews of a merchant written in ``[since, until]``, newest first, at
    most ``limit``: of declared purchases only (``declared``), or sharing one keyed hash
    (``network``, ``identity`` or ``text``; give at most one). Each is one indexed range:
    (merchant, created_at) or (merchant, key)."""
    stmt = select(*_FACT_COLUMNS).where(
        Review.merchant_id == merchant_id,
        Review.status == "published",
        Review.created_at >= since,
        Review.created_at <= until,
    )
    if declared:
        stmt = stmt.where(Review.verification_level == "declared")
    for column, value in (
        (Review.reviewer_network, network),
        (Review.identity_key, identity),
        (Review.text_key, text),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    rows = db.session.execute(
        stmt.order_by(Review.created_at.desc(), Review.id.desc()).limit(limit)
    )
    return [DetectorFacts(*row) for row in rows]


def detector_batch(
    after_id: int, limit: int, merchant_id: int | None = None, since: datetime | None = None
) -> list[DetectorFacts]:
    """Published reviews with an id above ``after_id``, oldest first, at most ``limit``
    (of one merchant, written since a time): the pages of a full scan."""
    stmt = select(*_FACT_COLUMNS).where(Review.id > after_id, Review.status == "published")
    if merchant_id is not None:
        stmt = stmt.where(Review.merchant_id == merchant_id)
    if since is not None:
        stmt = stmt.where(Review.created_at >= since)
    rows = db.session.execute(stmt.order_by(Review.id).limit(limit))
    return [DetectorFacts(*row) for row in rows]


def flag_for_moderation(review_ids: list[int], reason: str) -> list[int]:
    """Put published reviews in the console moderation queue, as a merchant's flag does
    (``reason`` is the flag's detail); they stay visible until a moderator decides.
    Returns the ids flagged."""
    rows = db.session.execute(
        select(Review.id, Review.merchant_id).where(
            Review.id.in_(review_ids), Review.status == "published"
        )
    ).all()
    for review_id, merchant_id in rows:
        db.session.add(
            ReviewFlag(
                review_id=review_id, merchant_id=merchant_id, reason=DETECTOR_FLAG, detail=reason
            )
        )
    flagged_ids = [review_id for review_id, _ in rows]
    if flagged_ids:
        db.session.execute(
            update(Review)
            .where(Review.id.in_(flagged_ids))
            .values(open_flags=Review.open_flags + 1)
            .execution_options(synchronize_session=False)
        )
    db.session.flush()
    return flagged_ids


# --- what the reviews domain claims the log holds (checked by ``trustseal log verify``) --

_STREAM = {"yield_per": 5_000}
RESPONSE_EVENTS = frozenset({"response.created", "response.edited"})
MODERATION_EVENTS = frozenset({"review.removed", "review.restored"})


def _review_claims(slug: Callable[[int], str | None]) -> Iterator[LoggedClaim]:
    """Each review's ``review.published`` leaf: ids, ratings, provenance and texts."""
    rows = db.session.execute(
        select(
            Review.id,
            Review.merchant_id,
            Review.log_index,
            Review.rating,
            Review.process_rating,
            Review.purchase_id,
            Review.verification_level,
            Review.verification_source,
            Review.title,
            Review.body,
            Review.erased_at,
            Review.text_log_index,
            Review.on_time,
            Review.product_rating,
            Review.delivery_rating,
            Review.service_rating,
            Review.recommend,
        )
        .where(Review.log_index.is_not(None))
        .order_by(Review.id)
        .execution_options(**_STREAM)
    )
    for row in rows:
        answered = answers_in_leaf(row.on_time, dimensions_of(row), row.recommend)
        yield LoggedClaim(
            name=f"review {row.id}",
            kind="review.published",
            index=row.log_index,
            merchant_slug=slug(row.merchant_id),
            ids={"review_id": row.id},
            fields={
                "rating": row.rating,
                "process_rating": row.process_rating,
                # An answer the database holds must be in the leaf, as given.
                **answered,
            },
            extra={
                "purchase_id": row.purchase_id,
                "verification": {
                    "level": row.verification_level,
                    "source": row.verification_source,
                },
                # An answer the leaf holds and the database lost is a mismatch too.
                **{name: None for name in ANSWER_KEYS if name not in answered},
            },
            # Once redacted, a later leaf commits to the text shown (_redaction_claims).
            texts={}
            if row.erased_at or row.text_log_index is not None
            else {"title": row.title, "body": row.body},
        )


def _response_claims(slug: Callable[[int], str | None]) -> Iterator[LoggedClaim]:
    """Each version of each answer is one response leaf, in order. The last version's
    claim carries the answer shown in public; earlier ones their own text."""
    rows = db.session.execute(
        select(Review.id, Review.merchant_id, ReviewResponse.body, ResponseRevision.body)
        .join(ReviewResponse, ReviewResponse.review_id == Review.id)
        .join(ResponseRevision, ResponseRevision.response_id == ReviewResponse.id)
        .order_by(Review.merchant_id, Review.id, ResponseRevision.id)
        .execution_options(**_STREAM)
    )
    previous: tuple[Any, ...] | None = None
    position = 0
    for row in rows:
        if previous is not None:
            last = row[0] != previous[0]
            yield _response_claim(previous, position, last, slug)
            position = 0 if last else position + 1
        previous = tuple(row)
    if previous is not None:
        yield _response_claim(previous, position, True, slug)


def _response_claim(
    row: tuple[Any, ...], position: int, last: bool, slug: Callable[[int], str | None]
) -> LoggedClaim:
    """The claim of one version (``position`` 0: the first answer) of an answer."""
    review_id, merchant_id, shown, revision = row
    return LoggedClaim(
        name=f"response to review {review_id}",
        kind="response.created" if position == 0 else "response.edited",
        index=None,
        merchant_slug=slug(merchant_id),
        ids={"review_id": review_id},
        texts={"body": shown if last else revision},
        family=RESPONSE_EVENTS,
    )


def _moderation_claims(slug: Callable[[int], str | None]) -> Iterator[LoggedClaim]:
    """Each removal and restore is one moderation leaf of its review, in order."""
    rows = db.session.execute(
        select(Review.id, Review.merchant_id, ModerationAction.action, ModerationAction.reason)
        .join(ModerationAction, ModerationAction.review_id == Review.id)
        .where(ModerationAction.action.in_(("remove", "restore")))
        .order_by(Review.merchant_id, Review.id, ModerationAction.id)
        .execution_options(**_STREAM)
    )
    for review_id, merchant_id, action, reason in rows:
        yield LoggedClaim(
            name=f"{'removal' if action == 'remove' else 'restore'} of review {review_id}",
            kind="review.removed" if action == "remove" else "review.restored",
            index=None,
            merchant_slug=slug(merchant_id),
            ids={"review_id": review_id},
            fields={"reason": reason},
            family=MODERATION_EVENTS,
        )


def _redaction_claims(slug: Callable[[int], str | None]) -> Iterator[LoggedClaim]:
    """Each redaction names its ``review.redacted`` leaf (reason and all); the review's
    last one must be its ``text_log_index`` and commit to the title and body shown now,
    with its salt still there unless the text was erased on request. A review pointing at
    a redaction it has no record of is a problem too."""
    rows = db.session.execute(
        select(
            Review.id,
            Review.merchant_id,
            Review.title,
            Review.body,
            Review.erased_at,
            Review.text_log_index,
            Review.redaction_reason,
            ModerationAction.reason,
            ModerationAction.log_index,
        )
        .join(ModerationAction, ModerationAction.review_id == Review.id)
        .where(ModerationAction.action == "redact")
        .order_by(Review.merchant_id, Review.id, ModerationAction.log_index)
        .execution_options(**_STREAM)
    )
    previous: Any = None
    for row in chain(rows, [None]):
        if previous is not None:
            last = row is None or row.id != previous.id
            yield _redaction_claim(previous, last, slug)
        previous = row
    unrecorded = db.session.execute(
        select(Review.id, Review.merchant_id, Review.text_log_index).where(
            Review.text_log_index.is_not(None),
            ~select(ModerationAction.id)
            .where(ModerationAction.review_id == Review.id, ModerationAction.action == "redact")
            .exists(),
        )
    )
    for review_id, merchant_id, text_index in unrecorded:
        yield LoggedClaim(
            name=f"text of review {review_id}",
            kind="review.redacted",
            index=text_index,
            merchant_slug=slug(merchant_id),
            record_problem=f"its text_log_index is {text_index}, but no redaction is recorded",
        )


def _redaction_claim(row: Any, last: bool, slug: Callable[[int], str | None]) -> LoggedClaim:
    """The claim of one redaction (``last``: the review's latest, which the text shown and
    its ``text_log_index`` and public reason must match)."""
    problem = None
    if last and row.text_log_index != row.log_index:
        problem = f"its text_log_index is {row.text_log_index}, not its last redaction's leaf"
    elif last and row.redaction_reason != row.reason:
        problem = f"its public reason is {row.redaction_reason!r}, not {row.reason!r}"
    return LoggedClaim(
        name=f"redaction of review {row.id}" + (" (the text shown)" if last else ""),
        kind="review.redacted",
        index=row.log_index,
        merchant_slug=slug(row.merchant_id),
        ids={"review_id": row.id},
        fields={"reason": row.reason},
        texts={"title": row.title, "body": row.body} if last and not row.erased_at else {},
        salt_required=last and not row.erased_at,
        record_problem=problem,
    )


def _update_claims(slug: Callable[[int], str | None]) -> Iterator[LoggedClaim]:
    """Each reviewer's update (the resolution loop): its ``review.updated`` leaf says the
    rating, the verdict and the text shown beside the review."""
    rows = db.session.execute(
        select(
            Review.id,
            Review.merchant_id,
            Review.update_log_index,
            Review.update_rating,
            Review.consumer_resolved,
            Review.update_body,
            Review.erased_at,
        )
        .where(Review.update_log_index.is_not(None))
        .order_by(Review.id)
        .execution_options(yield_per=1000)
    )
    for row in rows:
        shown = row.update_body is not None and row.erased_at is None
        yield LoggedClaim(
            name=f"update of review {row.id}",
            kind="review.updated",
            index=row.update_log_index,
            merchant_slug=slug(row.merchant_id),
            ids={"review_id": row.id},
            fields={"new_rating": row.update_rating, "resolved": row.consumer_resolved},
            texts={"body": row.update_body} if shown else {},
            salt_required=shown,
        )


def dimensions_of(review: Any) -> dict[str, int | None]:
    """A review's (or a row's) sub-ratings by :data:`DIMENSIONS`."""
    return {
        "product": review.product_rating,
        "delivery": review.delivery_rating,
        "service": review.service_rating,
    }


def logged_claims() -> Iterator[LoggedClaim]:
    """What the reviews domain says the log holds: every review's ``review.published``
    leaf (by its ``log_index``), every answer's versions, every removal and restore (in
    order per review), every redaction and every update. Streamed, for ``trustseal log verify``."""
    slug = merchants.slug_lookup()
    yield from _review_claims(slug)
    yield from _response_claims(slug)
    yield from _moderation_claims(slug)
    yield from _redaction_claims(slug)
    yield from _update_claims(slug)
    yield from product_ratings.logged_claims(slug)
    yield from product_ratings.numbers_claims(slug)


def claim_source() -> ClaimSource:
    """The reviews domain's claims; every ``review.published`` leaf must name a review,
    every ``review.redacted`` leaf a redaction of one, every ``review.updated`` leaf an
    update."""
    return ClaimSource(
        logged_claims,
        complete={
            "review.published": "review_id",
            "review.redacted": "review_id",
            "review.updated": "review_id",
            product_ratings.EVENT: "product_review_id",
        },
    )


# --- the merchant's own list of its reviews (the dashboard) ---


class MerchantTab(StrEnum):
    """The tabs of a merchant's reviews: all, without an answer, negative (1 or 2 stars),
    flagged (the merchant's own open flags; never the fraud detector's, which would tell a
    shop which of its reviews look bought)."""

    ALL = "all"
    UNANSWERED = "unanswered"
    NEGATIVE = "negative"
    FLAGGED = "flagged"


def _merchant_flag(merchant_id: int) -> ColumnElement[bool]:
    """A flag the merchant itself raised (the detector's carry the merchant's id too)."""
    return and_(ReviewFlag.merchant_id == merchant_id, ReviewFlag.reason != DETECTOR_FLAG)


def _open_merchant_flag(merchant_id: int) -> ColumnElement[bool]:
    """Whether a review has an open flag the merchant raised."""
    return (
        select(ReviewFlag.id)
        .where(
            ReviewFlag.review_id == Review.id,
            ReviewFlag.status == "open",
            _merchant_flag(merchant_id),
        )
        .exists()
    )


def _tab_condition(tab: MerchantTab, merchant_id: int) -> ColumnElement[bool] | None:
    if tab is MerchantTab.UNANSWERED:
        answered = select(ReviewResponse.id).where(ReviewResponse.review_id == Review.id)
        return and_(Review.status == "published", ~answered.exists())
    if tab is MerchantTab.NEGATIVE:
        return Review.rating <= 2
    if tab is MerchantTab.FLAGGED:
        return _open_merchant_flag(merchant_id)
    return None


def _merchant_search(merchant_id: int, query: str | None) -> list[ColumnElement[bool]]:
    """The merchant's reviews whose folded text holds every word of ``query`` (removed
    ones included: the merchant sees its tombstones' texts; erased ones have none)."""
    conditions: list[ColumnElement[bool]] = [Review.merchant_id == merchant_id]
    for term in search_terms(query):
        conditions.append(Review.search_text.contains(term, autoescape=True))
    return conditions


def merchant_review_counts(merchant_id: int, query: str | None = None) -> dict[str, int]:
    """How many of a merchant's reviews (matching ``query``) each tab lists."""
    columns = [func.count()] + [
        func.coalesce(func.sum(case((condition, 1), else_=0)), 0)
        for tab in MerchantTab
        if (condition := _tab_condition(tab, merchant_id)) is not None
    ]
    row = db.session.execute(
        select(*columns).select_from(Review).where(*_merchant_search(merchant_id, query))
    ).one()
    return {tab.value: int(n or 0) for tab, n in zip(MerchantTab, row, strict=True)}


def merchant_reviews(
    merchant_id: int, tab: MerchantTab, query: str | None, page: int, per_page: int
) -> NumberedPage:
    """Page ``page`` (from 1; past the end: the last) of a merchant's reviews in ``tab``
    matching ``query``, newest first, removed ones included, photos and answer loaded."""
    conditions = _merchant_search(merchant_id, query)
    extra = _tab_condition(tab, merchant_id)
    if extra is not None:
        conditions.append(extra)
    total = int(db.session.scalar(select(func.count()).select_from(Review).where(*conditions)) or 0)
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    rows = db.session.scalars(
        listing.statement(merchant_id, ReviewFilter())  # the profile's order and loading
        .where(*conditions)
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return NumberedPage(list(rows), total, page, pages)


def merchant_review(review_id: int, merchant_id: int) -> Review | None:
    """One of the merchant's reviews, with its answer (None if not this merchant's)."""
    return db.session.scalars(
        select(Review)
        .where(Review.id == review_id, Review.merchant_id == merchant_id)
        .options(selectinload(Review.response))
    ).one_or_none()


def flagged_by(merchant_id: int, review_ids: Iterable[int]) -> set[int]:
    """Which of ``review_ids`` the merchant has flagged and staff have not decided yet."""
    ids = list(review_ids)
    if not ids:
        return set()
    return set(
        db.session.scalars(
            select(ReviewFlag.review_id).where(
                ReviewFlag.review_id.in_(ids),
                _merchant_flag(merchant_id),
                ReviewFlag.status == "open",
            )
        )
    )


def merchant_export(merchant_id: int) -> Iterator[Review]:
    """Every review of a merchant, removed ones included, with its answer, oldest first
    (streamed)."""
    yield from db.session.scalars(
        select(Review)
        .where(Review.merchant_id == merchant_id)
        .options(selectinload(Review.response))
        .order_by(Review.created_at, Review.id)
        .execution_options(yield_per=1_000)
    )
