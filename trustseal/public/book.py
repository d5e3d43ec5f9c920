"""The consumer's Libro de Reclamaciones: the Hoja de Reclamación form of a shop, the
page where a follow-up code is typed, the follow-up page of a filed entry and its
printable copy (PDF). A shop outside Peru has no book: its form's address answers, in the
reader's language, why (404)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import marshmallow as ma
from flask import Blueprint, Response, abort, redirect, render_template, request
from flask_babel import gettext
from werkzeug.wrappers import Response as BaseResponse

from trustseal import i18n
from trustseal.api.fields import refused_for_hidden_characters
from trustseal.api.limits import public_post, public_write
from trustseal.book import display, documents, service
from trustseal.book.schemas import DOCUMENT_TYPES, EntryCreateSchema
from trustseal.extensions import db
from trustseal.merchants import service as merchants

if TYPE_CHECKING:
    from trustseal.merchants.models import Merchant

blp = Blueprint("public_book", __name__)

FLAT_FIELDS = [
    "kind",
    "consumer.name",
    "consumer.document_type",
    "consumer.document_number",
    "consumer.email",
    "consumer.phone",
    "consumer.address",
    "consumer.minor",
    "consumer.guardian.name",
    "consumer.guardian.document_type",
    "consumer.guardian.document_number",
    "item.type",
    "item.description",
    "item.amount",
    "item.currency",
    "detail",
    "request",
    "order_ref",
    "consent_email",
    "publish_praise",
]
CHECKBOXES = {"consumer.minor", "consent_email", "publish_praise"}
GUARDIAN_PREFIX = "consumer.guardian."
# A part of the form left wholly empty is one error on the part: the page marks it on the
# part's required fields, each with its own message.
REQUIRED_IN_PART = {
    "consumer": ("consumer.name", "consumer.document_number", "consumer.email"),
    "item": ("item.type", "item.description"),
}
# A lookup by code answers with the code in its URL: no cache keeps it, no Referer sends it.
SECRET_PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _merchant(slug: str) -> Merchant:
    merchant = merchants.get_public(slug)
    if merchant is None:
        abort(404)
    return merchant


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"consumer.name": x}`` → ``{"consumer": {"name": x}}``, dropping empty values."""
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        if value in ("", None):
            continue
        *parents, leaf = key.split(".")
        node = nested
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return nested


def _field_errors(messages: Any) -> dict[str, list[str]]:
    """The schema's errors by form field (``consumer.name``), a missing part's on its
    required fields."""
    errors = _flatten(messages)
    for part, fields in REQUIRED_IN_PART.items():
        if part in errors:
            for name in fields:
                errors.setdefault(name, errors[part])
    return errors


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    if isinstance(messages, dict):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            flat.update(_flatten(value, f"{prefix}{key}."))
        return flat
    return {prefix.rstrip("."): messages if isinstance(messages, list) else [str(messages)]}


@blp.route("/m/<slug>/libro", methods=["GET", "POST"])
@public_post
def book_form(slug: str) -> Any:
    """The virtual Libro de Reclamaciones of a merchant (works without JavaScript); for a
    shop outside Peru, the page that says it has none (404)."""
    merchant = _merchant(slug)
    if not service.offered(merchant):
        return render_template("book_not_here.html", merchant=merchant), 404
    values: dict[str, Any] = {
        "kind": request.args.get("kind", "reclamo"),
        "consent_email": True,
        "item.type": "producto",
        "item.currency": "PEN",
    }
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        values = {
            key: (key in request.form) if key in CHECKBOXES else request.form.get(key, "").strip()
            for key in FLAT_FIELDS
        }
        # The guardian's fields are for a minor only: without the box ticked they are
        # ignored (the page hides them, but a browser still sends what was typed there).
        submitted = {
            k: v
            for k, v in values.items()
            if values["consumer.minor"] or not k.startswith(GUARDIAN_PREFIX)
        }
        try:
            data = EntryCreateSchema().load(_nest(submitted))
        except ma.ValidationError as invalid:
            errors = _field_errors(invalid.normalized_messages())
        else:
            filed = service.file_entry(merchant, data, i18n.current_language())
            db.session.commit()
            return render_template(
                "book_done.html",
                **display.template_helpers(),
                merchant=merchant,
                entry=filed.entry,
                code=filed.code,
                number=service.format_number(filed.entry),
                lookup_url=service.lookup_url(),
            ), 201
    return render_template(
        "book_form.html",
        merchant=merchant,
        values=values,
        errors=errors,
        hidden_characters=refused_for_hidden_characters(errors),
        hidden_fields={f for f, m in errors.items() if refused_for_hidden_characters({f: m})},
        document_types=DOCUMENT_TYPES,
    ), (422 if errors else 200)


def _found(code: str) -> tuple[Any, Merchant] | None:
    entry = service.by_code(code)
    merchant = merchants.get(entry.merchant_id) if entry else None
    return (entry, merchant) if entry is not None and merchant is not None else None


def _by_code(code: str) -> tuple[Any, Merchant]:
    found = _found(code)
    if found is None:
        abort(404)
    return found


def _lookup_page(typed: str = "", error: str | None = None) -> Response:
    """The page where a follow-up code is typed (with why the last one was not found)."""
    response = Response(
        render_template("book_lookup.html", code=typed, error=error), 404 if error else 200
    )
    if typed:
        response.headers.update(SECRET_PAGE_HEADERS)
    return response


def _not_found(typed: str) -> Response:
    """The lookup page saying why ``typed`` opens no entry (404)."""
    if service.normalize_code(typed) is None:
        message = gettext(
            "This is not a follow-up code. A code has 16 letters and digits in four groups, "
            "such as K7QM-4XPA-92HD-MW3R."
        )
    else:
        message = gettext(
            "No entry has this follow-up code. Check it against the copy you received when "
            "you filed (it is also in the email we sent you)."
        )
    return _lookup_page(typed, message)


@blp.get("/libro")
@public_write
def lookup() -> BaseResponse:
    """Type a follow-up code (a GET form) and go to the entry's follow-up page."""
    typed = request.args.get("code", "").strip()
    if not typed:
        return _lookup_page()
    code = service.normalize_code(typed)
    if code is None or _found(code) is None:
        return _not_found(typed)
    response = redirect(f"/libro/{code}", 303)
    response.headers.update(SECRET_PAGE_HEADERS)
    return response


@blp.get("/libro/<code>")
@public_write
def follow_up(code: str) -> Response | str:
    """The consumer's follow-up page and printable copy (an unknown code: the lookup
    page, saying so, with 404)."""
    found = _found(code)
    if found is None:
        return _not_found(code)
    entry, merchant = found
    return render_template(
        "book_follow.html",
        **display.template_helpers(),
        entry=entry,
        merchant=merchant,
        code=code,
        number=service.format_number(entry),
        state=service.state(entry),
    )


@blp.get("/libro/<code>.pdf")
@public_write
def copy_pdf(code: str) -> Response:
    """The consumer's copy as PDF."""
    entry, merchant = _by_code(code)
    return Response(
        documents.entry_pdf(entry, merchant),
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="reclamo-{service.format_number(entry)}.pdf"'
        },
    )
