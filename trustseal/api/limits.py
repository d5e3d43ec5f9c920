"""Rate limits shared by the public write endpoints."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app

from trustseal.extensions import limiter


def _public_write() -> str:
    return str(current_app.config["TRUSTSEAL_RATELIMIT_PUBLIC_WRITE"])


def public_write(view: Callable[..., Any]) -> Callable[..., Any]:
    """Limit a public write endpoint per client address (429 beyond the limit)."""
    return limiter.limit(_public_write)(view)


def public_post(view: Callable[..., Any]) -> Callable[..., Any]:
    """Limit only the POSTs of a page that is also read with GET."""
    return limiter.limit(_public_write, methods=["POST"])(view)
