"""The signals domain's door: the fraud detector, staff decisions, the lists.

The detector runs as a job after each published review (:func:`scan_review`) and over
stored reviews (:func:`scan`, the ``trustseal signals scan`` command). Each of its checks
is one indexed, bounded query around the review — its merchant and time window, or its
keyed hash — so scanning a review costs the same however many reviews there are.

Dedup: an open signal stands for one pattern instance — its kind, merchant and subject
(the network's or identity's keyed hash, or nothing for the merchant-wide kinds) — and its
``dedup_key`` names that instance, so two workers cannot open it twice. Scanning again, or
the next review of the same burst or network, adds to the open signal. An occurrence that
does not continue it (a burst days later) opens another; the earlier one stays open under
a key renamed after its id. A decided signal's key keeps no hash: a new occurrence of the
pattern opens a new signal, and reviews a decided signal holds are not reported again.

A signal lists at most :data:`MAX_GROUP` reviews. One that is full is closed to additions
(its key renamed after its id, it stays open for staff) and the pattern goes on in a
continuation signal whose evidence names it (``continues_signal_id``): every review of a
pattern is in exactly one signal, and confirming a signal flags exactly the reviews it
lists.

Staff are emailed when a signal opens, at most once per merchant and kind an hour (the
signals opened meanwhile are in the console queue); the signal that was emailed about says
so in its evidence (``emailed``), which is how the next one knows.

Merchants never see signals: only staff read them (API, console, email).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from flask import current_app
from flask_babel import format_datetime, format_decimal, gettext, ngettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, select

from trustseal.clock import rfc3339, utcnow
from trustseal.dbutil import insert_ignoring_duplicate
from trustseal.errors import DomainError
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.mail import service as mail
from trustseal.merchants import service as merchants
from trustseal.orders import service as orders
from trustseal.reviews import service as reviews
from trustseal.signals.models import FraudSignal
from trustseal.staff import service as staff_service
from trustseal.transparency import service as log

if TYPE_CHECKING:
    from trustseal.merchants.models import Merchant
    from trustseal.reviews.models import Review
    from trustseal.staff.models import StaffUser

SCAN_JOB = "signals.scan_review"
# Reviews one check reads around a review, and the most a signal lists: a bound on the
# cost of a scan whatever a merchant does (the count then says "at least").
MAX_GROUP = 200
# Signals of one merchant and kind read to tell a new occurrence from a known one.
RECENT_SIGNALS = 50
# A text counts as copied only from this many characters: "Excelente" twice is not a sign.
MIN_COPIED_TEXT_CHARS = 40
SCAN_BATCH = 500
NOTIFIED_ROLES = (staff_service.Role.ADMIN, staff_service.Role.CERTIFIER)
# Staff get at most one email per merchant and kind in this time.
EMAIL_EVERY = timedelta(hours=1)


class Kind(StrEnum):
    """The patterns the detector looks for (see :func:`published_rules`)."""

    BURST = "burst"
    FAST_REVIEW = "fast_review"
    SHARED_NETWORK = "shared_network"
    REPEATED_IDENTITY = "repeated_identity"


class Status(StrEnum):
    """A signal's state: open until staff confirm or dismiss it."""

    OPEN = "open"
    DISMISSED = "dismissed"
    CONFIRMED = "confirmed"


DECISIONS = (Status.DISMISSED.value, Status.CONFIRMED.value)

KIND_TITLES = {
    Kind.BURST: _l("Burst of reviews of declared orders"),
    Kind.FAST_REVIEW: _l("Review minutes after the order was declared delivered"),
    Kind.SHARED_NETWORK: _l("Several reviews from one network"),
    Kind.REPEATED_IDENTITY: _l("Repeated reviewer email or text"),
}


class SignalError(DomainError):
    """A signal operation refused."""


@dataclass
class Found:
    """What scanning did: the ids of the signals opened and of those that grew."""

    opened: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    scanned: int = 0

    def add(self, other: Found) -> None:
        """Count another scan's outcome in this one."""
        self.opened += other.opened
        self.updated += [i for i in other.updated if i not in self.updated]
        self.scanned += other.scanned


