"""The merchants API blueprint (thin: parse, call the service, dump)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from trustseal.api.auth import (
    MERCHANT_SECURITY,
    STAFF_SECURITY,
    current_merchant,
    merchant_required,
    staff_required,
)
from trustseal.api.blueprint import Blueprint
from trustseal.api.errors import abort
from trustseal.api.lookups import merchant_or_404
from trustseal.extensions import db
from trustseal.merchants import service
from trustseal.merchants.models import Merchant
from trustseal.merchants.schemas import (
    DomainCheckedSchema,
    DomainDecisionSchema,
    DomainSchema,
    MerchantCreatedSchema,
    MerchantCreateSchema,
    MerchantPublicSchema,
)
from trustseal.staff.service import Role

blp = Blueprint("merchants", __name__, url_prefix="/api/v1/merchants", description="Merchants")

RUC_TAKEN = "Another merchant is registered with this RUC."
# Where each method's finding goes in a 409's ``errors`` (the names of GET .../domain).
FINDING_KEYS = {"dns": "dns_txt", "http": "http_file"}


@blp.route("")
class Merchants(MethodView):
    """The collection of merchants."""

    @blp.requires(staff_required(Role.ADMIN, Role.CERTIFIER), STAFF_SECURITY)
    @blp.arguments(MerchantCreateSchema)
    @blp.response(201, MerchantCreatedSchema)
    @blp.alt_response(409, description="The slug or the RUC is taken")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a merchant (staff; verified from the start) and return its first API key,
        shown once."""
        try:
            created = service.create_merchant(**data)
        except service.SlugTaken:
            db.session.rollback()
            abort(409, message="This slug is taken.", errors={"json": {"slug": ["Taken."]}})
        except service.RucTaken:
            db.session.rollback()
            abort(409, message=RUC_TAKEN, errors={"json": {"ruc": [RUC_TAKEN]}})
        db.session.commit()
        return {**service.private_summary(created.merchant), "api_key": created.api_key}


@blp.route("/<string:slug>")
class MerchantBySlug(MethodView):
    """One merchant, as the public sees it."""

    @blp.response(200, MerchantPublicSchema)
    def get(self, slug: str) -> dict[str, Any]:
        """Return a merchant's public summary: identity, seal and score (404 while its
        domain is not verified, as for an unknown slug)."""
        return service.public_summary(merchant_or_404(slug))


def _own(slug: str) -> Merchant:
    """The authenticated merchant, if ``slug`` is its own (another merchant's: 404)."""
    merchant = current_merchant()
    if merchant is None or merchant.slug != slug:
        abort(404, message="No merchant with this slug.")
    return merchant


RUC_HELD = (
    "The domain is proven, but a verified merchant holds this RUC: write to the certifier "
    "to sort it out."
)


@blp.route("/<string:slug>/domain")
class MerchantDomain(MethodView):
    """Whether a merchant proved it controls its domain."""

    @blp.requires(merchant_required, MERCHANT_SECURITY)
    @blp.response(200, DomainSchema)
    def get(self, slug: str) -> dict[str, Any]:
        """The domain, its status, and the two ways to prove it: a DNS TXT record
        (``dns_txt``) or a file on the site (``http_file``). The merchant's own key only."""
        return service.domain_state(_own(slug))

    @blp.requires(staff_required(Role.ADMIN, Role.CERTIFIER), STAFF_SECURITY)
    @blp.arguments(DomainDecisionSchema)
    @blp.response(200, DomainSchema)
    def post(self, data: dict[str, Any], slug: str) -> dict[str, Any]:
        """Staff verify the domain, with the reason (how control was checked); the merchant
        becomes public. Verifying a verified domain changes nothing."""
        merchant = merchant_or_404(slug)
        try:
            service.verify_by_staff(merchant, data["reason"])
        except service.RucTaken:
            db.session.rollback()
            abort(409, message=RUC_HELD, errors={"json": {"ruc": [RUC_HELD]}})
        db.session.commit()
        return service.domain_state(merchant)


@blp.route("/<string:slug>/domain/check")
class MerchantDomainCheck(MethodView):
    """Prove the domain now."""

    @blp.requires(merchant_required, MERCHANT_SECURITY)
    @blp.response(200, DomainCheckedSchema)
    @blp.alt_response(409, description="Neither the DNS record nor the file was found")
    @blp.alt_response(429, description="Too many checks for this merchant; see Retry-After")
    def post(self, slug: str) -> dict[str, Any]:
        """Look for the DNS TXT record, then the file; 200 once one proves the domain (the
        profile is public from then on), 409 saying what was looked for and found."""
        merchant = _own(slug)
        try:
            method = service.check_domain(merchant)
        except service.DomainCheckLimited as limited:
            abort(429, message=str(limited), headers={"Retry-After": str(limited.retry_after)})
        except service.DomainNotProven as unproven:
            db.session.rollback()
            abort(
                409,
                message=f"The domain is not verified yet. {unproven}",
                errors={"domain": {FINDING_KEYS[f.method]: [f.message] for f in unproven.findings}},
            )
        except service.RucTaken:
            db.session.rollback()
            abort(409, message=RUC_HELD, errors={"json": {"ruc": [RUC_HELD]}})
        db.session.commit()
        return {"status": "verified", "method": method}
