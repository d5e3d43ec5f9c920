"""The seals domain's door: the lifecycle of a merchant's seal.

none → pending → active → suspended / revoked / expired. Every decision has a public
reason and is a transparency-log leaf. ``active`` past ``valid_until`` reads as
``expired`` at once; a job records the expiry decision when the moment comes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from flask import current_app
from sqlalchemy import select

from trustseal.clock import rfc3339, utcnow
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.merchants import service as merchants
from trustseal.merchants.models import Merchant
from trustseal.seals import sitecheck
from trustseal.seals.criteria import CRITERIA, criteria
from trustseal.seals.models import CriterionReview, Seal, SealDecision, SiteCheck
from trustseal.staff.models import StaffUser
from trustseal.transparency import service as log

EXPIRE_JOB = "seals.expire"
DEFAULT_VALIDITY = timedelta(days=365)


class Action(StrEnum):
    """What staff can decide."""

    APPROVE = "approve"
    SUSPEND = "suspend"
    REVOKE = "revoke"
    REINSTATE = "reinstate"


# action → (statuses it applies to, status after, log event)
TRANSITIONS: dict[Action, tuple[frozenset[str], str, str]] = {
    Action.APPROVE: (
        frozenset({"none", "pending", "active", "expired", "revoked"}),
        "active",
        "seal.approved",
    ),
    Action.SUSPEND: (frozenset({"active"}), "suspended", "seal.suspended"),
    Action.REVOKE: (frozenset({"active", "suspended", "pending"}), "revoked", "seal.revoked"),
    Action.REINSTATE: (frozenset({"suspended"}), "active", "seal.reinstated"),
}


class SealError(Exception):
    """A decision that cannot apply; ``code`` is the HTTP status (409 or 422)."""

    def __init__(self, code: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


def effective_status(seal: Seal | None, now: datetime | None = None) -> str:
    """The status the public sees: ``active`` past its validity is ``expired``."""
    if seal is None:
        return "none"
    if seal.status == "active" and seal.valid_until and seal.valid_until <= (now or utcnow()):
        return "expired"
    return seal.status


def summary(merchant: Merchant) -> dict[str, Any]:
    """``{status, valid_until}`` for public summaries and the score."""
    seal = db.session.get(Seal, merchant.id)
    return {"status": effective_status(seal), "valid_until": seal.valid_until if seal else None}


def decide(
    merchant: Merchant,
    action: Action,
    reason: str,
    staff: StaffUser | None,
    valid_until: datetime | None = None,
) -> Seal:
    """Apply a staff decision, in the caller's transaction (logged, with history)."""
    now = utcnow()
    seal = db.session.scalars(
        select(Seal).where(Seal.merchant_id == merchant.id).with_for_update()
    ).one_or_none()
    current = effective_status(seal, now)
    allowed, after, event = TRANSITIONS[action]
    if current not in allowed:
        raise SealError(409, f"Cannot {action.value} a seal that is {current}.")
    if action in (Action.APPROVE, Action.REINSTATE):
        valid_until = (
            valid_until
            or (seal.valid_until if action is Action.REINSTATE and seal else None)
            or now + DEFAULT_VALIDITY
        )
        if valid_until <= now:
            raise SealError(422, "valid_until must be in the future.", field="valid_until")
    else:
        valid_until = seal.valid_until if seal else None
    if seal is None:
        seal = Seal(merchant_id=merchant.id, status=after)
        db.session.add(seal)
    seal.status, seal.valid_until, seal.updated_at = after, valid_until, now
    _record(merchant, action.value, after, reason, valid_until, staff, event, now)
    if after == "active" and valid_until is not None:
        jobs.enqueue(EXPIRE_JOB, {"merchant_id": merchant.id}, run_at=valid_until)
    return seal


def apply(merchant: Merchant, reason: str) -> Seal:
    """A merchant applies for the seal: none/expired/revoked → pending."""
    seal = db.session.get(Seal, merchant.id)
    current = effective_status(seal)
    if current not in ("none", "expired", "revoked"):
        raise SealError(409, f"Cannot apply while the seal is {current}.")
    now = utcnow()
    if seal is None:
        seal = Seal(merchant_id=merchant.id, status="pending")
        db.session.add(seal)
    seal.status, seal.valid_until, seal.updated_at = "pending", None, now
    _record(merchant, "apply", "pending", reason, None, None, None, now)
    return seal