# --------------------------------------------------------------------------- rules


def published_rules() -> dict[str, dict[str, int]]:
    """The thresholds of each kind, from the configuration (shown on ``/score`` and kept
    in each signal's evidence as the rule that fired)."""
    config = current_app.config
    return {
        Kind.BURST: {
            "reviews": config["TRUSTSEAL_SIGNAL_BURST_REVIEWS"],
            "minutes": config["TRUSTSEAL_SIGNAL_BURST_MINUTES"],
        },
        Kind.FAST_REVIEW: {"minutes": config["TRUSTSEAL_SIGNAL_FAST_REVIEW_MINUTES"]},
        Kind.SHARED_NETWORK: {
            "reviews": config["TRUSTSEAL_SIGNAL_SHARED_NETWORK_REVIEWS"],
            "days": config["TRUSTSEAL_SIGNAL_SHARED_NETWORK_DAYS"],
        },
        Kind.REPEATED_IDENTITY: {
            "reviews": 2,
            "days": config["TRUSTSEAL_SIGNAL_REPEATED_IDENTITY_DAYS"],
            "min_text_chars": MIN_COPIED_TEXT_CHARS,
        },
    }


# --------------------------------------------------------------------------- detector


@dataclass(frozen=True)
class _Finding:
    """A pattern found around one review: the reviews that form it, newest first."""

    kind: Kind
    match: str  # repeated_identity: what the reviews share, "email" or "text"; else ""
    subject: str  # the shared keyed hash (shortened), or "" for the merchant-wide kinds
    group: list[reviews.DetectorFacts]
    window: timedelta | None  # how far apart its reviews may be; None: any distance


def _declared(review: reviews.DetectorFacts) -> bool:
    """Whether the review was written on a purchase nobody but the merchant vouched for:
    its verification level when written (not its source's name — a store's webhook is
    declared too — and not the purchase's today: an order attested later does not change
    the review, as it does not change its log leaf)."""
    return review.verification_level == "declared"


def _reviewable_at(purchase: orders.PurchaseFacts) -> datetime:
    """When, in server time, the purchase could first be reviewed: its review invitation
    opened (it was recorded delivered). Never a time the merchant declares, such as when
    the order was placed. Without an invitation (rows loaded in bulk), when it was recorded."""
    return purchase.reviewable_at or purchase.recorded_at


def _detect(review: reviews.DetectorFacts, purchase: orders.PurchaseFacts | None) -> list[_Finding]:
    """Run every check around ``review``: at most four indexed, bounded queries."""
    rules = published_rules()
    found: list[_Finding] = []
    at = review.created_at

    def window(since: timedelta, **key: Any) -> list[reviews.DetectorFacts]:
        return reviews.detector_window(review.merchant_id, at - since, at, limit=MAX_GROUP, **key)

    if _declared(review):
        rule = rules[Kind.BURST]
        span = timedelta(minutes=rule["minutes"])
        group = window(span, declared=True)
        if len(group) >= rule["reviews"]:
            found.append(_Finding(Kind.BURST, "", "", group, span))
    if _declared(review) and purchase is not None:
        delay = at - _reviewable_at(purchase)
        if timedelta(0) <= delay <= timedelta(minutes=rules[Kind.FAST_REVIEW]["minutes"]):
            found.append(_Finding(Kind.FAST_REVIEW, "", "", [review], None))
    if review.reviewer_network:
        rule = rules[Kind.SHARED_NETWORK]
        span = timedelta(days=rule["days"])
        group = window(span, network=review.reviewer_network)
        if len(group) >= rule["reviews"]:
            found.append(
                _Finding(Kind.SHARED_NETWORK, "", review.reviewer_network[:32], group, span)
            )
    span = timedelta(days=rules[Kind.REPEATED_IDENTITY]["days"])
    if review.identity_key:
        group = window(span, identity=review.identity_key)
        if len(group) >= 2:
            found.append(
                _Finding(Kind.REPEATED_IDENTITY, "email", review.identity_key[:32], group, span)
            )
    if review.text_key and review.body_length >= MIN_COPIED_TEXT_CHARS:
        group = window(span, text=review.text_key)
        if len(group) >= 2:
            found.append(
                _Finding(Kind.REPEATED_IDENTITY, "text", review.text_key[:32], group, span)
            )
    return found


