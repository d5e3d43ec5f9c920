"""Dashboard pages (merchant users). Thin: read forms, call the domains' doors, render."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import marshmallow as ma
from flask import Blueprint, abort, flash, redirect, render_template, request
from flask_babel import gettext as _

from trustseal.accounts import web
from trustseal.api.fields import forbidden_character
from trustseal.badging import service as badging
from trustseal.book import display as book_display
from trustseal.book import service as book
from trustseal.book.schemas import AnswerSchema
from trustseal.clock import utcnow
from trustseal.extensions import db
from trustseal.merchants import service as merchants
from trustseal.orders import service as orders
from trustseal.reviews import service as reviews
from trustseal.reviews.presenters import history_bars
from trustseal.reviews.schemas import ResponseBodySchema
from trustseal.seals import service as seals
from trustseal.stores import service as stores
from trustseal.transparency import numbers

if TYPE_CHECKING:
    from trustseal.merchants.models import Merchant

blp = Blueprint("dashboard", __name__, url_prefix="/dashboard")
OWNER_ONLY = ("owner",)


def _merchant() -> Merchant:
    principal = web.current()
    merchant = merchants.get(principal.merchant_id) if principal and principal.merchant_id else None
    if merchant is None:
        abort(403)
    return merchant


def _typed_answer(schema: type[ma.Schema]) -> str | None:
    """The answer typed in the form, checked by the API's own schema (not blank, no hidden
    control or text-direction characters); None, with a message shown, when refused."""
    typed = request.form.get("body", "")[:5000]
    try:
        return str(schema().load({"body": typed})["body"])
    except ma.ValidationError:
        if typed.strip():
            flash(_("Remove the invisible control or text-direction characters."), "error")
        else:
            flash(_("Write an answer first."), "error")
        return None


def _since(moment: Any) -> str:
    hours = (utcnow() - moment).total_seconds() / 3600
    return _("%(n)s h", n=int(hours)) if hours < 48 else _("%(n)s days", n=int(hours // 24))


@blp.get("")
@web.page_required("merchant")
def home() -> str:
    """Overview: seal, score, what waits for an answer."""
    merchant = _merchant()
    waiting = book.merchant_desk(merchant.id, "overdue", 5) + book.merchant_desk(
        merchant.id, "open", 5
    )
    return render_template(
        "dashboard/home.html",
        merchant=merchant,
        score=reviews.merchant_score(merchant),
        unanswered=reviews.reviews_for_answering(merchant.id, 5),
        since=_since,
        complaints=waiting[:5],
        counts=book.counts(merchant.id),
        **book_display.template_helpers(),
    )


@blp.get("/reviews")
@web.page_required("merchant")
def review_list() -> str:
    """Reviews waiting for an answer: negative ones first, with the time since posting."""
    merchant = _merchant()
    return render_template(
        "dashboard/reviews.html",
        merchant=merchant,
        reviews=reviews.reviews_for_answering(merchant.id),
        since=_since,
    )


@blp.post("/reviews/<int:review_id>/answer")
@web.page_required("merchant")
def answer_review(review_id: int) -> Any:
    """Answer a review in public."""
    text = _typed_answer(ResponseBodySchema)
    if text is None:
        return redirect("/dashboard/reviews")
    try:
        reviews.respond(review_id, _merchant().id, text)
    except reviews.ReviewError as error:
        abort(error.code, description=str(error))
    db.session.commit()
    flash(_("Your answer is public."), "ok")
    return redirect("/dashboard/reviews")


@blp.get("/complaints")
@web.page_required("merchant")
def complaint_list() -> str:
    """Complaints by tab (open, overdue, answered), each with what it takes to resolve it:
    the consumer's contact and document, the amount and order, the business days left."""
    merchant = _merchant()
    tab = request.args.get("tab", "open")
    if tab not in book.TABS:
        tab = "open"
    return render_template(
        "dashboard/complaints.html",
        merchant=merchant,
        tab=tab,
        counts=book.desk_counts(merchant.id),
        entries=book.merchant_desk(merchant.id, tab),
        **book_display.template_helpers(),
    )


