"""Structured logs: one JSON object per line, one access line per request."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Mapping, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, request
from gunicorn import glogging
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import Rule

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Format a record as a JSON object with its ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as one line of JSON."""
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure(level: str, as_json: bool) -> None:
    """Send the ``trustseal`` loggers to stderr, as JSON or plain text."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter()
        if as_json
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    logger = logging.getLogger("trustseal")
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False


access = logging.getLogger("trustseal.access")

# URL arguments that are secrets (review links, reset and sign-up links, the complaints
# book's follow-up codes): never written to a log or the audit trail.
SECRET_ARGUMENTS = frozenset({"token", "code"})
LOG_PATH_KEY = "trustseal.log_path"  # the redacted path, left in the WSGI environ
_ARGUMENT = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")


def redacted_path(rule: Rule, values: Mapping[str, Any]) -> str:
    """The path of a request to ``rule``, its secret arguments shown as ``<name>``."""

    def show(match: re.Match[str]) -> str:
        name = match.group(1)
        return f"<{name}>" if name in SECRET_ARGUMENTS else str(values.get(name, f"<{name}>"))

    return _ARGUMENT.sub(show, rule.rule)


def log_path() -> str:
    """This request's path as logs may show it (secrets redacted), remembered in the
    environ for gunicorn's access log."""
    cached = request.environ.get(LOG_PATH_KEY)
    if cached is not None:
        return str(cached)
    rule = request.url_rule
    values: Mapping[str, Any] = request.view_args or {}
    error = request.routing_exception
    if rule is None and isinstance(error, MethodNotAllowed) and error.valid_methods:
        # A wrong method on a secret route still names the secret in its path.
        adapter = current_app.url_map.bind_to_environ(request.environ)
        try:
            rule, values = adapter.match(method=next(iter(error.valid_methods)), return_rule=True)
        except HTTPException:
            rule = None
    # An unrouted path may still hold a secret (a mistyped review link): keep its head only.
    path = redacted_path(rule, values) if rule is not None else fallback_redacted(request.path)
    request.environ[LOG_PATH_KEY] = path
    return path


def fallback_redacted(path: str) -> str:
    """For a path no route matched: keep only its first segment."""
    head, _, rest = path.lstrip("/").partition("/")
    return f"/{head}/<redacted>" if rest else path


def referrer_origin(referrer: str) -> str:
    """Only the origin of a Referer (its path may be a review link or a follow-up code)."""
    parts = urlsplit(referrer)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else "-"


def has_secret_arguments(rule: Rule | None) -> bool:
    """Whether a route's URL carries a secret (its page must not send it as Referer)."""
    return rule is not None and not SECRET_ARGUMENTS.isdisjoint(rule.arguments)


class GunicornLogger(glogging.Logger):
    """gunicorn's logger, whose access lines never show a secret: the path is the one the
    application redacted, the query string is left out, and the Referer keeps only its
    origin — in every atom, the ``{…}i`` and ``{…}e`` ones included."""

    def atoms(
        self, resp: Any, req: Any, environ: MutableMapping[str, Any], request_time: Any
    ) -> Any:
        """gunicorn's access-log atoms, computed from a redacted request."""
        path = environ.get(LOG_PATH_KEY) or fallback_redacted(environ.get("PATH_INFO", ""))
        referrer = referrer_origin(environ.get("HTTP_REFERER", ""))
        safe = {**environ, "PATH_INFO": path, "RAW_URI": path, "REQUEST_URI": path}
        safe.update(QUERY_STRING="", HTTP_REFERER=referrer)
        headers = getattr(req, "headers", req)
        headers = headers.items() if hasattr(headers, "items") else headers
        redacted = [(k, _header_for_log(k, v, referrer)) for k, v in headers]
        for name in SECRET_HEADERS:
            safe.pop("HTTP_" + name.upper().replace("-", "_"), None)
        # gunicorn's atoms() takes the request or its headers alone; its stubs say Request.
        return super().atoms(resp, redacted, safe, request_time)  # type: ignore[arg-type]


SECRET_HEADERS = frozenset({"authorization", "cookie", "x-review-token"})


def _header_for_log(name: str, value: str, referrer: str) -> str:
    lowered = name.lower()
    if lowered == "referer":
        return referrer
    return "-" if lowered in SECRET_HEADERS else value


def init_app(app: Flask) -> None:
    """Log every request with its id, status and duration; echo the id in ``X-Request-Id``."""
    configure(app.config["TRUSTSEAL_LOG_LEVEL"], app.config["TRUSTSEAL_LOG_JSON"])

    @app.before_request
    def _start() -> None:
        g.request_started = time.perf_counter()
        incoming = request.headers.get("X-Request-Id", "")
        g.request_id = (
            incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex
        )

    @app.after_request
    def _log(response: Response) -> Response:
        started = g.get("request_started")
        response.headers["X-Request-Id"] = g.get("request_id", "")
        if started is not None and access.isEnabledFor(logging.INFO):
            access.info(
                "request",
                extra={
                    "request_id": g.get("request_id"),
                    "method": request.method,
                    "path": log_path(),
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "remote": request.remote_addr,
                },
            )
        return response
