"""The one translation mechanism: Flask-Babel with gettext catalogs.

Message ids are English; Spanish is the default locale. The locale of a request comes
from ``?lang=``, then the ``lang`` cookie, then ``Accept-Language``. Catalogs (``.po``)
are compiled to ``.mo`` at install (``make install``, ``make translations``), never at
app start: a deployment's package folder may be read-only. The app logs an error at start
when a catalog is missing or older than its source.

Numbers and amounts are printed in the locale's way by the Jinja filters of
:mod:`trustseal.numbers_i18n` (``number``, ``hours``, ``money``, ``percent``), registered
here.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, current_app, has_request_context, request
from flask_babel import get_locale

from trustseal import labels, numbers_i18n
from trustseal.extensions import babel

TRANSLATIONS = Path(__file__).parent / "translations"


def compile_catalogs(directory: Path = TRANSLATIONS) -> list[Path]:
    """Compile every stale ``messages.po`` under ``directory``; return the files written
    (for tests and tools; ``make install`` compiles with ``pybabel compile``)."""
    written = []
    for po_path in stale_catalogs(directory):
        mo_path = po_path.with_suffix(".mo")
        with po_path.open("rb") as source:
            catalog = read_po(source, locale=po_path.parent.parent.name)
        tmp = mo_path.with_suffix(".mo.tmp")
        with tmp.open("wb") as target:
            write_mo(target, catalog)
        tmp.replace(mo_path)
        written.append(mo_path)
    return written


def select_locale() -> str:
    """The locale of the current request (default: Spanish)."""
    supported: list[str] = current_app.config["TRUSTSEAL_LOCALES"]
    default: str = current_app.config["TRUSTSEAL_DEFAULT_LOCALE"]
    if not has_request_context():
        return default
    for candidate in (request.args.get("lang"), request.cookies.get("lang")):
        if candidate in supported:
            return candidate
    return request.accept_languages.best_match(supported) or default


def stale_catalogs(directory: Path = TRANSLATIONS) -> list[Path]:
    """The ``messages.po`` under ``directory`` whose ``.mo`` is missing or older."""
    return [
        po
        for po in sorted(directory.glob("*/LC_MESSAGES/messages.po"))
        if not po.with_suffix(".mo").exists()
        or po.with_suffix(".mo").stat().st_mtime < po.stat().st_mtime
    ]


def init_app(app: Flask) -> None:
    """Bind Flask-Babel to the app with the service's locale selector, and register the
    filters that print numbers and amounts in the request's locale."""
    for po in stale_catalogs():
        app.logger.error("translations not compiled: %s (run make install)", po)
    babel.init_app(
        app, locale_selector=select_locale, default_translation_directories=str(TRANSLATIONS)
    )
    app.jinja_env.globals["get_locale"] = get_locale
    numbers_i18n.register_filters(app)
    labels.init_app(app)
