"""marshmallow schemas of the merchants API."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from trustseal import countries
from trustseal.api.fields import Ruc, StrictSchema, Text, UTCDateTime
from trustseal.merchants.service import SECTORS
from trustseal.validators import (
    HOSTNAME_MAX_LENGTH,
    HOSTNAME_PATTERN,
    SLUG_PATTERN,
    normalize_domain,
)

DOMAIN_MESSAGE = "A host name such as 'tienda.pe' (no scheme or path)."
COUNTRY_MESSAGE = "An ISO 3166-1 alpha-2 country code in capitals, such as PE or BR."


class MerchantCreateSchema(StrictSchema):
    """Body of ``POST /api/v1/merchants``."""

    name = Text(required=True, blank=False, validate=ma.validate.Length(max=200))
    domain = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=HOSTNAME_MAX_LENGTH),
        metadata={
            "pattern": HOSTNAME_PATTERN,
            "description": "A host name such as 'tienda.pe' (no scheme, path or port); "
            "upper case, a final dot and internationalised names are accepted and stored "
            "in this lower-case ASCII form.",
        },
    )
    contact_email = ma.fields.Email(required=True, validate=ma.validate.Length(max=254))
    legal_name = Text(load_default=None, validate=ma.validate.Length(max=300))
    ruc = ma.fields.String(load_default=None, validate=Ruc())
    address = Text(load_default=None, validate=ma.validate.Length(max=500))
    country = ma.fields.String(
        load_default=None,
        validate=ma.validate.Regexp(r"^[A-Z]{2}$", error=COUNTRY_MESSAGE),
        metadata={
            "description": "Where the shop sells (ISO 3166-1 alpha-2; PE when left out). Only "
            "a shop in Peru (PE) has a Libro de Reclamaciones; a shop in Brazil (BR) is "
            "written to in Portuguese.",
            "example": "PE",
        },
    )
    sector = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=ma.validate.OneOf(SECTORS),
        metadata={"description": "what the shop sells (its analytics compare it with its sector)"},
    )
    slug = ma.fields.String(
        load_default=None,
        validate=ma.validate.Regexp(
            SLUG_PATTERN, error="Lower-case letters, digits and hyphens, at most 64."
        ),
    )

    @ma.validates("domain")
    def _domain(self, value: str, **kwargs: Any) -> None:
        if normalize_domain(value) is None:
            raise ma.ValidationError(DOMAIN_MESSAGE)

    @ma.validates("country")
    def _country(self, value: str | None, **kwargs: Any) -> None:
        if value is not None and not countries.is_country(value):
            raise ma.ValidationError(COUNTRY_MESSAGE)

    @ma.post_load
    def _normalize(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        data["domain"] = normalize_domain(data["domain"])
        data["contact_email"] = data["contact_email"].strip().lower()
        return data


class SealSummarySchema(ma.Schema):
    """The seal part of a merchant's public summary."""

    status = ma.fields.String()
    valid_until = UTCDateTime(allow_none=True)


class ScoreSummarySchema(ma.Schema):
    """The score part of a merchant's public summary."""

    score = ma.fields.Float(allow_none=True)
    rating_count = ma.fields.Integer()


class ComplaintsSummarySchema(ma.Schema):
    """How the merchant handles its complaints book (no personal data)."""

    received_12m = ma.fields.Integer()
    reclamos_12m = ma.fields.Integer()
    quejas_12m = ma.fields.Integer()
    answered_on_time_rate = ma.fields.Float(allow_none=True)


class MerchantPublicSchema(ma.Schema):
    """What anyone may read about a merchant."""

    id = ma.fields.Integer()
    slug = ma.fields.String()
    name = ma.fields.String()
    domain = ma.fields.String()
    legal_name = ma.fields.String(allow_none=True)
    ruc = ma.fields.String(allow_none=True)
    country = ma.fields.String()
    sector = ma.fields.String(allow_none=True)
    created_at = UTCDateTime()
    domain_verified = ma.fields.Boolean(
        metadata={"description": "Whether the merchant proved it controls its domain."}
    )
    complaints_book = ma.fields.Boolean(
        metadata={
            "description": "Whether the shop has a Libro de Reclamaciones here: a legal "
            "requirement of Peru only, so false for a shop outside Peru (its book "
            "answers 404)."
        }
    )
    seal = ma.fields.Nested(SealSummarySchema)
    score = ma.fields.Nested(ScoreSummarySchema)
    complaints = ma.fields.Nested(ComplaintsSummarySchema)


class MerchantCreatedSchema(MerchantPublicSchema):
    """Answer to a merchant creation: adds private fields and the API key (shown once)."""

    contact_email = ma.fields.String()
    address = ma.fields.String(allow_none=True)
    api_key = ma.fields.String()


class DnsTxtSchema(ma.Schema):
    """The DNS record that proves a domain."""

    name = ma.fields.String(metadata={"example": "_trustseal.tienda.pe"})
    value = ma.fields.String(metadata={"example": "trustseal-verification=…"})


class HttpFileSchema(ma.Schema):
    """The file that proves a domain."""

    url = ma.fields.String(metadata={"example": "https://tienda.pe/.well-known/trustseal.txt"})
    content = ma.fields.String(metadata={"example": "trustseal-verification=…"})


class DomainSchema(ma.Schema):
    """A merchant's domain, whether it is verified, and how to prove it."""

    domain = ma.fields.String()
    status = ma.fields.String(metadata={"enum": ["pending", "verified"]})
    method = ma.fields.String(
        allow_none=True, metadata={"enum": ["created", "dns", "http", "staff", None]}
    )
    verified_at = UTCDateTime(allow_none=True)
    dns_txt = ma.fields.Nested(DnsTxtSchema, allow_none=True)
    http_file = ma.fields.Nested(HttpFileSchema, allow_none=True)


class DomainCheckedSchema(ma.Schema):
    """Answer to a successful domain check."""

    status = ma.fields.String(metadata={"enum": ["verified"]})
    method = ma.fields.String(metadata={"enum": ["created", "dns", "http", "staff"]})


class DomainDecisionSchema(StrictSchema):
    """Body of ``POST /api/v1/merchants/{slug}/domain`` (staff)."""

    status = ma.fields.String(required=True, validate=ma.validate.OneOf(["verified"]))
    reason = Text(
        required=True, multiline=True, blank=False, validate=ma.validate.Length(min=3, max=1000)
    )
