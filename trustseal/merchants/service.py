"""The merchants domain's door: create merchants, issue, check and revoke API keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, event, select

from trustseal.clock import utcnow
from trustseal.dbutil import execute_core
from trustseal.extensions import db
from trustseal.memo import TtlMemo
from trustseal.merchants.models import ApiKey, Merchant
from trustseal.tokens import hash_token, issue_token
from trustseal.validators import slugify

API_KEY_PREFIX = "tsk_"


class SlugTaken(Exception):
    """The requested slug belongs to another merchant."""


@dataclass(frozen=True)
class NewMerchant:
    """A merchant just created, with its first API key (shown once)."""

    merchant: Merchant
    api_key: str


def get_by_slug(slug: str) -> Merchant | None:
    """Return the merchant with this slug, or None."""
    return db.session.scalar(select(Merchant).where(Merchant.slug == slug))


def get(merchant_id: int) -> Merchant | None:
    """Return the merchant with this id, or None."""
    return db.session.get(Merchant, merchant_id)


def lock(merchant_id: int) -> None:
    """Lock the merchant's row until the caller's transaction ends (PostgreSQL; SQLite
    has a single writer), to serialise work other domains do for one merchant."""
    db.session.execute(select(Merchant.id).where(Merchant.id == merchant_id).with_for_update())


def _free_slug(base: str) -> str:
    taken = set(
        db.session.scalars(
            select(Merchant.slug).where((Merchant.slug == base) | Merchant.slug.like(f"{base}-%"))
        )
    )
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def create_merchant(
    *,
    name: str,
    domain: str,
    contact_email: str,
    legal_name: str | None = None,
    ruc: str | None = None,
    address: str | None = None,
    country: str = "PE",
    slug: str | None = None,
) -> NewMerchant:
    """Create a merchant and its first API key (inputs already validated).

    An explicit ``slug`` that is taken raises :class:`SlugTaken`; without one, a free
    slug is derived from the name.
    """
    if slug is not None:
        if get_by_slug(slug) is not None:
            raise SlugTaken(slug)
    else:
        slug = _free_slug(slugify(name))
    merchant = Merchant(
        slug=slug,
        name=name,
        domain=domain,
        contact_email=contact_email,
        legal_name=legal_name,
        ruc=ruc,
        address=address,
        country=country,
    )
    db.session.add(merchant)
    db.session.flush()
    return NewMerchant(merchant, issue_api_key(merchant, label="default"))


def issue_api_key(merchant: Merchant, label: str = "") -> str:
    """Create another API key for a merchant and return it (the only time it is visible)."""
    issued = issue_token(API_KEY_PREFIX)
    db.session.add(
        ApiKey(merchant=merchant, token_hash=issued.token_hash, hint=issued.hint, label=label)
    )
    db.session.flush()
    return issued.token


def revoke_api_key(merchant: Merchant, key_id: int) -> bool:
    """Revoke one of the merchant's keys; False when the merchant has no such key."""
    key = db.session.get(ApiKey, key_id)
    if key is None or key.merchant_id != merchant.id:
        return False
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    _forget_owner_on_commit(key.token_hash)
    return True


def _forget_owner_on_commit(token_hash: str) -> None:
    """Forget a key's owner now and again when the revocation commits: a request that read
    the key as live in between must not keep it remembered."""
    memo_key = (id(current_app), token_hash)
    _key_owners.forget(memo_key)
    event.listen(db.session(), "after_commit", lambda _: _key_owners.forget(memo_key), once=True)


def list_api_keys(merchant: Merchant) -> list[ApiKey]:
    """The merchant's keys, newest first (hints only, never the secret)."""
    return list(
        db.session.scalars(
            select(ApiKey).where(ApiKey.merchant_id == merchant.id).order_by(ApiKey.id.desc())
        )
    )


_KEY_OWNER = select(ApiKey.merchant_id).where(
    ApiKey.token_hash == bindparam("token_hash"), ApiKey.revoked_at.is_(None)
)


_key_owners: TtlMemo[int | None] = TtlMemo()


def clear_key_cache() -> None:
    """Forget every remembered key owner of this process."""
    _key_owners.clear()


def authenticate(token: str) -> int | None:
    """Return the id of the merchant owning this live API key, or None.

    Only the id: most requests need nothing else of the merchant. A live key's owner is
    remembered per process for ``TRUSTSEAL_API_KEY_CACHE_SECONDS`` (default 1 s), so a
    revoked key stops working everywhere within that time; the revoking process forgets it
    as soon as the revocation commits.
    """
    if not token.startswith(API_KEY_PREFIX):
        return None
    token_hash = hash_token(token)
    return _key_owners.get_or_load(
        (id(current_app), token_hash),
        float(current_app.config["TRUSTSEAL_API_KEY_CACHE_SECONDS"]),
        lambda: execute_core(_KEY_OWNER, {"token_hash": token_hash}).scalar(),
        keep=lambda owner: owner is not None,
    )


SummaryPart = Callable[[Merchant], dict[str, Any]]

# Other domains (seals, reviews) register the parts they own, so this package never
# imports them. The defaults describe a merchant with no seal decision and no reviews.
_summary_parts: dict[str, SummaryPart] = {
    "seal": lambda merchant: {"status": "none", "valid_until": None},
    "score": lambda merchant: {"score": None, "rating_count": 0},
    "complaints": lambda merchant: {"received_12m": 0, "answered_on_time_rate": None},
}


def register_summary_part(name: str, part: SummaryPart) -> None:
    """Let the domain that owns ``name`` (``seal``, ``score``, ``complaints``) fill it."""
    _summary_parts[name] = part


def summary_part(name: str, merchant: Merchant) -> dict[str, Any]:
    """One registered part of a merchant's summary (``seal``, ``score``, ``complaints``)."""
    return _summary_parts[name](merchant)


def public_summary(merchant: Merchant) -> dict[str, Any]:
    """Everything public about a merchant: identity plus the registered summary parts."""
    summary: dict[str, Any] = {
        "id": merchant.id,
        "slug": merchant.slug,
        "name": merchant.name,
        "domain": merchant.domain,
        "legal_name": merchant.legal_name,
        "ruc": merchant.ruc,
        "country": merchant.country,
        "created_at": merchant.created_at,
    }
    for name, part in _summary_parts.items():
        summary[name] = part(merchant)
    return summary


def private_summary(merchant: Merchant) -> dict[str, Any]:
    """The public summary plus contact data, for the merchant itself and staff."""
    return {
        **public_summary(merchant),
        "contact_email": merchant.contact_email,
        "address": merchant.address,
    }
