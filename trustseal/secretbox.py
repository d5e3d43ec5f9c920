"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) under the configured data key."""

from __future__ import annotations

from cryptography.fernet import Fernet
from flask import current_app


def _box(data_key: str | None = None) -> Fernet:
    return Fernet((data_key or current_app.config["TRUSTSEAL_DATA_KEY"]).encode())


def seal(plain: bytes, data_key: str | None = None) -> str:
    """Encrypt bytes for storage; returns URL-safe text."""
    return _box(data_key).encrypt(plain).decode("ascii")


def open_(token: str, data_key: str | None = None) -> bytes:
    """Decrypt what :func:`seal` stored (raises ``cryptography.fernet.InvalidToken``)."""
    return _box(data_key).decrypt(token.encode("ascii"))
