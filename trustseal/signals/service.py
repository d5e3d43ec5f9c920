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

Merchants never see signals: only staff read them (API, console, email).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from flask import current_app
from flask_babel import format_datetime, format_decimal, gettext, ngettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select

from trustseal.clock import rfc3339, utcnow
from trustseal.dbutil import insert_ignoring_duplicate
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.mail import service as mail
from trustseal.merchants import service as merchants
from trustseal.merchants.models import Merchant
from trustseal.orders import service as orders
from trustseal.reviews import service as reviews
from trustseal.reviews.models import Review
from trustseal.signals.models import FraudSignal
from trustseal.staff import service as staff_service
from trustseal.staff.models import StaffUser
from trustseal.transparency import service as log

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
    Kind.FAST_REVIEW: _l("Review minutes after the order was declared"),
    Kind.SHARED_NETWORK: _l("Several reviews from one network"),
    Kind.REPEATED_IDENTITY: _l("Repeated reviewer email or text"),
}


class SignalError(Exception):
    """A signal operation refused; ``code`` is the HTTP status to answer."""

    def __init__(self, code: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


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
    group: list[reviews.ReviewFacts]
    window: timedelta | None  # how far apart its reviews may be; None: any distance


def _detect(review: reviews.ReviewFacts, purchase: orders.PurchaseFacts | None) -> list[_Finding]:
    """Run every check around ``review``: at most four indexed, bounded queries."""
    rules = published_rules()
    found: list[_Finding] = []
    at = review.created_at

    def window(since: timedelta, **key: Any) -> list[reviews.ReviewFacts]:
        return reviews.detector_window(review.merchant_id, at - since, at, limit=MAX_GROUP, **key)

    if review.verification_level == "declared":
        rule = rules[Kind.BURST]
        span = timedelta(minutes=rule["minutes"])
        group = window(span, declared=True)
        if len(group) >= rule["reviews"]:
            found.append(_Finding(Kind.BURST, "", "", group, span))
    if purchase is not None and not purchase.attested:
        delay = at - purchase.created_at
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


def _scan(review: reviews.ReviewFacts) -> Found:
    purchase = orders.purchase_facts([review.purchase_id]).get(review.purchase_id)
    result = Found(scanned=1)
    for finding in _detect(review, purchase):
        outcome = _record(finding, review)
        if outcome is not None:
            opened, signal_id = outcome
            (result.opened if opened else result.updated).append(signal_id)
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


def _match(signal: FraudSignal) -> str:
    return str(signal.evidence.get("match", ""))


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _continues(signal: FraudSignal, finding: _Finding, at: datetime) -> bool:
    """Whether a review at ``at`` belongs to the open signal's occurrence (within the
    window of its first or last review)."""
    if finding.window is None:
        return True
    first, last = _time(signal.evidence["first_at"]), _time(signal.evidence["last_at"])
    slack = finding.window + timedelta(seconds=1)  # evidence times are whole seconds
    return first - slack <= at <= last + slack


def _record(finding: _Finding, review: reviews.ReviewFacts) -> tuple[bool, int] | None:
    """Add a finding to the open signal of its pattern instance, or open one; None when
    the review is in a decided signal already (a scan again) or nothing changed."""
    recent = [
        s
        for s in db.session.scalars(
            select(FraudSignal)
            .where(FraudSignal.merchant_id == review.merchant_id, FraudSignal.kind == finding.kind)
            .order_by(FraudSignal.id.desc())
            .limit(RECENT_SIGNALS)
        )
        if _match(s) == finding.match
    ]
    decided = {rid: s.id for s in recent if s.status != Status.OPEN for rid in s.review_ids}
    if review.id in decided:
        return None
    key = _open_key(finding, review.merchant_id)
    holder = next(
        (s for s in recent if s.status == Status.OPEN and review.id in s.review_ids), None
    )
    current = _locked(FraudSignal.dedup_key == key)
    if holder is None and current is not None and _continues(current, finding, review.created_at):
        return _extend(current, finding, decided, locked=True)
    if holder is None:
        holder = next(
            (
                s
                for s in recent
                if s.status == Status.OPEN
                and s.dedup_key.split("#")[0] == key
                and _continues(s, finding, review.created_at)
            ),
            None,
        )
    if holder is not None:
        return _extend(holder, finding, decided)
    if current is not None:  # open, for an occurrence this one does not continue
        current.dedup_key = f"{key}#{current.id}"
        db.session.flush()
    return _open(finding, review, key, decided)


def _locked(condition: Any) -> FraudSignal | None:
    return db.session.scalars(
        select(FraudSignal)
        .where(condition)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()


def _review_evidence(group: Iterable[reviews.ReviewFacts], kind: Kind) -> list[dict[str, Any]]:
    """Each review of a pattern as evidence: ids, times, provenance (no personal data)."""
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
            item["purchase_recorded_at"] = rfc3339(purchase.created_at)
            if kind is Kind.FAST_REVIEW:
                minutes = (member.created_at - purchase.created_at).total_seconds() / 60
                item["minutes_after_declared"] = round(minutes, 1)
        items.append(item)
    return items


def _with_reviews(
    evidence: dict[str, Any], finding: _Finding, new: list[reviews.ReviewFacts]
) -> dict[str, Any]:
    """The evidence with reviews added (by id, at most :data:`MAX_GROUP`), its span and
    its count (for a windowed kind, the most reviews one window held)."""
    items = {item["id"]: item for item in evidence.get("reviews", [])}
    for item in _review_evidence(new, finding.kind):
        items.setdefault(item["id"], item)
    ordered = [items[i] for i in sorted(items)]
    kept = ordered[:MAX_GROUP]
    # the span covers every review seen, listed or not (RFC 3339 UTC sorts as text)
    times = [item["reviewed_at"] for item in ordered]
    times += [evidence[k] for k in ("first_at", "last_at") if k in evidence]
    window_count = len(kept) if finding.window is None else len(finding.group)
    result = {
        **evidence,
        "count": max(int(evidence.get("count", 0)), window_count),
        "first_at": min(times),
        "last_at": max(times),
        "reviews": kept,
        "purchase_ids": [item["purchase_id"] for item in kept],
    }
    if len(ordered) > len(kept) or len(finding.group) >= MAX_GROUP:
        result["truncated"] = True
    return result


def _extend(
    signal: FraudSignal, finding: _Finding, decided: dict[int, int], *, locked: bool = False
) -> tuple[bool, int] | None:
    """Add the finding's reviews to an open signal (``locked``: its row is locked
    already); None when it holds them already."""
    locked_signal = signal if locked else _locked(FraudSignal.id == signal.id)
    if locked_signal is None or locked_signal.status != Status.OPEN:
        return None
    known = set(locked_signal.review_ids)
    new = [r for r in finding.group if r.id not in known and r.id not in decided]
    window_count = len(finding.group) if finding.window is not None else 0
    if not new and window_count <= int(locked_signal.evidence.get("count", 0)):
        return None
    locked_signal.evidence = _with_reviews(dict(locked_signal.evidence), finding, new)
    locked_signal.review_ids = [item["id"] for item in locked_signal.evidence["reviews"]]
    locked_signal.updated_at = utcnow()
    return False, locked_signal.id


def _open(
    finding: _Finding, review: reviews.ReviewFacts, key: str, decided: dict[int, int]
) -> tuple[bool, int] | None:
    """Open a signal for a new occurrence and tell staff (once, not on later updates)."""
    members = [r for r in finding.group if r.id not in decided]
    evidence: dict[str, Any] = {"rule": published_rules()[finding.kind]}
    if finding.match:
        evidence["match"] = finding.match
    earlier = sorted({decided[r.id] for r in finding.group if r.id in decided})
    if earlier:
        evidence["earlier_signal_ids"] = earlier
    evidence = _with_reviews(evidence, finding, members)
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
    if signal is None:  # another worker opened it meanwhile: add to it
        current = _locked(FraudSignal.dedup_key == key)
        return None if current is None else _extend(current, finding, decided, locked=True)
    _notify(signal)
    return True, signal.id


def _notify(signal: FraudSignal) -> None:
    """Email the admins and certifiers that a signal opened (in the caller's transaction)."""
    recipients = staff_service.notification_emails(NOTIFIED_ROLES)
    merchant = merchants.get(signal.merchant_id)
    if not recipients or merchant is None:
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


@reviews.on_published
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
    review_ids = list(signal.review_ids)
    if status == Status.CONFIRMED:
        reviews.flag_for_moderation(review_ids, f"#{signal.id} {signal.kind}: {reason}")
    log.append(
        log.Event(
            f"signal.{status}",
            merchant=merchant.slug,
            data={"signal_id": signal.id, "kind": signal.kind, "review_ids": review_ids},
        )
    )
    return signal


# --------------------------------------------------------------------------- reading


def signals_query(
    merchant_id: int | None = None, status: str | None = None
) -> Select[tuple[FraudSignal]]:
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
            (item.get("minutes_after_declared", 0) for item in evidence.get("reviews", [])),
            default=0,
        )
        text = ngettext(
            "%(num)s review was written less than %(minutes)s minutes after the shop "
            "declared its order (the quickest after %(fastest)s minutes).",
            "%(num)s reviews were written less than %(minutes)s minutes after the shop "
            "declared their orders (the quickest after %(fastest)s minutes).",
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
    if evidence.get("truncated"):
        text += " " + gettext("Only the first %(n)s reviews are listed.", n=MAX_GROUP)
    return text
