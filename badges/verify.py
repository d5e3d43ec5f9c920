"""Offline verification of a badge (SVG or PNG) or a bare assertion (JWS).

Only the standard library and ``cryptography`` are needed (through
:mod:`trustseal.signing.jws` and the log's format modules, all pure, and the
stdlib-only helpers of :mod:`badges.assertion`): the algorithm is written out in
``docs/verify.md``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from badges import assertion
from trustseal.signing import jws
from trustseal.transparency import checkpoint, merkle, monitor, note

PNG_MAGIC = assertion.PNG_MAGIC
MAX_LIFETIME = 7 * 86400  # exp - iat of an assertion, at most (seconds)
CLOCK_SKEW = 300  # an assertion issued this far in the verifier's future is still accepted

Check = tuple[bool, str]  # (passed, what was found): a note when passed, else a failure


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

    def add(self, checks: Iterator[Check]) -> None:
        """Record checks: each passed one as a note, each failed one as a failure."""
        for passed, message in checks:
            (self.notes if passed else self.failures).append(message)

    def line(self) -> str:
        """One line: the outcome, what the badge says (its signed claims) and every check."""
        head = f"{'VALID' if self.ok else 'INVALID'}: {self.kind}"
        if self.claims:
            head += f" for {self.claims.get('sub', '?')}: {signed_summary(self.claims)}"
        return "; ".join([head, *self.notes, *self.failures])


def signed_summary(claims: Mapping[str, Any]) -> str:
    """The numbers a shopper sees, as signed: ``domain=… seal_status=… score=… rating_count=…``."""
    names = ("domain", "seal_status", "score", "rating_count")
    return " ".join(f"{name}={_show(claims.get(name))}" for name in names)


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _iso(seconds: Any) -> str:
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(seconds)))
    except (TypeError, ValueError, OverflowError):
        return "?"


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def normalize_host(value: str) -> str:
    """A host name as compared: lower case, no trailing dot, IDNA (ASCII) form."""
    host = value.strip().lower().rstrip(".")
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def host_within(host: str, domain: str) -> bool:
    """True when ``host`` is ``domain`` or one of its subdomains (``www.shop.pe`` is within
    ``shop.pe``; ``evilshop.pe`` and ``shop.pe.evil.com`` are not)."""
    host, domain = normalize_host(host), normalize_host(domain)
    return bool(domain) and (host == domain or host.endswith("." + domain))


@dataclass(frozen=True)
class Extracted:
    """What a file holds: its kind, the JWS, and for a badge the picture without the
    assertion (the bytes its ``svg_sha256`` or ``png_sha256`` claim hashes)."""

    kind: str
    token: str | None
    picture: bytes | None = None
    picture_claim: str | None = None
    problem: str | None = None


def extract(data: bytes) -> Extracted:
    """The assertion and the picture it must bind, from a file's bytes."""
    if data.startswith(PNG_MAGIC):
        texts, stripped = assertion.split_png_assertion(data)
        if len(texts) > 1:
            problem = f"{len(texts)} openbadges chunks (a badge has exactly one)"
            return Extracted("PNG badge", None, stripped, "png_sha256", problem)
        return Extracted("PNG badge", texts[0] if texts else None, stripped, "png_sha256")
    if b"<svg" in data[:4096]:
        token, stripped = assertion.split_assertion(data)
        return Extracted("SVG badge", token, stripped, "svg_sha256")
    return Extracted("assertion", data.decode("ascii", "replace").strip() or None)


def check_seal(claims: Mapping[str, Any]) -> Iterator[Check]:
    """The seal was active when the assertion was issued."""
    status, issued = claims.get("seal_status"), _iso(claims.get("iat"))
    yield status == "active", f"seal was {status} when issued ({issued})"


def check_time(
    claims: Mapping[str, Any], key: Mapping[str, Any] | None, now: float
) -> Iterator[Check]:
    """Not expired, issued in the past, at most :data:`MAX_LIFETIME` long, and signed while
    its key (``key``, the JWK that verified it) was not yet retired."""
    iat, exp = claims.get("iat"), claims.get("exp")
    if not _is_int(iat) or not _is_int(exp):
        yield False, "the assertion has no whole-second iat and exp"
        return
    if exp <= now:
        yield False, f"assertion expired at {_iso(exp)}"
    else:
        yield True, f"assertion valid until {_iso(exp)}"
    if iat > now + CLOCK_SKEW:
        yield False, f"assertion issued in the future ({_iso(iat)})"
    if exp - iat > MAX_LIFETIME:
        yield False, f"assertion lifetime {(exp - iat) / 86400:g} days exceeds 7 days"
    retired = (key or {}).get("retired_at")
    if retired is None:
        return
    if not _is_int(retired):
        yield False, "the key's retired_at is not seconds since the epoch"
    elif iat > retired:
        yield False, f"signed at {_iso(iat)}, after its key was retired ({_iso(retired)})"
    else:
        yield True, f"signed before its key was retired ({_iso(retired)})"


