"""Sign-in pages: one /login for staff and merchants, sign-up, password reset, TOTP."""

from __future__ import annotations

from typing import Any, cast

import marshmallow as ma
from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _

from trustseal.accounts import service, web
from trustseal.extensions import db, limiter
from trustseal.merchants import service as merchants
from trustseal.merchants.schemas import MerchantCreateSchema

blp = Blueprint("accounts", __name__)
MIN_PASSWORD = 10


def _login_limit() -> str:
    return str(current_app.config["TRUSTSEAL_RATELIMIT_LOGIN"])


def _wait_message(seconds: int) -> str:
    if seconds < 180:
        return _("Too many failed attempts: wait %(n)s seconds and try again.", n=seconds)
    minutes = -(-seconds // 60)
    return _("Too many failed attempts: wait %(n)s minutes and try again.", n=minutes)


def home_of(principal: service.Principal) -> str:
    """Where a person lands after signing in."""
    return "/console" if principal.kind == "staff" else "/dashboard"


@blp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login_page() -> Any:
    """Sign in (staff and merchant users alike)."""
    message, need_code, email = None, False, ""
    if request.method == "POST":
        email = request.form.get("email", "").strip()
        result = service.login(
            email,
            request.form.get("password", ""),
            request.form.get("code") or None,
            device=web.trusted_device(email),
        )
        if result.outcome == "ok" and result.principal:
            web.sign_in(result.principal)
            db.session.commit()
            target = web.safe_next(request.args.get("next"), home_of(result.principal))
            response = cast(Response, redirect(target))  # flask's redirect: the app's Response
            web.remember_device(response, email)
            return response
        db.session.commit()  # the failure count stays, whatever the outcome
        need_code = result.outcome == "totp"
        message = {
            "invalid": _("Wrong email or password."),
            "locked": _wait_message(result.retry_after or 0),
            "totp": _("Enter the code from your authenticator app."),
        }[result.outcome]
        status = 200 if need_code else 401 if result.outcome == "invalid" else 429
        page = render_template("login.html", message=message, need_code=need_code, email=email)
        headers = {"Retry-After": str(result.retry_after)} if result.retry_after else {}
        return page, status, headers
    return render_template("login.html", message=message, need_code=need_code, email=email)


@blp.post("/logout")
def logout() -> Any:
    """Sign out of this browser (the session ends server-side)."""
    web.sign_out()
    db.session.commit()
    return redirect("/login")


@blp.post("/logout/everywhere")
def logout_everywhere() -> Any:
    """Sign out of every browser (every session of the account ends)."""
    principal = web.current()
    if principal is not None:
        service.sign_out_everywhere(principal)
    web.sign_out()
    db.session.commit()
    return redirect("/login")


@blp.route("/login/reset", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def reset_request() -> Any:
    """Ask for a reset link (the answer never says whether the email exists)."""
    sent = False
    if request.method == "POST":
        service.request_reset(request.form.get("email", ""))
        db.session.commit()
        sent = True
    return render_template("reset_request.html", sent=sent)


@blp.route("/login/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> Any:
    """Choose a new password with a single-use link."""
    error = None
    if request.method == "POST":
        password = request.form.get("password", "")
        if len(password) < MIN_PASSWORD:
            error = _("Use at least %(n)s characters.", n=MIN_PASSWORD)
        elif service.reset_password(token, password):
            db.session.commit()
            return redirect(url_for("accounts.login_page"))
        else:
            error = _("This link is not valid any more: ask for a new one.")
    return render_template("reset_password.html", error=error), 422 if error else 200


@blp.route("/signup", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def signup() -> Any:
    """A merchant asks for an account; the email gets a link to confirm it.

    The answer is the same whether or not the email has an account (that one gets a
    note instead of a link), so the page tells nobody which emails are registered.
    """
    values: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    status = 422
    if request.method == "POST":
        values = {
            k: request.form.get(k, "").strip()
            for k in (
                "name",
                "domain",
                "contact_email",
                "legal_name",
                "ruc",
                "address",
                "sector",
                "email",
            )
        }
        password = request.form.get("password", "")
        fields = {k: v for k, v in values.items() if v and k != "email"}
        try:
            merchant_fields = MerchantCreateSchema().load(fields)
        except ma.ValidationError as invalid:
            errors = {
                k: v if isinstance(v, list) else [str(v)]
                for k, v in invalid.normalized_messages().items()
            }
            merchant_fields = {}
        if len(password) < MIN_PASSWORD:
            errors["password"] = [_("Use at least %(n)s characters.", n=MIN_PASSWORD)]
        if "@" not in values["email"]:
            errors["email"] = [_("Write a valid email address.")]
        ruc = merchant_fields.get("ruc")
        if ruc and merchants.ruc_taken(ruc):
            errors["ruc"] = [_("This RUC is already registered with another shop.")]
            status = 409 if len(errors) == 1 else 422
        if not errors:
            service.request_signup(values["email"], password, merchant_fields)
            db.session.commit()
            hours = current_app.config["TRUSTSEAL_SIGNUP_CONFIRM_HOURS"]
            return render_template("signup_sent.html", email=values["email"], hours=hours)
    page = render_template("signup.html", values=values, errors=errors, sectors=merchants.SECTORS)
    return page, status if errors else 200


@blp.get("/signup/confirm/<token>")
def signup_confirm_page(token: str) -> Any:
    """The emailed link: a button that confirms (a GET never creates an account, so a
    mail scanner opening the link does not use it)."""
    return render_template("signup_confirm.html", error=None)


@blp.post("/signup/confirm/<token>")
def signup_confirm(token: str) -> Any:
    """Confirm the sign-up: create the shop and its owner, and sign in."""
    try:
        created = service.confirm_signup(token)
    except merchants.RucTaken:
        db.session.rollback()
        error = _(
            "Another shop registered this RUC meanwhile: sign up again with your own RUC, "
            "or write to us."
        )
        return render_template("signup_confirm.html", error=error), 409
    if created is None:
        db.session.commit()
        error = _("This link is not valid any more: sign up again or sign in.")
        return render_template("signup_confirm.html", error=error), 410
    _merchant, principal = created
    web.sign_in(principal)
    db.session.commit()
    return redirect("/dashboard")
