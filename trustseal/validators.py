"""Validation of Peruvian identifiers and web names, shared by every domain.

The ``*_PATTERN`` constants are written in the regular-expression syntax common to Python
and ECMA 262, so the same text checks input here and is published as the OpenAPI
``pattern`` of the fields that take it.
"""

from __future__ import annotations

import re
import unicodedata

RUC_WEIGHTS = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
RUC_PATTERN = r"^(?:10|15|16|17|20)[0-9]{9}$"
DNI_PATTERN = r"^[0-9]{8}$"
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
# A host name with at least two labels, the last one starting with a letter (ASCII form).
# Its length (at most 253) is checked apart, as the schemas' maxLength: a lookahead here
# says the same and makes every generator of matching strings (the API fuzzing) very slow.
HOSTNAME_MAX_LENGTH = 253
HOSTNAME_PATTERN = (
    r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$"
)
_RUC = re.compile(RUC_PATTERN)
_DNI = re.compile(DNI_PATTERN)
_SLUG = re.compile(SLUG_PATTERN)
_HOSTNAME = re.compile(HOSTNAME_PATTERN)


def ruc_is_valid(ruc: str) -> bool:
    """True for an 11-digit RUC with a known prefix and a correct SUNAT check digit."""
    if not _RUC.fullmatch(ruc):
        return False
    total = sum(int(d) * w for d, w in zip(ruc[:10], RUC_WEIGHTS, strict=True))
    check = 11 - total % 11
    check = {10: 0, 11: 1}.get(check, check)
    return check == int(ruc[10])


def dni_is_valid(dni: str) -> bool:
    """True for a DNI: exactly 8 ASCII digits."""
    return bool(_DNI.fullmatch(dni))


def normalize_domain(value: str) -> str | None:
    """Lower-case a bare host name (``shop.pe``); None when it is not one.

    A scheme, path or port is not accepted: the merchant's domain is a host name.
    """
    host = value.strip().lower().rstrip(".")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    if len(host) > HOSTNAME_MAX_LENGTH or not _HOSTNAME.fullmatch(host):
        return None
    return host


def slug_is_valid(slug: str) -> bool:
    """True for a URL slug: lower-case ASCII letters, digits and inner hyphens, ≤ 64."""
    return bool(_SLUG.fullmatch(slug))


def slugify(text: str) -> str:
    """Turn a name into a slug candidate (``Librería Ñandú S.A.C.`` → ``libreria-nandu-s-a-c``)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:64].strip("-") or "merchant"