def scan_review(review_id: int) -> Found:
    """Look for every kind of pattern around one review, and open or extend the signals
    it belongs to (the job after each published review; safe to run again)."""
    facts = reviews.detector_facts(review_id)
    if facts is None or facts.status != "published":
        return Found()
    return _scan(facts)


def _scan(review: reviews.DetectorFacts) -> Found:
    purchase = orders.purchase_facts([review.purchase_id]).get(review.purchase_id)
    result = Found(scanned=1)
    for finding in _detect(review, purchase):
        for opened, signal_id in _record(finding, review):
            target = result.opened if opened else result.updated
            if signal_id not in target:
                target.append(signal_id)
    return result


def scan(merchant_id: int | None = None, since: datetime | None = None) -> Found:
    """Scan every published review (of one merchant, written since a time), oldest
    first, as the job does after each one. Commits after each batch of reviews, so a
    long scan holds no long transaction; a second scan opens nothing new."""
    result = Found()
    after = 0
    while batch := reviews.detector_batch(after, SCAN_BATCH, merchant_id, since):
        for facts in batch:
            result.add(_scan(facts))
        after = batch[-1].id
        db.session.commit()
    return result


def _open_key(finding: _Finding, merchant_id: int) -> str:
    return f"{finding.kind}:{merchant_id}:{finding.match}:{finding.subject}"


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class _Known:
    """What the detector reads of a recent signal to place a finding: no evidence list."""

    id: int
    status: str
    dedup_key: str
    review_ids: list[int]
    first_at: str | None
    last_at: str | None

    @property
    def full(self) -> bool:
        return len(self.review_ids) >= MAX_GROUP


def _recent(merchant_id: int, finding: _Finding) -> list[_Known]:
    """The merchant's latest signals of the finding's kind and match, newest first, at
    most :data:`RECENT_SIGNALS`: one range of ``ix_fraud_signals_merchant_kind_id``,
    reading the review ids and the span, never the evidence's review list."""
    evidence = FraudSignal.evidence
    rows = db.session.execute(
        select(
            FraudSignal.id,
            FraudSignal.status,
            FraudSignal.dedup_key,
            FraudSignal.review_ids,
            evidence["first_at"].as_string(),
            evidence["last_at"].as_string(),
        )
        .where(
            FraudSignal.merchant_id == merchant_id,
            FraudSignal.kind == finding.kind.value,
            func.coalesce(evidence["match"].as_string(), "") == finding.match,
        )
        .order_by(FraudSignal.id.desc())
        .limit(RECENT_SIGNALS)
    )
    return [_Known(*row) for row in rows]


def _continues(first_at: str | None, last_at: str | None, finding: _Finding, at: datetime) -> bool:
    """Whether a review at ``at`` belongs to the occurrence a signal spans (within the
    window of its first or last review)."""
    if finding.window is None:
        return True
    if first_at is None or last_at is None:
        return False
    slack = finding.window + timedelta(seconds=1)  # evidence times are whole seconds
    return _time(first_at) - slack <= at <= _time(last_at) + slack


def _full(signal: FraudSignal) -> bool:
    return len(signal.review_ids) >= MAX_GROUP


def _takes(signal: FraudSignal, finding: _Finding, at: datetime) -> bool:
    """Whether an open signal can take more reviews of the occurrence at ``at``."""
    evidence = signal.evidence
    return (
        signal.status == Status.OPEN
        and not _full(signal)
        and _continues(evidence.get("first_at"), evidence.get("last_at"), finding, at)
    )


