"""The shopper's way in: the home page and the published rules behind every number (the
score's formula, who vouches for each purchase, the fraud rules)."""

from __future__ import annotations

from flask import Blueprint, render_template

from trustseal.clock import utcnow
from trustseal.signals import service as signals
from trustseal.transparency import numbers as score_formula

blp = Blueprint("public_home", __name__)


@blp.get("/")
def home() -> str:
    """The landing page: what trustseal is and where to look."""
    return render_template("home.html")


@blp.get("/score")
def score_page() -> str:
    """How the score is computed, who vouches for each purchase, and the fraud rules: the
    published rules of several domains, on one page."""
    return render_template(
        "score.html", s=score_formula, now=utcnow(), signal_rules=signals.published_rules()
    )
