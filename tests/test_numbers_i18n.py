"""Numbers and amounts in the visitor's language: golden examples of what the pages print
(the Jinja filters) and of what the forms read (``parse_amount``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from flask import Flask, render_template_string

from trustseal import i18n
from trustseal.numbers_i18n import (
    AmountError,
    format_hours,
    format_money,
    format_number,
    format_rate,
    parse_amount,
)

NBSP = "\u00a0"


def plain(text: str) -> str:
    """Babel separates a unit or symbol with a no-break space: compare with plain ones."""
    return text.replace(NBSP, " ").replace("\u202f", " ")


@pytest.fixture(scope="module")
def babel_app() -> Flask:
    """A bare Flask app with the service's translation set-up (no database)."""
    app = Flask(__name__)
    app.config.update(TRUSTSEAL_LOCALES=["es", "en", "pt"], TRUSTSEAL_DEFAULT_LOCALE="es")
    i18n.init_app(app)
    return app


@pytest.mark.parametrize(
    ("value", "digits", "locale", "expected"),
    [
        (3.9, 1, "es", "3,9"),
        (3.9, 1, "en", "3.9"),
        (4, 1, "es", "4,0"),
        (3.96, 1, "es", "4,0"),
        (1234.5, 2, "es", "1.234,50"),
        (1234.5, 2, "en", "1,234.50"),
        (1234567, None, "es", "1.234.567"),
        (0.5, None, "es", "0,5"),
        (Decimal("12.345"), None, "en", "12.345"),
        (None, 1, "es", "—"),
    ],
)
def test_format_number(value, digits, locale, expected):
    assert format_number(value, digits, locale) == expected


@pytest.mark.parametrize(
    ("value", "locale", "expected"),
    [(26.5, "es", "26,5 h"), (26.5, "en", "26.5 h"), (3, "es", "3 h"), (0.25, "es", "0,2 h")],
)
def test_format_hours(value, locale, expected):
    assert plain(format_hours(value, locale)) == expected


def test_format_hours_keeps_the_unit_on_the_same_line():
    assert format_hours(26.5, "es") == "26,5" + NBSP + "h"
    assert format_hours(None, "es") == "—"


@pytest.mark.parametrize(
    ("value", "currency", "locale", "expected"),
    [
        (149.9, "PEN", "es", "S/ 149,90"),
        (Decimal("149.90"), "PEN", "en", "S/ 149.90"),
        (1234.5, "PEN", "es", "S/ 1.234,50"),
        (1234.5, "pen", "en", "S/ 1,234.50"),
        (0, "PEN", "es", "S/ 0,00"),
        (1234.5, "USD", "es", "1.234,50 US$"),
        (1234.5, "USD", "en", "$1,234.50"),
    ],
)
def test_format_money(value, currency, locale, expected):
    assert plain(format_money(value, currency, locale)) == expected


@pytest.mark.parametrize(
    ("value", "locale", "expected"),
    [(0.935, "es", "94 %"), (0.935, "en", "94%"), (1, "es", "100 %"), (0, "en", "0%")],
)
def test_format_rate(value, locale, expected):
    assert plain(format_rate(value, locale)) == expected


def test_the_filters_follow_the_request_locale(babel_app):
    template = (
        "{{ 3.9|number(1) }}|{{ 26.5|hours }}|{{ 149.9|money }}|{{ 1234.5|money('USD') }}"
        "|{{ 0.935|percent }}|{{ none|number(1) }}"
    )
    with babel_app.test_request_context("/"):
        spanish = plain(render_template_string(template))
    with babel_app.test_request_context("/?lang=en"):
        english = plain(render_template_string(template))
    with babel_app.test_request_context("/?lang=pt"):
        portuguese = plain(render_template_string(template))
    assert spanish == "3,9|26,5 h|S/ 149,90|1.234,50 US$|94 %|—"
    assert english == "3.9|26.5 h|S/ 149.90|$1,234.50|94%|—"
    # Brazilian Portuguese (the code pt is the locale pt_BR): a decimal comma, the currency
    # symbol first, the percent sign close
    assert portuguese == "3,9|26,5 h|S/ 149,90|US$ 1.234,50|94%|—"


@pytest.mark.parametrize(
    ("accepted", "expected"),
    [("pt-BR,pt;q=0.9", "pt_BR"), ("pt", "pt_BR"), ("pt-PT", "pt_BR"), ("fr", "es")],
)
def test_any_portuguese_is_brazilian_portuguese(babel_app, accepted, expected):
    """The catalog is pt_BR: a browser asking for Portuguese of any country gets it (rather
    than the Spanish default); a language trustseal does not speak gets Spanish."""
    from flask_babel import get_locale

    with babel_app.test_request_context("/", headers={"Accept-Language": accepted}):
        assert str(get_locale()) == expected


