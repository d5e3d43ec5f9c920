"""Offline verification of a badge (SVG or PNG) or a bare assertion (JWS).

Only the standard library and ``cryptography`` are needed (through
:mod:`trustseal.signing.jws`, itself pure, and the stdlib-only helpers of
:mod:`badges.assertion`): the algorithm is written out in ``docs/verify.md``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from badges import assertion
from trustseal.signing import jws

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass
class Verdict:
    """The checks made on a badge and their outcome."""

    kind: str
    claims: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return not self.failures

    def line(self) -> str:
        """One line saying what was found."""
        c = self.claims
        who = f"{c.get('sub', '?')} ({c.get('domain', '?')})"
        head = "VALID" if self.ok else "INVALID"
        parts = [f"{head}: {self.kind} for {who}", *self.notes, *self.failures]
        return "; ".join(parts)


def _iso(seconds: Any) -> str:
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(seconds)))
    except (TypeError, ValueError, OverflowError):
        return "?"


def png_itxt(data: bytes, key: str) -> str | None:
    """The text of an uncompressed ``iTXt`` chunk with this keyword (PNG spec 11.3.4.5)."""
    position = len(PNG_MAGIC)
    while position + 8 <= len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        chunk = data[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IEND":
            break
        if kind != b"iTXt":
            continue
        keyword, _, rest = chunk.partition(b"\x00")
        if keyword.decode("latin-1") != key or len(rest) < 2 or rest[0] != 0:
            continue  # another key, or compressed (badges never compress it)
        _language, _, rest = rest[2:].partition(b"\x00")
        _translated, _, text = rest.partition(b"\x00")
        return text.decode("utf-8")
    return None


def extract(data: bytes) -> tuple[str, str | None, bytes | None]:
    """(kind, JWS, SVG without assertion) from a file's bytes."""
    if data.startswith(PNG_MAGIC):
        return "PNG badge", png_itxt(data, "openbadges"), None
    if b"<svg" in data[:4096]:
        token, stripped = assertion.split_assertion(data)
        return "SVG badge", token, stripped
    return "assertion", data.decode("ascii", "replace").strip() or None, None


def verify(data: bytes, jwks: Mapping[str, Any], now: float | None = None) -> Verdict:
    """Check signature, key id, expiry, SVG integrity and the seal status when issued."""
    kind, token, stripped = extract(data)
    verdict = Verdict(kind)
    if not token:
        verdict.failures.append("no assertion found")
        return verdict
    try:
        _, claims = jws.verify(token, jwks)
    except jws.JWSError as error:
        verdict.failures.append(f"signature not valid: {error}")
        return verdict
    verdict.claims = claims
    now = time.time() if now is None else now
    status = claims.get("seal_status")
    if status == "active":
        verdict.notes.append(f"seal was active when issued ({_iso(claims.get('iat'))})")
    else:
        verdict.failures.append(f"seal was {status} when issued ({_iso(claims.get('iat'))})")
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp <= now:
        verdict.failures.append(f"assertion expired at {_iso(exp)}")
    else:
        verdict.notes.append(f"assertion valid until {_iso(exp)}")
    if stripped is not None:
        if assertion.sha256_hex(stripped) == claims.get("svg_sha256"):
            verdict.notes.append("SVG unchanged")
        else:
            verdict.failures.append("the SVG was changed after signing")
    return verdict
