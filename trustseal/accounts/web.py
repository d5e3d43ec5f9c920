"""Sessions for the pages people sign in to, CSRF for every form, and the audit trail."""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError, CSRFProtect
from itsdangerous import BadSignature, URLSafeSerializer

from trustseal.accounts import service
from trustseal.accounts.service import Principal
from trustseal.api.blueprint import Blueprint as ApiBlueprint
from trustseal.api.uploads import upload_limit
from trustseal.extensions import db
from trustseal.logs import log_path
from trustseal.merchants import service as merchants

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("trustseal.audit")

# The answer to a POST/PUT/PATCH/DELETE without this session's token (see init_app).
CSRF_REFUSED = _l("The form expired or did not come from this site; reload it.")
# Machine ingestion has its own durable record (purchases with their source, webhook
# deliveries); auditing it would double the writes of the hottest paths.
UNAUDITED_PREFIXES = ("/webhooks/", "/api/v1/orders")


def current() -> Principal | None:
    """The signed-in person of this request, or None."""
    if "principal" not in g:
        key, version, sid = session.get("who"), session.get("ver"), session.get("sid")
        if isinstance(key, str) and key and isinstance(version, int) and isinstance(sid, str):
            g.principal = service.load(key, version, sid)
        else:
            g.principal = None
    return cast(Principal | None, g.principal)


def sign_in(principal: Principal) -> None:
    """Start a fresh session (a new CSRF token, no fixation), recorded server-side."""
    session.clear()
    session.permanent = True
    session["who"], session["ver"] = principal.key, principal.session_version
    session["sid"] = service.start_session(principal)
    _forget_csrf_token()
    g.principal = principal


def sign_out() -> None:
    """End this session server-side (a copy of the cookie stops working too)."""
    sid = session.get("sid")
    if isinstance(sid, str):
        service.end_session(sid)
    session.clear()
    _forget_csrf_token()
    g.principal = None


def _forget_csrf_token() -> None:
    """Drop the CSRF token this request may have minted before the session was cleared.

    ``session.clear()`` removed the raw token; Flask-WTF also caches the signed one in
    ``g`` for the rest of the request, and a page rendered after sign-in must carry a
    token of the new session.
    """
    g.pop(current_app.config["WTF_CSRF_FIELD_NAME"], None)


DEVICE_COOKIE = "ts_device"
DEVICE_DAYS = 365


def _devices() -> URLSafeSerializer:
    secret = current_app.secret_key
    assert secret is not None  # config refuses to start without one
    return URLSafeSerializer(secret, salt="trustseal.trusted-device")


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


def without_cookies(view: F) -> F:
    """Mark a view whose answers never carry a ``Set-Cookie``: what other sites embed and
    shared caches keep (the badge, the product widgets). The session of a signed-in
    visitor who happens to ask is neither refreshed nor cleared by it, so no cached copy
    can hold anyone's cookie."""
    view.without_cookies = True  # type: ignore[attr-defined]
    return view


def _answers_without_cookies() -> bool:
    """True when the current request's view was marked :func:`without_cookies`."""
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "without_cookies", False))


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, saved by every view but those that answer
    :func:`without_cookies` (Flask refreshes a permanent session's cookie on every answer,
    an image's included)."""

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Save as Flask does, unless the view answers without cookies."""
        if _answers_without_cookies():
            return
        super().save_session(app, session, response)


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


def _is_api_request() -> bool:
    """True when the request was routed to a blueprint of the JSON API.

    Those are the blueprints built on :class:`trustseal.api.blueprint.Blueprint` and
    registered through flask-smorest's ``Api`` (``/api/v1/...``, ``/webhooks/...``).
    None of their operations is authenticated by a cookie: merchants and staff send a
    bearer token (``Authorization`` is never added by a browser on its own), the public
    writes carry their secret in the body, and webhooks are signed by the platform. Under
    ``/api/`` a body must moreover be JSON (a 415 otherwise), which no cross-site form can
    send. A page blueprint (plain :class:`flask.Blueprint`) is never one of them.
    """
    return isinstance(current_app.blueprints.get(request.blueprint or ""), ApiBlueprint)


def init_app(app: Flask) -> None:
    """CSRF on every unsafe request but the JSON API's; the audit trail of every change.

    CSRF is Flask-WTF's :class:`~flask_wtf.csrf.CSRFProtect`, checked by the hook below
    on every POST/PUT/PATCH/DELETE routed anywhere outside the JSON API: fail-closed, so
    a form of a new blueprint is protected without being listed anywhere. The token is
    the hidden ``csrf_token`` field the templates render with ``{{ csrf_token() }}`` (or
    an ``X-CSRFToken`` header), checked against the raw token kept in the session. A view
    that must take cross-site posts would be marked with ``csrf.exempt`` (the
    ``CSRFProtect`` object is ``app.extensions["csrf"]``); none is.

    - ``WTF_CSRF_TIME_LIMIT``: a token lasts as long as a session (``SESSION_HOURS``).
    - ``WTF_CSRF_SSL_STRICT`` off: the pages whose URL is a secret (review link, reset and
      sign-up links) send ``Referrer-Policy: no-referrer``, so their posts carry neither a
      Referer nor an Origin; the strict Referer check would refuse every one of them over
      HTTPS. The token, the SameSite=Lax session cookie and ``form-action 'self'`` stay.
    """
    hours = app.config["TRUSTSEAL_SESSION_HOURS"]
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=hours)
    app.config.update(
        WTF_CSRF_CHECK_DEFAULT=False,  # _csrf below runs the check, on every request
        WTF_CSRF_TIME_LIMIT=hours * 3600,
        WTF_CSRF_SSL_STRICT=False,
    )
    app.session_interface = SessionInterface()
    csrf = CSRFProtect(app)  # also the csrf_token() template global
    app.jinja_env.globals.update(current_user=current)

    @app.before_request
    def _csrf() -> None:
        if not app.config["WTF_CSRF_ENABLED"]:
            return
        if request.method not in app.config["WTF_CSRF_METHODS"] or request.endpoint is None:
            return  # a safe method, or a routing error (404, 405) that runs no view
        if _is_api_request():
            return
        limit = upload_limit(request.endpoint)
        if limit is not None:  # the token is read from the body: parse it under its cap
            request.max_content_length = limit
        try:
            csrf.protect(apply_exemptions=True)
        except CSRFError as refused:  # Flask-WTF logged the reason (flask_wtf.csrf)
            refused.description = str(CSRF_REFUSED)
            raise

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
