"""What a shopper checks about a seal: whether a shop's seal is valid right now (the page
every badge links to), the criteria a shop must meet, and the rules that suspend a seal."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request

from trustseal.badging import service as badging
from trustseal.extensions import db
from trustseal.merchants import service as merchants
from trustseal.reviews import service as reviews
from trustseal.seals import criteria as checklist
from trustseal.seals import monitor
from trustseal.seals import service as seals

blp = Blueprint("public_seal", __name__)


@blp.get("/verify/<slug>")
def verify_page(slug: str) -> Any:
    """Is this shop's seal valid right now? (What the badge links to.)"""
    merchant = merchants.get_public(slug)
    if merchant is None:
        return render_template("verify.html", merchant=None, slug=slug), 404
    summary = reviews.merchant_score(merchant)
    db.session.commit()
    own_urls = (current_app.config["TRUSTSEAL_BASE_URL"], request.host_url)
    page = render_template(
        "verify.html",
        merchant=merchant,
        slug=slug,
        seal=summary["seal"],
        summary=summary,
        history=seals.history(merchant),
        criteria=seals.criterion_reviews(merchant),
        snippets=badging.embed_snippets(merchant),
        shown_on=badging.shown_elsewhere(request.referrer, merchant.domain, own_urls),
    )
    return page, 200, {"Vary": "Referer"}  # the warning depends on the page linking here


@blp.get("/sello/criterios")
def criteria_page() -> str:
    """Every criterion by area of the code of good practice: mandatory or not, checked by
    the site check or by the certifier, and the source it comes from."""
    rows = checklist.criteria()
    areas = [(area, [r for r in rows if r["group"] == area.id]) for area in checklist.AREAS]
    return render_template("seal_criteria.html", areas=areas, version=checklist.VERSION)


@blp.get("/sello/reglas")
def rules_page() -> str:
    """The monitoring rules explained: thresholds, warnings first, staff reinstate."""
    return render_template(
        "seal_rules.html", rules=monitor.rules(), labels=monitor.THRESHOLD_LABELS
    )
