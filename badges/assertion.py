"""The signed assertion inside an SVG badge — standard library only.

The assertion is a compact JWS placed as ``<openbadges:assertion verify="…"/>`` right
after the ``<svg>`` start tag. ``svg_sha256`` is the SHA-256 of the SVG bytes without
that element, so removing exactly that element gives back the bytes that were hashed.
"""

from __future__ import annotations

import hashlib
import re

from badges.xml import escape_attr

ASSERTION = re.compile(rb'<openbadges:assertion verify="[^"]*"/>')
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*")


def sha256_hex(svg: bytes) -> str:
    """The ``svg_sha256`` claim of SVG bytes that do not hold the assertion."""
    return hashlib.sha256(svg).hexdigest()


def embed_assertion(svg: bytes, jws: str) -> bytes:
    """Insert the assertion element right after the ``<svg …>`` start tag."""
    end = svg.index(b">") + 1
    safe = jws if _COMPACT_JWS.fullmatch(jws) else escape_attr(jws)  # base64url and dots
    tag = f'<openbadges:assertion verify="{safe}"/>'.encode("ascii")
    return svg[:end] + tag + svg[end:]


def split_assertion(svg: bytes) -> tuple[str | None, bytes]:
    """The JWS and the SVG without its assertion element (exactly as it was hashed)."""
    found = ASSERTION.search(svg)
    if found is None:
        return None, svg
    jws = found.group(0)[len(b'<openbadges:assertion verify="') : -3].decode("ascii")
    return jws, svg[: found.start()] + svg[found.end() :]
