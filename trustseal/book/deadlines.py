"""Business days in Peru: weekends and national holidays (the ``holidays`` package)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays

LIMA = ZoneInfo("America/Lima")
ANSWER_BUSINESS_DAYS = 15


@cache
def _peru(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("PE", years=year)


def is_business_day(day: date) -> bool:
    """Monday to Friday and not a Peruvian national holiday."""
    return day.weekday() < 5 and day not in _peru(day.year)


def lima_time(moment: datetime) -> datetime:
    """The date and wall-clock time in Lima of an aware moment (aware, in America/Lima).

    Every date and time a Hoja de Reclamación shows — its pages, emails, PDF copy and the
    merchant's register — comes from here: the law counts in Lima's calendar, whatever
    the server's or the reader's time zone.
    """
    return moment.astimezone(LIMA)


def lima_date(moment: datetime) -> date:
    """The calendar date in Lima of an aware moment."""
    return lima_time(moment).date()


def add_business_days(start: date, days: int) -> date:
    """The ``days``-th business day counted from the day after ``start``."""
    day, counted = start, 0
    while counted < days:
        day += timedelta(days=1)
        if is_business_day(day):
            counted += 1
    return day


def due_date(filed_at: datetime) -> date:
    """The answer deadline: 15th business day counted from the day after filing (Lima)."""
    return add_business_days(lima_date(filed_at), ANSWER_BUSINESS_DAYS)


def day_after(due: date) -> datetime:
    """Midnight in Lima at the end of the deadline day: from then on the complaint is
    overdue if unanswered."""
    after = due + timedelta(days=1)
    return datetime(after.year, after.month, after.day, tzinfo=LIMA)


def reminder_moment(filed_at: datetime, business_day: int) -> datetime:
    """9:00 in Lima of the given business day after filing (for reminder jobs)."""
    day = add_business_days(lima_date(filed_at), business_day)
    return datetime(day.year, day.month, day.day, 9, 0, tzinfo=LIMA)


def business_days_between(start: date, end: date) -> int:
    """Business days after ``start`` up to ``end`` included (negative when ``end`` is
    before ``start``): on the day a deadline falls, 0 are left; the day after it, 1 late."""
    if end < start:
        return -business_days_between(end, start)
    day, counted = start, 0
    while day < end:
        day += timedelta(days=1)
        if is_business_day(day):
            counted += 1
    return counted
