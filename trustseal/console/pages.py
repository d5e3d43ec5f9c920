"""Console pages (staff). Thin: read forms, call the domains' doors, render."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flask import Blueprint, abort, flash, redirect, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from trustseal.accounts import service as accounts
from trustseal.accounts import totp, web
from trustseal.api.fields import forbidden_character
from trustseal.book import display as book_display
from trustseal.book import service as book
from trustseal.clock import utcnow
from trustseal.extensions import db
from trustseal.imports import service as imports
from trustseal.merchants import service as merchants
from trustseal.reviews import service as reviews
from trustseal.seals import service as seals
from trustseal.signals import service as signals
from trustseal.staff import service as staff_service
from trustseal.transparency import service as log

if TYPE_CHECKING:
    from trustseal.merchants.models import Merchant
    from trustseal.staff.models import StaffUser

blp = Blueprint("console", __name__, url_prefix="/console")
ANY_STAFF = ("admin", "certifier", "moderator")
DECIDERS = ("admin", "certifier")


def _merchant(slug: str) -> Merchant:
    merchant = merchants.get_by_slug(slug)
    if merchant is None:
        abort(404)
    return merchant


def _staff() -> StaffUser:
    principal = web.current()
    staff = staff_service.get(principal.id) if principal else None
    if staff is None:
        abort(403)
    return staff


@blp.get("")
@web.page_required("staff", *ANY_STAFF)
def home() -> str:
    """The queue: applications first, then every merchant; flags and overdue complaints."""
    return render_template(
        "console/home.html",
        queue=seals.queue(),
        flagged=len(reviews.flagged()),
        overdue=len(list(db.session.scalars(book.entries_query(None, "overdue")))),
        numbers_alerts=log.alerts(),
    )


@blp.get("/m/<slug>")
@web.page_required("staff", *ANY_STAFF)
def merchant_page(slug: str) -> str:
    """A merchant: checklist with evidence and verdicts, site check, decisions, history."""
    return _merchant_page(_merchant(slug))


def _merchant_page(
    merchant: Merchant,
    typed: dict[str, dict[str, str]] | None = None,
    problems: dict[str, str] | None = None,
    status: int = 200,
) -> Any:
    """The merchant page; ``typed``/``problems``: a refused checklist form's values and
    its errors by criterion, shown again in place."""
    history = log.merchant_entries(merchant.slug)
    checklist = seals.criterion_reviews(merchant)
    for row in checklist:
        row.update((typed or {}).get(row["id"], {}))
    return render_template(
        "console/merchant.html",
        merchant=merchant,
        seal=seals.summary(merchant),
        checklist=checklist,
        problems=problems or {},
        site=seals.latest_site_check(merchant),
        site_request=seals.pending_site_check(merchant),
        # a new URL on every render: a link to the page's own URL would only scroll
        shown_at=int(utcnow().timestamp() * 1000),
        decisions=seals.history(merchant),
        log_entries=history,
        score=reviews.merchant_score(merchant),
        domain=merchants.domain_state(merchant),
        method_words=merchants.METHOD_WORDS,
    ), status


def _typed(field: str) -> str:
    """A free text of the form, refused (422) if it holds invisible control or
    text-direction characters — the rule every API text follows."""
    text = request.form.get(field, "").strip()
    if forbidden_character(text, multiline=True):
        abort(422, description=_("Remove the invisible control or text-direction characters."))
    return text


@blp.post("/m/<slug>/criteria")
@web.page_required("staff", *DECIDERS)
def criteria_verdicts(slug: str) -> Any:
    """The whole checklist in one save: every criterion's verdict, note and evidence link.

    A refused form (a link that is not ``https://``, an unknown verdict) changes nothing
    and comes back (422) with what was typed and the reason beside the criterion."""
    merchant = _merchant(slug)
    typed: dict[str, dict[str, str]] = {}
    problems: dict[str, str] = {}
    changes = []
    for row in seals.criterion_reviews(merchant):
        cid = row["id"]
        verdict = request.form.get(f"verdict_{cid}", row["verdict"])
        field = f"note_{cid}"
        note = _typed(field)[:2000] if field in request.form else (row["note"] or "")
        url = request.form.get(f"evidence_{cid}", row["evidence_url"] or "").strip()[:2000]
        typed[cid] = {"verdict": verdict, "note": note, "evidence_url": url}
        if verdict not in seals.VERDICTS:
            problems[cid] = _("Choose one of the verdicts.")
        elif url and url != (row["evidence_url"] or "") and seals.https_url_problem(url):
            problems[cid] = _("Evidence links must start with https:// and name a host.")
        changes.append(seals.VerdictChange(cid, verdict, note, url))
    if problems:
        return _merchant_page(merchant, typed, problems, 422)
    changed = seals.set_verdicts(merchant, changes, _staff())
    db.session.commit()
    flash(ngettext("%(num)s verdict changed.", "%(num)s verdicts changed.", len(changed)), "ok")
    return redirect(f"/console/m/{slug}#checklist")


@blp.post("/m/<slug>/sitecheck")
@web.page_required("staff", *DECIDERS)
def site_check(slug: str) -> Any:
    """Queue the automatic site check (the worker runs it; no network I/O here)."""
    merchant = _merchant(slug)
    try:
        _request, queued = seals.request_site_check(
            merchant, request.form.get("url", "").strip() or None, _staff()
        )
    except seals.SiteCheckError:
        db.session.rollback()
        flash(
            _(
                "That address cannot be checked: it must start with http:// or https://, "
                "name a host and hold no user name or password."
            ),
            "error",
        )
        return redirect(f"/console/m/{slug}#site")
    db.session.commit()
    if queued:
        flash(_("Site check queued. Its result will appear on this page when it is done."), "ok")
    else:
        flash(_("A site check of this merchant is already queued; nothing was added."), "ok")
    return redirect(f"/console/m/{slug}#site")


@blp.post("/m/<slug>/domain")
@web.page_required("staff", *DECIDERS)
def verify_domain(slug: str) -> Any:
    """Verify the merchant's domain, with the reason (how control was checked): the same
    door as the staff API; the merchant becomes public."""
    merchant = _merchant(slug)
    reason = _typed("reason")
    if len(reason) < 3:
        flash(_("Say how you checked that the shop controls its domain."), "error")
        return redirect(f"/console/m/{slug}#domain")
    try:
        merchants.verify_by_staff(merchant, reason[:1000])
    except merchants.RucTaken:
        db.session.rollback()
        flash(
            _("A verified shop already holds this shop's RUC: correct one of them first."), "error"
        )
        return redirect(f"/console/m/{slug}#domain")
    db.session.commit()
    flash(_("Domain verified: the shop's profile is public."), "ok")
    return redirect(f"/console/m/{slug}#domain")


@blp.post("/m/<slug>/seal")
@web.page_required("staff", *DECIDERS)
def decide(slug: str) -> Any:
    """Approve, suspend, revoke or reinstate, with a public reason and validity."""
    merchant = _merchant(slug)
    until_text = request.form.get("valid_until", "").strip()
    try:
        until = datetime.fromisoformat(until_text).replace(tzinfo=UTC) if until_text else None
        seals.decide(
            merchant,
            seals.Action(request.form.get("action", "")),
            _typed("reason") or "—",
            _staff(),
            until,
        )
    except seals.CriteriaUnmet as unmet:
        db.session.rollback()
        titles = {row["id"]: row["title"] for row in seals.criterion_reviews(merchant)}
        flash(
            _(
                "The seal is granted only when every mandatory criterion passes. Not yet: "
                "%(criteria)s.",
                criteria="; ".join(titles[cid] for cid in unmet.items or []),
            ),
            "error",
        )
        return redirect(f"/console/m/{slug}#checklist")
    except (ValueError, seals.SealError) as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(f"/console/m/{slug}#decide")
    db.session.commit()
    flash(_("Decision recorded."), "ok")
    return redirect(f"/console/m/{slug}")


@blp.get("/moderation")
@web.page_required("staff", *ANY_STAFF)
def moderation() -> str:
    """Flagged reviews waiting for a decision."""
    queue = [
        (r, reviews.open_flags_of(r.id), merchants.get(r.merchant_id)) for r in reviews.flagged()
    ]
    return render_template(
        "console/moderation.html",
        queue=queue,
        reasons=[r.value for r in reviews.RemovalReason],
        signals=signals.open_queue(),
        kind_title=signals.kind_title,
        describe=signals.describe,
    )


_SIGNAL_REFUSALS = {
    409: _l("This signal was decided already."),
    422: _l("Give the reason for your decision, and confirm or dismiss."),
}


@blp.post("/signals/<int:signal_id>/decision")
@web.page_required("staff", *ANY_STAFF)
def signal_decision(signal_id: int) -> Any:
    """Confirm a fraud signal (its reviews join the moderation queue) or dismiss it, with
    the reason."""
    try:
        signals.decide(signal_id, request.form.get("decision", ""), _typed("reason"), _staff())
    except signals.SignalError as error:
        db.session.rollback()
        if error.code not in _SIGNAL_REFUSALS:
            abort(error.code)
        flash(str(_SIGNAL_REFUSALS[error.code]), "error")
        return redirect(f"/console/moderation#s{signal_id}")
    db.session.commit()
    flash(_("Decision recorded."), "ok")
    return redirect("/console/moderation#signals")


_REDACTION_REFUSALS = {
    "passages": _l(
        "Copy each passage to hide exactly as the review writes it, one per line. To hide "
        "the whole text, remove the review instead."
    ),
    "reason": _l("Choose the published reason."),
    None: _l("This review has no text left to hide."),
}


@blp.post("/reviews/<int:review_id>/decision")
@web.page_required("staff", *ANY_STAFF)
def review_decision(review_id: int) -> Any:
    """Remove a flagged review for a published reason, hide passages of its text for a
    published reason, or keep it."""
    decision = request.form.get("decision")
    try:
        if decision in ("remove", "redact") and request.form.get("confirm") != "yes":
            flash(_("Tick the confirmation: the decision is public and logged."), "error")
            return redirect(f"/console/moderation#r{review_id}")
        if decision == "remove":
            reviews.moderate(review_id, _staff(), "remove", request.form.get("reason", ""))
        elif decision == "redact":
            passages = request.form.get("passages", "").splitlines()
            reviews.redact(review_id, _staff(), passages, request.form.get("reason", ""))
        elif decision == "keep":
            reviews.keep(review_id, _staff(), _typed("note") or "kept")
        else:
            abort(422)
    except reviews.ReviewError as error:
        db.session.rollback()
        refused = decision == "redact" and error.code in (409, 422)
        refusal = _REDACTION_REFUSALS.get(error.field) if refused else None
        if refusal is None:
            abort(error.code, description=str(error))
        flash(str(refusal), "error")
        return redirect(f"/console/moderation#r{review_id}")
    db.session.commit()
    if decision == "redact":
        flash(_("The passages are hidden; the change is logged and the author told why."), "ok")
    return redirect("/console/moderation")


# An imported review as staff point at it: its number, or its anchor on the shop's page
# ("i12", "#i12", or the whole link ending in it).
_IMPORTED_REVIEW = re.compile(r"(?:.*#)?i?(\d{1,9})")
_IMPORTED_REFUSALS = {
    "not_found": _l("No imported review has this number."),
    "removed": _l("This imported review is removed already."),
    "published": _l("This imported review is published already."),
    "removal_reason": _l("Choose the published reason."),
    "restore_reason": _l("To restore it, say why (at most 300 characters)."),
}


@blp.post("/imported-reviews/decision")
@web.page_required("staff", *ANY_STAFF)
def imported_review_decision() -> Any:
    """Remove an imported review for a published reason, or restore it saying why."""
    found = _IMPORTED_REVIEW.fullmatch(request.form.get("imported_review", "").strip())
    action = request.form.get("action", "")
    if found is None:
        flash(_("Write the imported review's number, or its link on the shop's page."), "error")
    elif request.form.get("confirm") != "yes":
        flash(_("Tick the confirmation: the decision is public and logged."), "error")
    else:
        reason = request.form.get("reason", "") if action == "remove" else _typed("note")
        try:
            imports.moderate(int(found.group(1)), _staff(), action, reason)
        except imports.ImportRefused as error:
            db.session.rollback()
            if error.reason not in _IMPORTED_REFUSALS:
                abort(error.code, description=str(error))
            flash(str(_IMPORTED_REFUSALS[error.reason]), "error")
        else:
            db.session.commit()
            flash(_("Decision recorded."), "ok")
    return redirect("/console/moderation#imported")


@blp.get("/complaints")
@web.page_required("staff", *ANY_STAFF)
def complaints() -> str:
    """Overdue complaints across merchants, the longest overdue first, each linking to its
    page."""
    return render_template(
        "console/complaints.html",
        entries=book.overdue_for_staff(),
        **book_display.template_helpers(),
    )


def _complaint_page(entry_id: int, error: str | None = None, status: int = 200) -> Any:
    found = book.staff_entry(entry_id)
    if found is None:
        abort(404)
    return render_template(
        "console/complaint.html",
        found=found,
        error=error,
        can_contact=_staff().role in DECIDERS,
        note_max=book.STAFF_NOTE_MAX,
    ), status


@blp.get("/complaints/<int:entry_id>")
@web.page_required("staff", *ANY_STAFF)
def complaint(entry_id: int) -> Any:
    """One complaint as staff see it (dates in Lima, days overdue, the consumer's detail),
    its notes, and the actions: contact the merchant, add a note."""
    return _complaint_page(entry_id)


def _complaint_refused(entry_id: int, error: book.BookError) -> Any:
    db.session.rollback()
    if error.code == 404:
        abort(404)
    return _complaint_page(entry_id, str(error), error.code)


@blp.post("/complaints/<int:entry_id>/contact")
@web.page_required("staff", *DECIDERS)
def complaint_contact(entry_id: int) -> Any:
    """Email the merchant about an overdue complaint, with an optional message."""
    try:
        book.contact_merchant(entry_id, _staff().id, _typed("message"))
    except book.BookError as error:
        return _complaint_refused(entry_id, error)
    db.session.commit()
    flash(_("The merchant was emailed about this complaint."), "ok")
    return redirect(f"/console/complaints/{entry_id}#notes")


@blp.post("/complaints/<int:entry_id>/notes")
@web.page_required("staff", *ANY_STAFF)
def complaint_note(entry_id: int) -> Any:
    """Keep a staff note with a complaint (internal)."""
    try:
        book.add_staff_note(entry_id, _staff().id, _typed("body"))
    except book.BookError as error:
        return _complaint_refused(entry_id, error)
    db.session.commit()
    flash(_("Note saved."), "ok")
    return redirect(f"/console/complaints/{entry_id}#notes")


@blp.get("/audit")
@web.page_required("staff", "admin")
def audit() -> str:
    """The audit trail (admins)."""
    return render_template("console/audit.html", events=accounts.audit_trail())


@blp.post("/totp")
@web.page_required("staff", *ANY_STAFF)
def enroll_totp() -> str:
    """Turn on the second factor: the secret is shown once for the authenticator app."""
    principal = web.current()
    assert principal is not None
    secret = accounts.enroll_totp(principal)
    db.session.commit()
    return render_template(
        "console/totp.html", secret=secret, uri=totp.provisioning_uri(secret, principal.email)
    )
