"""Password hashing: argon2id (argon2-cffi), cost from the configuration."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app


def _hasher() -> PasswordHasher:
    config = current_app.config
    return PasswordHasher(
        time_cost=config["TRUSTSEAL_PASSWORD_TIME_COST"],
        memory_cost=config["TRUSTSEAL_PASSWORD_MEMORY_KIB"],
    )


def hash_password(password: str) -> str:
    """An argon2id hash of a password."""
    return _hasher().hash(password)


def verify_password(stored: str, password: str) -> bool:
    """Whether a password matches its stored hash (constant-time inside argon2)."""
    try:
        return _hasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
