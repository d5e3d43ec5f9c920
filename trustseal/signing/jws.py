"""Compact JWS with EdDSA (Ed25519) and JWK helpers — pure functions, only ``cryptography``.

This module is the whole verification algorithm a third party needs: it takes keys only
from a JWKS the verifier trusts, never from the token header, and refuses any ``alg``
other than ``EdDSA`` (``none`` included).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALG = "EdDSA"


class JWSError(ValueError):
    """A token that is malformed, uses a refused algorithm, an unknown key, or a bad signature."""


_URL_SAFE = bytes.maketrans(b"+/", b"-_")


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 7515 section 2)."""
    return binascii.b2a_base64(data, newline=False).translate(_URL_SAFE).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """Decode base64url without padding; raise :class:`JWSError` on anything else."""
    if not isinstance(text, str) or "=" in text:
        raise JWSError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise JWSError("not base64url") from exc


def public_jwk(public_key: Ed25519PublicKey) -> dict[str, str]:
    """The OKP JWK members of an Ed25519 public key (``kty``, ``crv``, ``x``)."""
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)}


def thumbprint(jwk: Mapping[str, str]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url) of an OKP key: its ``kid``."""
    members = {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return b64url_encode(hashlib.sha256(canonical).digest())


@lru_cache(maxsize=64)
def _protected_header(kid: str) -> str:
    """The base64url protected header of a key (the same for every token it signs)."""
    header = json.dumps({"alg": ALG, "kid": kid}, separators=(",", ":"), sort_keys=True)
    return b64url_encode(header.encode())


_PAYLOAD_JSON = json.JSONEncoder(separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def sign(payload: Mapping[str, Any], private_key: Ed25519PrivateKey, kid: str) -> str:
    """Sign a JSON payload as a compact JWS with header ``{"alg": "EdDSA", "kid": kid}``."""
    body = _PAYLOAD_JSON.encode(payload)
    signing_input = f"{_protected_header(kid)}.{b64url_encode(body.encode())}"
    signature = private_key.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{b64url_encode(signature)}"


def header_of(token: str) -> dict[str, Any]:
    """The (unverified) protected header of a compact JWS."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise JWSError("a compact JWS has three parts")
    try:
        header = json.loads(b64url_decode(parts[0]))
    except (ValueError, UnicodeDecodeError) as exc:
        raise JWSError("the header is not JSON") from exc
    if not isinstance(header, dict):
        raise JWSError("the header is not a JSON object")
    return header


def _key_from_jwk(jwk: Mapping[str, Any]) -> Ed25519PublicKey:
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise JWSError("the key is not an Ed25519 OKP key")
    raw = b64url_decode(str(jwk.get("x", "")))
    if len(raw) != 32:
        raise JWSError("an Ed25519 public key has 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def find_key(jwks: Mapping[str, Any], kid: Any) -> Mapping[str, Any] | None:
    """The first key of a JWKS whose ``kid`` is ``kid`` (None when there is none)."""
    if not kid:
        return None
    keys = jwks.get("keys", [])
    found = (k for k in keys if isinstance(k, Mapping) and k.get("kid") == kid)
    return next(found, None) if isinstance(keys, list | tuple) else None


def verify(token: str, jwks: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify a compact JWS against a trusted JWKS; return ``(header, payload)``.

    Raises :class:`JWSError` for a refused ``alg``, an unknown ``kid``, a bad signature
    or a malformed token. Embedded keys (``jwk``, ``jku``, ``x5c``) are never used.
    """
    header = header_of(token)
    if header.get("alg") != ALG:
        raise JWSError(f"refused algorithm {header.get('alg')!r}: only EdDSA is accepted")
    if "crit" in header:
        raise JWSError("critical header extensions are not supported")
    kid = header.get("kid")
    jwk = find_key(jwks, kid)
    if jwk is None:
        raise JWSError(f"unknown key id {kid!r}")
    public_key = _key_from_jwk(jwk)
    if thumbprint(jwk) != kid:
        raise JWSError("the key id is not the key's thumbprint")
    head, body, signature = token.strip().split(".")
    try:
        public_key.verify(b64url_decode(signature), f"{head}.{body}".encode("ascii"))
    except (InvalidSignature, UnicodeEncodeError) as exc:
        raise JWSError("bad signature") from exc
    try:
        payload = json.loads(b64url_decode(body))
    except (ValueError, UnicodeDecodeError) as exc:
        raise JWSError("the payload is not JSON") from exc
    if not isinstance(payload, dict):
        raise JWSError("the payload is not a JSON object")
    return header, payload