def _record(
    merchant: Merchant,
    action: str,
    status: str,
    reason: str,
    valid_until: datetime | None,
    staff: StaffUser | None,
    event: str | None,
    now: datetime,
) -> None:
    decision = SealDecision(
        merchant_id=merchant.id,
        action=action,
        status=status,
        reason=reason,
        valid_until=valid_until,
        staff_id=staff.id if staff else None,
        created_at=now,
    )
    if event is not None:
        appended = log.append(
            log.Event(
                event,
                merchant=merchant.slug,
                data={"status": status, "reason": reason, "valid_until": rfc3339(valid_until)},
                at=now,
            )
        )
        decision.log_index = appended.index
    db.session.add(decision)


def history(merchant: Merchant) -> list[SealDecision]:
    """Every decision about the merchant's seal, oldest first."""
    return list(
        db.session.scalars(
            select(SealDecision)
            .where(SealDecision.merchant_id == merchant.id)
            .order_by(SealDecision.id)
        )
    )


@jobs.handler(EXPIRE_JOB)
def expire_if_due(payload: dict[str, Any]) -> None:
    """Job: at ``valid_until``, record the expiry of a seal still active then."""
    merchant = merchants.get(payload["merchant_id"])
    seal = db.session.scalars(
        select(Seal).where(Seal.merchant_id == payload["merchant_id"]).with_for_update()
    ).one_or_none()
    if merchant is None or seal is None or effective_status(seal) != "expired":
        return
    seal.status, seal.updated_at = "expired", utcnow()
    _record(
        merchant,
        "expire",
        "expired",
        "The seal reached its validity date.",
        seal.valid_until,
        None,
        "seal.expired",
        utcnow(),
    )


merchants.register_summary_part("seal", summary)


def criterion_reviews(merchant: Merchant) -> list[dict[str, Any]]:
    """Every criterion with the merchant's evidence and the certifier's verdict."""
    saved = {
        r.criterion: r
        for r in db.session.scalars(
            select(CriterionReview).where(CriterionReview.merchant_id == merchant.id)
        )
    }
    rows = []
    for item in criteria():
        review = saved.get(item["code"])
        rows.append(
            {
                **item,
                "evidence_url": review.evidence_url if review else None,
                "evidence_note": review.evidence_note if review else None,
                "verdict": review.verdict if review else "pending",
                "verdict_note": review.verdict_note if review else None,
            }
        )
    return rows


def _criterion_row(merchant: Merchant, criterion: str) -> Any:
    if criterion not in {code for code, _, _ in CRITERIA}:
        raise SealError(422, f"Unknown criterion {criterion!r}.", field="criterion")
    row = db.session.get(CriterionReview, (merchant.id, criterion))
    if row is None:
        row = CriterionReview(merchant_id=merchant.id, criterion=criterion, verdict="pending")
        db.session.add(row)
    row.updated_at = utcnow()
    return row


def set_evidence(merchant: Merchant, criterion: str, url: str | None, note: str | None) -> None:
    """The merchant's evidence for a criterion (a link, a note)."""
    row = _criterion_row(merchant, criterion)
    row.evidence_url, row.evidence_note = url or None, note or None


def set_verdict(merchant: Merchant, criterion: str, verdict: str, note: str | None) -> None:
    """The certifier's verdict on a criterion: pass, fail or pending."""
    if verdict not in ("pass", "fail", "pending"):
        raise SealError(422, "The verdict is pass, fail or pending.", field="verdict")
    row = _criterion_row(merchant, criterion)
    row.verdict, row.verdict_note = verdict, note or None


def run_site_check(merchant: Merchant, url: str | None = None) -> dict[str, Any]:
    """Check the merchant's home page now and keep the result."""
    target = url or f"https://{merchant.domain}/"
    allow_private = current_app.config["TRUSTSEAL_SITE_CHECK_ALLOW_PRIVATE"]
    result = sitecheck.check(target, allow_private=allow_private)
    db.session.add(SiteCheck(merchant_id=merchant.id, url=target, result=result))
    return result


def latest_site_check(merchant: Merchant) -> dict[str, Any] | None:
    """The newest site check of a merchant."""
    row = db.session.scalars(
        select(SiteCheck).where(SiteCheck.merchant_id == merchant.id).order_by(SiteCheck.id.desc())
    ).first()
    return {**row.result, "checked_at": row.created_at} if row else None


def queue() -> list[tuple[Merchant, str]]:
    """Every merchant with its seal status, applications (pending) first."""
    rows = db.session.execute(
        select(Merchant, Seal)
        .outerjoin(Seal, Seal.merchant_id == Merchant.id)
        .order_by(Merchant.name)
    ).all()
    listed = [(merchant, effective_status(seal)) for merchant, seal in rows]
    return sorted(listed, key=lambda pair: (pair[1] != "pending", pair[0].name.lower()))
