"""The product widgets a merchant embeds (API.md "Merchant growth"): no JavaScript, no
cookies, cached like the badge.

- ``GET /widgets/{slug}/product/{product_id}.svg?lang=&theme=`` — the stars and count;
- ``GET /widgets/{slug}/reviews?product_id=&lang=&theme=&limit=&cursor=`` — the reviews, a
  page for an iframe that only the shop's verified domain may frame;
- ``GET /widgets/{slug}/products/{product_id}/jsonld`` — schema.org ``Product`` with its
  ``AggregateRating`` and latest ``Review``s.

A bad option is a 422 naming the allowed values (as for the badge); an unknown or
non-public shop, and a product id no platform could give, are 404. Errors are JSON (what
a developer setting the widget up reads), never a page inside someone else's page.
"""

from __future__ import annotations

from typing import NoReturn

from flask import Blueprint, Response, request
from werkzeug.datastructures import Headers

from trustseal import languages
from trustseal.accounts.web import without_cookies
from trustseal.api.errors import abort
from trustseal.caching import CACHE_CONTROL, SVG_CSP, not_modified
from trustseal.reviews import products
from trustseal.widgets import service

blp = Blueprint("widgets", __name__)

CURSOR_MAX = 200
# The framed page: its own style sheet and pictures from this service, nothing else; no
# script at all; no form; framed only by the shop's site (added per answer).
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors "
)

# Built once; each answer copies them. ``Cross-Origin-Resource-Policy: cross-origin`` lets
# a shop whose pages require it (COEP) embed them.
_EMBEDDED = {
    "Cache-Control": CACHE_CONTROL,
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Vary": "Accept-Encoding",
}
_SVG_HEADERS = Headers(
    {**_EMBEDDED, "Content-Type": "image/svg+xml", "Content-Security-Policy": SVG_CSP}
)
_PAGE_HEADERS = Headers({**_EMBEDDED, "Content-Type": "text/html; charset=utf-8"})
_JSONLD_HEADERS = Headers(
    {
        **_EMBEDDED,
        "Content-Type": "application/ld+json; charset=utf-8",
        "Access-Control-Allow-Origin": "*",  # public data, no credentials: any shop's code
    }
)


def _choice(name: str, allowed: tuple[str, ...], default: str) -> str:
    """A query option among ``allowed`` (422 listing them otherwise)."""
    value = request.args.get(name, default)
    if value in allowed:
        return value
    if name == "lang":
        value = languages.code_of(value, allowed) or value  # pt-BR, es-PE, EN: as codes
    if value not in allowed:
        abort(
            422,
            message="Unknown widget option.",
            errors={"query": {name: [f"One of: {', '.join(allowed)}."]}},
        )
    return value


def _product_id(product_id: str) -> str:
    """``product_id`` if it can name a product; 404 otherwise (none has such an id)."""
    if not products.valid_product_id(product_id):
        abort(
            404,
            message=f"No product has this id: product ids are 1 to {service.PRODUCT_ID_MAX} "
            "printable characters.",
        )
    return product_id


def _serve(answer: service.Answer, headers: Headers) -> Response:
    """The answer with its ETag, or 304 when the client has it already."""
    headers.add("ETag", answer.etag)
    if not_modified(answer.etag):
        del headers["Content-Type"]
        return Response(status=304, headers=headers)
    return Response(answer.body, status=answer.status, headers=headers)


def _unknown_shop() -> NoReturn:
    # Framed by nobody: only a public shop's verified domain may frame anything here.
    abort(
        404,
        message="No public shop has this address.",
        headers={"Content-Security-Policy": "frame-ancestors 'none'"},
    )


@blp.get("/widgets/<slug>/product/<path:product_id>.svg")
@without_cookies
def stars_svg(slug: str, product_id: str) -> Response:
    """A product's stars and count (``?lang=es|en|pt&theme=light|dark``); 404 with a
    picture that says reviews are unavailable for a shop that is not public."""
    lang = _choice("lang", service.LANGS, languages.DEFAULT)
    theme = _choice("theme", service.THEMES, "light")
    answer = service.stars_svg(slug, _product_id(product_id), lang, theme)
    return _serve(answer, _SVG_HEADERS.copy())


def _page_options() -> service.PageOptions:
    args = request.args
    product_id = args.get("product_id")
    if not product_id:
        abort(
            422,
            message="Which product's reviews?",
            errors={"query": {"product_id": ["Missing data for required field."]}},
        )
    lang = _choice("lang", service.LANGS, languages.DEFAULT)
    theme = _choice("theme", service.PAGE_THEMES, "auto")
    limit_text = args.get("limit", str(service.PAGE_LIMIT))
    if (
        not limit_text.isascii()
        or not limit_text.isdigit()
        or not (1 <= int(limit_text) <= service.PAGE_LIMIT_MAX)
    ):
        abort(
            422,
            message="Unknown widget option.",
            errors={"query": {"limit": [f"A whole number from 1 to {service.PAGE_LIMIT_MAX}."]}},
        )
    cursor = args.get("cursor") or None
    if cursor is not None and (len(cursor) > CURSOR_MAX or not cursor.isprintable()):
        abort(422, message="Unknown cursor.", errors={"query": {"cursor": ["Not a page's."]}})
    return service.PageOptions(_product_id(product_id), lang, theme, int(limit_text), cursor)


@blp.get("/widgets/<slug>/reviews")
@without_cookies
def reviews_page(slug: str) -> Response:
    """A product's verified reviews as a page for an iframe on the shop's own site:
    summary, distribution, the reviews with the shop's answers, a link to the next page in
    the same frame. Framed only by the shop's verified domain (``frame-ancestors``)."""
    options = _page_options()
    try:
        answer = service.reviews_page(slug, options)
    except service.BadCursor:
        abort(422, message="Unknown cursor.", errors={"query": {"cursor": ["Not a page's."]}})
    if answer is None:
        _unknown_shop()
    headers = _PAGE_HEADERS.copy()
    headers.add("Content-Security-Policy", PAGE_CSP + answer.frame_ancestors)
    return _serve(answer, headers)


@blp.get("/widgets/<slug>/products/<path:product_id>/jsonld")
@without_cookies
def product_jsonld(slug: str, product_id: str) -> Response:
    """A product's schema.org ``Product`` with ``AggregateRating`` and its latest
    ``Review``s (``application/ld+json``), to paste or fetch into the product's page; 404
    before its first published review (there is no rating to state)."""
    product_id = _product_id(product_id)
    if service.shop(slug) is None:
        _unknown_shop()
    answer = service.product_jsonld_answer(slug, product_id)
    if answer is None:
        abort(404, message="This product has no published verified review yet.")
    return _serve(answer, _JSONLD_HEADERS.copy())