def _record(finding: _Finding, review: reviews.DetectorFacts) -> list[tuple[bool, int]]:
    """Add a finding's reviews to the open signal of its pattern instance, or open one —
    and, when that signal fills up, a continuation for the rest. Returns (opened, id) of
    each signal changed; nothing when the review is in a decided signal already (a scan
    again) or nothing changed."""
    recent = _recent(review.merchant_id, finding)
    decided = {rid: s.id for s in recent if s.status != Status.OPEN for rid in s.review_ids}
    if review.id in decided:
        return []
    key = _open_key(finding, review.merchant_id)
    at = review.created_at
    chain = [s for s in recent if s.status == Status.OPEN and s.dedup_key.split("#")[0] == key]
    held = {rid: s.id for s in chain for rid in s.review_ids}

    # Where the finding goes: the signal that holds the review already, else the one
    # holding the key if this continues it, else an earlier occurrence's it continues.
    # Locks: the key's holder first, then the others by id.
    current = _locked(FraudSignal.dedup_key == key)
    target: FraudSignal | None = None
    if review.id in held:
        holder = held[review.id]
        target = current if current is not None and current.id == holder else None
        target = target or _locked(FraudSignal.id == holder)
    elif current is not None and _takes(current, finding, at):
        target = current
    else:
        earlier = next(
            (
                s.id
                for s in chain
                if s.dedup_key != key
                and not s.full
                and _continues(s.first_at, s.last_at, finding, at)
            ),
            None,
        )
        target = None if earlier is None else _locked(FraudSignal.id == earlier)
    # a full signal of this occurrence, which a signal opened now continues
    previous = next(
        (s.id for s in chain if s.full and _continues(s.first_at, s.last_at, finding, at)), None
    )
    owner = None if target is None else target.id
    pending = [r for r in finding.group if r.id not in decided and held.get(r.id, owner) == owner]

    outcomes: list[tuple[bool, int]] = []
    for _ in range(MAX_GROUP + 2):  # each turn places reviews or stops
        if target is not None and target.status != Status.OPEN:  # decided meanwhile
            if review.id in target.review_ids:
                break
            gone = set(target.review_ids)
            pending = [r for r in pending if r.id not in gone]
            target = None
        if target is not None:
            changed, pending = _extend(target, finding, pending)
            if changed:
                outcomes.append((False, target.id))
            if _full(target):
                if target.dedup_key == key:  # closed to additions: the key is free
                    target.dedup_key = f"{key}#{target.id}"
                    db.session.flush()
                previous = target.id
            if not pending:
                break
            target = None
            continue
        if not pending:
            break
        if current is not None and current.dedup_key == key:
            if _takes(current, finding, at):
                target = current
                continue
            # open, for an occurrence this one does not continue: it keeps its reviews
            current.dedup_key = f"{key}#{current.id}"
            db.session.flush()
        signal, pending = _open(finding, review, key, decided, pending, previous)
        if signal is None:  # another worker opened it meanwhile: add to it
            current = target = _locked(FraudSignal.dedup_key == key)
            if target is None:
                break
            continue
        outcomes.append((True, signal.id))
        previous = signal.id
        if not pending:
            break
    return outcomes


