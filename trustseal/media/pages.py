"""Serving stored media files (local storage)."""

from __future__ import annotations

from flask import Blueprint, Response, send_from_directory

from trustseal.media.storage import media_root

blp = Blueprint("media", __name__)


@blp.get("/media/<path:key>")
def media(key: str) -> Response:
    """A stored photo: immutable (keys are never reused), cached for a year."""
    response = send_from_directory(media_root(), key, max_age=365 * 86400)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
