"""The languages trustseal speaks, in one table: each one's code, Babel locale, tag and name.

A language is known by its **code** everywhere outside Babel: in URLs (``?lang=pt``), the
``lang`` cookie, the API (an order's ``customer.locale``, a badge's ``lang``), the database
(a purchase's ``customer_locale``, a review's or a book entry's ``locale``) and the
platform plugins. The code is the language subtag of BCP 47: ``es``, ``en``, ``pt``.

Babel and Flask-Babel know it by its **locale**, which names the catalog directory under
``trustseal/translations/`` and the conventions numbers and dates are written in. Only
Portuguese differs: its code ``pt`` (what API.md names) is the locale ``pt_BR``, Brazilian
Portuguese — the catalog is ``pt_BR/LC_MESSAGES/messages.po`` and ``1234.5`` prints
``1.234,5``. A visitor who asks for ``pt``, ``pt-BR``, ``pt_BR`` or any other Portuguese
(``pt-PT``) gets it.

Pages, emails and headers name it by its **tag** (``<html lang="pt-BR">``, ``hreflang``,
``Content-Language``), and the language menu by its own **name** (``Português``).

This module imports nothing, so the badges, the platform plugins (through
:mod:`trustseal.platforms`) and every domain can read it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    """One language: its code, Babel locale, BCP 47 tag and its name in itself."""

    code: str
    locale: str
    tag: str
    name: str


# Spanish first: the default (Peru first), then English, then Brazil's Portuguese.
LANGUAGES: tuple[Language, ...] = (
    Language("es", "es", "es", "Español"),
    Language("en", "en", "en", "English"),
    Language("pt", "pt_BR", "pt-BR", "Português"),
)
DEFAULT = "es"
CODES: tuple[str, ...] = tuple(language.code for language in LANGUAGES)
_BY_CODE = {language.code: language for language in LANGUAGES}


def code_of(value: object, allowed: Iterable[str] = CODES) -> str | None:
    """The code of a language as browsers, platforms and people write it (``pt``,
    ``pt-BR``, ``pt_BR``, ``PT``, ``es-PE``, ``en_US``: its first subtag, any case), when
    it is one of ``allowed``; None otherwise (``fr``, ``""``, not a string)."""
    if not isinstance(value, str):
        return None
    primary = value.strip().replace("_", "-").partition("-")[0].lower()
    return primary if primary and primary in tuple(allowed) else None


def get(code: str | None) -> Language:
    """The language of a code (:data:`DEFAULT`'s for an unknown one)."""
    return _BY_CODE.get(code or DEFAULT) or _BY_CODE[DEFAULT]


def locale_of(code: str | None) -> str:
    """The Babel locale of a language code: ``pt`` → ``pt_BR``."""
    return get(code).locale


def tag_of(code: str | None) -> str:
    """The BCP 47 tag of a language code: ``pt`` → ``pt-BR``."""
    return get(code).tag
