"""The orders domain's door.

:func:`record_purchase_event` is the one way a purchase enters or changes, whatever its
source. It is idempotent on (merchant, source, external id) and only moves a status
forward (placed → paid → fulfilled → delivered; cancelled and refunded are final).
The values it records (:class:`PurchaseEvent`, :class:`ItemData`, :class:`Status`) live in
:mod:`trustseal.platform_types`, which the platform plugins reach through
:mod:`trustseal.platforms`; they stay importable from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from flask import current_app
from sqlalchemy import Select, delete, func, or_, select, update
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from trustseal import languages
from trustseal.clock import lima_date, utcnow
from trustseal.dbutil import execute_dml, insert_entity, insert_ignoring_duplicate, insert_rows
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.mail import service as mail
from trustseal.merchants import service as merchants
from trustseal.orders.models import (
    DeclaredLinkCount,
    InvitationToken,
    Purchase,
    PurchaseItem,
    ReviewInvitation,
)
from trustseal.platform_types import ItemData, PurchaseEvent, ShippingData, Status
from trustseal.tokens import hash_token, issue_token

if TYPE_CHECKING:
    from trustseal.merchants.models import Merchant

INVITATION_EMAIL_JOB = "orders.invitation_email"
INVITATION_REMINDER_JOB = "orders.invitation_reminder"
# An invitation email of a shop that has not proved its domain waits, and is asked again.
UNVERIFIED_HOLD = timedelta(hours=6)


PROGRESS = {Status.PLACED: 0, Status.PAID: 1, Status.FULFILLED: 2, Status.DELIVERED: 3}
FINAL = frozenset({Status.CANCELLED, Status.REFUNDED})


DECLARED_ORIGINS = frozenset({"api", "dashboard", "import"})


@dataclass(frozen=True)
class Provenance:
    """Who vouches for a purchase. Three cases:

    - **attested** (:meth:`platform`): trustseal fetched the order itself from servers the
      platform runs, with the store's credentials; ``origin`` is the platform's name;
    - **declared** (:meth:`declared`): the merchant declared it through one of our channels;
      ``origin`` is that channel (api, dashboard, import);
    - **declared via a platform** (:meth:`declared_via`): it reached us through a channel
      of the platform that the shop configures itself — a webhook whose secret the shop
      holds, or a self-hosted platform's API; ``origin`` is the platform's name.
    """

    attested: bool
    origin: str

    def __post_init__(self) -> None:
        if self.attested and self.origin in DECLARED_ORIGINS:
            raise ValueError(f"a platform cannot be named {self.origin!r}")

    @classmethod
    def declared(cls, channel: str = "api") -> Provenance:
        """A purchase the merchant declared through ``channel`` (api, dashboard, import)."""
        if channel not in DECLARED_ORIGINS:
            raise ValueError(f"not a declaring channel: {channel!r}")
        return cls(False, channel)

    @classmethod
    def declared_via(cls, name: str) -> Provenance:
        """A purchase the shop reported through a channel of the platform ``name`` that it
        controls (a webhook it holds the secret of): declared, its source the platform."""
        if name in DECLARED_ORIGINS:
            raise ValueError(f"a platform cannot be named {name!r}")
        return cls(False, name)

    @classmethod
    def platform(cls, name: str) -> Provenance:
        """A purchase trustseal fetched itself from the API the platform ``name`` runs,
        with the store's credentials: attested."""
        return cls(True, name)


API_DECLARED = Provenance(False, "api")


def verification(purchase: Purchase) -> dict[str, str]:
    """How a purchase is verified, as the public sees it: ``{level, source}``."""
    return {"level": "platform" if purchase.attested else "declared", "source": purchase.origin}


@dataclass(frozen=True)
class Recorded:
    """The outcome of recording an event: the purchase, and whether it is new or changed.

    ``items`` are the lines of a new purchase, as the event gave them and they were stored
    (None for an existing one: read ``purchase.items``). ``delivered``: this event delivered
    the purchase (it opened the review invitation). ``upgraded``: this event, fetched from
    the platform, turned a declared purchase into an attested one.
    """

    purchase: Purchase
    created: bool
    changed: bool
    items: tuple[ItemData, ...] | None = None
    delivered: bool = False
    upgraded: bool = False


