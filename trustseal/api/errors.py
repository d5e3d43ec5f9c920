"""One error format for the whole service (API.md "Conventions").

Every HTTP error under ``/api/`` and ``/webhooks/`` answers
``{"code", "status", "message", "errors"?}``; pages get an HTML error page
(``templates/error.html``) in the visitor's language: a title and an explanation per status
code, and the error's own message only when the code gave one on purpose (Werkzeug's
default descriptions are English).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, NoReturn

from flask import current_app, render_template, request
from flask_smorest import Api as SmorestApi
from flask_smorest import abort as smorest_abort
from werkzeug.exceptions import HTTPException, InternalServerError

from trustseal.api.fields import text_field_properties

log = logging.getLogger("trustseal.errors")

# flask-smorest's ``abort`` (raise the HTTP error, rendered in the API's format), typed as
# never returning: the package has no type hints, so mypy could not follow it otherwise.
abort: Callable[..., NoReturn] = smorest_abort

JSON_PREFIXES = (
    "/api/",
    "/webhooks/",
    "/.well-known/",
    "/badges/",
    "/feeds/",
    "/widgets/",  # embedded on other sites: a reason a developer reads, no page chrome
    "/log/",
    "/healthz",
    "/readyz",
)


def wants_json() -> bool:
    """True when the current request should get a JSON error (API clients, webhooks)."""
    if request.path.startswith(JSON_PREFIXES):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and not request.accept_mimetypes["text/html"]


def error_payload(error: HTTPException) -> tuple[dict[str, Any], dict[str, str]]:
    """Build the API.md error body and extra headers for an HTTP exception."""
    code = error.code or 500
    payload: dict[str, Any] = {"code": code, "status": error.name}
    headers: dict[str, str] = {}
    data = getattr(error, "data", None) or {}
    message = data.get("message") or error.description or error.name
    if code == 500:
        message = "Internal server error."
    payload["message"] = message
    errors = data.get("errors") or data.get("messages")
    if errors:
        payload["errors"] = errors
    headers.update(data.get("headers") or {})
    response = error.get_response()
    for name in ("Allow", "Retry-After", "WWW-Authenticate"):
        if name in response.headers and name not in headers:
            headers[name] = response.headers[name]
    return payload, headers


# Statuses whose message is never shown on a page: a rate limit's figures ("10 per 1
# minute") and a server error's text are for logs.
NO_PAGE_DETAIL = frozenset({429, 500})


def page_detail(error: HTTPException, payload: dict[str, Any]) -> str | None:
    """The message an error page shows under its translated explanation: only one the code
    gave on purpose (``abort(403, description=...)``, an expired form), never the default
    English description of the exception's class."""
    if payload["code"] in NO_PAGE_DETAIL:
        return None
    data = getattr(error, "data", None) or {}
    message = data.get("message")
    if message:
        return str(message)
    description = error.description
    if description and description != type(error).description:
        return str(description)
    return None


class Api(SmorestApi):
    """flask-smorest's Api with the service's error format on every route, and an OpenAPI
    document that states the text rules every input schema enforces."""

    def _init_spec(self, **kwargs: Any) -> None:
        """As flask-smorest's, then document the text rules (:func:`text_field_properties`)."""
        super()._init_spec(**kwargs)
        self.ma_plugin.converter.add_attribute_function(text_field_properties)

    def handle_http_exception(self, error: HTTPException) -> Any:
        """Answer an HTTP error as JSON for API clients, as a page for people."""
        if isinstance(error, InternalServerError):
            original = getattr(error, "original_exception", None)
            log.error("unhandled error", exc_info=original or error)
        payload, headers = error_payload(error)
        code = payload["code"]
        if wants_json():
            return payload, code, headers
        try:
            body = render_template("error.html", error=payload, detail=page_detail(error, payload))
        except Exception:  # the error page itself must never fail
            current_app.logger.exception("error page failed")
            body = f"{code} {payload['status']}"
        return body, code, headers


def current_api() -> Api:
    """The flask-smorest ``Api`` of the current app."""
    return current_app.extensions["trustseal.api"]
