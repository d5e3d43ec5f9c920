"""The merchants domain's door: create merchants, issue, check and revoke API keys, and
verify that a merchant controls its domain.

A merchant that signs up itself is not public (profile, book, badge, merchant JSON: 404
as for an unknown slug) until it proves it controls its domain — a DNS TXT record or a
file on its web site — or until staff verify it with a reason. Merchants created by
staff are verified from the start. Visibility is decided here alone: :data:`PUBLIC` (an
SQL condition), :func:`is_public` and :func:`get_public`.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, bindparam, case, event, or_, select, update
from sqlalchemy.exc import IntegrityError

from trustseal import countries, netguard
from trustseal.clock import utcnow
from trustseal.dbutil import execute_core
from trustseal.extensions import db
from trustseal.mail import service as mail
from trustseal.memo import TtlMemo
from trustseal.merchants.models import ApiKey, Merchant
from trustseal.ratelimits import quota
from trustseal.staff import service as staff_service
from trustseal.tokens import hash_token, issue_token
from trustseal.transparency import service as log
from trustseal.validators import slugify

API_KEY_PREFIX = "tsk_"
PENDING, VERIFIED = "pending", "verified"
# How a merchant's country is known (``Merchant.country_source``), besides a platform name.
DEFAULT_COUNTRY, DECLARED = "default", "declared"
# The SQL condition of a merchant anyone may see (for queries that must not cost a
# second round trip, such as the badge's fingerprint).
PUBLIC = Merchant.domain_status == VERIFIED


class SlugTaken(Exception):
    """The requested slug belongs to another merchant."""


class RucTaken(Exception):
    """Another merchant is registered with this RUC (a RUC identifies one merchant)."""


@dataclass(frozen=True)
class NewMerchant:
    """A merchant just created, with its first API key (shown once)."""

    merchant: Merchant
    api_key: str


def get_by_slug(slug: str) -> Merchant | None:
    """Return the merchant with this slug, or None — public or not (for the merchant
    itself and staff; public pages use :func:`get_public`)."""
    return db.session.scalar(select(Merchant).where(Merchant.slug == slug))


def bump_public_version(merchant_id: int) -> None:
    """Say, in the caller's transaction, that what the merchant's badge shows changed."""
    db.session.execute(
        update(Merchant)
        .where(Merchant.id == merchant_id)
        .values(public_version=Merchant.public_version + 1)
        .execution_options(synchronize_session=False)
    )


def version_query() -> Select[int, int]:
    """The id and ``public_version`` of the public merchant whose slug is the ``slug``
    bind parameter (a statement other domains add their columns to: the badge's key)."""
    return select(Merchant.id, Merchant.public_version).where(
        Merchant.slug == bindparam("slug"), PUBLIC
    )


def identity_query() -> Select[int, int, str]:
    """The id, ``public_version`` and domain of the public merchant whose slug is the
    ``slug`` bind parameter: what the answers of an embedded widget depend on (its numbers,
    and the one site allowed to frame it)."""
    return select(Merchant.id, Merchant.public_version, Merchant.domain).where(
        Merchant.slug == bindparam("slug"), PUBLIC
    )


def all_merchants() -> list[Merchant]:
    """Every merchant, by id."""
    return list(db.session.scalars(select(Merchant).order_by(Merchant.id)))


def all_slugs() -> list[str]:
    """Every merchant's slug, public or not, sorted."""
    return list(db.session.scalars(select(Merchant.slug).order_by(Merchant.slug)))


def get_public(slug: str) -> Merchant | None:
    """Return the merchant with this slug if anyone may see it (its domain is verified),
    else None — exactly as for an unknown slug."""
    return db.session.scalar(select(Merchant).where(Merchant.slug == slug, PUBLIC))


def is_public(merchant: Merchant) -> bool:
    """Whether anyone may see the merchant (profile, book, badge, API)."""
    return merchant.domain_status == VERIFIED


def ruc_taken(ruc: str, but: int | None = None) -> bool:
    """Whether a verified merchant (other than ``but``) holds this RUC. A sign-up that has
    not proved its domain holds none: it cannot keep the real shop out."""
    stmt = select(Merchant.id).where(Merchant.ruc == ruc, Merchant.domain_status == VERIFIED)
    if but is not None:
        stmt = stmt.where(Merchant.id != but)
    return db.session.scalar(stmt.limit(1)) is not None


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


# What a shop sells, as it declares it: its analytics compare it with its sector's
# certified shops once there are enough of them.
SECTORS = (
    "fashion",
    "electronics",
    "home",
    "food",
    "beauty",
    "health",
    "sports",
    "toys",
    "books",
    "services",
    "other",
)


def create_merchant(
    *,
    name: str,
    domain: str,
    contact_email: str,
    legal_name: str | None = None,
    ruc: str | None = None,
    address: str | None = None,
    country: str | None = None,
    sector: str | None = None,
    slug: str | None = None,
    signed_up: bool = False,
) -> NewMerchant:
    """Create a merchant and its first API key (inputs already validated).

    A ``country`` given is declared (no platform account changes it later); without one
    the merchant is in Peru by default, until a platform account says otherwise
    (:func:`learn_country`).

    An explicit ``slug`` that is taken raises :class:`SlugTaken`; without one, a free
    slug is derived from the name. A RUC another merchant has raises :class:`RucTaken`
    (also when another request registers it at the same moment: then the caller's
    transaction has failed and must be rolled back).

    A merchant created by staff is verified (``domain_method="created"``). One that
    ``signed_up`` itself stays private until it proves its domain (:func:`check_domain`),
    and every admin and certifier is emailed about it.
    """
    if slug is not None:
        if get_by_slug(slug) is not None:
            raise SlugTaken(slug)
    else:
        slug = _free_slug(slugify(name))
    if ruc is not None and ruc_taken(ruc):
        raise RucTaken(ruc)
    merchant = Merchant(
        slug=slug,
        name=name,
        domain=domain,
        contact_email=contact_email,
        legal_name=legal_name,
        ruc=ruc,
        address=address,
        country=country or countries.PERU,
        country_source=DECLARED if country else DEFAULT_COUNTRY,
        sector=sector,
        domain_status=PENDING if signed_up else VERIFIED,
        domain_token=secrets.token_urlsafe(24),
        domain_method=None if signed_up else "created",
        domain_verified_at=None if signed_up else utcnow(),
    )
    db.session.add(merchant)
    try:
        db.session.flush()
    except IntegrityError as error:  # another request took the slug or the RUC meanwhile
        raise _conflict(error, slug, ruc) from error
    if signed_up:
        _tell_staff_of_signup(merchant)
    return NewMerchant(merchant, issue_api_key(merchant, label="default"))


def _conflict(error: IntegrityError, slug: str, ruc: str | None) -> Exception:
    """The domain error for a unique constraint another request won (else ``error``)."""
    text = str(error.orig).lower()
    if ruc is not None and "ruc" in text:
        return RucTaken(ruc)
    if "slug" in text:
        return SlugTaken(slug)
    return error


def _base_url() -> str:
    return str(current_app.config["TRUSTSEAL_BASE_URL"])


def _tell_staff_of_signup(merchant: Merchant) -> None:
    """Email every admin and certifier that a shop signed up (in the caller's transaction)."""
    message = mail.render(
        "merchant_signup",
        "es",
        merchant=merchant,
        console_url=f"{_base_url()}/console/m/{merchant.slug}",
    )
    for email in staff_service.notification_emails():
        mail.queue(email, message, "es")


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
SUMMARY_PARTS = "trustseal.summary_parts"  # app.extensions key

# The app factory says which domain fills which part (:func:`wire_summary_parts`), so this
# package never imports them. The defaults describe a merchant with no seal decision and
# no reviews.
_DEFAULT_PARTS: dict[str, SummaryPart] = {
    "seal": lambda merchant: {"status": "none", "valid_until": None},
    "score": lambda merchant: {"score": None, "rating_count": 0},
    "complaints": lambda merchant: {
        "received_12m": 0,
        "reclamos_12m": 0,
        "quejas_12m": 0,
        "answered_on_time_rate": None,
    },
}


def wire_summary_parts(app: Flask, parts: Mapping[str, SummaryPart]) -> None:
    """Composition, in the app factory: the function of the domain that owns each part of
    a merchant's summary (``seal``, ``score``, ``complaints``)."""
    app.extensions[SUMMARY_PARTS] = {**_DEFAULT_PARTS, **parts}


def _summary_parts() -> Mapping[str, SummaryPart]:
    return current_app.extensions.get(SUMMARY_PARTS, _DEFAULT_PARTS)


def summary_part(name: str, merchant: Merchant) -> dict[str, Any]:
    """One part of a merchant's summary (``seal``, ``score``, ``complaints``)."""
    return _summary_parts()[name](merchant)


def language(merchant: Merchant) -> str:
    """The language code trustseal writes to a merchant in (its emails, its badge
    snippets) and to its customers when nobody chose one: Portuguese for a shop in
    Brazil, else Spanish (:func:`trustseal.countries.language_of`)."""
    return countries.language_of(merchant.country)


def learn_country(merchant: Merchant, country: str, source: str) -> bool:
    """A platform account (``source``: the platform's name) says where the merchant sells:
    its country becomes ``country`` unless the merchant's was declared (staff or the
    merchant gave it; a Peruvian shop that also sells in Brazil keeps its Libro de
    Reclamaciones). True when the country changed. In the caller's transaction."""
    if merchant.country_source == DECLARED or not countries.is_country(country):
        return False
    changed = merchant.country != country
    merchant.country, merchant.country_source = country, source
    return changed


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
        "sector": merchant.sector,
        "created_at": merchant.created_at,
        "domain_verified": is_public(merchant),
        "complaints_book": countries.has_complaints_book(merchant.country),
    }
    for name, part in _summary_parts().items():
        summary[name] = part(merchant)
    return summary