def check_picture(found: Extracted, claims: Mapping[str, Any]) -> Iterator[Check]:
    """An SVG or PNG badge's picture hashes to its ``svg_sha256`` or ``png_sha256`` claim."""
    if found.picture is None or found.picture_claim is None:
        return
    picture, signed = found.kind.split()[0], claims.get(found.picture_claim)
    if not isinstance(signed, str):
        yield False, f"the assertion binds no {picture} picture (no {found.picture_claim})"
    elif assertion.sha256_hex(found.picture) == signed:
        yield True, f"{picture} unchanged"
    else:
        yield False, f"the {picture} was changed after signing"


def check_domain(claims: Mapping[str, Any], domain: str) -> Iterator[Check]:
    """The badge names ``domain`` (or a domain ``domain`` is a subdomain of)."""
    signed = claims.get("domain")
    if not isinstance(signed, str) or not signed:
        yield False, f"the badge names no domain, not {domain}"
    elif host_within(domain, signed):
        yield True, f"the badge is for {domain}"
    else:
        yield False, f"the badge names the domain {signed}, not {domain}"


def check_witnessed(
    claims: Mapping[str, Any],
    jwks: Mapping[str, Any],
    witnesses: Sequence[note.Verifier],
    quorum: int,
) -> Iterator[Check]:
    """The badge's log head is in a checkpoint of this issuer's log that the log signed
    and ``quorum`` of ``witnesses`` cosigned: ``log.witnessed`` carries that checkpoint
    and the consistency proof from the head to it."""
    logged = claims.get("log")
    head: Mapping[str, Any] = logged if isinstance(logged, dict) else {}
    found = head.get("witnessed")
    if not isinstance(found, dict) or not isinstance(found.get("checkpoint"), str):
        yield False, "the badge names no witnessed log head"
        return
    try:
        witnessed = monitor.witnessed_checkpoint(found["checkpoint"], dict(jwks), witnesses, quorum)
    except monitor.Alarm as alarm:
        yield False, f"witnessed head refused: {alarm}"
        return
    cp = witnessed.checkpoint
    expected = checkpoint.origin_of(str(claims.get("iss", "")))
    if cp.origin != expected:
        yield False, f"the witnessed checkpoint is of log {cp.origin}, not {expected}"
        return
    size, root = head.get("tree_size"), head.get("root_hash")
    try:
        proof = [bytes.fromhex(h) for h in found.get("consistency", [])]
        if not _is_int(size) or not isinstance(root, str) or not 0 < size <= cp.size:
            raise ValueError("the badge's log head is not in the witnessed tree")
        ok = merkle.verify_consistency(size, cp.size, bytes.fromhex(root), cp.root_hash, proof)
    except (ValueError, TypeError, merkle.ProofError):
        ok = False
    if not ok:
        yield False, f"the badge's log head is not in the witnessed checkpoint of size {cp.size}"
        return
    yield True, (
        f"log head {size} is in the checkpoint of size {cp.size} cosigned by "
        + ", ".join(witnessed.cosigners)
    )


def verify(
    data: bytes,
    jwks: Mapping[str, Any],
    now: float | None = None,
    domain: str | None = None,
    witnesses: Sequence[note.Verifier] = (),
    quorum: int = 0,
) -> Verdict:
    """Check signature, key id and retirement, issue and expiry times, the picture (SVG or
    PNG), the seal status when issued, (``domain``) the domain the badge names, and (with
    ``quorum`` > 0) that its log head was cosigned by ``quorum`` of ``witnesses``."""
    found = extract(data)
    verdict = Verdict(found.kind)
    if found.problem or not found.token:
        verdict.failures.append(found.problem or "no assertion found")
        return verdict
    try:
        header, claims = jws.verify(found.token, jwks)
    except jws.JWSError as error:
        verdict.failures.append(f"signature not valid: {error}")
        return verdict
    verdict.claims = claims
    now = time.time() if now is None else now
    verdict.add(check_seal(claims))
    verdict.add(check_time(claims, jws.find_key(jwks, header.get("kid")), now))
    verdict.add(check_picture(found, claims))
    if domain is not None:
        verdict.add(check_domain(claims, domain))
    if quorum > 0:
        verdict.add(check_witnessed(claims, jwks, witnesses, quorum))
    return verdict
