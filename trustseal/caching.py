"""What the answers other sites embed (the badge, the product widgets) share: how long a
cache keeps them, their strong ETags and the conditional GET that answers 304."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

from flask import request

# A cache may show an embedded answer for at most 6 minutes after it changed (5 fresh, 1
# stale while it fetches the new one): a revoked or suspended seal, or a removed review,
# must not stay in a CDN for a day. Revalidation is cheap (ETag, 304).
CACHE_CONTROL = "public, max-age=300, stale-while-revalidate=60"
# An SVG document: no script, nothing fetched; only its own presentation attributes.
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'"


@lru_cache(maxsize=4096)
def strong_etag(*parts: Any) -> str:
    """A strong ETag (quoted) of what an answer depends on: ``parts`` are hashable and
    their ``repr`` is stable (strings, numbers, tuples of them)."""
    return '"' + hashlib.sha256(repr(parts).encode()).hexdigest()[:32] + '"'


def body_etag(body: bytes, *parts: Any) -> str:
    """A strong ETag of an answer's bytes and of what its headers depend on (``parts``)."""
    digest = hashlib.sha256(body)
    digest.update(repr(parts).encode())
    return '"' + digest.hexdigest()[:32] + '"'


def not_modified(etag: str) -> bool:
    """True when the request's ``If-None-Match`` names ``etag`` (answer 304)."""
    return "If-None-Match" in request.headers and request.if_none_match.contains(etag.strip('"'))
