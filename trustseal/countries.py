"""Countries: the ISO 3166-1 codes a merchant's country is written in, what a platform's
code means, and the language trustseal speaks by default to a shop of a country.

A merchant's country (``merchants.country``, two letters) decides two things: whether it
has a Libro de Reclamaciones — a legal requirement of Peru only (:data:`PERU`), so a shop
outside Peru shows its reviews and seal but no book — and the language of its emails and
of its badge snippets (:func:`language_of`: Portuguese for Brazil, else Spanish).

The codes come from Babel's CLDR data (already a dependency), so no list is kept here:
every two-letter territory code except the groupings and placeholders CLDR adds (the
European Union, the United Nations, "unknown region"...). Platforms may write a country in
three letters (VTEX: ``BRA``); :func:`code_of` reads both.

This module imports nothing of trustseal but :mod:`trustseal.languages`: the platform
plugins reach :func:`code_of` through :mod:`trustseal.platforms`.
"""

from __future__ import annotations

from functools import cache

from babel import Locale
from babel.core import get_global

from trustseal import languages

PERU = "PE"
BRAZIL = "BR"
# CLDR territory codes of two letters that are not countries (groupings, pseudo-regions,
# "unknown region").
NOT_COUNTRIES = frozenset({"EU", "EZ", "QO", "UN", "XA", "XB", "ZZ"})
# The language a shop of a country and its customers are written to when nobody chose
# one; absent: Spanish (languages.DEFAULT).
LANGUAGE_OF: dict[str, str] = {BRAZIL: "pt"}


@cache
def codes() -> frozenset[str]:
    """Every ISO 3166-1 alpha-2 country code (from CLDR)."""
    territories = Locale("en").territories
    two_letters = {code for code in territories if isinstance(code, str) and len(code) == 2}
    return frozenset(code for code in two_letters if code.isalpha()) - NOT_COUNTRIES


def is_country(code: object) -> bool:
    """Whether ``code`` is an ISO 3166-1 alpha-2 country code as stored (upper case)."""
    return isinstance(code, str) and code in codes()


def code_of(value: object) -> str | None:
    """The alpha-2 code of a country written in two or three letters, any case (``br``,
    ``BRA`` → ``BR``; ``PER`` → ``PE``); None when it names no country."""
    if not isinstance(value, str):
        return None
    text = value.strip().upper()
    if len(text) == 3 and text.isalpha():
        aliases = get_global("territory_aliases")
        found = aliases.get(text) or [""]
        text = str(found[0])
    return text if is_country(text) else None


def has_complaints_book(country: str | None) -> bool:
    """Whether a shop of ``country`` has a Libro de Reclamaciones: Peru's consumer law
    requires one of every shop selling there, and no other country has it."""
    return country == PERU


def language_of(country: str | None) -> str:
    """The language code trustseal writes in by default to a shop of ``country`` and to
    its customers: ``pt`` for Brazil, else Spanish."""
    return LANGUAGE_OF.get(country or "", languages.DEFAULT)