class InvitationRefused(Exception):
    """A review link cannot be issued for this purchase; ``reason`` says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        # not_delivered | final | reviewed | cancelled | expired | rate_limited
        # | merchant_pending
        self.reason = reason


@dataclass(frozen=True)
class InvitationLink:
    """A freshly issued review link (the token is shown only here)."""

    token: str
    url: str
    expires_at: datetime


def default_language(merchant_id: int) -> str:
    """The language of a customer whose source did not name one: the merchant's
    (Portuguese for a shop in Brazil, else Spanish)."""
    merchant = merchants.get(merchant_id)
    return merchants.language(merchant) if merchant is not None else languages.DEFAULT


def record_purchase_event(
    merchant_id: int,
    source: str,
    event: PurchaseEvent,
    provenance: Provenance = API_DECLARED,
) -> Recorded:
    """Create or advance a purchase from an event, in the caller's transaction.

    A new purchase is inserted with the event's status in one statement. Safe under
    concurrent identical events: the insert skips an existing key, and the existing row is
    then locked before its status is compared and moved.

    Its ``provenance`` is set when it is first recorded and can only be upgraded, from
    declared to attested, by an attested event of the same platform for the same key (an
    order trustseal fetched itself) that confirms the purchase's status (see
    :func:`_upgrade`); it never goes back. ``source`` keeps the merchant's own declarations
    (the ``api`` namespace) apart from every store's, and the merchant's channels are never
    attested, so nothing the merchant sends can make a purchase attested.
    """
    now = utcnow()
    delivered = event.status is Status.DELIVERED
    purchase = insert_ignoring_duplicate(
        Purchase,
        {
            "merchant_id": merchant_id,
            "source": source,
            "attested": provenance.attested,
            "origin": provenance.origin,
            "external_id": event.external_id,
            "status": event.status.value,
            "customer_email": event.customer_email,
            "customer_name": event.customer_name,
            "customer_locale": event.customer_locale or default_language(merchant_id),
            "placed_at": event.placed_at,
            "delivered_at": (event.delivered_at or now) if delivered else None,
            **shipping_values(event.shipping),
            "created_at": now,
            "updated_at": now,
        },
        ["merchant_id", "source", "external_id"],
        returning_entity=True,
    )
    if purchase is not None:
        insert_rows(PurchaseItem, _item_rows(purchase.id, event.items))
        invitation = _open_invitation(purchase, now) if delivered else None
        set_committed_value(purchase, "invitation", invitation)
        return Recorded(
            purchase, created=True, changed=True, items=event.items, delivered=delivered
        )
    purchase = db.session.scalars(
        select(Purchase)
        .where(
            Purchase.merchant_id == merchant_id,
            Purchase.source == source,
            Purchase.external_id == event.external_id,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    completed = _complete(purchase, event)
    for name, value in shipping_values(event.shipping).items():
        setattr(purchase, name, value)  # what the source says now, part by part
    changed = _advance(purchase, event, now)
    upgraded = _upgrade(purchase, event, provenance)
    return Recorded(
        purchase,
        created=False,
        changed=changed or completed or upgraded,
        delivered=changed and purchase.status == Status.DELIVERED.value,
        upgraded=upgraded,
    )


SHIPPING_FIELDS = ("carrier", "tracking_url", "promised_by", "shipped_at")


def shipping_values(shipping: ShippingData | None) -> dict[str, Any]:
    """The shipment's parts an event gives (a part it does not give is kept as it was)."""
    if shipping is None:
        return {}
    return {name: getattr(shipping, name) for name in SHIPPING_FIELDS if getattr(shipping, name)}


def delivery_dates(purchase: Purchase) -> dict[str, str]:
    """The purchase's days a review's leaf carries for the delivery KPIs (Lima dates,
    ``YYYY-MM-DD``): ``placed_on``, ``delivered_on`` and ``promised_by``, those known."""
    days = {
        "placed_on": lima_date(purchase.placed_at),
        "delivered_on": lima_date(purchase.delivered_at) if purchase.delivered_at else None,
        "promised_by": purchase.promised_by,
    }
    return {name: day.isoformat() for name, day in days.items() if day is not None}