def private_summary(merchant: Merchant) -> dict[str, Any]:
    """The public summary plus contact data, for the merchant itself and staff."""
    return {
        **public_summary(merchant),
        "contact_email": merchant.contact_email,
        "address": merchant.address,
    }


# --- Verified domains -----------------------------------------------------------------

DNS_LABEL = "_trustseal"
PROOF_PREFIX = "trustseal-verification="
FILE_PATH = "/.well-known/trustseal.txt"
FILE_MAX_BYTES = 1024
# How a domain was verified, in words (translated when the email is rendered).
METHOD_WORDS = {
    "created": _l("by the certifier's staff"),
    "dns": _l("by its DNS TXT record"),
    "http": _l("by the verification file on its web site"),
    "staff": _l("by the certifier's staff"),
}

TxtLookup = Callable[[str, float], list[str]]


class DnsLookupFailed(Exception):
    """A TXT lookup that got no usable answer: ``problem`` is ``no_name`` (the name does
    not exist) or ``lookup_failed`` (timeout, servers failing); ``detail`` says more."""

    def __init__(self, problem: str, detail: str) -> None:
        super().__init__(detail)
        self.problem = problem
        self.detail = detail


@dataclass(frozen=True)
class Finding:
    """What one verification method looked for and what it found instead.

    ``problem``: ``no_name``, ``no_record``, ``mismatch``, ``lookup_failed`` (DNS);
    ``refused``, ``unreachable``, ``status``, ``mismatch`` (file). ``detail`` is
    technical (English): the values, status or error found.
    """

    method: str  # dns | http
    problem: str
    where: str  # the DNS name or the URL looked at
    expected: str
    detail: str

    @property
    def message(self) -> str:
        """One English sentence: what was looked for, where, and what was found."""
        if self.method == "dns":
            looked = f"Looked for a TXT record at {self.where} saying {self.expected}"
        else:
            looked = f"Looked for the file {self.where} containing {self.expected}"
        return f"{looked}; {self.detail}."


