"""The two Google review feeds of a shop, for Google Merchant Center to fetch:
``/feeds/{slug}/product-reviews.xml`` and ``/feeds/{slug}/merchant-reviews.xml``."""

from __future__ import annotations

from flask import Blueprint, Response, request

from trustseal.api.errors import abort
from trustseal.feeds import service

blp = Blueprint("feeds", __name__)

# As the badge's: a cache may keep a feed five minutes (and one more while it fetches the
# new one); revalidating costs an ETag comparison (304).
CACHE_CONTROL = "public, max-age=300, stale-while-revalidate=60"
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
    if request.if_none_match.contains_weak(kept.etag):
        response = Response(status=304, headers=headers)
        response.set_etag(kept.etag)
        return response
    body, etag = service.document(kept)
    response = Response(body, headers=headers, content_type=XML)
    response.set_etag(etag)
    return response


@blp.get("/feeds/<slug>/product-reviews.xml")
def product_reviews(slug: str) -> Response:
    """Google's Product Reviews feed (schema 2.3) of a shop's verified purchases."""
    return _serve(slug, service.PRODUCT)


@blp.get("/feeds/<slug>/merchant-reviews.xml")
def merchant_reviews(slug: str) -> Response:
    """Google's Merchant Reviews feed (seller ratings, schema 5.0) of a shop."""
    return _serve(slug, service.MERCHANT)
