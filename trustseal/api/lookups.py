"""Lookups every API blueprint makes, answering 404 in the API's error format."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import g

from trustseal.api.errors import abort
from trustseal.merchants import service as merchants

if TYPE_CHECKING:
    from trustseal.merchants.models import Merchant


def merchant_or_404(slug: str) -> Merchant:
    """The merchant with this slug, or a 404 error.

    A merchant that is not public yet (its domain is not verified) is a 404 too, exactly
    like an unknown slug — except for staff and for the merchant's own key, once an
    operation's guard has authenticated them.
    """
    merchant = merchants.get_by_slug(slug)
    if merchant is None or not (
        merchants.is_public(merchant)
        or g.get("staff") is not None
        or g.get("merchant_id") == merchant.id
    ):
        abort(404, message="No merchant with this slug.")
    return merchant