def test_brazilian_numbers_and_dates():
    from babel.dates import format_date

    assert format_number(1234567.5, 1, "pt_BR") == "1.234.567,5"
    assert format_number(4, 1, "pt_BR") == "4,0"
    assert plain(format_money(1234.5, "BRL", "pt_BR")) == "R$ 1.234,50"
    assert plain(format_hours(26.5, "pt_BR")) == "26,5 h"
    assert format_rate(0.935, "pt_BR") == "94%"
    assert format_date(date(2026, 3, 1), "long", locale="pt_BR") == "1 de março de 2026"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("149,90", "149.90"),
        ("149.90", "149.90"),
        ("149,9", "149.9"),
        ("0,5", "0.5"),
        ("1234", "1234"),
        ("S/ 149,90", "149.90"),
        ("S/149.90", "149.90"),
        ("s/ 20", "20"),
        ("S/. 1.234,50", "1234.50"),
        ("PEN 1,234.50", "1234.50"),
        ("149,90 soles", "149.90"),
        ("1,234.50", "1234.50"),
        ("1.234,50", "1234.50"),
        ("1.234.567", "1234567"),
        ("1,234,567", "1234567"),
        ("1.234.567,89", "1234567.89"),
        ("1 234,50", "1234.50"),
        ("1\u00a0234,50", "1234.50"),
        ("1\u202f234.50", "1234.50"),
        ("10.000,00", "10000.00"),
        ("  149,90  ", "149.90"),
    ],
)
def test_parse_amount_reads(text, expected):
    read = parse_amount(text, "es")
    assert isinstance(read, Decimal)
    assert read == Decimal(expected)
    assert str(read) == expected  # the digits as typed: never through a float


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("1.234", "ambiguous"),  # one thousand two hundred thirty-four, or 1.234?
        ("1,234", "ambiguous"),
        ("12,500", "ambiguous"),
        ("S/ 999.999", "ambiguous"),
        ("0.500", "decimals"),  # a leading 0 never groups thousands: three decimals
        ("1234,567", "decimals"),
        ("149,999", "ambiguous"),
        ("1.2345", "decimals"),
        ("-5", "negative"),
        ("S/ -5", "negative"),
        ("US$ 20", "currency"),
        ("$20", "currency"),
        ("20 USD", "currency"),
        ("abc", "invalid"),
        ("12a", "invalid"),
        ("1e3", "invalid"),
        ("S/", "invalid"),
        (",5", "invalid"),
        ("5,", "invalid"),
        ("1.2.3", "invalid"),
        ("1,2.3", "invalid"),  # a comma that groups two digits
        ("1.234,5,6", "invalid"),
        ("1,234.567.8", "invalid"),
        ("12 34", "invalid"),
        ("1.234 567", "invalid"),  # two different thousands marks
        ("+5", "invalid"),
        ("\uff11\uff12", "invalid"),  # full-width digits
        ("\u0663", "invalid"),  # Arabic-Indic digit three
    ],
)
def test_parse_amount_refuses(text, code):
    with pytest.raises(AmountError) as refused:
        parse_amount(text, "es")
    assert refused.value.code == code
    assert refused.value.text == text


def test_parse_amount_in_dollars():
    assert parse_amount("US$ 1,234.50", "en", currency="USD") == Decimal("1234.50")
    assert parse_amount("$20", "en", currency="USD") == Decimal("20")
    with pytest.raises(AmountError) as refused:
        parse_amount("S/ 20", "en", currency="USD")
    assert refused.value.code == "currency"


def test_parse_amount_takes_the_locales_own_thousands_mark():
    assert parse_amount("1\u2019234.50", "de_CH") == Decimal("1234.50")
    assert parse_amount("1'234,50", "es") == Decimal("1234.50")


def test_parse_amount_decimal_places_can_be_more():
    assert parse_amount("0,125", "es", places=3) == Decimal("0.125")
    with pytest.raises(AmountError) as refused:
        parse_amount("1,234", "es", places=3)
    assert refused.value.code == "ambiguous"


def test_refusals_say_how_to_write_the_amount_in_the_locale(babel_app):
    with pytest.raises(AmountError) as ambiguous:
        parse_amount("1.234", "es")
    with pytest.raises(AmountError) as invalid:
        parse_amount("doce", "en")
    with babel_app.test_request_context("/?lang=en"):
        assert str(ambiguous.value) == (
            "“1.234” can be read two ways. Write it with its cents, for example 1.234,00."
        )
        assert str(invalid.value) == (
            "“doce” is not an amount. Write it with digits, for example 1,234.50."
        )
        with pytest.raises(AmountError) as decimals:
            parse_amount("0.500")  # the request's locale writes the example
        assert str(decimals.value) == "“0.500” has more than 2 decimals."
        assert AmountError("empty", "").message == "Write an amount."
        assert str(AmountError("negative", "-5")) == "The amount cannot be negative."
        assert str(AmountError("currency", "$5")) == (
            "“$5” is in another currency than the one chosen."
        )


def test_an_amount_error_is_a_value_error():
    with pytest.raises(ValueError, match="two ways"):
        raise AmountError("ambiguous", "1.234")
