"""Refusing votes sent by another site's pages, without a cookie or a token.

A "helpful" vote needs no account and sets no cookie (the profile stays cookie-less and
cacheable), so the usual CSRF token — kept in a session cookie — cannot protect it. What
it must be protected from is *vote stuffing through other people's browsers*: a page on
any site could make each of its visitors post a vote (a form without fields, or a
``no-cors`` fetch), and since a visitor is recognized by its address and User-Agent,
every visitor would count once more. Browsers say where a request comes from, and a page
cannot forge it:

- ``Sec-Fetch-Site`` (Fetch Metadata, every current browser): anything but
  ``same-origin`` is refused;
- ``Origin`` (sent with every cross-origin POST, also by older browsers): when present
  it must be this service's own origin (its public ``TRUSTSEAL_BASE_URL``, or the
  scheme and host the request was addressed to).

A request with neither header comes from no browser page (a script, ``curl``): it is
what the JSON API is for, and each such client still votes once per review.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from flask import current_app, request

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL, lowercase, without a default port; None for
    anything that is not an http(s) URL with a host (``null``, garbage)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    return f"{scheme}://{host}" + ("" if port in (None, _DEFAULT_PORTS[scheme]) else f":{port}")


def refusal(headers: Mapping[str, str], own_origins: Iterable[str]) -> str | None:
    """Why a POST with these headers comes from another site's page, or None when it
    does not (see the module's documentation)."""
    site = headers.get("Sec-Fetch-Site")
    if site is not None and site.strip().lower() != "same-origin":
        return "Votes are accepted from this site's own pages only (Sec-Fetch-Site)."
    origin = headers.get("Origin")
    if origin is not None:
        own = {o for o in map(origin_of, own_origins) if o}
        if origin_of(origin) not in own:
            return "Votes are accepted from this site's own pages only (Origin)."
    return None


def cross_site_refusal() -> str | None:
    """:func:`refusal` for the current request, against this service's own origins."""
    sent = {
        name: value
        for name in ("Sec-Fetch-Site", "Origin")
        if (value := request.headers.get(name)) is not None
    }
    return refusal(sent, (current_app.config["TRUSTSEAL_BASE_URL"], request.host_url))
