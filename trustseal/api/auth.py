"""Bearer authentication for the API: merchant keys (``tsk_``) and staff tokens (``tss_``).

Repeated failures from one address are throttled (429) so keys cannot be guessed online.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import current_app, g, request
from flask_smorest import abort
from limits import parse

from trustseal.extensions import limiter
from trustseal.merchants import service as merchants
from trustseal.merchants.models import Merchant
from trustseal.staff import service as staff_service
from trustseal.staff.models import StaffUser

F = TypeVar("F", bound=Callable[..., Any])

MERCHANT_SECURITY = [{"merchantKey": []}]
STAFF_SECURITY = [{"staffToken": []}]
SECURITY_SCHEMES = {
    "merchantKey": {"type": "http", "scheme": "bearer", "description": "Merchant API key (tsk_…)"},
    "staffToken": {"type": "http", "scheme": "bearer", "description": "Staff token (tss_…)"},
}


def bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer`` header, or None."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _failure_limit() -> Any:
    return parse(current_app.config["TRUSTSEAL_RATELIMIT_AUTH_FAILURE"].split(";")[0])


def _client() -> str:
    return request.remote_addr or "unknown"


def _refuse_if_throttled() -> None:
    if not current_app.config["RATELIMIT_ENABLED"]:
        return
    if not limiter.limiter.test(_failure_limit(), "auth-failure", _client()):
        abort(429, message="Too many failed authentication attempts; try again later.")


def _unauthorized(message: str) -> None:
    if current_app.config["RATELIMIT_ENABLED"]:
        limiter.limiter.hit(_failure_limit(), "auth-failure", _client())
    abort(401, message=message, headers={"WWW-Authenticate": 'Bearer realm="trustseal"'})


def current_merchant_id() -> int:
    """The id of the merchant authenticated for this request (inside
    :func:`merchant_required`)."""
    return cast(int, g.merchant_id)


def current_merchant() -> Merchant:
    """The merchant authenticated for this request (loaded on first use)."""
    return cast(Merchant, merchants.get(g.merchant_id))


def current_staff() -> StaffUser:
    """The staff user authenticated for this request (inside :func:`staff_required`)."""
    return cast(StaffUser, g.staff)


def merchant_required(view: F) -> F:
    """Let the view run only with a live merchant API key; sets ``g.merchant_id``."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _refuse_if_throttled()
        token = bearer_token()
        if token is None:
            _unauthorized("Missing bearer token: send 'Authorization: Bearer tsk_…'.")
        merchant_id = merchants.authenticate(cast(str, token))
        if merchant_id is None:
            _unauthorized("Unknown or revoked merchant API key.")
        g.merchant_id = merchant_id
        return view(*args, **kwargs)

    return cast(F, wrapper)


def staff_required(*roles: staff_service.Role) -> Callable[[F], F]:
    """Let the view run only for a staff token whose role is in ``roles``; sets ``g.staff``."""
    allowed = {role.value for role in roles}

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            _refuse_if_throttled()
            token = bearer_token()
            if token is None:
                _unauthorized("Missing bearer token: send 'Authorization: Bearer tss_…'.")
            staff = staff_service.authenticate(cast(str, token))
            if staff is None:
                _unauthorized("Unknown or revoked staff token.")
            if staff.role not in allowed:
                abort(403, message="Your role may not do this.")
            g.staff = staff
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorate


def merchant_or_staff_required(*roles: staff_service.Role) -> Callable[[F], F]:
    """Let a merchant key, or a staff token with one of ``roles``, run the view
    (sets ``g.merchant_id`` or ``g.staff``; the other is None)."""
    staff_view = staff_required(*roles)

    def decorate(view: F) -> F:
        as_staff = staff_view(view)
        as_merchant = merchant_required(view)

        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            g.merchant_id = g.staff = None
            token = bearer_token() or ""
            chosen = as_staff if token.startswith(staff_service.STAFF_TOKEN_PREFIX) else as_merchant
            return chosen(*args, **kwargs)

        return cast(F, wrapper)

    return decorate
