"""Operational endpoints that belong to no single domain or user: health, readiness, the
API reference and the language switch."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, make_response, redirect, render_template, request
from sqlalchemy import text

from trustseal import i18n, languages
from trustseal.api.errors import current_api
from trustseal.extensions import db
from trustseal.jobs import service as jobs

blp = Blueprint("web", __name__)


@blp.get("/lang/<lang>")
def set_language(lang: str) -> Response:
    """Remember the visitor's language choice in a cookie and go back: ``/lang/pt`` (also
    ``pt-BR``, kept as ``pt``); a language this app does not serve changes nothing."""
    target = request.args.get("next", "/")
    if not target.startswith("/") or target.startswith("//"):
        target = "/"
    response = make_response(redirect(target))
    code = languages.code_of(lang, i18n.served())
    if code is not None:
        response.set_cookie("lang", code, max_age=365 * 86400, samesite="Lax", httponly=True)
    return response


@blp.get("/healthz")
def healthz() -> Response:
    """Liveness: the process answers."""
    return jsonify(status="ok")


@blp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Readiness: the database answers (503 if not). The body also says whether a job
    worker beat recently (``worker.status``: ok, stale or absent) and how many jobs wait
    or failed — the web process stays ready without a worker, but monitors read it here
    or with ``trustseal worker --check``."""
    try:
        db.session.execute(text("SELECT 1"))
        worker = jobs.liveness().as_dict()
        db.session.rollback()
    except Exception as exc:  # any failure means not ready
        db.session.rollback()
        return jsonify(status="unavailable", error=type(exc).__name__), 503
    return jsonify(status="ok", database="ok", worker=worker), 200


def _operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    operations = []
    for path, item in spec.get("paths", {}).items():
        for method, op in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                operations.append({"path": path, "method": method.upper(), **op})
    return operations


@blp.get("/api/v1/docs")
def docs() -> str:
    """The API reference rendered from the OpenAPI document (no external CDN)."""
    spec = current_api().spec.to_dict()
    return render_template(
        "docs.html",
        spec=spec,
        operations=_operations(spec),
        schemas=spec.get("components", {}).get("schemas", {}),
    )
