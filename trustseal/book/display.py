"""How the book's pages and emails show an entry: Lima dates, kind and state names.

Every date a Hoja de Reclamación shows is the date in Lima (:func:`deadlines.lima_time`),
in the reader's language: the app's Babel time zone is UTC, so a moment is never handed
to Flask-Babel's date filters as is (a complaint filed at 22:30 in Lima would show the
next day). Templates get these functions through :func:`template_helpers`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from flask_babel import format_date, format_time, gettext

from trustseal.book.deadlines import lima_time


def lima_day(value: datetime | date | None, format: str = "long") -> str:
    """The Lima date of a moment (a date is already Lima's), in the current locale;
    an empty string for None."""
    if value is None:
        return ""
    day = lima_time(value).date() if isinstance(value, datetime) else value
    return str(format_date(day, format))


def lima_clock(moment: datetime, format: str = "short") -> str:
    """The wall-clock time in Lima of a moment, in the current locale (``22:30``)."""
    return str(format_time(lima_time(moment), format, rebase=False))


def lima_stamp(moment: datetime) -> str:
    """Date and time in Lima, labelled with the zone (``1 de marzo de 2026 a las 22:30
    (hora de Lima)``)."""
    return gettext(
        "%(date)s at %(time)s (Lima time)", date=lima_day(moment), time=lima_clock(moment)
    )


def kind_name(kind: str) -> str:
    """The legal name of an entry's kind, in lower case for the middle of a sentence."""
    names = {
        "reclamo": gettext("reclamo"),
        "queja": gettext("queja"),
        "felicitacion": gettext("felicitación"),
    }
    return names.get(kind, kind)


def item_name(item_type: str) -> str:
    """``producto`` or ``servicio`` in the reader's language."""
    names = {"producto": gettext("Product"), "servicio": gettext("Service")}
    return names.get(item_type, item_type)


def template_helpers() -> dict[str, Callable[..., Any]]:
    """The functions the book's templates (pages and emails) format an entry with."""
    return {
        "lima_day": lima_day,
        "lima_clock": lima_clock,
        "lima_stamp": lima_stamp,
        "kind_name": kind_name,
        "item_name": item_name,
    }