@blp.post("/complaints/<number>/answer")
@web.page_required("merchant")
def answer_complaint(number: str) -> Any:
    """Answer a reclamo or queja; the consumer gets it by email."""
    text = _typed_answer(AnswerSchema)
    if text is None:
        return redirect("/dashboard/complaints")
    try:
        book.answer(_merchant(), number, text)
    except book.BookError as error:
        abort(error.code, description=str(error))
    db.session.commit()
    flash(_("Answer sent to the consumer."), "ok")
    return redirect("/dashboard/complaints?tab=answered")


@blp.route("/stores", methods=["GET", "POST"])
@web.page_required("merchant", *OWNER_ONLY)
def store_list() -> Any:
    """Connected stores, and connecting one (with the plugin's instructions)."""
    merchant = _merchant()
    created = None
    error = None
    if request.method == "POST":
        name = request.form.get("platform", "")
        fields = {
            k: v.strip()
            for k, v in request.form.items()
            if k not in ("platform", "csrf_token") and v.strip()
        }
        try:
            plugin = stores.platform(name)
            created = stores.create_store(merchant, name, plugin.settings_schema().load(fields))
            db.session.commit()
        except stores.StoreError:
            error = _("Unknown platform.")
        except ma.ValidationError as invalid:
            db.session.rollback()
            per_field = invalid.messages_dict.items()  # a schema's errors, by field
            error = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in per_field)
    return render_template(
        "dashboard/stores.html",
        merchant=merchant,
        created=created,
        error=error,
        stores=stores.stores_of(merchant),
        platforms=stores.platforms(),
        webhook_url=stores.webhook_url,
    )


@blp.get("/orders")
@web.page_required("merchant")
def order_list() -> str:
    """Purchases from every source and their review invitations."""
    merchant = _merchant()
    purchases = orders.latest_purchases(merchant.id)
    return render_template(
        "dashboard/orders.html",
        merchant=merchant,
        purchases=purchases,
        invitation_status=orders.invitation_status,
    )


@blp.post("/orders/<int:order_id>/invitation")
@web.page_required("merchant")
def order_invitation(order_id: int) -> Any:
    """A review link to send through the merchant's own channel (shown once)."""
    purchase = orders.get_purchase(_merchant().id, order_id)
    if purchase is None:
        abort(404)
    try:
        link = orders.issue_invitation_link(purchase)
    except orders.InvitationRefused as refused:
        if refused.reason == "merchant_pending":
            flash(_("Review links open once your shop has proved it controls its domain."), "error")
        elif refused.reason == "rate_limited":
            flash(
                _(
                    "You have asked for too many review links for orders your shop declared "
                    "itself (through our API, the dashboard or its store's webhooks); try "
                    "again later. Orders trustseal confirmed with the platform itself have no "
                    "such limit."
                ),
                "error",
            )
        else:
            flash(str(refused), "error")
        return redirect("/dashboard/orders")
    db.session.commit()
    flash(
        _("Review link for order %(order)s: %(url)s", order=purchase.external_id, url=link.url),
        "ok",
    )
    return redirect("/dashboard/orders")


@blp.route("/keys", methods=["GET", "POST"])
@web.page_required("merchant", *OWNER_ONLY)
def keys() -> Any:
    """API keys: create (shown once) and revoke."""
    merchant = _merchant()
    new_key = None
    if request.method == "POST":
        if request.form.get("revoke"):
            merchants.revoke_api_key(merchant, int(request.form["revoke"]))
        else:
            new_key = merchants.issue_api_key(merchant, request.form.get("label", "")[:100])
        db.session.commit()
    return render_template(
        "dashboard/keys.html",
        merchant=merchant,
        new_key=new_key,
        keys=merchants.list_api_keys(merchant),
    )


