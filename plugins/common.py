"""Small helpers shared by the platform plugins (signatures, dates, names)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, date, datetime

from trustseal.platforms import BadPayload, ShippingData, SignatureInvalid, language_code


def check_hmac_base64(secret: str, body: bytes, claimed: str | None) -> None:
    """Raise :class:`SignatureInvalid` unless ``claimed`` is base64 HMAC-SHA256 of the raw
    body keyed with ``secret`` (compared in constant time)."""
    if not claimed:
        raise SignatureInvalid("missing signature")
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    if not hmac.compare_digest(expected, claimed.strip().encode("ascii", "replace")):
        raise SignatureInvalid("signature mismatch")


def parse_time(value: object, *, naive_is_utc: bool = True) -> datetime | None:
    """An ISO 8601 time from a payload as aware UTC (None when absent)."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise BadPayload(f"not a time: {value!r}")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadPayload(f"not a time: {value!r}") from exc
    if moment.tzinfo is None:
        if not naive_is_utc:
            raise BadPayload(f"time without zone: {value!r}")
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def full_name(first: object, last: object) -> str | None:
    """``first last`` from two optional payload fields."""
    name = " ".join(str(part).strip() for part in (first, last) if part)
    return name or None


def locale_of(value: object) -> str | None:
    """The language code (``es``, ``en``, ``pt``) of a platform locale such as ``es-PE``,
    ``en_US`` or ``pt-BR``; None when the platform gives none, or one trustseal does not
    speak (the store's language, else the merchant's, then applies)."""
    return language_code(value)


def text_id(value: object) -> str:
    """An id as exact text (ids over 2^53 arrive as JSON integers; never a float)."""
    if isinstance(value, (bool, float)) or value in (None, ""):
        raise BadPayload(f"not an id: {value!r}")
    return str(value)


def shipping(
    carrier: object = None,
    tracking_url: object = None,
    promised_by: date | None = None,
    shipped_at: datetime | None = None,
) -> ShippingData | None:
    """A shipment from a platform's values, kept only when usable: a carrier name (cut to
    100 characters), a tracking page on https (at most 2000); None when nothing is left."""
    name = str(carrier).strip()[:100] if isinstance(carrier, str) and carrier.strip() else None
    url = tracking_url if isinstance(tracking_url, str) else None
    if url is not None and (not url.startswith("https://") or len(url) > 2000):
        url = None
    found = ShippingData(name, url, promised_by, shipped_at)
    return found if (name or url or promised_by or shipped_at) else None
