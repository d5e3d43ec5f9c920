"""The application factory: configuration, extensions, blueprints, guards."""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import Any

from flask import Flask, make_response, request
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from trustseal import config as config_module
from trustseal import i18n, logs, platforms
from trustseal.accounts import web as web_accounts
from trustseal.api.auth import SECURITY_SCHEMES
from trustseal.api.converters import IdConverter, id_schema
from trustseal.api.errors import Api, abort
from trustseal.api.uploads import upload_limit
from trustseal.errors import DomainError
from trustseal.extensions import db, limiter, migrate
from trustseal.ratelimits import storage as ratelimit_storage
from trustseal.web import headers as web_headers

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class TrustsealApp(Flask):
    """Flask, whose log of an unhandled error names the path with its secrets redacted."""

    def log_exception(
        self, exc_info: tuple[type, BaseException, TracebackType] | tuple[None, None, None]
    ) -> None:
        """Log an unhandled error (Flask's own line would show a review token in full)."""
        self.logger.error(f"Exception on {logs.log_path()} [{request.method}]", exc_info=exc_info)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the application: configuration, extensions, blueprints, plugins.

    ``config`` overrides settings by their short names (``DATABASE_URL``, ``ENV``...),
    as the ``TRUSTSEAL_*`` environment variables do.
    """
    overrides = dict(config or {})
    instance_path = overrides.pop("INSTANCE_PATH", None) or os.environ.get(
        "TRUSTSEAL_INSTANCE_PATH"
    )
    app = TrustsealApp(
        __name__,
        instance_path=str(Path(instance_path).resolve()) if instance_path else None,
        instance_relative_config=True,
    )
    values = config_module.from_environment()
    values.update(overrides)
    app.config.update(config_module.finalize(values, Path(app.instance_path)))
    app.config.update(
        API_TITLE="trustseal",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
    )
    app.url_map.converters["id"] = IdConverter

    proxies = app.config["TRUSTSEAL_PROXY_COUNT"]
    if proxies > 0:  # trust X-Forwarded-For/-Proto from exactly that many proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]

    logs.init_app(app)
    web_accounts.init_app(app)
    web_headers.init_app(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS), render_as_batch=True)
    ratelimit_storage.register(app)
    limiter.init_app(app)
    i18n.init_app(app)
    api = Api(
        app,
        spec_kwargs={
            "info": {"description": "The public contract of trustseal (see API.md)."},
            "components": {"securitySchemes": SECURITY_SCHEMES},
        },
    )
    api.register_converter(IdConverter, id_schema)
    app.extensions["trustseal.api"] = api
    allowed = [p.strip() for p in app.config["TRUSTSEAL_PLATFORMS"].split(",") if p.strip()]
    app.extensions["trustseal.platforms"] = platforms.load(allowed or None)
    _register_blueprints(app, api)
    _wire_domains(app)
    _register_guards(app, api)
    return app


def _wire_domains(app: Flask) -> None:
    """Composition: what one domain asks of or tells another, said here and nowhere else
    (no registry is filled as a side effect of importing a module)."""
    from trustseal.book import service as book
    from trustseal.merchants import service as merchants
    from trustseal.resolutions import service as resolutions
    from trustseal.reviews import notices as review_notices
    from trustseal.reviews import service as reviews
    from trustseal.seals import service as seals
    from trustseal.signals import service as signals
    from trustseal.transparency import service as transparency
    from trustseal.transparency import witnessing

    merchants.wire_summary_parts(
        app,
        {"score": reviews.score_summary, "complaints": book.complaints_part, "seal": seals.summary},
    )
    reviews.wire_published_listeners(app, [signals.queue_scan, review_notices.alert_negative])
    resolutions.wire_subjects(
        app,
        {
            "review": resolutions.Subject(
                reviews.resolution_case, reviews.record_update, takes_rating=True
            ),
            "book": resolutions.Subject(
                book.resolution_case, book.record_confirmation, takes_rating=False
            ),
        },
    )
    try:
        witnessing.check_config(app.config)
    except ValueError as error:
        raise config_module.ConfigError(str(error)) from error
    transparency.wire_head_listeners(app, [witnessing.submit_to_witnesses])
    app.jinja_env.globals["redaction_mark"] = reviews.REDACTION_MARK  # what hidden text reads


def _register_blueprints(app: Flask, api: Api) -> None:
    from trustseal.accounts.pages import blp as accounts_pages
    from trustseal.badging.pages import api_blp as badge_api_blp
    from trustseal.badging.pages import blp as badging_pages
    from trustseal.book.api import blp as book_blp
    from trustseal.console.pages import blp as console_pages
    from trustseal.dashboard.pages import blp as dashboard_pages
    from trustseal.feeds.pages import blp as feeds_pages
    from trustseal.hooks.api import blp as hooks_blp
    from trustseal.imports.api import blp as imports_blp
    from trustseal.imports.api import merchant_blp as merchant_imports_blp
    from trustseal.imports.api import moderation_blp as imported_moderation_blp
    from trustseal.media.pages import blp as media_pages
    from trustseal.merchants.api import blp as merchants_blp
    from trustseal.orders.api import blp as orders_blp
    from trustseal.public import book as public_book
    from trustseal.public import home as public_home
    from trustseal.public import resolve as public_resolve
    from trustseal.public import reviews as public_reviews
    from trustseal.public import seal as public_seal
    from trustseal.public import unsubscribe as public_unsubscribe
    from trustseal.resolutions.api import blp as resolutions_blp
    from trustseal.reviews.api import blp as reviews_blp
    from trustseal.reviews.api import merchant_blp as merchant_reviews_blp
    from trustseal.seals.api import blp as seals_blp
    from trustseal.signals.api import blp as signals_blp
    from trustseal.signing.api import blp as signing_blp
    from trustseal.stores.api import blp as stores_blp
    from trustseal.stores.api import webhooks as webhooks_blp
    from trustseal.transparency.api import blp as transparency_blp
    from trustseal.transparency.pages import blp as transparency_pages
    from trustseal.transparency.tlog import blp as tlog_blp
    from trustseal.web import blp as web_blp
    from trustseal.widgets.pages import blp as widgets_pages

    for blp in (
        merchants_blp,
        orders_blp,
        reviews_blp,
        merchant_reviews_blp,
        seals_blp,
        badge_api_blp,
        stores_blp,
        webhooks_blp,
        book_blp,
        transparency_blp,
        signing_blp,
        signals_blp,
        resolutions_blp,
        hooks_blp,
        imports_blp,
        merchant_imports_blp,
        imported_moderation_blp,
    ):
        api.register_blueprint(blp)
    for pages in (
        web_blp,
        public_home.blp,
        public_reviews.blp,
        public_book.blp,
        public_seal.blp,
        public_unsubscribe.blp,
        public_resolve.blp,
        transparency_pages,
        tlog_blp,
        media_pages,
        badging_pages,
        feeds_pages,
        widgets_pages,
        accounts_pages,
        console_pages,
        dashboard_pages,
    ):
        app.register_blueprint(pages)
    from trustseal import cli

    cli.init_app(app)


def _register_guards(app: Flask, api: Api) -> None:
    """Request checks and error mappings that apply to every route."""

    @app.before_request
    def _no_nul_in_url() -> None:
        query = request.query_string
        if "\x00" in request.path or b"%00" in query or b"\x00" in query:
            abort(400, message="NUL characters are not allowed in URLs.")

    @app.before_request
    def _json_bodies_only() -> None:
        if request.url_rule is None:
            return  # a routing error (404, 405) answers; the body is never read
        limit = upload_limit(request.endpoint)
        if limit is not None:
            request.max_content_length = limit
            return
        if request.method not in ("POST", "PUT", "PATCH") or not request.path.startswith("/api/"):
            return
        has_body = (request.content_length or 0) > 0 or "chunked" in request.headers.get(
            "Transfer-Encoding", ""
        )
        if not has_body or request.is_json:
            return
        abort(415, message="Send the body as application/json.")

    @app.teardown_appcontext
    def _release_session(error: BaseException | None) -> None:
        # Runs before Flask-SQLAlchemy's own teardown (registered later, called first). A
        # connection killed after the answer was ready (a database restart) fails the
        # closing ROLLBACK; the answer stands and the dead connection leaves the pool.
        try:
            db.session.remove()
        except DBAPIError as failure:
            if not failure.connection_invalidated:
                raise
            app.logger.warning("database connection lost after the answer was ready")
            db.session.remove()

    @app.errorhandler(IntegrityError)
    def _conflict(error: IntegrityError) -> Any:
        db.session.rollback()
        return api.handle_http_exception(
            _http_error(409, "The request conflicts with existing data.")
        )

    @app.errorhandler(DataError)
    def _unstorable(error: DataError) -> Any:
        db.session.rollback()
        app.logger.warning("value refused by the database", exc_info=error)
        return api.handle_http_exception(_http_error(422, "A value cannot be stored as given."))

    @app.errorhandler(DomainError)
    def _refused(error: DomainError) -> Any:
        # a refused request changes nothing; what must stay (an alert) was committed
        db.session.rollback()
        errors = error.errors()
        refused = _http_error(error.code, str(error), **({"errors": errors} if errors else {}))
        response = make_response(api.handle_http_exception(refused))
        response.headers.update(error.headers)
        return response

    @app.errorhandler(OperationalError)
    def _unavailable(error: OperationalError) -> Any:
        db.session.rollback()
        app.logger.error("database unavailable", exc_info=error)
        return api.handle_http_exception(_http_error(503, "The database is unavailable; retry."))


def _http_error(code: int, message: str, **data: Any) -> HTTPException:
    try:
        abort(code, message=message, **data)
    except HTTPException as error:
        return error
    raise AssertionError("abort did not raise")
