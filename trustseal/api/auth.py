"""Bearer authentication for the API: merchant keys (``tsk_``) and staff tokens (``tss_``).

Repeated failures from one address are throttled (429), counted in the shared limiter
storage (Redis or the database) so every process sees the same count.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, cast

from flask import current_app, g, request
from limits import RateLimitItem, parse

from trustseal.api.errors import abort
from trustseal.extensions import client_key, limiter
from trustseal.merchants import service as merchants
from trustseal.staff import service as staff_service

if TYPE_CHECKING:
    from trustseal.merchants.models import Merchant
    from trustseal.staff.models import StaffUser

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("trustseal.auth")

MERCHANT_SECURITY: list[dict[str, list[str]]] = [{"merchantKey": []}]
STAFF_SECURITY: list[dict[str, list[str]]] = [{"staffToken": []}]
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


def _failure_limits() -> tuple[RateLimitItem, RateLimitItem]:
    """The bad-credential limit per (address, key prefix), and ten times it per address."""
    item = parse(current_app.config["TRUSTSEAL_RATELIMIT_AUTH_FAILURE"].split(";")[0])
    per_address = type(item)(item.amount * 10, item.multiples, item.namespace)
    return item, per_address


def _prefix(token: str | None) -> str:
    """The public part of a token (``tsk_`` + 6 characters), or ``-``."""
    if token and token.startswith((merchants.API_KEY_PREFIX, staff_service.STAFF_TOKEN_PREFIX)):
        return token[:10]
    return "-"


def _within_failure_limits(token: str | None) -> bool:
    """Count one bad credential; False once over a limit (True if the storage is down:
    the answer is a 401 anyway)."""
    per_key, per_address = _failure_limits()
    scope, address = current_app.config["RATELIMIT_KEY_PREFIX"], client_key()
    try:
        allowed = limiter.limiter.hit(per_key, scope, "auth-failure", address, _prefix(token))
        return limiter.limiter.hit(per_address, scope, "auth-failure-any", address) and allowed
    except Exception:
        log.warning("rate-limit storage unavailable", exc_info=True)
        return True


def _unauthorized(message: str, token: str | None) -> NoReturn:
    """401 — or 429 once this address has sent too many bad credentials.

    Counted per client address and key prefix (one merchant's broken integration does
    not lock out another behind the same address), and per address whatever the prefix.
    Only failures are counted and checked: a valid key costs no limiter round trip, and a
    256-bit key cannot be guessed however fast one tries.
    """
    if current_app.config["RATELIMIT_ENABLED"] and not _within_failure_limits(token):
        abort(429, message="Too many failed authentication attempts; try again later.")
    abort(401, message=message, headers={"WWW-Authenticate": 'Bearer realm="trustseal"'})


def current_merchant_id() -> int:
    """The id of the merchant authenticated for this request (inside
    :func:`merchant_required`)."""
    return cast(int, g.merchant_id)


def current_merchant() -> Merchant:
    """The merchant authenticated for this request (loaded on first use)."""
    return cast("Merchant", merchants.get(g.merchant_id))


def current_staff() -> StaffUser:
    """The staff user authenticated for this request (inside :func:`staff_required`)."""
    return cast("StaffUser", g.staff)


def merchant_required(view: F) -> F:
    """Let the view run only with a live merchant API key; sets ``g.merchant_id``.

    A staff token gets 403 (valid credentials, not allowed here), a missing or bad key 401.
    """

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = bearer_token()
        if token is None:
            _unauthorized("Missing bearer token: send 'Authorization: Bearer tsk_…'.", token)
        merchant_id = merchants.authenticate(token)
        if merchant_id is None:
            if staff_service.authenticate(token) is not None:
                abort(403, message="This operation is for merchants; a staff token may not use it.")
            _unauthorized("Unknown or revoked merchant API key.", token)
        g.merchant_id = merchant_id
        return view(*args, **kwargs)

    return cast(F, wrapper)


def staff_required(*roles: staff_service.Role) -> Callable[[F], F]:
    """Let the view run only for a staff token whose role is in ``roles``; sets ``g.staff``.

    A merchant key gets 403 (valid credentials, not allowed here), a missing or bad token 401.
    """
    allowed = {role.value for role in roles}

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            token = bearer_token()
            if token is None:
                _unauthorized("Missing bearer token: send 'Authorization: Bearer tss_…'.", token)
            staff = staff_service.authenticate(token)
            if staff is None:
                if merchants.authenticate(token) is not None:
                    abort(403, message="This operation is for certifier staff only.")
                _unauthorized("Unknown or revoked staff token.", token)
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