def shipping_of(purchase: Purchase) -> dict[str, Any] | None:
    """A purchase's shipment as the API shows it; None when no source said anything."""
    shown = {name: getattr(purchase, name) for name in SHIPPING_FIELDS}
    return shown if any(value is not None for value in shown.values()) else None


def record_purchase_events(
    merchant_id: int,
    source: str,
    events: list[PurchaseEvent],
    provenance: Provenance = API_DECLARED,
) -> list[Recorded]:
    """Record many events in the caller's transaction; the results in the events' order.

    Rows are written in the order of their keys (events of one key keep their order), so
    two overlapping batches lock the same rows in the same order and cannot deadlock.
    """
    order = sorted(range(len(events)), key=lambda i: events[i].external_id)
    recorded: dict[int, Recorded] = {}
    for i in order:
        recorded[i] = record_purchase_event(merchant_id, source, events[i], provenance)
    return [recorded[i] for i in range(len(events))]


def _complete(purchase: Purchase, event: PurchaseEvent) -> bool:
    """Fill what an earlier, partial event left blank (never overwrite): a status-only
    event (a fulfilment, a VTEX hook) may arrive before the full order."""
    filled = False
    if purchase.customer_email is None and event.customer_email:
        purchase.customer_email = event.customer_email
        filled = True
        invitation = db.session.scalar(
            select(ReviewInvitation).where(ReviewInvitation.purchase_id == purchase.id)
        )
        if invitation is not None and invitation_status(invitation) == "pending":
            _queue_invitation_email(invitation, purchase)
    if purchase.customer_name is None and event.customer_name:
        purchase.customer_name = event.customer_name
        filled = True
    if event.items and not db.session.scalar(
        select(PurchaseItem.id).where(PurchaseItem.purchase_id == purchase.id).limit(1)
    ):
        insert_rows(PurchaseItem, _item_rows(purchase.id, event.items))
        filled = True
    return filled


def _upgrade(purchase: Purchase, event: PurchaseEvent, provenance: Provenance) -> bool:
    """Make a declared purchase attested when ``provenance`` is an attested one of the same
    platform (trustseal fetched the order itself) and, the event applied, the purchase is
    where the platform says it is (a delivery the shop's webhook declared is confirmed only
    by the platform's own "delivered"). The platform's customer data, where it gives any,
    replaces what the shop declared. True if upgraded; an attested purchase stays so."""
    if (
        purchase.attested
        or not provenance.attested
        or provenance.origin != purchase.origin
        or purchase.status != event.status.value
    ):
        return False
    purchase.attested = True
    if event.customer_email:
        purchase.customer_email = event.customer_email
    if event.customer_name:
        purchase.customer_name = event.customer_name
    purchase.updated_at = utcnow()
    return True


ITEM_FIELDS = ("product_id", "title", "quantity", "sku", "url", "image_url")


def item_values(item: ItemData | PurchaseItem) -> dict[str, Any]:
    """The fields of an order line, from an event's line or a stored one."""
    return {name: getattr(item, name) for name in ITEM_FIELDS}


def _item_rows(purchase_id: int, items: tuple[ItemData, ...]) -> list[dict[str, Any]]:
    return [{"purchase_id": purchase_id, **item_values(item)} for item in items]


def _advance(purchase: Purchase, event: PurchaseEvent, now: datetime) -> bool:
    """Move the purchase to the event's status if that is forward; True if it moved."""
    current = Status(purchase.status)
    if current in FINAL or event.status == current:
        return False
    if event.status in FINAL:
        purchase.status = event.status.value
        purchase.updated_at = now
        _cancel_invitation(purchase)
        return True
    if PROGRESS[event.status] < PROGRESS[current]:
        return False
    purchase.status = event.status.value
    purchase.updated_at = now
    if event.status is Status.DELIVERED:
        purchase.delivered_at = event.delivered_at or now
        _open_invitation(purchase, now)
    return True


