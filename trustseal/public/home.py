"""The shopper's way in: the home page, the shop search and the published rules behind every
number (the score's formula, who vouches for each purchase, the fraud rules)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from trustseal.clock import utcnow
from trustseal.merchants import service as merchants
from trustseal.resolutions import service as resolutions
from trustseal.signals import service as signals
from trustseal.transparency import numbers as score_formula

blp = Blueprint("public_home", __name__)

DEMO_SLUG = "tienda-demo"  # the shop `trustseal demo` loads (trustseal.demo.DEMO_SLUG)
SEARCH_LIMIT = 20  # shops listed for one query


@blp.get("/")
def home() -> str:
    """The landing page: what the seal guarantees a shopper, and a shop search."""
    return render_template("home.html", demo_slug=DEMO_SLUG, max_query=merchants.SEARCH_MAX_QUERY)


@blp.get("/buscar")
def search() -> str:
    """Shops by name or web address (``?q=``), each with its seal status and score; with
    no query, the search form alone."""
    query = request.args.get("q", "").strip()[: merchants.SEARCH_MAX_QUERY]
    found = merchants.search_public(query, SEARCH_LIMIT) if query else None
    results: list[dict[str, Any]] = [
        {
            "merchant": merchant,
            "seal": merchants.summary_part("seal", merchant),
            "score": merchants.summary_part("score", merchant),
        }
        for merchant in (found.merchants if found else [])
    ]
    return render_template(
        "search.html",
        query=query,
        results=results,
        more=bool(found and found.more),
        limit=SEARCH_LIMIT,
        max_query=merchants.SEARCH_MAX_QUERY,
        demo_slug=DEMO_SLUG,
    )


@blp.get("/score")
def score_page() -> str:
    """How the score is computed, who vouches for each purchase, and the fraud rules: the
    published rules of several domains, on one page."""
    return render_template(
        "score.html",
        s=score_formula,
        now=utcnow(),
        signal_rules=signals.published_rules(),
        resolution_max=resolutions.OFFER_MAX_RATING,
    )