class DomainNotProven(Exception):
    """No method proved the domain; ``findings`` say what each looked for and found."""

    def __init__(self, findings: list[Finding]) -> None:
        super().__init__(" ".join(f.message for f in findings))
        self.findings = findings


class DomainCheckLimited(Exception):
    """Too many domain checks for this merchant; ``retry_after`` seconds to wait."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many domain checks; try again in {retry_after} s.")
        self.retry_after = retry_after


def proof_text(merchant: Merchant) -> str | None:
    """What the DNS record or the file must say (None for a merchant with no token: one
    verified before tokens existed)."""
    return f"{PROOF_PREFIX}{merchant.domain_token}" if merchant.domain_token else None


def dns_name(domain: str) -> str:
    """The DNS name whose TXT record proves ``domain``."""
    return f"{DNS_LABEL}.{domain}"


def file_url(domain: str) -> str:
    """The address of the file that proves ``domain``."""
    return f"https://{domain}{FILE_PATH}"


def domain_state(merchant: Merchant) -> dict[str, Any]:
    """The merchant's domain, its status, and the two ways to prove it: a TXT record
    (``dns_txt: {name, value}``) and a file (``http_file: {url, content}``)."""
    proof = proof_text(merchant)
    return {
        "domain": merchant.domain,
        "status": merchant.domain_status,
        "method": merchant.domain_method,
        "verified_at": merchant.domain_verified_at,
        "reason": merchant.domain_reason,
        "dns_txt": {"name": dns_name(merchant.domain), "value": proof} if proof else None,
        "http_file": {"url": file_url(merchant.domain), "content": proof} if proof else None,
    }


def lookup_txt(name: str, timeout: float) -> list[str]:
    """The TXT records of ``name`` (each one's strings joined), through dnspython and the
    system's resolvers; [] when the name has none. Raises :class:`DnsLookupFailed`.
    Tests replace this hook (never real DNS in tests)."""
    import dns.exception
    import dns.resolver

    try:
        resolver = dns.resolver.Resolver()
        resolver.timeout = resolver.lifetime = timeout
        answer = resolver.resolve(name, "TXT", search=False)
    except dns.resolver.NXDOMAIN as error:
        raise DnsLookupFailed("no_name", "the name does not exist") from error
    except dns.resolver.NoAnswer:
        return []
    except dns.exception.Timeout as error:
        raise DnsLookupFailed("lookup_failed", f"no answer within {timeout:g} s") from error
    except (dns.exception.DNSException, OSError) as error:
        raise DnsLookupFailed("lookup_failed", f"the lookup failed: {error}") from error
    return [b"".join(record.strings).decode("utf-8", "replace") for record in answer]


def _shown(text: str, limit: int = 80) -> str:
    """A found value as it may be shown back: printable, short, quoted."""
    clean = "".join(c if c.isprintable() else "?" for c in text.strip())
    return repr(clean if len(clean) <= limit else clean[: limit - 1] + "…")


def _timeout() -> float:
    return float(current_app.config["TRUSTSEAL_DOMAIN_CHECK_TIMEOUT_SECONDS"])


def _dns_finding(domain: str, proof: str, txt_lookup: TxtLookup | None) -> Finding | None:
    """None when ``_trustseal.<domain>`` has a TXT record saying ``proof``."""
    name = dns_name(domain)
    try:
        values = (txt_lookup or lookup_txt)(name, _timeout())
    except DnsLookupFailed as failed:
        detail = "found no such name" if failed.problem == "no_name" else failed.detail
        return Finding("dns", failed.problem, name, proof, detail)
    if any(value.strip() == proof for value in values):
        return None
    if not values:
        return Finding("dns", "no_record", name, proof, "the name has no TXT record")
    found = ", ".join(_shown(v) for v in values[:3]) + (" …" if len(values) > 3 else "")
    return Finding("dns", "mismatch", name, proof, f"found only {found}")


def _file_finding(
    domain: str,
    proof: str,
    resolver: netguard.Resolver | None,
    connector: netguard.Connector | None,
) -> Finding | None:
    """None when the file at ``https://<domain>/.well-known/trustseal.txt`` contains
    ``proof``. Fetched through the guard: public addresses only, every redirect to a public
    https address, at most 1 KB, within the check's timeout. With the test setting
    ``SITE_CHECK_ALLOW_PRIVATE`` the file is asked for over plain http (allowed only to a
    loopback address: the tests' server)."""
    url = file_url(domain)
    allow_private = bool(current_app.config["TRUSTSEAL_SITE_CHECK_ALLOW_PRIVATE"])
    target = "http" + url.removeprefix("https") if allow_private else url
    timeout = _timeout()
    fetched = netguard.fetch(
        target,
        max_bytes=FILE_MAX_BYTES,
        timeout=timeout,
        deadline=timeout,
        allow_private=allow_private,
        resolver=resolver,
        connector=connector,
        https_only=True,
        headers={"User-Agent": "trustseal-domain-check/1", "Accept": "text/plain"},
    )
    if fetched.error:
        problem = "refused" if fetched.failure == "refused" else "unreachable"
        verb = "it was not fetched" if problem == "refused" else "it could not be loaded"
        return Finding("http", problem, url, proof, f"{verb}: {fetched.error}")
    if fetched.status != 200:
        return Finding("http", "status", url, proof, f"the server answered HTTP {fetched.status}")
    text = fetched.body.decode("utf-8", "replace")
    # A line of the file says exactly that (a page merely quoting it in a sentence does not).
    if proof in (line.strip() for line in text.splitlines()):
        return None
    found = _shown(text) if text.strip() else "an empty file"
    return Finding("http", "mismatch", url, proof, f"the file does not say it; it holds {found}")


def _prove(
    merchant: Merchant,
    methods: tuple[str, ...],
    txt_lookup: TxtLookup | None,
    resolver: netguard.Resolver | None,
    connector: netguard.Connector | None,
) -> str:
    """Try ``methods`` in order (``dns``, ``http``) and record the first that proves the
    domain; return it. Raises :class:`DomainNotProven` with every finding.

    No transaction is held while DNS and the merchant's server answer: the caller's ends
    here (call it with nothing pending), and the verification is recorded in a new one
    (the caller commits).
    """
    if is_public(merchant):
        return merchant.domain_method or "created"
    merchant_id, domain, proof = merchant.id, merchant.domain, proof_text(merchant)
    if proof is None:  # only merchants verified before tokens existed lack one
        raise DomainNotProven([])
    db.session.rollback()
    findings: list[Finding] = []
    for method in methods:
        if method == "dns":
            finding = _dns_finding(domain, proof, txt_lookup)
        else:
            finding = _file_finding(domain, proof, resolver, connector)
        if finding is None:
            _record_proof(merchant_id, domain, proof, method)
            return method
        findings.append(finding)
    raise DomainNotProven(findings)


def _record_proof(merchant_id: int, domain: str, proof: str, method: str) -> None:
    """Record a proof found for ``domain`` and ``proof``, unless the merchant changed
    meanwhile (another check verified it, or its domain or token changed)."""
    lock(merchant_id)
    merchant = get(merchant_id)
    if merchant is None or is_public(merchant):
        return
    if merchant.domain == domain and proof_text(merchant) == proof:
        _record_verification(merchant, method, None)


def _record_verification(merchant: Merchant, method: str, reason: str | None) -> None:
    """Make the merchant public: record how and when, log it, and tell the merchant.

    Raises :class:`RucTaken` if a verified merchant holds its RUC meanwhile (staff must
    sort it out: the domain proof alone does not give a RUC)."""
    if merchant.ruc is not None and ruc_taken(merchant.ruc, but=merchant.id):
        raise RucTaken(merchant.ruc)
    merchant.domain_status = VERIFIED
    merchant.domain_method = method
    merchant.domain_verified_at = utcnow()
    merchant.domain_reason = reason
    bump_public_version(merchant.id)
    log.append(
        log.Event("merchant.domain_verified", merchant=merchant.slug, data={"method": method})
    )
    message = mail.render(
        "domain_verified",
        language(merchant),
        merchant=merchant,
        method_words=METHOD_WORDS[method],
        profile_url=f"{_base_url()}/m/{merchant.slug}",
    )
    mail.queue(merchant.contact_email, message, language(merchant))


def verify_by_dns(merchant: Merchant, *, txt_lookup: TxtLookup | None = None) -> str:
    """Verify the domain by its TXT record ``_trustseal.<domain>`` =
    ``trustseal-verification=<token>`` (dnspython, with the configured timeout;
    ``txt_lookup`` replaces :func:`lookup_txt`). Returns the method that verified it
    (``dns``, or the earlier one if it was verified already); raises
    :class:`DomainNotProven`. Ends the caller's transaction first (see :func:`_prove`).
    """
    return _prove(merchant, ("dns",), txt_lookup, None, None)


def verify_by_file(
    merchant: Merchant,
    *,
    resolver: netguard.Resolver | None = None,
    connector: netguard.Connector | None = None,
) -> str:
    """Verify the domain by the file ``https://<domain>/.well-known/trustseal.txt``
    containing the token, fetched through :mod:`trustseal.netguard` (``resolver`` and
    ``connector`` replace its hooks). Returns the method (``http``, or the earlier one if
    verified already); raises :class:`DomainNotProven`. Ends the caller's transaction
    first (see :func:`_prove`).
    """
    return _prove(merchant, ("http",), None, resolver, connector)


def check_domain(
    merchant: Merchant,
    *,
    txt_lookup: TxtLookup | None = None,
    resolver: netguard.Resolver | None = None,
    connector: netguard.Connector | None = None,
) -> str:
    """What the merchant's "check" button does: the DNS record, then the file. Returns
    the method that verified the domain; raises :class:`DomainNotProven` with what each
    looked for and found, or :class:`DomainCheckLimited` beyond
    ``TRUSTSEAL_RATELIMIT_DOMAIN_CHECK`` for this merchant (the shared limiter storage).
    Ends the caller's transaction first (see :func:`_prove`); the caller commits.
    """
    if is_public(merchant):
        return merchant.domain_method or "created"
    limits = current_app.config["TRUSTSEAL_RATELIMIT_DOMAIN_CHECK"]
    wait = quota.charge(limits, "domain-check", str(merchant.id))
    if wait is not None:
        raise DomainCheckLimited(wait)
    return _prove(merchant, ("dns", "http"), txt_lookup, resolver, connector)


def verify_by_staff(merchant: Merchant, reason: str) -> bool:
    """Staff verify the domain, for ``reason`` (not blank: say how control was checked).

    False when it was verified already (nothing changes), True when this made it public.
    In the caller's transaction.
    """
    reason = reason.strip()
    if not reason:
        raise ValueError("a reason is required")
    lock(merchant.id)
    db.session.refresh(merchant)
    if is_public(merchant):
        return False
    _record_verification(merchant, "staff", reason)
    return True


# --- Finding a shop (the shopper's search) ------------------------------------------

SEARCH_MAX_QUERY = 200  # characters of a query that are read
SEARCH_MAX_WORDS = 8
# The letters a shopper may type without their accent: each matches all its variants, in
# both cases, through a regular expression both SQLite (SQLAlchemy's REGEXP function) and
# PostgreSQL (``~``) run the same way — neither folds accents, and SQLite's lower() and
# LIKE know only ASCII letters.
_LETTER_VARIANTS = {
    "a": "aáàâäãå",
    "e": "eéèêë",
    "i": "iíìîï",
    "o": "oóòôöõø",
    "u": "uúùûü",
    "n": "nñ",
    "c": "cç",
    "y": "yýÿ",
}
_HOST_CHARS = re.compile(r"[a-z0-9.-]+")


@dataclass(frozen=True)
class ShopSearch:
    """The public merchants a query found, best first (at most the limit asked), and
    whether more matched."""

    merchants: list[Merchant]
    more: bool


def fold(text: str) -> str:
    """``text`` in lower case without accents (``Ñandú`` → ``nandu``)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _word_pattern(word: str) -> str:
    """A regular expression (the syntax common to Python and PostgreSQL) matching a folded
    word in a name whatever its case and accents."""
    parts = []
    for char in word:
        variants = _LETTER_VARIANTS.get(char)
        if variants:
            parts.append(f"[{variants}{variants.upper()}]")
        elif char.isalpha() and len(char.upper()) == 1 and char.upper() != char:
            parts.append(f"[{char}{char.upper()}]")
        elif char.isalnum():
            parts.append(char)
        else:  # a backslash before any other character makes it literal in both syntaxes
            parts.append("\\" + char)
    return "".join(parts)


def search_host(query: str) -> str | None:
    """The web address a query may name, as merchants' domains are stored: lower case,
    ASCII (IDNA), without scheme, ``www.``, port or path (``https://www.Bodega.pe/x`` →
    ``bodega.pe``); None when the query cannot be one (it has spaces, for instance)."""
    text = query.strip().lower()
    if not text or any(c.isspace() for c in text):
        return None
    try:
        host = urlsplit(text if "://" in text else f"//{text}").hostname
        host = (host or "").rstrip(".").encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        return None
    host = host.removeprefix("www.")
    return host if host and _HOST_CHARS.fullmatch(host) else None


def search_public(query: str, limit: int = 20) -> ShopSearch:
    """Public merchants whose name contains every word of ``query`` (ignoring case and
    accents) or whose domain contains the web address it names (a scheme, ``www.`` or a
    path typed with it are ignored). Best first: the exact domain, then names that start
    with the first word, then by name. At most ``limit``; an empty query finds nothing.
    Merchants that are not public (see :data:`PUBLIC`) are never found."""
    text = query.strip()[:SEARCH_MAX_QUERY]
    words = fold(text).split()[:SEARCH_MAX_WORDS]
    if not words:
        return ShopSearch([], False)
    patterns = [_word_pattern(word) for word in words]
    matches = [and_(*(Merchant.name.regexp_match(p) for p in patterns))]
    ranks: list[tuple[Any, int]] = [(Merchant.name.regexp_match("^" + patterns[0]), 1)]
    host = search_host(text)
    if host is not None:
        matches.append(Merchant.domain.contains(host, autoescape=True))
        ranks.insert(0, (Merchant.domain.in_([host, f"www.{host}"]), 0))
    found = list(
        db.session.scalars(
            select(Merchant)
            .where(PUBLIC, or_(*matches))
            .order_by(case(*ranks, else_=2), Merchant.name, Merchant.id)
            .limit(limit + 1)
        )
    )
    return ShopSearch(found[:limit], len(found) > limit)


def slug_lookup() -> Callable[[int], str | None]:
    """A merchant id → slug look-up (None for a merchant gone), each merchant read once:
    for a long run over many records, such as ``trustseal log verify``."""
    known: dict[int, str | None] = {}

    def slug(merchant_id: int) -> str | None:
        if merchant_id not in known:
            merchant = get(merchant_id)
            known[merchant_id] = merchant.slug if merchant else None
        return known[merchant_id]

    return slug
