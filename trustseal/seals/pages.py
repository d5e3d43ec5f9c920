"""Public seal pages: the criteria (areas, sources, how each is checked) and the
monitoring rules that suspend a seal."""

from __future__ import annotations

from flask import Blueprint, render_template

from trustseal.seals import criteria as checklist
from trustseal.seals import monitor

blp = Blueprint("seals_pages", __name__)


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