@blp.route("/seal", methods=["GET", "POST"])
@web.page_required("merchant", *OWNER_ONLY)
def seal() -> Any:
    """Evidence for each criterion, the certifier's verdicts and why, and the application.

    A link that is not ``https://`` is refused (422, nothing saved) and shown again beside
    its criterion."""
    merchant = _merchant()
    problems: dict[str, str] = {}
    typed: dict[str, dict[str, str]] = {}
    if request.method == "POST":
        for row in seals.criterion_reviews(merchant):
            cid = row["id"]
            url = request.form.get(f"url_{cid}", "").strip()[:2000]
            note = request.form.get(f"note_{cid}", "").strip()[:2000]
            typed[cid] = {"merchant_evidence_url": url, "merchant_evidence_note": note}
            if forbidden_character(note, multiline=True):
                problems[cid] = _("Remove the invisible control or text-direction characters.")
                continue
            try:
                seals.set_evidence(merchant, cid, url, note)
            except seals.SealError:
                problems[cid] = _("Evidence links must start with https:// and name a host.")
        if not problems:
            applied = False
            if request.form.get("apply"):
                message = request.form.get("message", "").strip()[:1000]
                if forbidden_character(message, multiline=True):
                    message = ""
                try:
                    seals.apply(merchant, message or _("Application"))
                    applied = True
                except seals.SealError as error:
                    flash(str(error), "error")
            db.session.commit()
            flash(_("Application sent: the certifier was told.") if applied else _("Saved."), "ok")
            return redirect("/dashboard/seal")
        db.session.rollback()
    checklist = seals.criterion_reviews(merchant)
    for row in checklist:
        row.update(typed.get(row["id"], {}))
    return render_template(
        "dashboard/seal.html",
        merchant=merchant,
        seal=seals.summary(merchant),
        checklist=checklist,
        standing=seals.application_state(merchant),
        problems=problems,
    ), (422 if problems else 200)


@blp.get("/badge")
@web.page_required("merchant")
def badge() -> str:
    """Each style in each language, live, with the snippet to paste; the Libro de
    Reclamaciones button's snippet."""
    merchant = _merchant()
    return render_template(
        "dashboard/badge.html",
        merchant=merchant,
        snippets={lang: badging.embed_snippets(merchant, lang) for lang in badging.LANGS},
        book_snippet=badging.book_link_snippet(merchant),
    )


@blp.get("/analytics")
@web.page_required("merchant")
def analytics() -> str:
    """Rating and answer-time trends, repeat customers, reviews with photos."""
    merchant = _merchant()
    now = utcnow()
    summary = reviews.merchant_score(merchant)
    months = numbers.last_months(now)
    answer_hours = reviews.monthly_answer_hours(merchant.id, months)
    answer_chart = history_bars(
        [{"month": m, "count": int(answer_hours[m] or 0), "average": None} for m in months]
    )
    return render_template(
        "dashboard/analytics.html",
        merchant=merchant,
        summary=summary,
        rating_chart=history_bars(summary["history"]),
        answer_chart=answer_chart,
        answer_hours=answer_hours,
        repeat=orders.repeat_customer_rate(merchant.id, now),
        photos=reviews.photo_share(merchant.id),
    )


def _domain_page(merchant: Merchant, findings: list[Any] | None = None, status: int = 200) -> Any:
    return render_template(
        "dashboard/domain.html",
        merchant=merchant,
        state=merchants.domain_state(merchant),
        method_words=merchants.METHOD_WORDS,
        findings=findings or [],
    ), status


@blp.get("/domain")
@web.page_required("merchant")
def domain() -> Any:
    """How to prove the shop controls its domain (DNS record or file), step by step."""
    return _domain_page(_merchant())


@blp.post("/domain/check")
@web.page_required("merchant")
def domain_check() -> Any:
    """Look for the DNS record, then the file; say what was found."""
    merchant = _merchant()
    try:
        merchants.check_domain(merchant)
    except merchants.DomainCheckLimited as limited:
        wait = limited.retry_after
        flash(_("You checked many times in a short while: try again in %(n)s s.", n=wait), "error")
        return _domain_page(merchant, status=429)
    except merchants.DomainNotProven as unproven:
        db.session.rollback()
        return _domain_page(_merchant(), unproven.findings, 409)
    except merchants.RucTaken:
        db.session.rollback()
        flash(
            _(
                "Your domain is proven, but a verified shop already holds your RUC: write to "
                "the certifier to sort it out."
            ),
            "error",
        )
        return _domain_page(_merchant(), status=409)
    db.session.commit()
    flash(_("Your domain is verified: your profile is public now."), "ok")
    return redirect("/dashboard/domain")