def _open_invitation(purchase: Purchase, now: datetime) -> ReviewInvitation:
    config = current_app.config
    invitation = insert_entity(
        ReviewInvitation,
        {
            "purchase_id": purchase.id,
            "state": "open",
            "created_at": now,
            "expires_at": now + timedelta(days=config["TRUSTSEAL_INVITATION_TTL_DAYS"]),
        },
    )
    if purchase.customer_email:
        _queue_invitation_email(invitation, purchase)
    return invitation


def _queue_invitation_email(invitation: ReviewInvitation, purchase: Purchase) -> None:
    """Queue the invitation email for the configured delay after the delivery (the
    delivery's own time, not when trustseal heard of it: an order reported days after it
    arrived is asked about at once)."""
    delay = timedelta(hours=current_app.config["TRUSTSEAL_INVITATION_EMAIL_DELAY_HOURS"])
    delivered_at = purchase.delivered_at or invitation.created_at
    jobs.enqueue(
        INVITATION_EMAIL_JOB,
        {"invitation_id": invitation.id},
        run_at=max(utcnow(), delivered_at + delay),
    )


def _cancel_invitation(purchase: Purchase) -> None:
    invitation = db.session.scalar(
        select(ReviewInvitation).where(ReviewInvitation.purchase_id == purchase.id)
    )
    if invitation is not None and invitation.state == "open":
        invitation.state = "cancelled"


def invitation_status(invitation: ReviewInvitation, now: datetime | None = None) -> str:
    """Public status: pending (not sent yet), sent, used, cancelled or expired."""
    if invitation.state != "open":
        return invitation.state
    if invitation.expires_at <= (now or utcnow()):
        return "expired"
    return "sent" if invitation.sent_at else "pending"


def _orders_query(merchant_id: int) -> Select[Purchase]:
    return (
        select(Purchase)
        .where(Purchase.merchant_id == merchant_id)
        .options(selectinload(Purchase.items), selectinload(Purchase.invitation))
    )


def get_purchase(merchant_id: int, purchase_id: int) -> Purchase | None:
    """The merchant's purchase with this id (None for another merchant's)."""
    return db.session.scalars(
        _orders_query(merchant_id).where(Purchase.id == purchase_id)
    ).one_or_none()


def purchase(purchase_id: int) -> Purchase | None:
    """A purchase by id, whatever its merchant, or None."""
    return db.session.get(Purchase, purchase_id)


def latest_purchases(merchant_id: int, limit: int = 100) -> list[Purchase]:
    """A merchant's newest purchases from every source, newest first."""
    return list(
        db.session.scalars(purchases_query(merchant_id).order_by(Purchase.id.desc()).limit(limit))
    )


def first_with_open_invitation(merchant_id: int) -> Purchase | None:
    """The merchant's oldest purchase whose review invitation is still open."""
    return db.session.scalars(
        select(Purchase)
        .join(ReviewInvitation)
        .where(Purchase.merchant_id == merchant_id, ReviewInvitation.state == "open")
        .order_by(Purchase.id)
    ).first()


def purchases_query(
    merchant_id: int, external_id: str | None = None, status: str | None = None
) -> Select[Purchase]:
    """The statement listing a merchant's purchases, filtered (paginate it by id)."""
    stmt = _orders_query(merchant_id)
    if external_id is not None:
        stmt = stmt.where(Purchase.external_id == external_id)
    if status is not None:
        stmt = stmt.where(Purchase.status == status)
    return stmt


def invitation_url(token: str) -> str:
    """The public review-form address for a token."""
    return f"{current_app.config['TRUSTSEAL_BASE_URL']}/r/{token}"


def _new_link(invitation: ReviewInvitation, channel: str) -> InvitationLink:
    issued = issue_token(nbytes=24)  # 192 bits
    db.session.add(
        InvitationToken(invitation_id=invitation.id, token_hash=issued.token_hash, channel=channel)
    )
    return InvitationLink(issued.token, invitation_url(issued.token), invitation.expires_at)


