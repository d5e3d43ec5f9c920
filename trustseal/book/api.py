"""The book API: file (public), follow up (secret code), list, answer and export (merchant)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Response, g, request
from flask.views import MethodView

from trustseal import i18n
from trustseal.api.auth import (
    MERCHANT_SECURITY,
    current_merchant,
    current_merchant_id,
    merchant_or_staff_required,
    merchant_required,
)
from trustseal.api.blueprint import Blueprint
from trustseal.api.errors import abort
from trustseal.api.limits import public_write
from trustseal.api.lookups import merchant_or_404
from trustseal.api.pagination import keyset_page
from trustseal.book import documents, service
from trustseal.book.models import BookEntry
from trustseal.book.schemas import (
    AnswerSchema,
    BookEntrySchema,
    EntryCreateSchema,
    EntryListArgs,
    EntryPageSchema,
    FiledSchema,
    FollowUpSchema,
    PraiseSchema,
)
from trustseal.extensions import db
from trustseal.merchants import service as merchants
from trustseal.staff.service import Role

if TYPE_CHECKING:
    from trustseal.merchants.models import Merchant

blp = Blueprint("book", __name__, url_prefix="/api/v1", description="Complaints and praise book")


def follow_up(entry: BookEntry) -> dict[str, Any]:
    """What the consumer sees with the follow-up code."""
    merchant = merchants.get(entry.merchant_id)
    return {
        "number": service.format_number(entry),
        "merchant": merchant.name if merchant else "",
        "kind": entry.kind,
        "status": service.state(entry),
        "filed_at": entry.filed_at,
        "due_at": entry.due_at,
        "answer": entry.answer,
        "answered_at": entry.answered_at,
        "consumer_confirmation": entry.consumer_confirmation,
        "confirmed_at": entry.confirmed_at,
    }


def full(entry: BookEntry) -> dict[str, Any]:
    """Everything, for the merchant and staff."""
    return {
        **follow_up(entry),
        "consumer": {
            "name": entry.consumer_name,
            "document_type": entry.document_type,
            "document_number": entry.document_number,
            "email": entry.email,
            "phone": entry.phone,
            "address": entry.address,
            "guardian": entry.guardian,
        },
        "item": {
            "type": entry.item_type,
            "description": entry.description,
            "amount": str(entry.amount) if entry.amount is not None else None,
            "currency": entry.currency,
        },
        "detail": entry.detail,
        "request": entry.request,
        "confirmation_comment": entry.confirmation_comment,
        "order_ref": entry.order_ref,
    }


@blp.route("/merchants/<string:slug>/book")
class MerchantBook(MethodView):
    """Filing in a merchant's book."""

    @public_write  # outermost: a request is counted before anything else reads it
    @blp.arguments(EntryCreateSchema)
    @blp.response(201, FiledSchema)
    @blp.alt_response(404, description="Unknown shop, or a shop outside Peru: no book")
    def post(self, data: dict[str, Any], slug: str) -> dict[str, Any]:
        """File a reclamo, queja or felicitación; returns the number and the secret code.
        Only a shop in Peru has a Libro de Reclamaciones: any other answers 404 saying so."""
        filed = service.file_entry(merchant_or_404(slug), data, i18n.current_language())
        db.session.commit()
        entry = filed.entry
        return {
            "number": service.format_number(entry),
            "code": filed.code,
            "kind": entry.kind,
            "filed_at": entry.filed_at,
            "due_at": entry.due_at,
        }


@blp.route("/merchants/<string:slug>/praise")
class Praise(MethodView):
    """Published felicitaciones."""

    @blp.response(200, PraiseSchema(many=True))
    @blp.alt_response(404, description="Unknown shop, or a shop outside Peru: no book")
    def get(self, slug: str) -> list[dict[str, Any]]:
        """Praise the consumers agreed to publish (first name and initial only); 404 for a
        shop outside Peru, which has no book."""
        merchant = merchant_or_404(slug)
        service.require_book(merchant)
        return [
            {"name": service.public_name(e), "detail": e.detail or "", "filed_at": e.filed_at}
            for e in service.praise(merchant)
        ]


@blp.route("/book")
class Book(MethodView):
    """The merchant's book."""

    @blp.requires(merchant_required, MERCHANT_SECURITY)
    @blp.arguments(EntryListArgs, location="query")
    @blp.response(200, EntryPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Entries newest first, filtered by open, overdue or answered."""
        stmt = service.entries_query(current_merchant_id(), args["status"])
        page = keyset_page(stmt, BookEntry.id, args["limit"], args["cursor"])
        return {**page, "items": [full(e) for e in page["items"]]}


@blp.route("/book/<string:number>/response")
class BookAnswer(MethodView):
    """The provider's answer."""

    @blp.requires(merchant_required, MERCHANT_SECURITY)
    @blp.arguments(AnswerSchema)
    @blp.response(200, BookEntrySchema)
    def put(self, data: dict[str, Any], number: str) -> dict[str, Any]:
        """Answer a reclamo or queja (once); the consumer gets it by email."""
        entry = service.answer(
            current_merchant(), number, data["body"].strip(), data["communicated_at"]
        )
        db.session.commit()
        return full(entry)


def _book_owner() -> Merchant:
    """The merchant whose register is asked for (a merchant key, or staff with ?merchant=)."""
    if g.merchant_id is not None:
        return current_merchant()
    return merchant_or_404(request.args.get("merchant", ""))


@blp.route("/book/export.csv")
class BookCsv(MethodView):
    """The register as CSV."""

    @blp.requires(merchant_or_staff_required(Role.ADMIN, Role.CERTIFIER), MERCHANT_SECURITY)
    @blp.response(200, description="text/csv")
    def get(self) -> Response:
        """Every entry (staff: ``?merchant=slug``)."""
        owner = _book_owner()
        entries = db.session.scalars(service.entries_query(owner.id, None).order_by(BookEntry.id))
        return Response(
            documents.register_csv(entries),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="libro-{owner.slug}.csv"'},
        )


@blp.route("/book/register.pdf")
class BookPdf(MethodView):
    """The register as PDF."""

    @blp.requires(merchant_or_staff_required(Role.ADMIN, Role.CERTIFIER), MERCHANT_SECURITY)
    @blp.response(200, description="application/pdf")
    def get(self) -> Response:
        """Every entry, as an inspection asks to see it (staff: ``?merchant=slug``)."""
        owner = _book_owner()
        entries = db.session.scalars(service.entries_query(owner.id, None).order_by(BookEntry.id))
        return Response(
            documents.register_pdf(entries, owner),
            mimetype="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="libro-{owner.slug}.pdf"'},
        )


@blp.route("/book/<string:code>")
class FollowUp(MethodView):
    """Follow-up by secret code."""

    @blp.response(200, FollowUpSchema)
    @public_write
    def get(self, code: str) -> dict[str, Any]:
        """Status and answer of an entry (rate-limited: codes cannot be guessed online)."""
        entry = service.by_code(code)
        if entry is None:
            abort(404, message="No entry with this code.")
        return follow_up(entry)