def _locked(condition: Any) -> FraudSignal | None:
    return db.session.scalars(
        select(FraudSignal)
        .where(condition)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()


def _review_evidence(group: Iterable[reviews.DetectorFacts], kind: Kind) -> list[dict[str, Any]]:
    """Each review of a pattern as evidence: ids, server times, provenance (no personal
    data): when its purchase was recorded and became reviewable, when it was written."""
    members = list(group)
    purchases = orders.purchase_facts([r.purchase_id for r in members])
    items = []
    for member in members:
        purchase = purchases.get(member.purchase_id)
        item: dict[str, Any] = {
            "id": member.id,
            "purchase_id": member.purchase_id,
            "reviewed_at": rfc3339(member.created_at),
            "verification": {
                "level": member.verification_level,
                "source": member.verification_source,
            },
        }
        if purchase is not None:
            item["purchase_recorded_at"] = rfc3339(purchase.recorded_at)
            if purchase.reviewable_at is not None:
                item["reviewable_at"] = rfc3339(purchase.reviewable_at)
            if kind is Kind.FAST_REVIEW:
                minutes = (member.created_at - _reviewable_at(purchase)).total_seconds() / 60
                item["minutes_after_reviewable"] = round(minutes, 1)
        items.append(item)
    return items


def _with_reviews(
    evidence: dict[str, Any], finding: _Finding, new: list[reviews.DetectorFacts]
) -> dict[str, Any]:
    """The evidence with reviews added (by id; the caller keeps the list within
    :data:`MAX_GROUP`), its span and its count (for a windowed kind, the most reviews one
    window held, counting at most :data:`MAX_GROUP`)."""
    items = {item["id"]: item for item in evidence.get("reviews", [])}
    for item in _review_evidence(new, finding.kind):
        items.setdefault(item["id"], item)
    listed = [items[i] for i in sorted(items)]
    times = [item["reviewed_at"] for item in listed]
    times += [evidence[k] for k in ("first_at", "last_at") if k in evidence]
    window_count = len(listed) if finding.window is None else len(finding.group)
    result = {
        **evidence,
        "count": max(int(evidence.get("count", 0)), window_count),
        "first_at": min(times),
        "last_at": max(times),
        "reviews": listed,
        "purchase_ids": [item["purchase_id"] for item in listed],
    }
    if len(listed) >= MAX_GROUP:
        result["full"] = True  # closed to additions: the pattern goes on in a continuation
    return result


def _extend(
    signal: FraudSignal, finding: _Finding, pending: list[reviews.DetectorFacts]
) -> tuple[bool, list[reviews.DetectorFacts]]:
    """Add to an open, locked signal the pending reviews it lacks, oldest first, as many as
    it has room for. Returns whether it changed, and the reviews left without a place."""
    known = set(signal.review_ids)
    new = sorted((r for r in pending if r.id not in known), key=lambda r: r.id)
    room = max(0, MAX_GROUP - len(known))
    fits, rest = new[:room], new[room:]
    window_count = len(finding.group) if finding.window is not None else 0
    if not fits and window_count <= int(signal.evidence.get("count", 0)):
        return False, rest
    signal.evidence = _with_reviews(dict(signal.evidence), finding, fits)
    signal.review_ids = [item["id"] for item in signal.evidence["reviews"]]
    signal.updated_at = utcnow()
    return True, rest


def _open(
    finding: _Finding,
    review: reviews.DetectorFacts,
    key: str,
    decided: dict[int, int],
    members: list[reviews.DetectorFacts],
    previous: int | None,
) -> tuple[FraudSignal | None, list[reviews.DetectorFacts]]:
    """Open a signal under ``key`` with the first :data:`MAX_GROUP` of ``members`` (the
    continuation of ``previous``, a full signal, if given) and tell staff (see
    :func:`_notify`). Returns it — None if another worker holds the key — and the members
    left for a continuation."""
    ordered = sorted(members, key=lambda r: r.id)
    fits, rest = ordered[:MAX_GROUP], ordered[MAX_GROUP:]
    evidence: dict[str, Any] = {"rule": published_rules()[finding.kind]}
    if finding.match:
        evidence["match"] = finding.match
    earlier = sorted({decided[r.id] for r in finding.group if r.id in decided})
    if earlier:
        evidence["earlier_signal_ids"] = earlier
    if previous is not None:
        evidence["continues_signal_id"] = previous
    evidence = _with_reviews(evidence, finding, fits)
    recipients = _recipients(review.merchant_id, finding.kind)
    if recipients:
        evidence["emailed"] = True  # what tells the next signals not to email again
    now = utcnow()
    db.session.flush()
    signal = insert_ignoring_duplicate(
        FraudSignal,
        {
            "merchant_id": review.merchant_id,
            "kind": finding.kind.value,
            "dedup_key": key,
            "status": Status.OPEN.value,
            "review_ids": [item["id"] for item in evidence["reviews"]],
            "evidence": evidence,
            "reason": None,
            "decided_by": None,
            "decided_at": None,
            "created_at": now,
            "updated_at": now,
        },
        ["dedup_key"],
        returning_entity=True,
    )
    if signal is None:
        return None, members
    if len(fits) >= MAX_GROUP:  # full at once: closed to additions
        signal.dedup_key = f"{key}#{signal.id}"
        db.session.flush()
    if recipients:
        _notify(signal, recipients)
    return signal, rest


def _recipients(merchant_id: int, kind: Kind) -> list[str]:
    """Who to email about a signal opening: the admins and certifiers, unless they were
    emailed about this merchant and kind within :data:`EMAIL_EVERY` (then nobody)."""
    since = utcnow() - EMAIL_EVERY
    latest = (
        select(FraudSignal.id)
        .where(FraudSignal.merchant_id == merchant_id, FraudSignal.kind == kind.value)
        .order_by(FraudSignal.id.desc())
        .limit(RECENT_SIGNALS)
    )
    emailed = db.session.scalars(
        select(FraudSignal.evidence["emailed"].as_boolean()).where(
            FraudSignal.id.in_(latest.scalar_subquery()), FraudSignal.created_at >= since
        )
    )
    if any(emailed):
        return []
    return staff_service.notification_emails(NOTIFIED_ROLES)


def _notify(signal: FraudSignal, recipients: list[str]) -> None:
    """Email staff that a signal opened (in the caller's transaction)."""
    merchant = merchants.get(signal.merchant_id)
    if merchant is None:
        return
    base = current_app.config["TRUSTSEAL_BASE_URL"]
    message = mail.render(
        "signal_opened",
        "es",
        signal=signal,
        merchant=merchant,
        kind_title=kind_title,
        describe=describe,
        url=f"{base}/console/moderation#s{signal.id}",
    )
    for email in recipients:
        mail.queue(email, message, "es")


@jobs.handler(SCAN_JOB)
def run_scan_job(payload: dict[str, Any]) -> None:
    """Job: scan the review just published (retried by the job system if it fails)."""
    scan_review(int(payload["review_id"]))


def queue_scan(review: Review) -> None:
    """Queue the detector for a review just published, in its transaction: the review
    never waits for the detector, and a detector failure never undoes it."""
    jobs.enqueue(SCAN_JOB, {"review_id": review.id})


# --------------------------------------------------------------------------- decisions


def get(signal_id: int) -> FraudSignal | None:
    """A signal, or None."""
    return db.session.get(FraudSignal, signal_id)


def decide(signal_id: int, status: str, reason: str, staff: StaffUser) -> FraudSignal:
    """Confirm a signal (its reviews go to the moderation queue; they stay visible until a
    moderator decides) or dismiss it; both keep the reason, who and when, and are logged.

    Raises :class:`SignalError`: 404 unknown, 409 decided already, 422 bad status or
    blank reason.
    """
    if status not in DECISIONS:
        raise SignalError(422, "status is dismissed or confirmed.", field="status")
    reason = reason.strip()
    if not reason:
        raise SignalError(422, "Give the reason for the decision.", field="reason")
    signal = _locked(FraudSignal.id == signal_id)
    if signal is None:
        raise SignalError(404, "No such signal.")
    if signal.status != Status.OPEN:
        raise SignalError(409, f"The signal was {signal.status} already.")
    merchant = merchants.get(signal.merchant_id)
    assert merchant is not None
    now = utcnow()
    signal.status, signal.reason = status, reason
    signal.decided_by, signal.decided_at, signal.updated_at = staff.id, now, now
    signal.dedup_key = f"{signal.kind}:{signal.merchant_id}#{signal.id}"  # no hash kept
    db.session.flush()
    if status == Status.CONFIRMED:
        reviews.flag_for_moderation(
            list(signal.review_ids), f"#{signal.id} {signal.kind}: {reason}"
        )
    # The public log says that staff decided, not what about: the shop must not learn
    # which of its reviews were caught or cleared, nor the kind of pattern.
    log.append(log.Event(f"signal.{status}", merchant=merchant.slug, data={"signal_id": signal.id}))
    return signal


# --------------------------------------------------------------------------- reading


def signals_query(merchant_id: int | None = None, status: str | None = None) -> Select[FraudSignal]:
    """The statement listing signals (paginate newest first by id)."""
    stmt = select(FraudSignal)
    if merchant_id is not None:
        stmt = stmt.where(FraudSignal.merchant_id == merchant_id)
    if status is not None:
        stmt = stmt.where(FraudSignal.status == status)
    return stmt


def as_json(signals: list[FraudSignal]) -> list[dict[str, Any]]:
    """The API shape of signals: ``reason`` and ``decided_at`` once decided."""
    slugs = {
        merchant_id: merchant.slug if (merchant := merchants.get(merchant_id)) else ""
        for merchant_id in {s.merchant_id for s in signals}
    }
    items = []
    for signal in signals:
        item: dict[str, Any] = {
            "id": signal.id,
            "merchant": slugs[signal.merchant_id],
            "kind": signal.kind,
            "review_ids": list(signal.review_ids),
            "evidence": signal.evidence,
            "created_at": signal.created_at,
            "status": signal.status,
        }
        if signal.status != Status.OPEN:
            item["reason"], item["decided_at"] = signal.reason, signal.decided_at
        items.append(item)
    return items


def open_queue(limit: int = 100) -> list[tuple[FraudSignal, Merchant]]:
    """Open signals, oldest first, with their merchants (the console moderation queue)."""
    signals = list(
        db.session.scalars(signals_query(status=Status.OPEN).order_by(FraudSignal.id).limit(limit))
    )
    shops = {m: merchants.get(m) for m in {s.merchant_id for s in signals}}
    return [(s, shop) for s in signals if (shop := shops[s.merchant_id]) is not None]


def kind_title(kind: str) -> str:
    """A kind's name in words, in the current locale."""
    try:
        return str(KIND_TITLES[Kind(kind)])
    except ValueError:
        return kind


def _when(text: str) -> str:
    return format_datetime(_time(text).astimezone(UTC), "short")


def describe(signal: FraudSignal) -> str:
    """A signal's evidence in words, in the current locale (console and emails)."""
    evidence = signal.evidence
    rule = evidence.get("rule", {})
    count = int(evidence.get("count", len(signal.review_ids)))
    span = {"first": _when(evidence["first_at"]), "last": _when(evidence["last_at"])}
    if signal.kind == Kind.BURST:
        text = gettext(
            "%(count)s reviews of orders the shop declared itself were written within "
            "%(minutes)s minutes (the rule: %(threshold)s or more), between %(first)s and "
            "%(last)s.",
            count=count,
            minutes=rule.get("minutes"),
            threshold=rule.get("reviews"),
            **span,
        )
    elif signal.kind == Kind.FAST_REVIEW:
        fastest = min(
            (item.get("minutes_after_reviewable", 0) for item in evidence.get("reviews", [])),
            default=0,
        )
        text = ngettext(
            "%(num)s review was written less than %(minutes)s minutes after the shop "
            "declared its order delivered (the quickest after %(fastest)s minutes).",
            "%(num)s reviews were written less than %(minutes)s minutes after the shop "
            "declared their orders delivered (the quickest after %(fastest)s minutes).",
            count,
            minutes=rule.get("minutes"),
            fastest=format_decimal(fastest),
        )
    elif signal.kind == Kind.SHARED_NETWORK:
        text = gettext(
            "%(count)s reviews came from one network (the same IPv4 /24 or IPv6 /64) within "
            "%(days)s days (the rule: %(threshold)s or more), between %(first)s and %(last)s.",
            count=count,
            days=rule.get("days"),
            threshold=rule.get("reviews"),
            **span,
        )
    elif evidence.get("match") == "text":
        text = gettext(
            "%(count)s reviews have the same text (ignoring case, accents and punctuation) "
            "within %(days)s days, between %(first)s and %(last)s.",
            count=count,
            days=rule.get("days"),
            **span,
        )
    else:
        text = gettext(
            "%(count)s reviews were written with the same reviewer email (ignoring case, "
            "dots, +tags and trailing digits) within %(days)s days, between %(first)s and "
            "%(last)s.",
            count=count,
            days=rule.get("days"),
            **span,
        )
    if evidence.get("earlier_signal_ids"):
        text += " " + gettext(
            "Some reviews of this pattern were in signals decided before: %(ids)s.",
            ids=", ".join(f"#{i}" for i in evidence["earlier_signal_ids"]),
        )
    return text