def issue_invitation_link(purchase: Purchase) -> InvitationLink:
    """Issue a new review link for a delivered purchase, for the merchant to send itself.

    Raises :class:`InvitationRefused` when the purchase cannot be reviewed (not delivered,
    cancelled/refunded, already reviewed, or the invitation expired).
    """
    merchant = merchants.get(purchase.merchant_id)
    if merchant is None or not merchants.is_public(merchant):
        raise InvitationRefused(
            "merchant_pending",
            "Review links open once the shop has proved it controls its domain.",
        )
    status = Status(purchase.status)
    if status in FINAL:
        raise InvitationRefused("final", f"The order is {status.value}.")
    invitation = purchase.invitation
    if status is not Status.DELIVERED or invitation is None:
        raise InvitationRefused("not_delivered", "The order has not been delivered.")
    state = invitation_status(invitation)
    if state == "used":
        raise InvitationRefused("reviewed", "The order has been reviewed already.")
    if state == "cancelled":
        raise InvitationRefused("cancelled", "The invitation was cancelled.")
    if state == "expired":
        raise InvitationRefused("expired", "The invitation has expired.")
    if not purchase.attested:
        _charge_declared_link(purchase.merchant_id)
    link = _new_link(invitation, "merchant")
    invitation.sent_at = invitation.sent_at or utcnow()
    return link


def _charge_declared_link(merchant_id: int) -> None:
    """Count a review link for a purchase the merchant declared itself, in the caller's
    transaction, against ``TRUSTSEAL_DECLARED_LINKS_PER_HOUR`` and ``…_PER_DAY`` (the
    last 24 hours); raise :class:`InvitationRefused` (``rate_limited``) beyond them.

    The counter row of the hour stays locked until the transaction ends, so concurrent
    requests of one merchant are counted one after another; a link that is not committed
    does not count.
    """
    config = current_app.config
    per_hour, per_day = (
        config["TRUSTSEAL_DECLARED_LINKS_PER_HOUR"],
        config["TRUSTSEAL_DECLARED_LINKS_PER_DAY"],
    )
    now = utcnow()
    hour = now.strftime("%Y-%m-%dT%H")
    insert_ignoring_duplicate(
        DeclaredLinkCount,
        {"merchant_id": merchant_id, "hour": hour, "count": 0},
        ["merchant_id", "hour"],
    )
    this_hour = db.session.execute(
        update(DeclaredLinkCount)
        .where(DeclaredLinkCount.merchant_id == merchant_id, DeclaredLinkCount.hour == hour)
        .values(count=DeclaredLinkCount.count + 1)
        .returning(DeclaredLinkCount.count)
    ).scalar_one()
    since = (now - timedelta(hours=23)).strftime("%Y-%m-%dT%H")
    last_day = db.session.scalar(
        select(func.sum(DeclaredLinkCount.count)).where(
            DeclaredLinkCount.merchant_id == merchant_id, DeclaredLinkCount.hour >= since
        )
    )
    if this_hour > per_hour or (last_day or 0) > per_day:
        raise InvitationRefused(
            "rate_limited",
            f"Too many review links for orders your shop declared itself (at most {per_hour} "
            f"an hour and {per_day} a day), those its store webhooks sent included; orders "
            "trustseal confirmed with the platform itself have no limit.",
        )


def prune_link_counts() -> int:
    """Forget the link counters of hours more than a day old."""
    before = (utcnow() - timedelta(days=1, hours=1)).strftime("%Y-%m-%dT%H")
    result = execute_dml(delete(DeclaredLinkCount).where(DeclaredLinkCount.hour < before))
    return int(result.rowcount or 0)


jobs.periodic("orders.prune_link_counts", timedelta(hours=1))(prune_link_counts)


def invitation_for_token(token: str, *, lock: bool = False) -> ReviewInvitation | None:
    """The invitation a review token belongs to (locked for update if asked), or None."""
    stmt = (
        select(ReviewInvitation)
        .join(InvitationToken)
        .where(InvitationToken.token_hash == hash_token(token))
    )
    if lock:
        stmt = stmt.with_for_update(of=ReviewInvitation)
    return db.session.scalars(stmt).one_or_none()


