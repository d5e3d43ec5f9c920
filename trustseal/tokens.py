"""Secret tokens: generated once, shown once, stored as a SHA-256 hash.

Tokens carry 256 bits of randomness, so a plain SHA-256 is the right hash: it cannot be
brute-forced and a lookup by hash costs one index probe.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import NamedTuple


class IssuedToken(NamedTuple):
    """A freshly generated token and what is stored of it."""

    token: str
    token_hash: str
    hint: str


def hash_token(token: str) -> str:
    """Return the hex SHA-256 of a token, as stored in the database."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def issue_token(prefix: str = "", nbytes: int = 32) -> IssuedToken:
    """Generate ``prefix`` + URL-safe random token; ``hint`` is a short public identifier."""
    token = prefix + secrets.token_urlsafe(nbytes)
    return IssuedToken(token, hash_token(token), token[: len(prefix) + 6])
