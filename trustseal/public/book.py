"""The consumer's Libro de Reclamaciones: the Hoja de Reclamación form of a shop, the
follow-up page of a filed entry and its printable copy (PDF)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import marshmallow as ma
from flask import Blueprint, Response, abort, render_template, request
from flask_babel import get_locale

from trustseal.api.fields import refused_for_hidden_characters
from trustseal.api.limits import public_post, public_write
from trustseal.book import documents, service
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
    """The virtual Libro de Reclamaciones of a merchant (works without JavaScript)."""
    merchant = _merchant(slug)
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
        submitted = {
            k: v
            for k, v in values.items()
            if values["consumer.minor"] or not k.startswith("consumer.guardian.")
        }
        try:
            data = EntryCreateSchema().load(_nest(submitted))
        except ma.ValidationError as invalid:
            errors = _flatten(invalid.normalized_messages())
        else:
            filed = service.file_entry(merchant, data, str(get_locale() or "es"))
            db.session.commit()
            return render_template(
                "book_done.html",
                merchant=merchant,
                entry=filed.entry,
                code=filed.code,
                number=service.format_number(filed.entry),
            ), 201
    return render_template(
        "book_form.html",
        merchant=merchant,
        values=values,
        errors=errors,
        hidden_characters=refused_for_hidden_characters(errors),
        document_types=DOCUMENT_TYPES,
    ), (422 if errors else 200)


def _by_code(code: str) -> tuple[Any, Merchant]:
    entry = service.by_code(code)
    merchant = merchants.get(entry.merchant_id) if entry else None
    if entry is None or merchant is None:
        abort(404)
    return entry, merchant


@blp.get("/libro/<code>")
@public_write
def follow_up(code: str) -> str:
    """The consumer's follow-up page and printable copy."""
    entry, merchant = _by_code(code)
    return render_template(
        "book_follow.html",
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
