"""Numbers and amounts in the visitor's language: what the pages print, and what the forms
accept.

Printing goes through Babel with the current request's locale (Flask-Babel's
``get_locale``): ``3,9`` and ``26,5 h`` in Spanish, ``3.9`` and ``26.5 h`` in English.
Amounts in soles are written the Peruvian way whatever the language: the symbol ``S/``
first (``S/ 149,90`` in Spanish, ``S/ 149.90`` in English) — Babel's generic Spanish would
write ``149,90 PEN``. :func:`register_filters` makes these the Jinja filters ``number``,
``hours``, ``money`` and ``percent`` (:func:`trustseal.i18n.init_app` calls it).

Reading an amount a person typed (:func:`parse_amount`) accepts both decimal marks,
because a Peruvian shopper writes ``149.90`` as often as ``149,90``, and refuses what has
two readings (``1.234``: one thousand two hundred thirty-four, or one point two three
four?) instead of guessing.
"""

from __future__ import annotations

import re
from decimal import Decimal

from babel import Locale
from babel.numbers import format_currency as babel_format_currency
from babel.numbers import format_decimal as babel_format_decimal
from babel.numbers import format_percent as babel_format_percent
from babel.numbers import get_group_symbol
from flask import Flask
from flask_babel import get_locale
from flask_babel import gettext as _

MISSING = "—"  # what a filter prints for a number that does not exist (None)
NBSP = "\u00a0"
# Written before the number, as in Peru (SUNAT, price tags), in every language.
LOCAL_SYMBOLS = {"PEN": "S/"}
# What a person may type around an amount, per currency (compared in upper case).
TYPED_SYMBOLS = {
    "PEN": ("S/.", "S/", "PEN", "SOLES", "SOL"),
    "USD": ("US$", "USD", "$"),
}
# Spaces a locale or a person may use to group thousands (never a decimal mark).
_SPACES = " \u00a0\u202f\u2009"
_APOSTROPHES = "'\u2019"


def _locale(locale: str | Locale | None = None) -> Locale:
    """``locale``, else the current request's, else Spanish."""
    if isinstance(locale, Locale):
        return locale
    if locale:
        return Locale.parse(locale)
    current = get_locale()
    return current if current is not None else Locale.parse("es")


def _pattern(digits: int | None, at_most: bool = False) -> str:
    """A Babel pattern with grouping and ``digits`` decimals (exactly, or ``at_most``)."""
    if not digits:
        return "#,##0"
    return "#,##0." + ("#" if at_most else "0") * digits


def format_number(
    value: float | Decimal | int | None,
    digits: int | None = None,
    locale: str | Locale | None = None,
) -> str:
    """``value`` in the locale's digits and marks: exactly ``digits`` decimals when given
    (``3.9`` → ``3,9`` in Spanish; ``4`` with one decimal → ``4,0``), else as Babel writes
    it (at most three decimals). None prints ``—``."""
    if value is None:
        return MISSING
    loc = _locale(locale)
    if digits is None:
        return babel_format_decimal(value, locale=loc)
    return babel_format_decimal(value, format=_pattern(digits), locale=loc)


def format_hours(value: float | Decimal | int | None, locale: str | Locale | None = None) -> str:
    """A duration in hours with at most one decimal and the unit: ``26,5 h``, ``3 h``."""
    if value is None:
        return MISSING
    number = babel_format_decimal(value, format=_pattern(1, at_most=True), locale=_locale(locale))
    return f"{number}{NBSP}h"


def format_money(
    value: float | Decimal | int | None,
    currency: str = "PEN",
    locale: str | Locale | None = None,
) -> str:
    """An amount with its currency: ``S/ 149,90`` (soles, symbol first, in every language),
    else as Babel writes the currency in the locale (``1.234,50 US$`` in Spanish)."""
    if value is None:
        return MISSING
    loc = _locale(locale)
    symbol = LOCAL_SYMBOLS.get(currency.upper())
    if symbol is not None:
        return f"{symbol}{NBSP}{babel_format_decimal(value, format=_pattern(2), locale=loc)}"
    return babel_format_currency(value, currency.upper(), locale=loc)


def format_rate(value: float | Decimal | None, locale: str | Locale | None = None) -> str:
    """A share from 0 to 1 as a whole percentage: ``0.935`` → ``94 %`` in Spanish."""
    if value is None:
        return MISSING
    return babel_format_percent(value, locale=_locale(locale))


def register_filters(app: Flask) -> None:
    """The Jinja filters ``number`` (``score|number(1)``), ``hours``, ``money``
    (``amount|money("PEN")``) and ``percent``, in the request's locale."""
    app.jinja_env.filters.update(
        number=format_number, hours=format_hours, money=format_money, percent=format_rate
    )


# --- reading what a person typed ------------------------------------------------------


class AmountError(ValueError):
    """An amount that cannot be read, or can be read two ways.

    ``code``: ``empty``, ``invalid``, ``negative``, ``currency``, ``ambiguous`` or
    ``decimals``; ``text`` is what was typed. ``str()`` (and :attr:`message`) says what is
    wrong and how to write it, in the current request's language.
    """

    def __init__(self, code: str, text: str, example: str = "", places: int = 2) -> None:
        super().__init__(code, text)
        self.code = code
        self.text = text
        self.example = example
        self.places = places

    @property
    def message(self) -> str:
        """What is wrong, and how to write it, in the current language."""
        if self.code == "empty":
            return _("Write an amount.")
        if self.code == "negative":
            return _("The amount cannot be negative.")
        if self.code == "currency":
            return _("“%(text)s” is in another currency than the one chosen.", text=self.text)
        if self.code == "ambiguous":
            return _(
                "“%(text)s” can be read two ways. Write it with its cents, for example "
                "%(example)s.",
                text=self.text,
                example=self.example,
            )
        if self.code == "decimals":
            return _(
                "“%(text)s” has more than %(places)s decimals.", text=self.text, places=self.places
            )
        return _(
            "“%(text)s” is not an amount. Write it with digits, for example %(example)s.",
            text=self.text,
            example=self.example,
        )

    def __str__(self) -> str:
        """The :attr:`message`."""
        return self.message


