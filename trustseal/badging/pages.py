"""What a merchant embeds on its site — the signed badge (SVG, PNG, assertion) and the
"Libro de Reclamaciones" button — and the embed and score API."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Blueprint, Response, current_app, request
from flask import abort as flask_abort
from flask.views import MethodView
from werkzeug.datastructures import Headers

from badges import book_link
from trustseal.accounts.web import without_cookies
from trustseal.api.blueprint import Blueprint as ApiBlueprint
from trustseal.api.errors import abort
from trustseal.api.lookups import merchant_or_404
from trustseal.badging import service
from trustseal.book import service as book
from trustseal.caching import CACHE_CONTROL, SVG_CSP, not_modified
from trustseal.clock import utcnow
from trustseal.merchants import service as merchants
from trustseal.reviews import service as reviews
from trustseal.reviews.schemas import ScoreSchema

blp = Blueprint("badging", __name__)
api_blp = ApiBlueprint(
    "badge_api",
    __name__,
    url_prefix="/api/v1/merchants",
    description="Badge and score: the public numbers, checked against the log",
)


def _options(fmt: str) -> tuple[str, str, int]:
    """Validate ``style``, ``lang`` and (PNG) ``scale``; 422 listing the allowed values."""
    args = request.args
    style = args.get("style", "compact")
    lang = args.get("lang", "es")
    scale_text = args.get("scale", "1")
    errors: dict[str, list[str]] = {}
    if style not in service.STYLES:
        errors["style"] = [f"One of: {', '.join(service.STYLES)}."]
    if lang not in service.LANGS:
        errors["lang"] = [f"One of: {', '.join(service.LANGS)}."]
    if scale_text not in ("1", "2") or (fmt == "svg" and scale_text != "1"):
        errors["scale"] = ["One of: 1, 2 (PNG only)."]
    if errors:
        abort(422, message="Unknown badge option.", errors={"query": errors})
    return style, lang, int(scale_text)


# Built (and validated) once; each answer copies them, which is much cheaper.
_HEADERS = {
    "svg": Headers(
        {
            "Content-Type": "image/svg+xml",
            "Cache-Control": CACHE_CONTROL,
            "X-Content-Type-Options": "nosniff",
            "Vary": "Accept-Encoding",
            "Content-Security-Policy": SVG_CSP,
        }
    ),
    "png": Headers(
        {
            "Content-Type": "image/png",
            "Cache-Control": CACHE_CONTROL,
            "X-Content-Type-Options": "nosniff",
            "Vary": "Accept-Encoding",
        }
    ),
}


def _serve(slug: str, fmt: str) -> Response:
    """The hot path: usually no database round trip, no rendering, no signing."""
    style, lang, scale = _options(fmt)
    fp = service.fingerprint(slug)
    etag = service.etag_of(fp, style, lang, fmt, scale)
    headers = _HEADERS[fmt].copy()
    if not_modified(etag):
        del headers["Content-Type"]
        headers.add("ETag", etag)
        return Response(status=304, headers=headers)
    rendered = service.badge(slug, style, lang, fmt, scale, known=fp)
    headers.add("ETag", rendered.etag)
    return Response(rendered.body, status=rendered.status_code, headers=headers)


@blp.get("/badges/<slug>.svg")
@without_cookies
def badge_svg(slug: str) -> Response:
    """The signed badge as SVG (``?style=compact|seal|card&lang=es|en|pt``)."""
    return _serve(slug, "svg")


@blp.get("/badges/<slug>.png")
@without_cookies
def badge_png(slug: str) -> Response:
    """The signed badge as PNG (``&scale=2`` for high-density screens)."""
    return _serve(slug, "png")


@blp.get("/badges/<slug>/assertion")
@without_cookies
def badge_assertion(slug: str) -> Response:
    """The badge's signed assertion alone (a compact JWS)."""
    style, lang, _ = _options("svg")
    rendered = service.badge(slug, style, lang, "svg", 1)
    response = Response(rendered.assertion, status=rendered.status_code, mimetype="text/plain")
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@blp.get("/badges/<slug>/libro.svg")
@without_cookies
def book_link_svg(slug: str) -> Response:
    """The "Libro de Reclamaciones" button a merchant puts on its home page (404 for a
    shop outside Peru: it has no book to open)."""
    merchant = merchants.get_public(slug)
    if merchant is None or not book.offered(merchant):
        flask_abort(404)
    base = current_app.config["TRUSTSEAL_BASE_URL"]
    response = Response(
        book_link.render(f"{base}/m/{merchant.slug}/libro"), mimetype="image/svg+xml"
    )
    response.headers["Cache-Control"] = "public, max-age=86400"
    response.headers["Content-Security-Policy"] = SVG_CSP
    return response


class EmbedSchema(ma.Schema):
    """How to embed a merchant's badge."""

    verify_url = ma.fields.String()
    svg = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())
    png = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())
    snippets = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())


@api_blp.route("/<string:slug>/badge")
class Embed(MethodView):
    """The badge's addresses and embed snippets."""

    @api_blp.response(200, EmbedSchema)
    def get(self, slug: str) -> dict[str, Any]:
        """Badge URLs per style and the HTML snippet to paste (``<a><img></a>``), in
        ``?lang=`` (``es``, ``en``, ``pt``), else in the shop's language (Portuguese for a
        shop in Brazil, else Spanish)."""
        merchant = merchant_or_404(slug)
        asked = request.args.get("lang")
        lang = asked if asked in service.LANGS else merchants.language(merchant)
        base = current_app.config["TRUSTSEAL_BASE_URL"]
        return {
            "verify_url": f"{base}/verify/{slug}",
            "svg": {s: f"{base}/badges/{slug}.svg?style={s}" for s in service.STYLES},
            "png": {s: f"{base}/badges/{slug}.png?style={s}" for s in service.STYLES},
            "snippets": service.embed_snippets(merchant, lang),
        }


@api_blp.route("/<string:slug>/score")
class MerchantScore(MethodView):
    """A merchant's score."""

    @api_blp.response(200, ScoreSchema)
    @api_blp.alt_response(503, description="The stored numbers disagree with the log")
    def get(self, slug: str) -> dict[str, Any]:
        """The published score, its parts and the 12-month history (O(1) to read); 503
        while the stored numbers disagree with the transparency log's replay."""
        merchant = merchant_or_404(slug)
        now = utcnow()
        answer = reviews.merchant_score(merchant, now)
        logged, _ = service.checked_numbers(merchant, now, answer)
        answer.update({k: v for k, v in logged.items() if k in answer and k != "seal"})
        return answer
