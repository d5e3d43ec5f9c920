"""Text search of reviews: one folding of text, the same on SQLite and PostgreSQL.

A review keeps its title and body folded once, when written (``reviews.search_text``):
Unicode-normalized, accents and case removed, punctuation turned into spaces. A query is
folded the same way and split into words; a review matches when every word occurs in
its folded text. So "cafe" finds "Café", "ÑANDU" finds "ñandú", and the database does
nothing but a ``LIKE`` on plain lowercase text — no collation or extension needed, and
the same answer on both databases (SQLite's ``lower()`` folds ASCII only).

A removed review matches nothing (the listing requires ``published``), and an erased one
has no folded text left. Pure: the migration that fills the column for older reviews
uses these very functions.
"""

from __future__ import annotations

import re
import unicodedata

MAX_QUERY = 100  # characters of a query
MAX_TERMS = 8  # words of a query that count
_NOT_WORD = re.compile(r"[\W_]+")


def fold(text: str) -> str:
    """``text`` compatibility-decomposed, without accents, case-folded, its punctuation
    and runs of white space turned into single spaces (``"¡Café, OK!"`` → ``"cafe ok"``)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NOT_WORD.sub(" ", bare).strip()


def search_text(title: str | None, body: str | None) -> str | None:
    """The folded text a review is searched by (title and body), or None without text."""
    folded = fold(" ".join(filter(None, (title, body))))
    return folded or None


def search_terms(query: str | None) -> list[str]:
    """The words of a query, folded, each once, at most :data:`MAX_TERMS` (empty: no
    search)."""
    if not query:
        return []
    words = fold(query[:MAX_QUERY]).split()
    return list(dict.fromkeys(words))[:MAX_TERMS]
