"""Personal data typed into a review's public text, found and masked before publication.

A shopper sometimes writes "llámenme al 987 654 321" or "mi DNI es 45678912" into a
public review. Trust rule 6 says personal data is never public, and the transparency log
commits to the published text for ever: so the reviews service masks what this module
finds *before* it stores the review and hashes its text into the log leaf, and the
receipt tells the reviewer what was hidden and why.

What is found (Peru first):

- **email addresses** (``ana.perez+compras@correo.com.pe``);
- **Peruvian mobile numbers**: nine digits starting with 9, together or grouped 3-3-3
  with spaces or dashes (``987654321``, ``987 654 321``, ``987-654-321``), with an
  optional country code (``+51``, ``51``, ``(+51)``);
- **DNI numbers**: eight digits standing alone (``45678912``, ``DNI: 45678912``,
  ``N° 45678912``, ``DNI45678912``), with the card's check character if written
  (``45678912-3``).

What is deliberately not, and why:

- eight digits inside a longer number or code: ``123456789012``, ``ORD-45678912``,
  ``A45678912``, ``45678912-34``, ``/pedidos/45678912``: an order or tracking number or a
  path, not a DNI; likewise digits one space or dash away from a short group of digits
  (``1 45678912``, ``912 345 678 9``, ``4557 8800 1234 5678``): long numbers are written
  in groups of up to four. Two long numbers side by side (``987654321 45678912``) are two
  numbers, and both are masked;
- a number with decimals (``45678912.50``, ``45678912,50``): an amount;
- a reference written with ``#`` (``pedido #45678912``): the order number, which the
  merchant knows already and which identifies nobody to the public;
- fixed lines (``(01) 234-5678``): rarely a shopper's own, usually the shop's number;
- addresses spelled out in words (``ana arroba gmail punto com``).

Prices: ``S/ 45678912`` (eight bare digits after the sol sign) *is* masked. No shop sells
at twelve million soles written without separators, while a DNI typed after "S/" by
mistake would leak; hiding a number wrongly costs the reader little, leaking one costs the
writer a lot. Real prices (``S/ 1,299.90``, ``S/ 45.50``) never have eight bare digits.

The mask is the fixed, language-neutral :data:`MASK` — never a translated phrase: the
stored text is what the log commits to and what every reader sees, in any language, so it
must not depend on the language of the request that wrote it. The pages explain the mark
in the reader's language. This module is pure (standard library only) so that its golden
examples pin its behaviour.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

MASK = "[•••]"


class Kind(StrEnum):
    """The kinds of personal data found, in the order they are looked for."""

    EMAIL = "email"
    PHONE = "phone"
    DNI = "dni"


@dataclass(frozen=True)
class Finding:
    """One piece of personal data: its kind and where it is (``text[start:end]``)."""

    kind: Kind
    start: int
    end: int


@dataclass(frozen=True)
class Masked:
    """A text with its personal data replaced by :data:`MASK`, and the kinds replaced."""

    text: str
    kinds: frozenset[Kind]


_SPACE = "[ \u00a0]"  # a space or a no-break space (pasted from a phone's contacts)
_SEP = f"(?:{_SPACE}?-{_SPACE}?|{_SPACE})?"  # "", " ", "-", " - "

_EMAIL = re.compile(
    r"(?<![\w.+-])"  # not the tail of a longer token
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}"
    r"(?![\w-])"
)
_PHONE = re.compile(
    r"(?<![\w+])"  # not glued to a code
    rf"(?:(?:\(\+?51\)|\+?51){_SEP})?"
    rf"9\d\d{_SEP}\d{{3}}{_SEP}\d{{3}}"
    r"(?!\w)",
    re.ASCII,
)
_DNI = re.compile(
    r"(?:(?<=[Dd][Nn][Ii])|(?<=[Dd][Nn][Ii][.\-])"  # glued to its name: "DNI45678912"
    r"|(?<![\w#.,\-])"  # else not glued to a code, an amount or a "#" reference,
    r"(?<![^Ss]/)(?<!\w[Ss]/))"  # and "/" only in the sol sign "S/" (else a path, a date)
    r"\d{8}"
    rf"(?:{_SPACE}?-{_SPACE}?[0-9A-Ka-k](?![\w\-]))?"  # the card's check character
    r"(?!\w)(?![.,]\d)",  # not the start of a longer code or of a decimal amount
    re.ASCII,
)
_PATTERNS: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    (Kind.EMAIL, _EMAIL),
    (Kind.PHONE, _PHONE),
    (Kind.DNI, _DNI),
)
# A short group of digits (1 to 4, as long numbers are written: "4557 8800 1234 5678",
# "912 345 678 9") one space or dash away: the candidate is part of a longer number.
_GROUP_BEFORE = re.compile(r"(?<!\d)\d{1,4}[ \u00a0-]$", re.ASCII)
_GROUP_AFTER = re.compile(r"[ \u00a0-]\d{1,4}(?!\d)", re.ASCII)


def _inside_a_longer_number(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is a group of a number written in groups."""
    return bool(
        _GROUP_BEFORE.search(text, max(0, start - 6), start)
        or _GROUP_AFTER.match(text, end, end + 6)
    )


def find(text: str) -> list[Finding]:
    """Every piece of personal data in ``text``, in reading order, never overlapping.

    Emails are looked for first (an address may hold digits), then mobile numbers, then
    DNIs: a later kind never claims characters an earlier one took.
    """
    found: list[Finding] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            start, end = match.span()
            if kind is not Kind.EMAIL and _inside_a_longer_number(text, start, end):
                continue
            if all(end <= other.start or start >= other.end for other in found):
                found.append(Finding(kind, start, end))
    return sorted(found, key=lambda finding: finding.start)


def mask(text: str) -> Masked:
    """``text`` with each piece of personal data replaced by :data:`MASK`."""
    findings = find(text)
    if not findings:
        return Masked(text, frozenset())
    parts: list[str] = []
    position = 0
    for finding in findings:
        parts += [text[position : finding.start], MASK]
        position = finding.end
    parts.append(text[position:])
    return Masked("".join(parts), frozenset(finding.kind for finding in findings))


def in_order(kinds: frozenset[Kind] | set[Kind]) -> list[str]:
    """The kinds' names in a stable order (email, phone, dni), for answers and pages."""
    return [kind.value for kind in Kind if kind in kinds]
