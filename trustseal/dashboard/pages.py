"""Dashboard pages (merchant users). Thin: read forms, call the domains' doors, render."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import marshmallow as ma
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup, escape

from trustseal import i18n
from trustseal.accounts import web
from trustseal.api.fields import forbidden_character
from trustseal.api.uploads import allow_upload
from trustseal.badging import service as badging
from trustseal.book import display as book_display
from trustseal.book import service as book
from trustseal.book.deadlines import lima_time
from trustseal.book.schemas import AnswerSchema
from trustseal.clock import utcnow
from trustseal.dashboard.analytics import SECTOR_MIN_SHOPS, merchant_panels
from trustseal.extensions import db
from trustseal.feeds import service as feeds
from trustseal.hooks import service as hooks
from trustseal.imports import formats as import_formats
from trustseal.imports import service as imports
from trustseal.merchants import service as merchants
from trustseal.orders import service as orders
from trustseal.reviews import presenters
from trustseal.reviews import service as reviews
from trustseal.reviews.presenters import history_bars
from trustseal.reviews.schemas import FlagCreateSchema, ResponseBodySchema
from trustseal.seals import service as seals
from trustseal.spreadsheets import safe_cell
from trustseal.stores import forms as store_forms
from trustseal.stores import service as stores
from trustseal.transparency import numbers
from trustseal.widgets import service as widgets

if TYPE_CHECKING:
    from trustseal.merchants.models import Merchant

blp = Blueprint("dashboard", __name__, url_prefix="/dashboard")
OWNER_ONLY = ("owner",)
allow_upload("dashboard.review_imports", imports.MAX_FILE_BYTES + 64 * 1024)


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


def _onboarding(merchant: Merchant) -> list[tuple[str, str, bool, str]]:
    """The first steps of a shop, each (id, words, done, where), done as trustseal sees it:
    the domain proved, a store connected, the badge found on the shop's home page by the
    last site check, the seal applied for (or held)."""
    site = seals.latest_site_check(merchant) or {}
    return [
        (
            "domain",
            _("Prove that you control your domain"),
            merchants.is_public(merchant),
            "/dashboard/domain",
        ),
        ("store", _("Connect your store"), bool(stores.stores_of(merchant)), "/dashboard/stores"),
        (
            "badge",
            _("Embed the badge on your home page"),
            bool(site.get("badge_shown")),
            "/dashboard/badge",
        ),
        (
            "seal",
            _("Apply for the Online Trust Seal"),
            seals.summary(merchant)["status"] != "none",
            "/dashboard/seal",
        ),
    ]


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
        onboarding=_onboarding(merchant),
        merchant=merchant,
        score=reviews.merchant_score(merchant),
        unanswered=reviews.reviews_for_answering(merchant.id, 5),
        since=_since,
        complaints=waiting[:5],
        counts=book.counts(merchant.id),
        **book_display.template_helpers(),
    )


REVIEWS_PER_PAGE = 20
REVIEW_CSV_COLUMNS = (
    "id",
    "date",
    "rating",
    "process_rating",
    "title",
    "body",
    "name",
    "verification_level",
    "status",
    "answer",
    "answer_date",
    "helpful_count",
    "log_index",
)


def _review_view(args: Any) -> dict[str, Any]:
    """The list's tab, search and page as ``args`` (query string or form) give them,
    anything unknown back to its default."""
    tab = args.get("tab", "all")
    query = str(args.get("q", "")).strip()[:100]
    return {
        "tab": tab if tab in {t.value for t in reviews.MerchantTab} else "all",
        "q": query,
        "page": max(1, args.get("page", 1, type=int) or 1),
    }


def _reviews_url(view: dict[str, Any], review_id: int | None = None, **changes: Any) -> str:
    """The reviews list with ``view`` changed (defaults left out of the address)."""
    wanted = {**view, **changes}
    params = {
        "tab": wanted["tab"] if wanted["tab"] != "all" else None,
        "q": wanted["q"] or None,
        "page": wanted["page"] if wanted["page"] > 1 else None,
    }
    anchor = f"r{review_id}" if review_id is not None else None
    return url_for("dashboard.review_list", _anchor=anchor, **params)


@blp.get("/reviews")
@web.page_required("merchant")
def review_list() -> str:
    """All the shop's reviews (removed ones marked), by tab (all, unanswered, negative,
    flagged) with counts, searched and on numbered pages; each with its answer form and
    a form to report it to the certifier."""
    merchant = _merchant()
    view = _review_view(request.args)
    tab = reviews.MerchantTab(view["tab"])
    page = reviews.merchant_reviews(merchant.id, tab, view["q"], view["page"], REVIEWS_PER_PAGE)
    view["page"] = page.page
    return render_template(
        "dashboard/reviews.html",
        merchant=merchant,
        view=view,
        tabs=[
            ("all", _("All")),
            ("unanswered", _("Unanswered")),
            ("negative", _("Negative (1-2 stars)")),
            ("flagged", _("Reported")),
        ],
        counts=reviews.merchant_review_counts(merchant.id, view["q"]),
        page=page,
        page_numbers=presenters.page_numbers(page.page, page.pages),
        link=lambda **changes: _reviews_url(view, **changes),
        flagged_by_me=reviews.flagged_by(merchant.id, (r.id for r in page.items)),
        withheld=reviews.text_withheld,
        flag_reasons=[r.value for r in reviews.FlagReason],
        verification=presenters.verification_text,
        **book_display.template_helpers(),
    )


@blp.post("/reviews/<int:review_id>/answer")
@web.page_required("merchant")
def answer_review(review_id: int) -> Any:
    """Answer a review in public, or edit the answer (every version is kept)."""
    back = _reviews_url(_review_view(request.form), review_id)
    text = _typed_answer(ResponseBodySchema)
    if text is None:
        return redirect(back)
    merchant = _merchant()
    review = reviews.merchant_review(review_id, merchant.id)
    edited = review is not None and review.response is not None
    try:
        reviews.respond(review_id, merchant.id, text)
    except reviews.ReviewError as error:
        abort(error.code, description=str(error))
    db.session.commit()
    if edited:
        flash(_("Your answer was updated. Every version is kept."), "ok")
    else:
        flash(_("Your answer is public."), "ok")
    return redirect(back)


@blp.post("/reviews/<int:review_id>/flag")
@web.page_required("merchant")
def flag_review(review_id: int) -> Any:
    """Report a review to the certifier for a reason; it stays visible while staff look."""
    back = _reviews_url(_review_view(request.form), review_id)
    merchant = _merchant()
    review = reviews.merchant_review(review_id, merchant.id)
    if review is None:
        abort(404)
    if review.status != "published":
        flash(_("This review was removed already; there is nothing to report."), "error")
        return redirect(back)
    if review_id in reviews.flagged_by(merchant.id, [review_id]):
        flash(_("You reported this review already; the certifier is looking at it."), "error")
        return redirect(back)
    detail = request.form.get("detail", "")[:2000]
    try:
        data = FlagCreateSchema().load(
            {"reason": request.form.get("reason", ""), "detail": detail if detail.strip() else None}
        )
    except ma.ValidationError as error:
        if "reason" in error.messages:
            flash(_("Choose why you report this review."), "error")
        else:
            flash(_("Remove the invisible control or text-direction characters."), "error")
        return redirect(back)
    reviews.flag(review_id, merchant.id, reviews.FlagReason(data["reason"]), data["detail"])
    db.session.commit()
    flash(
        _(
            "Review reported: the certifier will look at it. It stays published meanwhile, "
            "and your report is not public."
        ),
        "ok",
    )
    return redirect(back)


@blp.get("/reviews.csv")
@web.page_required("merchant")
def reviews_csv() -> Response:
    """All the shop's reviews as CSV (UTF-8), one row per review, dates in Lima time;
    cells that a spreadsheet would run as formulas are neutralized."""
    merchant = _merchant()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(REVIEW_CSV_COLUMNS)
    for r in reviews.merchant_export(merchant.id):
        answer = r.response
        writer.writerow(
            safe_cell(value)
            for value in (
                r.id,
                lima_time(r.created_at).isoformat(),
                r.rating,
                r.process_rating,
                None if reviews.text_withheld(r) else r.title,
                None if reviews.text_withheld(r) else r.body,
                r.display_name,
                r.verification_level,
                r.status,
                answer.body if answer else None,
                lima_time(answer.updated_at).isoformat() if answer else None,
                r.helpful_count,
                r.log_index,
            )
        )
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="resenas-{merchant.slug}.csv"'},
    )


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


# Settings refilled after a refusal: never one that holds a secret.
_SECRET_PARTS = ("secret", "token", "key", "password")


_MACHINE_NAME = re.compile(r"\b([a-z][a-z0-9]*(?:_[a-z0-9]+)+)\b")


def _credential_help(plugin: Any) -> list[Markup]:
    """A plugin's steps to find each value (its optional ``credential_help``), escaped, with
    machine names such as ``read_orders`` shown as code."""
    return [
        Markup(_MACHINE_NAME.sub(r"<code>\1</code>", str(escape(str(step)))))
        for step in getattr(plugin, "credential_help", ())
    ]


def _stores_page(merchant: Merchant, **shown: Any) -> str:
    """The stores page: each store with its re-sync, and a form per platform."""
    listed = stores.stores_of(merchant)
    return render_template(
        "dashboard/stores.html",
        merchant=merchant,
        stores=listed,
        syncs={s.id: stores.sync_state(s) for s in listed},
        can_sync={s.id: stores.can_sync(s) for s in listed},
        sync_since=(utcnow() - timedelta(days=30)).date().isoformat(),
        sync_reason=store_forms.sync_reason,
        platforms=stores.platforms(),
        help_of=_credential_help,
        webhook_url=stores.webhook_url,
        **{"created": None, "errors": {}, "typed": {}, "chosen": None, **shown},
    )


@blp.route("/stores", methods=["GET", "POST"])
@web.page_required("merchant", *OWNER_ONLY)
def store_list() -> Any:
    """Connected stores, and connecting one (with where to find each value, per platform);
    a refusal is said beside each field, in the reader's language."""
    merchant = _merchant()
    if request.method == "GET":
        return _stores_page(merchant)
    name = request.form.get("platform", "")
    fields = {
        k: v.strip()
        for k, v in request.form.items()
        if k not in ("platform", "csrf_token") and v.strip()
    }
    typed = {k: v for k, v in fields.items() if not any(p in k for p in _SECRET_PARTS)}
    try:
        plugin = stores.platform(name)
        created = stores.create_store(merchant, name, plugin.settings_schema().load(fields))
        db.session.commit()
    except stores.StoreError:
        errors = {store_forms.FORM: [_("Unknown platform.")]}
        return _stores_page(merchant, errors=errors, chosen=name), 400
    except ma.ValidationError as invalid:
        db.session.rollback()
        errors = store_forms.field_errors(invalid)
        return _stores_page(merchant, errors=errors, typed=typed, chosen=name), 422
    return _stores_page(merchant, created=created)


