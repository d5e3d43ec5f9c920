"""What the dashboard's store forms say back: marshmallow's refusals per field, in the
reader's language, and the reasons a re-sync failed.

marshmallow's messages are English text (its defaults, and a plugin's own). They are
matched here and said again through Flask-Babel; a message not known here reads as a
generic "not valid" rather than leaking English into a Spanish page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import marshmallow as ma
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

FORM = "_form"  # errors that belong to no field

# (the English message, as a pattern with named numbers) -> its msgid with those numbers
_MESSAGES: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(r"Missing data for required field\."), _l("Fill in this field.")),
    (re.compile(r"Field may not be null\."), _l("Fill in this field.")),
    (re.compile(r"Not a valid URL\."), _l("Write the full address, starting with https://.")),
    (re.compile(r"Not a valid string\."), _l("Write text here.")),
    (
        re.compile(r"Shorter than minimum length (?P<min>\d+)\."),
        _l("Too short: at least %(min)s characters."),
    ),
    (
        re.compile(r"Longer than maximum length (?P<max>\d+)\."),
        _l("Too long: at most %(max)s characters."),
    ),
    (
        re.compile(r"Length must be between (?P<min>\d+) and (?P<max>\d+)\."),
        _l("Between %(min)s and %(max)s characters."),
    ),
    (re.compile(r"Must be one of: .*\."), _l("Choose one of the options offered.")),
    (re.compile(r"String does not match expected pattern\."), _l("This value is not valid.")),
    (re.compile(r"Unknown field\."), _l("This field is not expected here.")),
    (re.compile(r"Invalid input type\."), _l("The form could not be read; reload the page.")),
    # the plugins' own messages
    (
        re.compile(r"The shop's myshopify\.com domain, e\.g\. tienda\.myshopify\.com\."),
        _l("Write the shop's myshopify.com domain, e.g. tienda.myshopify.com."),
    ),
    (
        re.compile(r"The VTEX account name\."),
        _l("Write the VTEX account name: lower-case letters, digits and hyphens."),
    ),
]

SYNC_REASONS = {
    "credentials": _l("the store has no API credentials to list its orders"),
    "refused": _l("the platform refused the store's API credentials"),
    "timeout": _l("the platform did not answer in time"),
    "unreachable": _l("the platform could not be reached"),
    "bad_answer": _l("the platform's answer could not be read"),
    "platform": _l("the platform reported an error"),
    "stopped": _l("it stopped without finishing"),
    "internal": _l("an error on our side"),
}


def translated(message: str) -> str:
    """One marshmallow message in the current language."""
    for pattern, msgid in _MESSAGES:
        found = pattern.fullmatch(message.strip())
        if found:
            return str(msgid) % found.groupdict() if found.groupdict() else str(msgid)
    return _("This value is not valid.")


def _flatten(messages: Any) -> list[str]:
    if isinstance(messages, Mapping):
        return [m for value in messages.values() for m in _flatten(value)]
    if isinstance(messages, list | tuple):
        return [m for value in messages for m in _flatten(value)]
    return [str(messages)]


def field_errors(invalid: ma.ValidationError) -> dict[str, list[str]]:
    """A refused form's messages by field name (``_form`` for the schema's own), translated."""
    found: dict[str, list[str]] = {}
    for name, messages in invalid.normalized_messages().items():
        key = FORM if name == "_schema" else str(name)
        found.setdefault(key, []).extend(translated(m) for m in _flatten(messages))
    return found


def sync_reason(code: str | None) -> str:
    """Why a re-sync failed, in the current language."""
    if code and code.startswith("http_"):
        return _("the platform answered with error %(status)s", status=code.removeprefix("http_"))
    return str(SYNC_REASONS.get(code or "", SYNC_REASONS["internal"]))
