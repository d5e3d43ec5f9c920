"""The one translation mechanism: Flask-Babel with gettext catalogs.

Message ids are English; Spanish is the default locale; English and Brazilian Portuguese
are the others (:mod:`trustseal.languages`: a language's code, ``pt``, is what URLs, the
cookie, the API and the database carry; its Babel locale, ``pt_BR``, names its catalog).
The language of a request comes from ``?lang=``, then the ``lang`` cookie, then
``Accept-Language`` (``pt-BR``, ``pt``), among ``TRUSTSEAL_LOCALES``. Catalogs (``.po``)
are compiled to ``.mo`` at install (``make install``, ``make translations``), never at
app start: a deployment's package folder may be read-only. The app logs an error at start
when a catalog is missing or older than its source.

Numbers and amounts are printed in the locale's way by the Jinja filters of
:mod:`trustseal.numbers_i18n` (``number``, ``hours``, ``money``, ``percent``), registered
here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, current_app, has_request_context, request
from flask_babel import force_locale, get_locale

from trustseal import labels, languages, numbers_i18n
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


def served() -> list[str]:
    """The codes of the languages this app serves pages in (``TRUSTSEAL_LOCALES``, read as
    codes: ``pt_BR`` or ``pt-BR`` there mean ``pt``), in the configured order."""
    codes = (languages.code_of(value) for value in current_app.config["TRUSTSEAL_LOCALES"])
    return list(dict.fromkeys(code for code in codes if code is not None))


def request_language() -> str:
    """The code of the current request's language: ``?lang=``, else the ``lang`` cookie,
    else the first language of ``Accept-Language`` (by quality) that is served, read by
    its language subtag (``pt-BR``, ``pt-PT`` and ``pt`` are ``pt``: the browser's first
    choice wins even when it names no region we list), else ``TRUSTSEAL_DEFAULT_LOCALE``
    (Spanish)."""
    default = languages.code_of(current_app.config["TRUSTSEAL_DEFAULT_LOCALE"])
    default = default or languages.DEFAULT
    if not has_request_context():
        return default
    supported = served()
    for candidate in (request.args.get("lang"), request.cookies.get("lang")):
        code = languages.code_of(candidate, supported)
        if code is not None:
            return code
    for tag, _quality in request.accept_languages:  # highest quality first
        code = languages.code_of(tag, supported)
        if code is not None:
            return code
    return default


def select_locale() -> str:
    """The Babel locale of the current request (``es``, ``en`` or ``pt_BR``)."""
    return languages.locale_of(request_language())


def current_language() -> str:
    """The code of the language being rendered now (the request's, or the one forced by
    :func:`in_language`): what a link's ``lang=`` or a stored ``locale`` takes."""
    current = get_locale()
    return languages.code_of(current.language if current else None) or languages.DEFAULT


def language_tag() -> str:
    """The BCP 47 tag of the language being rendered now (``pt-BR``), for ``<html lang>``."""
    return languages.tag_of(current_language())


def language_menu() -> list[languages.Language]:
    """The languages a visitor may switch to, each named in itself (the page's menu)."""
    return [languages.get(code) for code in served()]


@contextmanager
def in_language(code: str | None) -> Iterator[None]:
    """Render in the language of a code (``pt``: Brazilian Portuguese), whatever the
    request's: emails in their reader's language, the badge in the one it was asked in."""
    with force_locale(languages.locale_of(languages.code_of(code))):
        yield


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
    app.jinja_env.globals.update(
        get_locale=get_locale,
        current_language=current_language,
        language_tag=language_tag,
        language_menu=language_menu,
    )
    numbers_i18n.register_filters(app)
    labels.init_app(app)