@blp.post("/stores/<int:store_id>/sync")
@web.page_required("merchant", *OWNER_ONLY)
def store_sync(store_id: int) -> Any:
    """Re-fetch a store's orders since a date, as a job; its progress shows on the page."""
    merchant = _merchant()
    typed = request.form.get("since", "").strip()
    today = utcnow().date()
    try:
        day = date.fromisoformat(typed) if typed else today - timedelta(days=30)
    except ValueError:
        day = None
    if day is None or day > today or (today - day).days > stores.SYNC_MAX_DAYS:
        flash(_("Choose a date in the last %(days)s days.", days=stores.SYNC_MAX_DAYS), "error")
        return _stores_page(merchant), 422
    try:
        stores.request_sync(merchant, store_id, datetime.combine(day, time(), tzinfo=UTC))
    except stores.StoreError as error:
        db.session.rollback()
        if error.code == 404:
            abort(404)
        message = {
            409: _("A re-sync of this store is already queued or running; wait until it ends."),
            422: _(
                "Add the store's API credentials first: without them its orders cannot be listed."
            ),
        }.get(error.code, _("This store cannot be re-synced."))
        flash(message, "error")
        return _stores_page(merchant), error.code
    db.session.commit()
    flash(_("Re-sync queued: its progress shows in the store's row."), "ok")
    return redirect("/dashboard/stores", code=303)


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
    merchant = _merchant()
    with i18n.in_language(purchase.customer_locale):  # the customer's language, not the shop's
        message = _(
            "Hello %(name)s, thank you for your purchase at %(merchant)s. Would you tell "
            "other shoppers how your order %(order)s went? %(url)s",
            name=purchase.customer_name or _("customer"),
            merchant=merchant.name,
            order=purchase.external_id,
            url=link.url,
        )
    page = render_template(
        "dashboard/review_link.html",
        merchant=merchant,
        purchase=purchase,
        link=link,
        message=message,
        whatsapp_url="https://wa.me/?" + urlencode({"text": message}, quote_via=quote),
    )
    return page, 200, {"Cache-Control": "no-store"}  # the link is shown once


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