@jobs.handler(INVITATION_EMAIL_JOB)
def send_invitation_email(payload: dict[str, Any]) -> None:
    """Job: email the customer a fresh review link, unless the invitation is closed."""
    invitation = db.session.get(ReviewInvitation, payload["invitation_id"])
    if invitation is None or invitation_status(invitation) != "pending":
        return  # used, cancelled, expired, or already sent (by email or by the merchant)
    purchase = invitation.purchase
    if not purchase.customer_email:
        return
    merchant = merchants.get(purchase.merchant_id)
    if merchant is None:
        return
    held = _hold_invitation_email(purchase, merchant)
    if held is not None:  # asked again later: nothing is lost, nothing goes out now
        jobs.enqueue(INVITATION_EMAIL_JOB, payload, delay=held)
        return
    if _email_link(invitation, merchant, "review_invitation") is None:
        return  # the address unsubscribed: no email, no reminder
    invitation.sent_at = utcnow()
    days = current_app.config["TRUSTSEAL_INVITATION_REMINDER_DAYS"]
    if days > 0:
        jobs.enqueue(INVITATION_REMINDER_JOB, payload, delay=timedelta(days=days))


def _email_link(invitation: ReviewInvitation, merchant: Merchant, template: str) -> int | None:
    """Email the customer a fresh review link (``template``: the invitation or its
    reminder), unless the address unsubscribed (None then)."""
    purchase = invitation.purchase
    assert purchase.customer_email is not None
    if mail.is_suppressed(purchase.customer_email):
        return None
    return mail.queue_to_consumer(
        purchase.customer_email,
        template,
        purchase.customer_locale,
        merchant=merchant,
        purchase=purchase,
        customer_name=purchase.customer_name,
        link=_new_link(invitation, "email"),
    )


@jobs.handler(INVITATION_REMINDER_JOB)
def send_invitation_reminder(payload: dict[str, Any]) -> None:
    """Job: the one reminder of an invitation emailed and not used since (none once it is
    used, cancelled, expired, reminded already, or the address unsubscribed)."""
    invitation = db.session.get(ReviewInvitation, payload["invitation_id"], with_for_update=True)
    if invitation is None or invitation.reminded_at is not None:
        return
    if invitation_status(invitation) != "sent" or not invitation.purchase.customer_email:
        return
    merchant = merchants.get(invitation.purchase.merchant_id)
    if merchant is None:
        return
    held = _hold_invitation_email(invitation.purchase, merchant)
    if held is not None:  # as the invitation: a declared purchase counts against the limit
        jobs.enqueue(INVITATION_REMINDER_JOB, payload, delay=held)
        return
    if _email_link(invitation, merchant, "review_reminder") is not None:
        invitation.reminded_at = utcnow()


def _hold_invitation_email(purchase: Purchase, merchant: Merchant) -> timedelta | None:
    """How long to hold an invitation email, or None to send it now.

    A shop that has not proved its domain sends no email in its name (held until it
    does); a purchase the shop declared counts against the same per-merchant limit as the
    links it asks for (held for an hour beyond it).
    """
    if not merchants.is_public(merchant):
        return UNVERIFIED_HOLD
    if not purchase.attested:
        try:
            _charge_declared_link(purchase.merchant_id)
        except InvitationRefused:
            return timedelta(hours=1)
    return None


def claim_invitation(token: str) -> ReviewInvitation:
    """Lock the invitation of a review token and mark it used (in the caller's transaction).

    Raises :class:`InvitationRefused` with reason ``unknown``, ``used``, ``expired`` or
    ``cancelled``. Concurrent claims of one token wait on the row lock: one wins.
    """
    invitation = _open_invitation_for(token, lock=True)
    invitation.state = "used"
    invitation.used_at = utcnow()
    return invitation


def check_invitation(token: str) -> ReviewInvitation:
    """The open invitation of a token, without claiming it (for showing the form).

    Raises :class:`InvitationRefused` like :func:`claim_invitation`.
    """
    return _open_invitation_for(token, lock=False)


_CLOSED = {
    "unknown": "This review link is not valid.",
    "used": "This purchase has been reviewed already.",
    "expired": "This review link has expired.",
    "cancelled": "This order was cancelled or refunded.",
}


