"""The seals domain's door: the lifecycle of a merchant's seal.

none → pending → active → suspended / revoked / expired. Every decision has a public
reason and is a transparency-log leaf. ``active`` past ``valid_until`` reads as
``expired`` at once; a job records the expiry decision when the moment comes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from flask import current_app
from sqlalchemy import func, select

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
SITE_CHECK_JOB = "seals.sitecheck"
SITE_CHECK_QUEUED = "queued"  # ``state`` of a SiteCheck row asked for and not run yet
SITE_CHECK_STALE_AFTER = timedelta(hours=1)  # a request this old no longer blocks another
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


class SiteCheckError(SealError):
    """A site check that cannot be asked for (an address that is not a checkable URL)."""


@dataclass(frozen=True)
class SiteCheckRequest:
    """A site check asked for whose result is not in yet (queued, or running now)."""

    id: int
    url: str
    requested_at: datetime
    requested_by: str | None  # the staff member's email (None: unknown or deleted)
    stale: bool  # asked long ago without a result: the worker may be stopped


def _queued(row: SiteCheck) -> bool:
    return (row.result or {}).get("state") == SITE_CHECK_QUEUED


_STATE = func.coalesce(SiteCheck.result["state"].as_string(), "done")


def _check_now(url: str) -> dict[str, Any]:
    """Run the checker (network I/O: only ever in a job or a CLI command)."""
    allow_private = current_app.config["TRUSTSEAL_SITE_CHECK_ALLOW_PRIVATE"]
    result = sitecheck.check(url, allow_private=allow_private)
    return {**result, "state": "done", "checked_at": utcnow().isoformat()}


def run_site_check(merchant: Merchant, url: str | None = None) -> dict[str, Any]:
    """Check the merchant's home page now, synchronously, and keep the result.

    For the CLI and scripts only; web requests use :func:`request_site_check`.
    """
    target = url or f"https://{merchant.domain}/"
    result = _check_now(target)
    db.session.add(SiteCheck(merchant_id=merchant.id, url=target, result=result))
    return result


def request_site_check(
    merchant: Merchant, url: str | None = None, staff: StaffUser | None = None
) -> tuple[SiteCheckRequest, bool]:
    """Queue a check of the merchant's home page, in the caller's transaction.

    No network I/O: the worker runs it (job ``seals.sitecheck``). While a fresh request
    of this merchant is pending, returns it and queues nothing; the flag says whether a
    new check was queued. Raises :class:`SiteCheckError` (422) for an unusable address.
    """
    target = url or f"https://{merchant.domain}/"
    problem = sitecheck.url_problem(target)
    if problem:
        raise SiteCheckError(422, f"Cannot check this address: {problem}.", field="url")
    merchants.lock(merchant.id)  # one request at a time per merchant
    pending = pending_site_check(merchant)
    if pending is not None and not pending.stale:
        return pending, False
    now = utcnow()
    row = SiteCheck(
        merchant_id=merchant.id,
        url=target,
        result={"state": SITE_CHECK_QUEUED, "requested_by": staff.id if staff else None},
        created_at=now,
    )
    db.session.add(row)
    db.session.flush()
    jobs.enqueue(SITE_CHECK_JOB, {"check_id": row.id, "merchant_id": merchant.id, "url": target})
    request = SiteCheckRequest(row.id, target, now, staff.email if staff else None, False)
    return request, True


@jobs.handler(SITE_CHECK_JOB)
def run_requested_site_check(payload: dict[str, Any]) -> None:
    """Job: run a queued site check and record its result on the request's row.

    Idempotent: a request already answered, or whose merchant or row is gone, is left
    alone. A failing site (refused address, timeout, TLS error) is a result, not a job
    failure; only unexpected errors raise (and the job is retried). A payload without
    ``check_id`` (``merchant_id`` and ``url`` only) records a new result.
    """
    merchant = merchants.get(int(payload["merchant_id"]))
    if merchant is None:
        return
    check_id = payload.get("check_id")
    if check_id is None:
        run_site_check(merchant, payload.get("url") or None)
        return
    row = db.session.get(SiteCheck, int(check_id))
    if row is None or row.merchant_id != merchant.id or not _queued(row):
        return
    url = row.url
    db.session.rollback()  # hold no transaction while the site answers (up to its deadline)
    result = _check_now(url)
    row = db.session.scalars(
        select(SiteCheck)
        .where(SiteCheck.id == int(check_id))
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if row is None or not _queued(row):
        return  # another run of this job recorded it meanwhile
    row.result = {**result, "requested_by": row.result.get("requested_by")}


def _staff_email(staff_id: Any) -> str | None:
    staff = db.session.get(StaffUser, staff_id) if isinstance(staff_id, int) else None
    return staff.email if staff else None


def _latest_done(merchant: Merchant) -> SiteCheck | None:
    return db.session.scalars(
        select(SiteCheck)
        .where(SiteCheck.merchant_id == merchant.id, _STATE != SITE_CHECK_QUEUED)
        .order_by(SiteCheck.id.desc())
        .limit(1)
    ).first()


def latest_site_check(merchant: Merchant) -> dict[str, Any] | None:
    """The newest site check result of a merchant (pending requests are not results).

    The checker's report plus ``checked_at`` (when it ran), ``requested_at`` and
    ``requested_by`` (a staff email, or None).
    """
    row = _latest_done(merchant)
    if row is None:
        return None
    checked = row.result.get("checked_at")
    return {
        **row.result,
        "checked_at": datetime.fromisoformat(checked) if checked else row.created_at,
        "requested_at": row.created_at,
        "requested_by": _staff_email(row.result.get("requested_by")),
    }


def pending_site_check(merchant: Merchant) -> SiteCheckRequest | None:
    """The newest site check asked for after the latest result and not run yet, if any."""
    done = _latest_done(merchant)
    row = db.session.scalars(
        select(SiteCheck)
        .where(
            SiteCheck.merchant_id == merchant.id,
            _STATE == SITE_CHECK_QUEUED,
            SiteCheck.id > (done.id if done else 0),
        )
        .order_by(SiteCheck.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return SiteCheckRequest(
        row.id,
        row.url,
        row.created_at,
        _staff_email(row.result.get("requested_by")),
        row.created_at < utcnow() - SITE_CHECK_STALE_AFTER,
    )


def queue() -> list[tuple[Merchant, str]]:
    """Every merchant with its seal status, applications (pending) first."""
    rows = db.session.execute(
        select(Merchant, Seal)
        .outerjoin(Seal, Seal.merchant_id == Merchant.id)
        .order_by(Merchant.name)
    ).all()
    listed = [(merchant, effective_status(seal)) for merchant, seal in rows]
    return sorted(listed, key=lambda pair: (pair[1] != "pending", pair[0].name.lower()))
