"""The signing domain's door: the current key, rotation, JWKS, signing."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from flask import current_app
from sqlalchemy import ScalarSelect, select

from trustseal import secretbox
from trustseal.clock import utcnow
from trustseal.extensions import db
from trustseal.signing import jws
from trustseal.signing.models import SigningKey


def _create_key() -> SigningKey:
    private = Ed25519PrivateKey.generate()
    jwk = jws.public_jwk(private.public_key())
    raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    key = SigningKey(
        kid=jws.thumbprint(jwk),
        public_x=jwk["x"],
        private_encrypted=secretbox.seal(raw),
        status="current",
    )
    db.session.add(key)
    db.session.flush()
    return key


def current_kid_column() -> ScalarSelect[str]:
    """The kid of the current signing key, as a column to read in another statement (a
    badge's cache key changes when the key rotates)."""
    return (
        select(SigningKey.kid)
        .where(SigningKey.status == "current")
        .order_by(SigningKey.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def current_key() -> SigningKey:
    """The key that signs now (created on first use)."""
    key = db.session.scalars(
        select(SigningKey).where(SigningKey.status == "current").order_by(SigningKey.id.desc())
    ).first()
    return key or _create_key()


def rotate() -> tuple[SigningKey, SigningKey | None]:
    """Retire the current key(s) and create a new one; return ``(new, old)``.

    Retired public keys stay in the JWKS so earlier signatures keep verifying.
    """
    old = db.session.scalars(
        select(SigningKey).where(SigningKey.status == "current").order_by(SigningKey.id.desc())
    ).all()
    for key in old:
        key.status = "retired"
        key.retired_at = utcnow()
    return _create_key(), (old[0] if old else None)


@lru_cache(maxsize=32)
def _private_key(kid: str, encrypted: str, data_key: str) -> Ed25519PrivateKey:
    raw = secretbox.open_(encrypted, data_key)
    return Ed25519PrivateKey.from_private_bytes(raw)


def sign(payload: dict[str, Any], key: SigningKey | None = None) -> tuple[str, str]:
    """Sign a payload with the current key (or ``key``); return ``(compact JWS, kid)``."""
    key = key or current_key()
    private = _private_key(key.kid, key.private_encrypted, current_app.config["TRUSTSEAL_DATA_KEY"])
    return jws.sign(payload, private, key.kid), key.kid


def sign_bytes(message: bytes) -> tuple[bytes, bytes]:
    """Sign raw bytes with the current key: ``(Ed25519 signature, raw public key)``.

    For the log's checkpoint notes (c2sp.org/signed-note), whose text always ends in a
    newline: a JWS signing input (base64url and dots) never does, so one key serves both
    without a signature of one being taken for the other."""
    key = current_key()
    private = _private_key(key.kid, key.private_encrypted, current_app.config["TRUSTSEAL_DATA_KEY"])
    return private.sign(message), jws.b64url_decode(key.public_x)


def public_keys() -> list[bytes]:
    """Every published public key as 32 raw bytes, current first (the order of the JWKS)."""
    return [jws.b64url_decode(str(jwk["x"])) for jwk in jwks()["keys"]]


def jwk_of(key: SigningKey) -> dict[str, str | int]:
    """The public JWK of a stored key, with ``kid``, ``use``, ``iat`` (created) and, once
    retired, ``retired_at`` (seconds since the epoch): a verifier refuses an assertion this
    key signed after ``retired_at``."""
    jwk: dict[str, str | int] = {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": key.public_x,
        "kid": key.kid,
        "use": "sig",
        "iat": int(key.created_at.timestamp()),
    }
    if key.retired_at is not None:
        jwk["retired_at"] = int(key.retired_at.timestamp())
    return jwk


def jwks() -> dict[str, list[dict[str, str | int]]]:
    """Every public key, current first then retired (newest first)."""
    keys = db.session.scalars(
        select(SigningKey).order_by((SigningKey.status == "current").desc(), SigningKey.id.desc())
    ).all()
    return {"keys": [jwk_of(key) for key in keys]}


def verify(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify a JWS against this service's own keys (see :func:`jws.verify`)."""
    return jws.verify(token, jwks())
