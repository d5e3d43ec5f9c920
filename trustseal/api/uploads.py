"""Endpoints that take file uploads: multipart allowed, with their own body-size cap."""

from __future__ import annotations

_limits: dict[str, int] = {}


def allow_upload(endpoint: str, max_bytes: int) -> None:
    """Let ``endpoint`` take multipart uploads of up to ``max_bytes``."""
    _limits[endpoint] = max_bytes


def upload_limit(endpoint: str | None) -> int | None:
    """The body-size cap of an upload endpoint, or None for ordinary endpoints."""
    return _limits.get(endpoint or "")