DIGITS = frozenset("0123456789")
_GROUPED = re.compile(r"[1-9][0-9]{0,2}(?:G[0-9]{3})+")  # G: the one grouping mark, normalised
_LEADING_GROUP = re.compile(r"[1-9][0-9]{0,2}")


def _strip_currency(text: str, currency: str) -> str:
    """``text`` without the currency's symbol before or after it; :class:`AmountError`
    (``currency``) when another currency's symbol is there."""
    upper = text.upper()
    for symbol in TYPED_SYMBOLS.get(currency, (currency,)):
        if upper.startswith(symbol):
            return text[len(symbol) :].strip(_SPACES)
        if upper.endswith(symbol):
            return text[: -len(symbol)].strip(_SPACES)
    others = [s for c, symbols in TYPED_SYMBOLS.items() if c != currency for s in symbols]
    if any(upper.startswith(s) or upper.endswith(s) for s in others):
        raise AmountError("currency", text)
    return text


def _integer(part: str, group_marks: str) -> str | None:
    """The digits of an integer part whose thousands may be grouped with one of
    ``group_marks`` (groups of three after a first of one to three digits); None when it
    is not such a number."""
    marks = {c for c in part if c not in DIGITS}
    if not marks:
        return part or None
    if len(marks) > 1 or not marks <= set(group_marks):
        return None
    normalised = part.replace(marks.pop(), "G")
    return normalised.replace("G", "") if _GROUPED.fullmatch(normalised) else None


def parse_amount(
    text: str, locale: str | Locale | None = None, *, currency: str = "PEN", places: int = 2
) -> Decimal:
    """Read an amount of money a person typed; return it as a :class:`~decimal.Decimal`
    (never a float).

    Accepted: ``149,90``, ``149.90``, ``S/ 149,90``, ``S/. 1.234,50``, ``1,234.50``,
    ``1 234,50``, ``1.234.567``, ``1234``. Either mark may be the decimal one: with both,
    the last is; a mark repeated can only group thousands; a mark found once is the decimal
    mark, unless it can also group thousands (``1.234``, ``12,500``: three digits after
    it, one to three before): that amount has two readings and is refused (``ambiguous``)
    rather than guessed. Also refused: more than ``places`` decimals (``decimals``), a
    negative amount (``negative``), another currency's symbol than ``currency``'s
    (``currency``), anything else than digits, marks and spaces (``invalid``).

    ``locale`` (default: the request's) adds its own thousands mark (a space, an
    apostrophe) to the ones understood, and writes the examples of the error messages.
    Raises :class:`AmountError`.
    """
    loc = _locale(locale)
    typed = text.strip(_SPACES)
    if not typed:
        raise AmountError("empty", text)
    example = babel_format_decimal(Decimal("1234.50"), format=_pattern(2), locale=loc)
    body = _strip_currency(typed, currency.upper())
    if body.startswith(("-", "\u2212")):
        raise AmountError("negative", text)
    locale_group = get_group_symbol(loc)
    spaces = _SPACES + _APOSTROPHES + ("" if locale_group in ".," else locale_group)
    if (
        not body
        or body[0] not in DIGITS
        or body[-1] not in DIGITS
        or any(c not in DIGITS and c not in ".," and c not in spaces for c in body)
    ):
        raise AmountError("invalid", text, example)
    marks = [c for c in body if c in ".,"]
    if not marks:
        whole = _integer(body, spaces)
        if whole is None:
            raise AmountError("invalid", text, example)
        return Decimal(whole)
    if len(set(marks)) == 2:
        decimal_mark = marks[-1]
        group_mark = "," if decimal_mark == "." else "."
        if marks.count(decimal_mark) > 1:
            raise AmountError("invalid", text, example)
        return _read(body, decimal_mark, group_mark + spaces, text, example, places)
    mark = marks[0]
    if len(marks) > 1:
        whole = _integer(body, mark)
        if whole is None:
            raise AmountError("invalid", text, example)
        return Decimal(whole)
    head, _mark, tail = body.partition(mark)
    if len(tail) == 3 and _LEADING_GROUP.fullmatch(head):
        grouped = babel_format_decimal(Decimal(head + tail), format=_pattern(places), locale=loc)
        raise AmountError("ambiguous", text, grouped, places)
    return _read(body, mark, spaces, text, example, places)


def _read(
    body: str, decimal_mark: str, group_marks: str, text: str, example: str, places: int
) -> Decimal:
    """``body`` read with ``decimal_mark`` as its decimal mark and ``group_marks`` as the
    marks that may group the thousands of its integer part."""
    head, _mark, tail = body.rpartition(decimal_mark)
    whole = _integer(head, group_marks)
    if whole is None or not tail or any(c not in DIGITS for c in tail):
        raise AmountError("invalid", text, example)
    if len(tail) > places:
        raise AmountError("decimals", text, example, places)
    return Decimal(f"{whole}.{tail}")
