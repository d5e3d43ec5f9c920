"""Lookups every API blueprint makes, answering 404 in the API's error format."""

from __future__ import annotations

from flask_smorest import abort

from trustseal.merchants import service as merchants
from trustseal.merchants.models import Merchant


def merchant_or_404(slug: str) -> Merchant:
    """The merchant with this slug, or a 404 error."""
    merchant = merchants.get_by_slug(slug)
    if merchant is None:
        abort(404, message="No merchant with this slug.")
    return merchant  # type: ignore[return-value]
