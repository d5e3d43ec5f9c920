"""The consumer's unsubscribe link (``/unsubscribe/{token}``, in every email to a consumer):
one page to confirm, and the one-click POST of RFC 8058 that mail programs send."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from trustseal.extensions import db
from trustseal.mail import service as mail

blp = Blueprint("public_unsubscribe", __name__)


@blp.get("/unsubscribe/<token>")
def page(token: str) -> Any:
    """What unsubscribing does, and the button (a GET changes nothing: mail scanners
    open links)."""
    try:
        done = mail.check_unsubscribe_link(token)
    except mail.NotUnsubscribeLink:
        return _page(token, False, 404)
    return _page(token, done)


@blp.post("/unsubscribe/<token>")
def unsubscribe(token: str) -> Any:
    """Put the address on the suppression list: the page's button, or a mail program's
    one-click POST (body ``List-Unsubscribe=One-Click``, no cookie, no token).

    Not rate-limited per client address: the one-click POSTs of a whole mailbox provider
    come from a few of its servers, and a lost unsubscribe is a broken promise. Only the
    recipient holds a valid token, and a second use changes nothing."""
    try:
        mail.unsubscribe(token, "one_click" if _one_click() else "page")
    except mail.NotUnsubscribeLink:
        return _page(token, False, 404)
    db.session.commit()
    return _page(token, True)


def _one_click() -> bool:
    return request.form.get("List-Unsubscribe") == "One-Click"


def _page(token: str, done: bool, status: int = 200) -> Any:
    """The page (404: a link we did not sign), private: its address names the recipient."""
    body = render_template("unsubscribe.html", token=token, done=done, unknown=status == 404)
    return body, status, {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@blp.record_once
def _exempt_from_csrf(state: Any) -> None:
    """Mail programs post the one-click unsubscribe from their servers, without a session
    or a token; the signed token in the address is what only the recipient holds."""
    state.app.extensions["csrf"].exempt(unsubscribe)
