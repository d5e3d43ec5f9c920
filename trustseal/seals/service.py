"""The seals domain's door: the lifecycle of a merchant's seal.

none → pending → active → suspended / revoked / expired. Every decision has a public
reason and is a transparency-log leaf. ``active`` past ``valid_until`` reads as
``expired`` at once; a job records the expiry decision when the moment comes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext
from sqlalchemy import func, select

from trustseal.book import service as book
from trustseal.clock import rfc3339, utcnow
from trustseal.errors import DomainError
from trustseal.extensions import db
from trustseal.hooks import service as hooks
from trustseal.jobs import service as jobs
from trustseal.mail import service as mail
from trustseal.merchants import service as merchants
from trustseal.seals import criteria as checklist
from trustseal.seals import sitecheck
from trustseal.seals.criteria import criteria
from trustseal.seals.models import CriterionReview, Seal, SealDecision, SiteCheck
from trustseal.staff import service as staff_service
from trustseal.transparency import service as log
from trustseal.transparency.verify import ClaimSource, LoggedClaim

if TYPE_CHECKING:
    from trustseal.merchants.models import Merchant
    from trustseal.staff.models import StaffUser

EXPIRE_JOB = "seals.expire"
SITE_CHECK_JOB = "seals.sitecheck"
SITE_CHECK_QUEUED = "queued"  # ``state`` of a SiteCheck row asked for and not run yet
SITE_CHECK_STALE_AFTER = timedelta(hours=1)  # a request this old no longer blocks another
DEFAULT_VALIDITY = timedelta(days=365)
VERDICTS = checklist.VERDICTS


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


class SealError(DomainError):
    """A decision that cannot apply (409 or 422)."""


class CriteriaUnmet(SealError):
    """Approval or reinstatement while mandatory criteria are not ``pass`` (409)."""

    def __init__(self, unmet: list[str]) -> None:
        super().__init__(
            409,
            "These mandatory criteria do not pass yet: " + ", ".join(unmet) + ".",
            field="criteria",
            items=unmet,
        )


def effective_status(seal: Seal | None, now: datetime | None = None) -> str:
    """The status the public sees: ``active`` past its validity is ``expired``."""
    if seal is None:
        return "none"
    if seal.status == "active" and seal.valid_until and seal.valid_until <= (now or utcnow()):
        return "expired"
    return seal.status


def summary(merchant: Merchant, now: datetime | None = None) -> dict[str, Any]:
    """``{status, valid_until}`` for public summaries and the score (at ``now``)."""
    seal = db.session.get(Seal, merchant.id)
    return {
        "status": effective_status(seal, now),
        "valid_until": seal.valid_until if seal else None,
    }


def passed_criteria(merchant: Merchant) -> list[str]:
    """The ids of the criteria whose verdict is ``pass``, sorted."""
    return sorted(c for c, r in _saved_reviews(merchant.id).items() if r.verdict == "pass")


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
        ).replace(microsecond=0)  # whole seconds, as its leaf says: both expire together
        if valid_until <= now:
            raise SealError(422, "valid_until must be in the future.", field="valid_until")
        if not merchants.is_public(merchant):
            raise SealError(409, "The shop has not proved that it controls its domain.")
        if unmet := unmet_criteria(merchant):
            raise CriteriaUnmet(unmet)
    else:
        valid_until = seal.valid_until if seal else None
    if seal is None:
        seal = Seal(merchant_id=merchant.id, status=after)
        db.session.add(seal)
    seal.status, seal.valid_until, seal.updated_at = after, valid_until, now
    _record(merchant, action.value, after, reason, valid_until, staff, event, now)
    if after == "active" and valid_until is not None:
        jobs.enqueue(EXPIRE_JOB, {"merchant_id": merchant.id}, run_at=valid_until)
    _notify_decision(merchant, action, reason, valid_until)
    return seal


def suspend_automatically(merchant: Merchant, rule: str, reason: str, at: datetime) -> bool:
    """Suspend an active seal under a published monitoring rule, in the caller's transaction.

    The decision names the rule (``automatic``, ``rule``) and is logged like a staff one,
    dated when it is recorded (``at``, the moment the rules were evaluated as of, may be
    another time: ``trustseal seals monitor --at``). Returns False, changing nothing, when
    the seal is not active at ``at``.
    """
    seal = db.session.scalars(
        select(Seal).where(Seal.merchant_id == merchant.id).with_for_update()
    ).one_or_none()
    if effective_status(seal, at) != "active":
        return False
    assert seal is not None
    now = utcnow()
    seal.status, seal.updated_at = "suspended", now
    _record(
        merchant,
        Action.SUSPEND.value,
        "suspended",
        reason,
        seal.valid_until,
        None,
        "seal.suspended",
        now,
        rule=rule,
    )
    return True


def apply(merchant: Merchant, note: str) -> Seal:
    """A merchant applies for the seal (none/expired/revoked → pending), in the caller's
    transaction; admins and certifiers are emailed. 409 while the shop has not proved its
    domain or when the seal is in another state."""
    if not merchants.is_public(merchant):
        raise SealError(409, "Prove that your shop controls its domain before applying.")
    seal = db.session.scalars(
        select(Seal).where(Seal.merchant_id == merchant.id).with_for_update()
    ).one_or_none()
    current = effective_status(seal)
    if current not in ("none", "expired", "revoked"):
        raise SealError(409, f"Cannot apply while the seal is {current}.")
    now = utcnow()
    if seal is None:
        seal = Seal(merchant_id=merchant.id, status="pending")
        db.session.add(seal)
    seal.status, seal.valid_until, seal.updated_at = "pending", None, now
    _record(merchant, "apply", "pending", note, None, None, "seal.applied", now)
    _notify_application(merchant, note)
    return seal


def application_state(merchant: Merchant) -> dict[str, Any]:
    """Where the merchant's application stands: the seal's status and the criteria
    grouped by verdict (``pending``, ``fail`` with the certifier's note, ``pass``)."""
    rows = criterion_reviews(merchant)
    by_verdict: dict[str, list[dict[str, Any]]] = {v: [] for v in checklist.VERDICTS}
    for row in rows:
        by_verdict[row["verdict"]].append(row)
    return {
        "status": summary(merchant)["status"],
        "criteria": by_verdict,
        "unmet_mandatory": checklist.unmet(
            {r["id"]: r["verdict"] for r in rows}, inapplicable(merchant)
        ),
    }


LIMA = ZoneInfo("America/Lima")  # the dates a Peruvian merchant reads


def _notify_application(merchant: Merchant, note: str) -> None:
    """Email admins and certifiers to review it, and the merchant that it arrived."""
    state = application_state(merchant)
    base = current_app.config["TRUSTSEAL_BASE_URL"]
    pending, failed = len(state["criteria"]["pending"]), len(state["criteria"]["fail"])
    message = mail.render(
        "seal_application",
        "es",
        merchant=merchant,
        note=note,
        pending=pending,
        failed=failed,
        url=f"{base}/console/m/{merchant.slug}#checklist",
    )
    for email in staff_service.notification_emails():
        mail.queue(email, message, "es")
    language = merchants.language(merchant)
    received = mail.render(
        "seal_received",
        language,
        merchant=merchant,
        pending=pending,
        failed=failed,
        url=f"{base}/dashboard/seal",
    )
    mail.queue(merchant.contact_email, received, language)


def _notify_decision(
    merchant: Merchant, action: Action, reason: str, valid_until: datetime | None
) -> None:
    """Email the merchant a staff decision on its seal, with the recorded reason."""
    base = current_app.config["TRUSTSEAL_BASE_URL"]
    granted = action in (Action.APPROVE, Action.REINSTATE)
    language = merchants.language(merchant)
    message = mail.render(
        "seal_decision",
        language,
        merchant=merchant,
        action=action.value,
        reason=reason,
        valid_until=valid_until.astimezone(LIMA).date() if valid_until else None,
        url=f"{base}/dashboard/{'badge' if granted else 'seal'}",
    )
    mail.queue(merchant.contact_email, message, language)


def _record(
    merchant: Merchant,
    action: str,
    status: str,
    reason: str,
    valid_until: datetime | None,
    staff: StaffUser | None,
    event: str | None,
    now: datetime,
    rule: str | None = None,
) -> None:
    merchants.bump_public_version(merchant.id)  # the badge shows the seal's status
    decision = SealDecision(
        merchant_id=merchant.id,
        action=action,
        status=status,
        reason=reason,
        valid_until=valid_until,
        staff_id=staff.id if staff else None,
        automatic=rule is not None,
        rule=rule,
        created_at=now,
    )
    if event is not None:
        data: dict[str, Any] = {
            "status": status,
            "reason": reason,
            "valid_until": rfc3339(valid_until),
        }
        if rule is not None:
            data |= {"automatic": True, "rule": rule}
        appended = log.append(log.Event(event, merchant=merchant.slug, data=data, at=now))
        decision.log_index = appended.index
    db.session.add(decision)
    hooks.emit(
        merchant.id,
        merchant.slug,
        "seal.changed",
        {
            "action": action,
            "status": status,
            "reason": reason,
            "valid_until": rfc3339(valid_until),
            "automatic": rule is not None,
            "rule": rule,
            "at": rfc3339(now),
        },
    )


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


@dataclass(frozen=True)
class VerdictChange:
    """One verdict to set: ``note`` and ``evidence_url`` (the certifier's link) None are
    left as they are, ``""`` clears them."""

    criterion: str
    verdict: str
    note: str | None = None
    evidence_url: str | None = None


def https_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be kept as evidence (only ``https://`` links with a host), or None."""
    problem = "Evidence links must start with https:// and name a host."
    try:
        parts = urlsplit(url)
        host, _port = parts.hostname, parts.port
    except ValueError:  # e.g. an unclosed IPv6 bracket, a port out of range
        return problem
    if parts.scheme.lower() != "https" or not host:
        return problem
    return None


def _saved_reviews(merchant_id: int, lock: bool = False) -> dict[str, CriterionReview]:
    stmt = select(CriterionReview).where(CriterionReview.merchant_id == merchant_id)
    if lock:
        stmt = stmt.with_for_update()
    return {r.criterion: r for r in db.session.scalars(stmt)}


def inapplicable(merchant: Merchant) -> frozenset[str]:
    """The criteria that do not apply to a merchant: the Libro de Reclamaciones' ones for a
    shop outside Peru (it has no book). They show as ``not_applicable``, bind nothing and
    are not judged by the site check."""
    return frozenset() if book.offered(merchant) else checklist.PERU_ONLY


def criterion_reviews(merchant: Merchant) -> list[dict[str, Any]]:
    """Every criterion with its verdict (and when it was set, whether automatically), the
    certifier's note and the evidence, in the criteria's order; one that does not apply to
    the merchant (:func:`inapplicable`) is ``not_applicable``, saying why."""
    saved = _saved_reviews(merchant.id)
    skip = inapplicable(merchant)
    rows = []
    for item in criteria():
        if item["id"] in skip:
            rows.append(_not_applicable(item))
            continue
        review = saved.get(item["id"])
        verdict = review.verdict if review else "pending"
        rows.append(
            {
                **item,
                # the certifier's link, public; the merchant's evidence is for staff only
                "evidence_url": review.verdict_evidence_url if review else None,
                "merchant_evidence_url": review.evidence_url if review else None,
                "merchant_evidence_note": review.evidence_note if review else None,
                "verdict": verdict,
                "note": review.verdict_note if review else None,
                "checked_at": review.checked_at if review and verdict != "pending" else None,
                "override": bool(review and review.override),
                # the verdict came from the site check, not from a person
                "automatic_verdict": bool(
                    item["automatic"]
                    and review
                    and not review.override
                    and review.checked_at
                    and verdict in ("pass", "fail")
                ),
            }
        )
    return rows


def _not_applicable(item: dict[str, Any]) -> dict[str, Any]:
    """A criterion's row for a merchant it does not apply to."""
    return {
        **item,
        "evidence_url": None,
        "merchant_evidence_url": None,
        "merchant_evidence_note": None,
        "verdict": "not_applicable",
        "note": gettext(
            "The Libro de Reclamaciones is a legal requirement in Peru only, and this shop "
            "does not operate in Peru."
        ),
        "checked_at": None,
        "override": False,
        "automatic_verdict": False,
    }


def unmet_criteria(merchant: Merchant) -> list[str]:
    """The mandatory criteria of the merchant whose verdict is not ``pass`` (those that
    do not apply to it aside)."""
    verdicts = {c: r.verdict for c, r in _saved_reviews(merchant.id).items()}
    return checklist.unmet(verdicts, inapplicable(merchant))


def verdicts_digest(merchant: Merchant) -> dict[str, str]:
    """``{version, digest}`` of the criteria the merchant passes, for the badge assertion."""
    return criteria_claim(passed_criteria(merchant))


def criteria_claim(passed: Iterable[str]) -> dict[str, str]:
    """``{version, digest}`` of a set of passed criteria (see docs/verify.md, step 7)."""
    return {"version": checklist.VERSION, "digest": checklist.digest(passed)}


def _row(merchant: Merchant, saved: dict[str, CriterionReview], criterion: str) -> Any:
    row = saved.get(criterion)
    if row is None:
        row = CriterionReview(merchant_id=merchant.id, criterion=criterion, verdict="pending")
        db.session.add(row)
        saved[criterion] = row
    row.updated_at = utcnow()
    return row


def set_evidence(merchant: Merchant, criterion: str, url: str | None, note: str | None) -> None:
    """The merchant's evidence for a criterion (an ``https://`` link, a note); 422 for an
    unknown criterion or a new link of another scheme (one kept from before is left)."""
    if criterion not in checklist.BY_ID:
        raise SealError(422, f"Unknown criterion {criterion!r}.", field="criterion")
    saved = _saved_reviews(merchant.id)
    before = saved.get(criterion)
    old = (before.evidence_url, before.evidence_note) if before is not None else (None, None)
    if (url or None, note or None) == old:
        return
    if url and url != old[0] and (problem := https_url_problem(url)):
        raise SealError(422, problem, field="evidence_url")
    row = _row(merchant, saved, criterion)
    row.evidence_url, row.evidence_note = url or None, note or None


def set_verdicts(
    merchant: Merchant, changes: list[VerdictChange], staff: StaffUser | None
) -> list[str]:
    """Staff verdicts on any criteria, all or none (in the caller's transaction).

    Every change is checked first (unknown criterion, verdict or a non-``https://`` link:
    :class:`SealError` 422, nothing changed). A verdict that changes is a ``seal.criterion``
    log event. Setting an automatic criterion overrides the site check (recorded as such);
    setting it back to ``pending`` hands it back to the check. Returns the ids changed.
    """
    seen: set[str] = set()
    for change in changes:
        if change.criterion not in checklist.BY_ID:
            raise SealError(422, f"Unknown criterion {change.criterion!r}.", field="criteria")
        if change.criterion in seen:
            raise SealError(422, f"Criterion {change.criterion!r} given twice.", field="criteria")
        seen.add(change.criterion)
        if change.verdict not in checklist.VERDICTS:
            raise SealError(
                422, "The verdict is pass, fail, pending or not_applicable.", field="verdict"
            )
    saved = _saved_reviews(merchant.id, lock=True)
    planned = []
    for change in changes:
        before = saved.get(change.criterion)
        old = (
            (before.verdict, before.verdict_note, before.verdict_evidence_url)
            if before is not None
            else ("pending", None, None)
        )
        note = old[1] if change.note is None else (change.note or None)
        link = old[2] if change.evidence_url is None else (change.evidence_url or None)
        if link and link != old[2] and (problem := https_url_problem(link)):
            raise SealError(422, problem, field="evidence_url")
        if (change.verdict, note, link) != old:  # a form sent back unchanged changes nothing
            planned.append((change.criterion, change.verdict, note, link))
    now = utcnow()
    events = []
    for criterion_id, verdict, note, link in planned:
        row = _row(merchant, saved, criterion_id)
        row.verdict, row.verdict_note, row.verdict_evidence_url = verdict, note, link
        row.override = checklist.BY_ID[criterion_id].automatic and verdict != "pending"
        row.verdict_by, row.checked_at = (staff.id if staff else None), now
        events.append(_verdict_event(merchant, row, automatic=False, now=now))
    if planned:
        log.append_many(events)  # one lock of the log for all the verdicts
        _touch(merchant.id, now)
    return [criterion_id for criterion_id, *_ in planned]


def fail_criterion(merchant: Merchant, criterion: str, note: str) -> bool:
    """Judge a criterion ``fail`` automatically (a monitoring rule saw it broken), logged,
    in the caller's transaction; a staff override is replaced. False if it failed already."""
    saved = _saved_reviews(merchant.id, lock=True)
    before = saved.get(criterion)
    if before is not None and before.verdict == "fail":
        return False
    now = utcnow()
    row = _row(merchant, saved, criterion)
    row.verdict, row.verdict_note, row.override = "fail", note[:2000], False
    row.verdict_by, row.checked_at = None, now
    log.append(_verdict_event(merchant, row, automatic=True, now=now))
    _touch(merchant.id, now)
    return True


def _verdict_event(
    merchant: Merchant, row: CriterionReview, automatic: bool, now: datetime
) -> log.Event:
    """The ``seal.criterion`` leaf of a verdict just set on ``row``."""
    return log.Event(
        "seal.criterion",
        merchant=merchant.slug,
        data={
            "criterion": row.criterion,
            "verdict": row.verdict,
            "note": row.verdict_note,
            "automatic": automatic,
            "override": row.override,
            "criteria_version": checklist.VERSION,
        },
        at=now,
    )


def _touch(merchant_id: int, now: datetime) -> None:
    """Mark the seal row changed, and what the badge shows (its criteria digest)."""
    seal = db.session.get(Seal, merchant_id)
    if seal is not None:
        seal.updated_at = now
    merchants.bump_public_version(merchant_id)


def _checked_merchant_site(merchant: Merchant, url: str) -> bool:
    """Whether a check looked at the merchant's own site (its domain or ``www.``; any port):
    a check of another address staff typed in is shown, but judges nothing."""
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return False
    domain = merchant.domain.lower()
    return host in (domain, f"www.{domain}")


def apply_site_check(merchant: Merchant, result: dict[str, Any]) -> list[str]:
    """Judge the automatic criteria by a site check of the merchant's own site (in the
    caller's transaction): each one staff did not set by hand takes the check's verdict;
    a change is logged. What the check could not see (a refused address, a page that did
    not load) is judged by nothing. Returns the ids changed."""
    if not _checked_merchant_site(merchant, str(result.get("url") or "")):
        return []
    saved = _saved_reviews(merchant.id, lock=True)
    changed, events = [], []
    now = utcnow()
    skip = inapplicable(merchant)
    for criterion in checklist.CRITERIA:
        if criterion.id in skip:
            continue
        verdict = checklist.check_verdict(criterion, result, merchant.ruc)
        before = saved.get(criterion.id)
        if verdict is None or (before is not None and before.override):
            continue
        if before is not None and before.verdict == verdict:
            before.checked_at = now  # still true: the date says when it was last seen
            continue
        row = _row(merchant, saved, criterion.id)
        row.verdict, row.verdict_note, row.verdict_by, row.checked_at = verdict, None, None, now
        events.append(_verdict_event(merchant, row, automatic=True, now=now))
        changed.append(criterion.id)
    if changed:
        log.append_many(events)  # one lock of the log for all the verdicts
        _touch(merchant.id, now)
    return changed


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


def _check_now(url: str, ruc: str | None, slug: str) -> dict[str, Any]:
    """Run the checker (network I/O: only ever in a job or a CLI command)."""
    allow_private = current_app.config["TRUSTSEAL_SITE_CHECK_ALLOW_PRIVATE"]
    result = sitecheck.check(
        url, allow_private=allow_private, ruc=ruc, badge_path=f"/badges/{slug}"
    )
    return {**result, "state": "done", "checked_at": utcnow().isoformat()}


def run_site_check(merchant: Merchant, url: str | None = None) -> dict[str, Any]:
    """Check the merchant's home page now, synchronously, and keep the result.

    For the CLI and scripts only; web requests use :func:`request_site_check`.
    """
    target = url or f"https://{merchant.domain}/"
    result = _check_now(target, merchant.ruc, merchant.slug)
    db.session.add(SiteCheck(merchant_id=merchant.id, url=target, result=result))
    apply_site_check(merchant, result)
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
    url, ruc, slug = row.url, merchant.ruc, merchant.slug
    db.session.rollback()  # hold no transaction while the site answers (up to its deadline)
    result = _check_now(url, ruc, slug)
    row = db.session.scalars(
        select(SiteCheck)
        .where(SiteCheck.id == int(check_id))
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if row is None or not _queued(row):
        return  # another run of this job recorded it meanwhile
    row.result = {**result, "requested_by": row.result.get("requested_by")}
    merchant = merchants.get(int(payload["merchant_id"]))
    if merchant is not None:
        apply_site_check(merchant, result)


def _staff_email(staff_id: Any) -> str | None:
    staff = staff_service.get(staff_id) if isinstance(staff_id, int) else None
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
    seals = {seal.merchant_id: seal for seal in db.session.scalars(select(Seal))}
    listed = [(m, effective_status(seals.get(m.id))) for m in merchants.all_merchants()]
    return sorted(listed, key=lambda pair: (pair[1] != "pending", pair[0].name.lower()))


def site_check_results(
    merchant: Merchant, since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """The merchant's site check results that ran between ``since`` and ``until``, oldest
    first (pending requests are not results; checks of another address than the
    merchant's own site are left out): each the checker's report with ``checked_at``
    (when it ran). For the monitoring rules."""
    rows = db.session.scalars(
        select(SiteCheck)
        .where(
            SiteCheck.merchant_id == merchant.id,
            _STATE != SITE_CHECK_QUEUED,
            SiteCheck.created_at <= until,
            SiteCheck.created_at >= since - SITE_CHECK_STALE_AFTER,  # asked before, run after
        )
        .order_by(SiteCheck.id)
    )
    results = []
    for row in rows:
        checked = row.result.get("checked_at")
        checked_at = datetime.fromisoformat(checked) if checked else row.created_at
        if since <= checked_at <= until and _checked_merchant_site(merchant, row.url):
            results.append({**row.result, "checked_at": checked_at})
    return sorted(results, key=lambda result: result["checked_at"])


def active_since(merchant: Merchant) -> datetime | None:
    """When the merchant's seal last became active (approved or reinstated), or None."""
    return db.session.scalars(
        select(SealDecision.created_at)
        .where(SealDecision.merchant_id == merchant.id, SealDecision.status == "active")
        .order_by(SealDecision.id.desc())
        .limit(1)
    ).first()


def active_seal_merchants(at: datetime | None = None) -> list[Merchant]:
    """Every merchant whose seal is active at ``at`` (default now), by id."""
    moment = at or utcnow()
    active = set(
        db.session.scalars(
            select(Seal.merchant_id).where(
                Seal.status == "active",
                (Seal.valid_until.is_(None)) | (Seal.valid_until > moment),
            )
        )
    )
    return [merchant for merchant in merchants.all_merchants() if merchant.id in active]


# action → log event, for the decisions that are logged
_DECISION_EVENTS = {action.value: event for action, (_, _, event) in TRANSITIONS.items()} | {
    "expire": "seal.expired",
    "apply": "seal.applied",
}


def logged_claims() -> Iterator[LoggedClaim]:
    """Every logged seal decision's leaf (by its ``log_index``): status, reason, validity
    and, for an automatic one, its rule. Streamed, for ``trustseal log verify``."""
    slugs: dict[int, str | None] = {}
    rows = db.session.execute(
        select(
            SealDecision.id,
            SealDecision.merchant_id,
            SealDecision.action,
            SealDecision.status,
            SealDecision.reason,
            SealDecision.valid_until,
            SealDecision.rule,
            SealDecision.log_index,
        )
        .where(SealDecision.log_index.is_not(None))
        .order_by(SealDecision.id)
        .execution_options(yield_per=5_000)
    )
    for row in rows:
        if row.merchant_id not in slugs:
            merchant = merchants.get(row.merchant_id)
            slugs[row.merchant_id] = merchant.slug if merchant else None
        yield LoggedClaim(
            name=f"seal decision {row.id}",
            kind=_DECISION_EVENTS.get(row.action, f"seal.{row.action}"),
            index=row.log_index,
            merchant_slug=slugs[row.merchant_id],
            fields={
                "status": row.status,
                "reason": row.reason,
                "valid_until": rfc3339(row.valid_until),
                **({"automatic": True, "rule": row.rule} if row.rule else {}),
            },
        )


def claim_source() -> ClaimSource:
    """The seals domain's claims (its decisions that name a leaf)."""
    return ClaimSource(logged_claims)
