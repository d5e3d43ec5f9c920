"""Security headers, set in one place: one ``after_request`` hook for every response.

Pages (``text/html``) get a strict Content-Security-Policy (no inline script, no inline
style), frame protection, a referrer policy, a permissions policy and COOP/CORP; pages that
show personal data or a signed-in person get ``Cache-Control: no-store``. Every other
response gets ``X-Content-Type-Options: nosniff``. The badge routes (and a product's stars)
are left exactly as their views answer them: they are embedded on merchants' sites (so no
frame protection) and they are the hot path (so the hook returns after one set lookup). The
product reviews page framed on a merchant's site names that site in its own
``frame-ancestors`` and gets no ``X-Frame-Options``.

A page whose URL is itself a secret (a review link, a follow-up code, a reset or
sign-up link) sends no Referer at all, not even to this site, so the secret reaches no
access log through the requests the page makes.

A header a view set itself is never replaced.

Written by hand rather than with flask-talisman: the policy is a dozen constant headers,
talisman would also touch the badge responses (its opt-out is a decorator on each view)
and brings HTTPS redirects and cookie settings this service configures elsewhere.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, request

from trustseal.logs import has_secret_arguments

# Endpoints that answer with their own, complete headers and are embedded on other
# sites: the badge (SVG, PNG, signed assertion), the "Libro de Reclamaciones" button and
# a product's stars.
BADGE_ENDPOINTS = frozenset(
    {
        "badging.badge_svg",
        "badging.badge_png",
        "badging.badge_assertion",
        "badging.book_link_svg",
        "widgets.stars_svg",
    }
)
# Pages other sites frame: their view sets a Content-Security-Policy whose
# ``frame-ancestors`` names who may; the hook adds every other page header, but no
# ``X-Frame-Options`` (it cannot name a site: DENY would forbid the frame outright).
FRAMED_PAGES = frozenset({"widgets.reviews_page"})

# The Content-Security-Policy of every page. No 'unsafe-inline' anywhere: scripts and
# styles come from /static only. JSON-LD data blocks are not scripts and need nothing.
CSP_DIRECTIVES: tuple[tuple[str, str], ...] = (
    ("default-src", "'self'"),
    ("script-src", "'self'"),
    ("style-src", "'self'"),
    ("img-src", "'self' data:"),
    ("object-src", "'none'"),
    ("base-uri", "'none'"),
    ("form-action", "'self'"),
    ("frame-ancestors", "'none'"),
)
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)
# Public pages: other sites see only our origin (useful to the shops a profile links
# to), never a path. Private pages: no referrer at all leaves the site.
REFERRER_POLICY = "strict-origin-when-cross-origin"
PRIVATE_REFERRER_POLICY = "same-origin"
SECRET_URL_REFERRER_POLICY = "no-referrer"
HSTS = "max-age=31536000"
NO_STORE = "no-store"

# Pages with personal data or secrets in the URL: the book follow-up (and its PDF), the
# review form of an invitation link, sign-in, sign-up, password reset and everything
# behind a sign-in; and the book's API (follow-up by code, registers and exports). Any
# answer to a form post, and any page shown to a signed-in person (the header names
# them), and any page whose form carries the visitor's CSRF token, is private too.
PRIVATE_PREFIXES = (
    "/libro/",
    "/r/",
    "/login",
    "/logout",
    "/signup",
    "/console",
    "/dashboard",
    "/api/v1/book",
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def content_security_policy(base_url: str = "") -> str:
    """The pages' CSP; the service's own public origin (``base_url``) may serve images."""
    directives = dict(CSP_DIRECTIVES)
    origin = _origin(base_url)
    if origin:
        directives["img-src"] += f" {origin}"
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


@lru_cache(maxsize=8)
def _page_headers(base_url: str) -> tuple[tuple[str, str], ...]:
    """Every page's headers for one public base URL (built once per base URL)."""
    headers = [
        ("Content-Security-Policy", content_security_policy(base_url)),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Permissions-Policy", PERMISSIONS_POLICY),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Cross-Origin-Resource-Policy", "same-origin"),
    ]
    if base_url.startswith("https://"):
        headers.append(("Strict-Transport-Security", HSTS))
    return tuple(headers)


def is_private() -> bool:
    """True when the current request's answer must not be stored by any cache."""
    return (
        request.path.startswith(PRIVATE_PREFIXES)
        or request.method not in SAFE_METHODS
        or g.get("principal") is not None
        or g.get("csrf_token") is not None  # a form carrying this visitor's CSRF token
    )


def _referrer_policy(private: bool) -> str:
    if has_secret_arguments(request.url_rule):
        # The URL itself is a secret (a review link, a follow-up code): not even this
        # site's own requests (styles, the form post) may carry it in a Referer.
        return SECRET_URL_REFERRER_POLICY
    return PRIVATE_REFERRER_POLICY if private else REFERRER_POLICY


def secure(response: Response) -> Response:
    """Add the security headers to ``response`` (never replacing one the view set)."""
    if request.endpoint in BADGE_ENDPOINTS:
        return response  # embeddable, own headers, hot path
    headers = response.headers
    base_url = current_app.config["TRUSTSEAL_BASE_URL"]
    if (response.content_type or "").startswith("text/html"):
        private = is_private()
        framed = request.endpoint in FRAMED_PAGES
        for name, value in _page_headers(base_url):
            if not (framed and name == "X-Frame-Options"):
                headers.setdefault(name, value)
        headers.setdefault("Referrer-Policy", _referrer_policy(private))
        if private:
            headers.setdefault("Cache-Control", NO_STORE)
        return response
    headers.setdefault("X-Content-Type-Options", "nosniff")
    if base_url.startswith("https://"):
        headers.setdefault("Strict-Transport-Security", HSTS)
    if request.path.startswith(PRIVATE_PREFIXES):
        headers.setdefault("Cache-Control", NO_STORE)  # the book copy as PDF, its API
    return response


def init_app(app: Flask) -> None:
    """Register the one hook that sets the security headers on every response."""
    app.after_request(secure)
