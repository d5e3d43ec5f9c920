"""marshmallow schemas of the book: the Hoja de Reclamación and its answer."""

from __future__ import annotations

import re
from typing import Any

import marshmallow as ma

from trustseal.api.fields import StrictSchema, Text, UTCDateTime
from trustseal.api.pagination import PageArgsSchema, page_schema
from trustseal.book.service import KINDS
from trustseal.validators import dni_is_valid, ruc_is_valid

DOCUMENT_TYPES = ("DNI", "CE", "PASAPORTE", "RUC")
_ALNUM = re.compile(r"^[A-Z0-9]{6,12}$")
_PHONE = re.compile(r"^\+?[0-9 ()-]{6,20}$")
# What every document type has in common; document_error() then checks the type's own rule.
DOCUMENT_NUMBER_PATTERN = r"^[A-Za-z0-9]{6,12}$"


def _text(max_length: int, required: bool = True, multiline: bool = False) -> Text:
    """A free-text field of the form: required ones may not be blank."""
    if required:
        return Text(
            required=True,
            blank=False,
            multiline=multiline,
            validate=ma.validate.Length(max=max_length),
        )
    return Text(
        load_default=None,
        allow_none=True,
        multiline=multiline,
        validate=ma.validate.Length(max=max_length),
    )


def document_error(document_type: str, number: str) -> str | None:
    """Why a document number is not valid for its type, or None."""
    if document_type == "DNI" and not dni_is_valid(number):
        return "A DNI has 8 digits."
    if document_type == "RUC" and not ruc_is_valid(number):
        return "A RUC has 11 digits and a valid check digit."
    if document_type in ("CE", "PASAPORTE") and not _ALNUM.match(number):
        return "6 to 12 letters or digits."
    return None


class _IdentifiedSchema(StrictSchema):
    """A person named by an identity document (the consumer, a guardian)."""

    name = _text(200)
    document_type = ma.fields.String(required=True, validate=ma.validate.OneOf(DOCUMENT_TYPES))
    document_number = ma.fields.String(
        required=True,
        metadata={
            "pattern": DOCUMENT_NUMBER_PATTERN,
            "description": "DNI: 8 digits; RUC: 11 digits with a valid check digit; "
            "CE and PASAPORTE: 6 to 12 letters or digits (stored in upper case).",
        },
    )

    @ma.validates_schema(skip_on_field_errors=False)
    def _document(self, data: dict[str, Any], **kwargs: Any) -> None:
        number = str(data.get("document_number", "")).upper()
        error = document_error(data.get("document_type", ""), number)
        if error:
            raise ma.ValidationError(error, "document_number")

    @ma.post_load
    def _upper_case_document(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        data["document_number"] = data["document_number"].upper()
        return data


class BookGuardianSchema(_IdentifiedSchema):
    """The parent or guardian of a consumer who is a minor."""


class BookConsumerSchema(_IdentifiedSchema):
    """1. The consumer."""

    email = ma.fields.Email(required=True, validate=ma.validate.Length(max=254))
    phone = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=ma.validate.Regexp(_PHONE, error="A phone number."),
    )
    address = _text(300, required=False)
    minor = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "The consumer is a minor: a parent or guardian files too."},
    )
    guardian = ma.fields.Nested(
        BookGuardianSchema,
        load_default=None,
        allow_none=True,
        metadata={
            "description": "The parent or guardian (padre, madre o apoderado): required when "
            "minor is true, refused otherwise."
        },
    )

    @ma.validates_schema(skip_on_field_errors=False)
    def _guardian_of_minor(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("minor") and not data.get("guardian"):
            raise ma.ValidationError("A minor files through a parent or guardian.", "guardian")
        if not data.get("minor") and data.get("guardian") is not None:
            raise ma.ValidationError(
                "Only a minor files through a parent or guardian: set minor to true, "
                "or leave guardian out.",
                "guardian",
            )

    @ma.post_load
    def _normalize(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        data["email"] = data["email"].lower()
        if not data.pop("minor"):
            data["guardian"] = None
        return data


class BookItemSchema(StrictSchema):
    """2. The good or service."""

    type = ma.fields.String(required=True, validate=ma.validate.OneOf(["producto", "servicio"]))
    description = _text(2000, multiline=True)
    amount = ma.fields.Decimal(
        load_default=None,
        allow_none=True,
        places=2,
        validate=ma.validate.Range(min=0, max=10_000_000, error="From 0 to 10,000,000."),
        metadata={"minimum": 0, "maximum": 10_000_000},  # apispec would write Decimal strings
    )
    currency = ma.fields.String(
        load_default=None, allow_none=True, validate=ma.validate.OneOf(["PEN", "USD"])
    )


class EntryCreateSchema(StrictSchema):
    """Body of ``POST /api/v1/merchants/{slug}/book``."""

    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(KINDS))
    consumer = ma.fields.Nested(BookConsumerSchema, required=True)
    item = ma.fields.Nested(BookItemSchema, required=True)
    detail = _text(5000, multiline=True)
    request = Text(
        load_default=None,
        allow_none=True,
        multiline=True,
        validate=ma.validate.Length(max=3000),
        metadata={"description": "What the consumer asks for; required for a reclamo or a queja."},
    )
    order_ref = _text(100, required=False)
    consent_email = ma.fields.Boolean(load_default=True)
    publish_praise = ma.fields.Boolean(load_default=False)

    @ma.validates_schema(skip_on_field_errors=False)
    def _request_for_complaints(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("kind") in ("reclamo", "queja") and not data.get("request"):
            raise ma.ValidationError("Say what you ask the provider to do.", "request")


class FiledSchema(ma.Schema):
    """What the consumer gets back on filing."""

    number = ma.fields.String()
    code = ma.fields.String()
    kind = ma.fields.String()
    filed_at = UTCDateTime()
    due_at = ma.fields.Date(allow_none=True)


class FollowUpSchema(ma.Schema):
    """An entry as its follow-up code shows it."""

    number = ma.fields.String()
    merchant = ma.fields.String()
    kind = ma.fields.String()
    status = ma.fields.String()
    filed_at = UTCDateTime()
    due_at = ma.fields.Date(allow_none=True)
    answer = ma.fields.String(allow_none=True)
    answered_at = UTCDateTime(allow_none=True)
    consumer_confirmation = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "resolved | not_resolved: what the consumer said of the answer "
            "(the resolution loop); null until they do"
        },
    )
    confirmed_at = UTCDateTime(allow_none=True)


class BookEntrySchema(FollowUpSchema):
    """An entry as the merchant and staff see it (personal data included)."""

    confirmation_comment = ma.fields.String(
        allow_none=True, metadata={"description": "the consumer's private comment"}
    )
    consumer = ma.fields.Dict()
    item = ma.fields.Dict()
    detail = ma.fields.String(allow_none=True)
    request = ma.fields.String(allow_none=True)
    order_ref = ma.fields.String(allow_none=True)


EntryPageSchema = page_schema(BookEntrySchema, "BookEntryPageSchema")


class EntryListArgs(PageArgsSchema):
    """``?status=open|overdue|answered``."""

    status = ma.fields.String(
        load_default=None, validate=ma.validate.OneOf(["open", "overdue", "answered"])
    )


class AnswerSchema(StrictSchema):
    """Body of ``PUT /api/v1/book/{number}/response``."""

    body = Text(required=True, multiline=True, blank=False, validate=ma.validate.Length(max=5000))
    communicated_at = UTCDateTime(load_default=None)


class PraiseSchema(ma.Schema):
    """A published felicitación."""

    name = ma.fields.String()
    detail = ma.fields.String()
    filed_at = UTCDateTime()
