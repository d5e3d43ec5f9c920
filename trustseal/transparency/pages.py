"""The public page that explains the transparency log."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from trustseal.extensions import db
from trustseal.transparency import service, witnessing

blp = Blueprint("transparency_pages", __name__)


@blp.get("/transparency")
def transparency() -> str:
    """What the log proves and how anyone can check it, with the current signed head."""
    head = service.publish_head()
    db.session.commit()
    return render_template(
        "transparency.html",
        head=head.as_json(),
        witnesses=witnessing.statuses(),
        quorum=current_app.config["TRUSTSEAL_WITNESS_QUORUM"],
        origin=witnessing.origin(),
    )
