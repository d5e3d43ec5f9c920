"""Time in one place: every timestamp is an aware UTC datetime."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

LIMA = ZoneInfo("America/Lima")  # the calendar a Peruvian shop and its customers read


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime (tests may monkeypatch this)."""
    return datetime.now(UTC)


def rfc3339(value: datetime | None) -> str | None:
    """Format an aware datetime as RFC 3339 UTC with a ``Z`` suffix (seconds precision)."""
    if value is None:
        return None
    # isoformat, not strftime("%Y"): that writes the year 469 as "469", not "0469".
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def lima_date(moment: datetime) -> date:
    """The calendar day in Lima of an aware moment."""
    return moment.astimezone(LIMA).date()
