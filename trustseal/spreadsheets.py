"""Cells of the CSV files the service hands out for spreadsheets (the book's register,
the merchant's reviews): one rule, so no export forgets it."""

from __future__ import annotations

# A spreadsheet runs a cell starting with one of these as a formula ("CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run as a formula: a text starting with ``=``,
    ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'``; None is empty."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text
