"""TOTP second factor (RFC 6238 over RFC 4226 HOTP, HMAC-SHA1, 30-second steps)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from urllib.parse import quote

STEP = 30
DIGITS = 6


def generate_secret() -> str:
    """A new base32 secret (160 bits) for an authenticator app."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii")


def code_at(secret: str, unix_time: float, digits: int = DIGITS) -> str:
    """The code for a moment (RFC 6238)."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    counter = struct.pack(">Q", int(unix_time // STEP))
    mac = hmac.new(key, counter, hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def matching_step(secret: str, code: str, unix_time: float, window: int = 1) -> int | None:
    """The time step whose code ``code`` is, now or within ``window`` steps of clock drift;
    None when it matches none.

    Exactly :data:`DIGITS` ASCII digits are accepted (spaces between groups are ignored);
    every step of the window is compared in constant time, whatever matches first.
    """
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    now = int(unix_time // STEP)
    found = None
    for step in range(now - window, now + window + 1):
        if hmac.compare_digest(code_at(secret, step * STEP, DIGITS), code):
            found = step
    return found


def provisioning_uri(secret: str, account: str, issuer: str = "trustseal") -> str:
    """The ``otpauth://`` URI an authenticator app scans."""
    return f"otpauth://totp/{quote(issuer)}:{quote(account)}?secret={secret}&issuer={quote(issuer)}"
