"""Rate limits shared by the public write endpoints."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app

from trustseal.extensions import limiter


def _public_write() -> str:
    return str(current_app.config["TRUSTSEAL_RATELIMIT_PUBLIC_WRITE"])


def _switched_off() -> bool:
    # Flask-Limiter reads RATELIMIT_ENABLED once, at start; this follows later changes.
    return not current_app.config["RATELIMIT_ENABLED"]


def public_write(view: Callable[..., Any]) -> Callable[..., Any]:
    """Limit a public write endpoint per client address (429 beyond the limit).

    Put it outermost, so a request counts before its body is even parsed.
    """
    return limiter.limit(_public_write, exempt_when=_switched_off)(view)


def public_post(view: Callable[..., Any]) -> Callable[..., Any]:
    """Limit only the POSTs of a page that is also read with GET."""
    return limiter.limit(_public_write, methods=["POST"], exempt_when=_switched_off)(view)
