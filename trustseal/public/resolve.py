"""The consumer's resolution page (``/resolve/{token}``): after the merchant answered, was
it resolved? For a review, an updated rating and text may be added. Works without
JavaScript; the token in the address is the consumer's single-use link."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Blueprint, render_template, request, url_for

from trustseal.extensions import db
from trustseal.public.reviews import form_number
from trustseal.resolutions import service as resolutions
from trustseal.resolutions.api import ResolutionCreateSchema

blp = Blueprint("public_resolve", __name__)

PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@blp.route("/resolve/<token>", methods=["GET", "POST"])
def resolve(token: str) -> Any:
    """The question, the answer being judged, and the form; the thanks once answered."""
    try:
        case = resolutions.pending(token)
    except resolutions.ResolutionError as error:
        return _closed(error)
    values: dict[str, str] = {}
    errors: dict[str, Any] = {}
    if request.method == "POST":
        values = {k: request.form.get(k, "") for k in ("resolved", "rating", "comment")}
        body: dict[str, Any] = {"token": token}
        if values["resolved"] in ("yes", "no"):
            body["resolved"] = values["resolved"] == "yes"
        if values["rating"] != "":
            body["rating"] = form_number(values["rating"])
        if values["comment"].strip():
            body["comment"] = values["comment"]
        try:
            data = ResolutionCreateSchema().load(body)
        except ma.ValidationError as invalid:
            errors = invalid.normalized_messages()
        else:
            outcome = resolutions.Outcome(data["resolved"], data["rating"], data["comment"])
            try:
                recorded = resolutions.submit(token, outcome)
            except resolutions.ResolutionError as error:
                db.session.rollback()
                return _closed(error)
            db.session.commit()
            page = render_template("resolve.html", case=case, done=recorded)
            return page, 201, PRIVATE
    page = render_template(
        "resolve.html",
        case=case,
        values=values,
        errors=errors,
        action=url_for("public_resolve.resolve", token=token, lang=request.args.get("lang")),
    )
    return page, (422 if errors else 200), PRIVATE


def _closed(error: resolutions.ResolutionError) -> Any:
    return render_template("resolve.html", closed=error.code), error.code, PRIVATE
