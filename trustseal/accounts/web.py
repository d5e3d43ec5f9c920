"""Sessions, CSRF and the audit trail for the pages people sign in to."""

from __future__ import annotations

import functools
import hmac
import logging
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, g, redirect, request, session, url_for
from itsdangerous import BadSignature, URLSafeSerializer

from trustseal.accounts import service
from trustseal.accounts.service import Principal
from trustseal.extensions import db
from trustseal.logs import log_path
from trustseal.merchants import service as merchants

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("trustseal.audit")

# Pages whose forms act for a signed-in person (or create one): CSRF applies to all of
# them. The public review and book forms are anonymous and bound to a secret token or to
# nothing a forged request could abuse, so they need no session.
CSRF_PREFIXES = ("/login", "/logout", "/signup", "/console", "/dashboard")
# Machine ingestion has its own durable record (purchases with their source, webhook
# deliveries); auditing it would double the writes of the hottest paths.
UNAUDITED_PREFIXES = ("/webhooks/", "/api/v1/orders")


def current() -> Principal | None:
    """The signed-in person of this request, or None."""
    if "principal" not in g:
        key, version, sid = session.get("who"), session.get("ver"), session.get("sid")
        valid = key and isinstance(version, int) and isinstance(sid, str)
        g.principal = service.load(key, version, sid) if valid else None
    return cast(Principal | None, g.principal)


def sign_in(principal: Principal) -> None:
    """Start a fresh session (a new CSRF token, no fixation), recorded server-side."""
    session.clear()
    session.permanent = True
    session["who"], session["ver"] = principal.key, principal.session_version
    session["sid"] = service.start_session(principal)
    session["csrf"] = secrets.token_urlsafe(32)
    g.principal = principal


def sign_out() -> None:
    """End this session server-side (a copy of the cookie stops working too)."""
    sid = session.get("sid")
    if isinstance(sid, str):
        service.end_session(sid)
    session.clear()
    g.principal = None


DEVICE_COOKIE = "ts_device"
DEVICE_DAYS = 365


def _devices() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="trustseal.trusted-device")


def trusted_device(email: str) -> str | None:
    """The id of this browser if it signed in to ``email``'s account before (its cookie)."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return None
    try:
        data = _devices().loads(raw)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("a") != service.device_owner(email):
        return None
    device = data.get("d")
    return device if isinstance(device, str) else None


def remember_device(response: Response, email: str) -> None:
    """Mark this browser as one that signed in to ``email``'s account."""
    device = trusted_device(email) or secrets.token_urlsafe(16)
    value = _devices().dumps({"a": service.device_owner(email), "d": device})
    response.set_cookie(
        DEVICE_COOKIE,
        value,
        max_age=DEVICE_DAYS * 86400,
        httponly=True,
        samesite="Lax",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        path="/login",
    )


def csrf_token() -> str:
    """This session's CSRF token (created on first use)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def safe_next(target: str | None, default: str) -> str:
    """A same-site path to go to after sign-in (never another host)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def page_required(kind: str, *roles: str) -> Callable[[F], F]:
    """Only a signed-in ``kind`` (``staff``/``merchant``) with one of ``roles`` (if given)."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = current()
            if principal is None:
                return redirect(url_for("accounts.login_page", next=request.full_path))
            if principal.kind != kind or (roles and principal.role not in roles):
                abort(403)
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorate


def _actor() -> str | None:
    principal = current()
    if principal is not None:
        return f"{principal.kind}:{principal.id} {principal.email}"
    merchant_id, staff = g.get("merchant_id"), g.get("staff")
    if staff is not None:
        return f"staff-token:{staff.id} {staff.email}"
    if merchant_id is not None:
        merchant = merchants.get(merchant_id)
        return f"merchant-key:{merchant.slug if merchant else merchant_id}"
    return None


def init_app(app: Flask) -> None:
    """CSRF on every form of the signed-in pages; the audit trail of every change."""
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(
        hours=app.config["TRUSTSEAL_SESSION_HOURS"]
    )
    app.jinja_env.globals.update(csrf_token=csrf_token, current_user=current)

    @app.before_request
    def _csrf() -> None:
        if request.method != "POST" or not request.path.startswith(CSRF_PREFIXES):
            return
        sent = request.form.get("csrf_token", "")
        expected = session.get("csrf", "")
        if not expected or not hmac.compare_digest(sent.encode(), str(expected).encode()):
            abort(400, description="The form expired or did not come from this site; reload it.")

    @app.after_request
    def _audit(response: Response) -> Response:
        if request.method not in ("POST", "PUT", "PATCH", "DELETE") or response.status_code >= 400:
            return response
        if request.path.startswith(UNAUDITED_PREFIXES):
            return response
        actor = _actor()
        if actor is None:
            return response  # anonymous public writes are in the transparency log
        try:
            db.session.rollback()  # the view committed its work; start clean
            service.audit(
                actor,
                f"{request.method} {log_path()}",
                response.status_code,
                request.remote_addr,
                request.user_agent.string[:300],
            )
            db.session.commit()
        except Exception:  # the audit must not turn a done action into an error
            db.session.rollback()
            log.exception("audit write failed", extra={"action": log_path()})
        return response