def _open_invitation_for(token: str, *, lock: bool) -> ReviewInvitation:
    invitation = invitation_for_token(token, lock=lock)
    if invitation is None:
        raise InvitationRefused("unknown", _CLOSED["unknown"])
    if lock:
        db.session.refresh(invitation)  # the state as of the lock, not a cached one
    state = invitation_status(invitation)
    if state in _CLOSED:
        raise InvitationRefused(state, _CLOSED[state])
    return invitation


def purchase_ids_for(
    merchant_id: int, source: str | None, email: str | None, external_ids: tuple[str, ...]
) -> list[int]:
    """A customer's purchases at a merchant (by email and/or external order ids)."""
    conditions = []
    if email:
        conditions.append(Purchase.customer_email == email.strip().lower())
    if external_ids:
        conditions.append(Purchase.external_id.in_(external_ids))
    if not conditions:
        return []
    stmt = select(Purchase.id).where(Purchase.merchant_id == merchant_id, or_(*conditions))
    if source is not None:
        stmt = stmt.where(Purchase.source == source)
    return list(db.session.scalars(stmt))


def purchase_ids_of_source(merchant_id: int, source: str) -> list[int]:
    """Every purchase a source recorded (for a whole-shop erasure)."""
    return list(
        db.session.scalars(
            select(Purchase.id).where(
                Purchase.merchant_id == merchant_id, Purchase.source == source
            )
        )
    )


def erase_purchases(purchase_ids: list[int]) -> None:
    """Erase the personal data of these purchases (privacy requests). The purchase, its
    status and items stay: they back verified reviews and the log."""
    for purchase in db.session.scalars(select(Purchase).where(Purchase.id.in_(purchase_ids))):
        purchase.customer_email = None
        purchase.customer_name = None


def repeat_customer_rate(merchant_id: int, now: datetime, days: int = 365) -> float | None:
    """Customer retention over the last period: (E - N) / S, where S is the customers of
    the previous period, E those of this period and N those of this period who never
    bought before. Customers are known by email (erased ones do not count)."""
    start, previous = now - timedelta(days=days), now - timedelta(days=2 * days)

    def customers(since: datetime, until: datetime) -> set[str]:
        return set(
            db.session.scalars(
                select(Purchase.customer_email)
                .where(
                    Purchase.merchant_id == merchant_id,
                    Purchase.customer_email.is_not(None),
                    Purchase.placed_at >= since,
                    Purchase.placed_at < until,
                )
                .distinct()
            )
        )

    before = customers(previous, start)
    during = customers(start, now)
    if not before:
        return None
    ever_before = (
        set(
            db.session.scalars(
                select(Purchase.customer_email)
                .where(
                    Purchase.merchant_id == merchant_id,
                    Purchase.customer_email.in_(during),
                    Purchase.placed_at < start,
                )
                .distinct()
            )
        )
        if during
        else set()
    )
    new = during - ever_before
    return round((len(during) - len(new)) / len(before), 3)


# --- queries for the fraud detector (the signals domain) ---


@dataclass(frozen=True)
class PurchaseFacts:
    """Who vouches for a purchase and, in server time, when it reached us
    (``recorded_at``) and when it became reviewable (``reviewable_at``: its review
    invitation opened, as it was recorded delivered; None before). No personal data, and
    none of the times the merchant declares (``placed_at``, ``delivered_at``)."""

    id: int
    attested: bool
    origin: str
    recorded_at: datetime
    reviewable_at: datetime | None


def purchase_facts(purchase_ids: list[int]) -> dict[int, PurchaseFacts]:
    """The provenance and server times of these purchases, by id (one query)."""
    if not purchase_ids:
        return {}
    rows = db.session.execute(
        select(
            Purchase.id,
            Purchase.attested,
            Purchase.origin,
            Purchase.created_at,
            ReviewInvitation.created_at,
        )
        .outerjoin(ReviewInvitation, ReviewInvitation.purchase_id == Purchase.id)
        .where(Purchase.id.in_(purchase_ids))
    )
    return {row[0]: PurchaseFacts(*row) for row in rows}
