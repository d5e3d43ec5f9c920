"""The two Google review feeds of a shop, for Google Merchant Center to fetch:
``/feeds/{slug}/product-reviews.xml`` and ``/feeds/{slug}/merchant-reviews.xml``."""

from __future__ import annotations

from flask import Blueprint, Response

from trustseal.accounts.web import without_cookies
from trustseal.api.errors import abort
from trustseal.caching import CACHE_CONTROL, not_modified
from trustseal.feeds import service

blp = Blueprint("feeds", __name__)

XML = "application/xml; charset=utf-8"


def _serve(slug: str, feed: str) -> Response:
    """The feed, or 304 when the client's ETag is the current one; 404 (JSON, as every
    machine-read path) for an unknown shop or one that is not public."""
    kept = service.current(slug, feed)
    if kept is None:
        abort(404, message="No such shop.")
    headers = {
        "Cache-Control": CACHE_CONTROL,
        "X-Content-Type-Options": "nosniff",
        "Vary": "Accept-Encoding",
    }
    if not_modified(kept.etag):
        response = Response(status=304, headers=headers)
        response.set_etag(kept.etag)
        return response
    body, etag = service.document(kept)
    response = Response(body, headers=headers, content_type=XML)
    response.set_etag(etag)
    return response


@blp.get("/feeds/<slug>/product-reviews.xml")
@without_cookies
def product_reviews(slug: str) -> Response:
    """Google's Product Reviews feed (schema 2.3) of a shop's verified purchases."""
    return _serve(slug, service.PRODUCT)


@blp.get("/feeds/<slug>/merchant-reviews.xml")
@without_cookies
def merchant_reviews(slug: str) -> Response:
    """Google's Merchant Reviews feed (seller ratings, schema 5.0) of a shop."""
    return _serve(slug, service.MERCHANT)