def _webhook_problem(error: Exception) -> str:
    """What the merchant reads when a webhook form is refused, in the page's language."""
    field = getattr(error, "field", None)
    if field == "url":
        return _("Enter the https:// address of your server that receives the events.")
    if field == "events":
        return _("Choose at least one event.")
    if getattr(error, "code", None) == 409:
        return _("A shop has at most %(count)s webhook endpoints.", count=hooks.MAX_ENDPOINTS)
    return _("That endpoint does not exist.")


@blp.route("/webhooks", methods=["GET", "POST"])
@web.page_required("merchant", *OWNER_ONLY)
def webhooks() -> Any:
    """Outgoing webhooks: subscribe a URL to events (its secret shown once), send a test,
    delete; each endpoint's latest deliveries with their response codes."""
    merchant = _merchant()
    new_secret = None
    if request.method == "POST":
        try:
            if request.form.get("delete"):
                hooks.delete_endpoint(merchant.id, int(request.form["delete"]))
                flash(_("The endpoint was deleted; its delivery log stays below."), "ok")
            elif request.form.get("test"):
                hooks.send_test(merchant.id, merchant.slug, int(request.form["test"]))
                flash(_("A signed test event is on its way; its delivery shows below."), "ok")
            else:
                new_secret = hooks.create_endpoint(
                    merchant.id, request.form.get("url", ""), request.form.getlist("events")
                )[1]
            db.session.commit()
        except (hooks.WebhookError, ValueError) as error:
            db.session.rollback()
            flash(_webhook_problem(error), "error")
    endpoints = hooks.endpoints(merchant.id)
    return render_template(
        "dashboard/webhooks.html",
        merchant=merchant,
        new_secret=new_secret,
        endpoints=[(e, hooks.deliveries(merchant.id, e.id, limit=10)) for e in endpoints],
        events=hooks.EVENTS,
    )


def _import_problem(error: imports.ImportRefused) -> str:
    """What the merchant reads when an upload is refused, in the page's language."""
    words = {
        "too_large": lambda: _(
            "The file is larger than %(mb)s MB.", mb=imports.MAX_FILE_BYTES // 2**20
        ),
        "too_many_rows": lambda: _(
            "A file may hold at most %(rows)s reviews: split it in parts.",
            rows=imports.MAX_ROWS,
        ),
        "binary": lambda: _("This is not a CSV file. Save it as CSV UTF-8 and upload it again."),
        "not_utf8": lambda: _("The file is not UTF-8 text. In Excel, save it as “CSV UTF-8”."),
        "unknown_header": lambda: _(
            "The first row does not name the columns of a format we read: see the formats below."
        ),
        "unreadable": lambda: _(
            "The file cannot be read as CSV (a quotation mark may be left open)."
        ),
        "empty": lambda: _("The file has no review rows."),
        "busy": lambda: _("Another import is still running: wait until it ends."),
    }
    return str(words.get(error.reason, lambda: _("The file was refused."))())


@blp.route("/imports", methods=["GET", "POST"])
@web.page_required("merchant", *OWNER_ONLY)
def review_imports() -> Any:
    """Import reviews from the previous provider: upload a CSV file (trustseal's columns or
    a Judge.me, Yotpo or Trustpilot export); each import's progress and the rows it left
    out. A refresh of the page shows the progress."""
    merchant = _merchant()
    status = 200
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            flash(_("Choose a file first."), "error")
            status = 422
        else:
            try:
                started = imports.start(merchant.id, upload.filename, upload.read())
                db.session.commit()
            except imports.ImportRefused as error:
                db.session.rollback()
                flash(_import_problem(error), "error")
                status = error.code
            else:
                flash(
                    _(
                        "The file was accepted: %(total)s rows will be read. Refresh this "
                        "page to follow the import.",
                        total=started.total,
                    ),
                    "ok",
                )
                return redirect(url_for("dashboard.review_imports"), 303)
    page = render_template(
        "dashboard/imports.html",
        merchant=merchant,
        imports=imports.imports_of(merchant.id),
        formats=import_formats.FORMATS,
        fields=import_formats.FIELDS,
        problems=imports.problems,
        describe=imports.describe,
        max_mb=imports.MAX_FILE_BYTES // 2**20,
        max_rows=imports.MAX_ROWS,
        imported_total=imports.imported_count(merchant.id),
    )
    return page, status


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
    """Each style in each language (the shop's own first), live, with the snippet to
    paste; the Libro de Reclamaciones button's snippet for a shop in Peru; the addresses
    of the shop's Google review feeds; and each rated product's widgets (stars, reviews
    frame, JSON-LD) in the shop's language."""
    merchant = _merchant()
    own = merchants.language(merchant)
    return render_template(
        "dashboard/badge.html",
        merchant=merchant,
        snippets={
            lang: badging.embed_snippets(merchant, lang)
            for lang in sorted(badging.LANGS, key=lambda lang: lang != own)
        },
        book_snippet=badging.book_link_snippet(merchant) if book.offered(merchant) else None,
        feeds=feeds.urls(merchant),
        products=widgets.snippets(merchant.id, merchant.slug, own),
        products_shown=widgets.DASHBOARD_PRODUCTS,
    )


@blp.get("/analytics")
@web.page_required("merchant")
def analytics() -> str:
    """Rating and answer-time trends, repeat customers, reviews with photos, and each
    service KPI month by month against the certified shops' median."""
    merchant = _merchant()
    now = utcnow()
    summary = reviews.merchant_score(merchant)
    months = numbers.last_months(now)
    answer_hours = reviews.monthly_answer_hours(merchant.id, months)
    answer_chart = history_bars(
        [{"month": m, "count": int(answer_hours[m] or 0), "average": None} for m in months]
    )
    kpi_panels, benchmark_sector = merchant_panels(merchant.slug, now, merchant.sector)
    return render_template(
        "dashboard/analytics.html",
        merchant=merchant,
        summary=summary,
        rating_chart=history_bars(summary["history"]),
        answer_chart=answer_chart,
        answer_hours=answer_hours,
        repeat=orders.repeat_customer_rate(merchant.id, now),
        photos=reviews.photo_share(merchant.id),
        kpi_panels=kpi_panels,
        benchmark_sector=benchmark_sector,
        sector_min_shops=SECTOR_MIN_SHOPS,
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
