"""The certification criteria: what a shop must meet to earn and keep the seal.

Each criterion comes from one of the four areas of the code of good practice for online
trust that trustseal was founded on (security, transparency, consumer experience, online
reputation) and, where the law asks for it too, names the rule. A *mandatory* criterion
binds: the seal is approved or reinstated only while every mandatory one is ``pass``.
An *automatic* one is judged by the site check (its ``check`` names what it reads); staff
may still set it by hand, and then the check no longer changes it.

The list is versioned: ``VERSION`` changes whenever a criterion is added, removed or
changes meaning, and the badge assertion names the version its digest was made under.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l

from trustseal.transparency import numbers

VERSION = "2"
VERDICTS = ("pass", "fail", "pending", "not_applicable")


@dataclass(frozen=True)
class Area:
    """One area of the code of good practice."""

    id: str
    title: Any  # a lazy string


SECURITY = Area("security", _l("Security"))
TRANSPARENCY = Area("transparency", _l("Transparency"))
EXPERIENCE = Area("consumer_experience", _l("Consumer experience"))
REPUTATION = Area("online_reputation", _l("Online reputation"))
AREAS = (SECURITY, TRANSPARENCY, EXPERIENCE, REPUTATION)


def _link(name: str) -> Callable[[dict[str, Any], str | None], bool]:
    return lambda result, _ruc: bool(result.get("links", {}).get(name))


def _ruc_shown(result: dict[str, Any], ruc: str | None) -> bool:
    return bool(ruc) and bool(result.get("ruc_shown"))


# what each automatic check reads from a site check result (and the merchant's RUC)
CHECKS: dict[str, Callable[[dict[str, Any], str | None], bool]] = {
    "https": lambda result, _ruc: (
        bool(result.get("https"))
        and (result.get("certificate") or {}).get("valid", True) is not False
    ),
    "privacy": _link("privacy"),
    "terms": _link("terms"),
    "returns": _link("returns"),
    "contact": _link("contact"),
    "complaints_book": _link("complaints_book"),
    "ruc_shown": _ruc_shown,
    "load_time": lambda result, _ruc: bool(result.get("fast_enough")),
}


@dataclass(frozen=True)
class Criterion:
    """One criterion: its area, its text, whether it binds, how it is checked, its source."""

    id: str
    area: Area
    title: Any  # a lazy string
    mandatory: bool
    source: Any  # a lazy string: the code's area and the law, where one applies
    check: str | None = None  # the site check's reading; None: judged by staff
    # Asked by Peru's law of a shop in Peru only (the Libro de Reclamaciones): for a shop
    # elsewhere it does not apply, shows as not_applicable and does not bind.
    peru_only: bool = False

    @property
    def automatic(self) -> bool:
        """Whether the site check judges it."""
        return self.check is not None


_CODE = _l("Code of good practice for online trust")


def _source(area: Area, law: Any = None) -> Any:
    return (
        _l("%(code)s, %(area)s", code=_CODE, area=area.title)
        if law is None
        else _l("%(code)s, %(area)s; %(law)s", code=_CODE, area=area.title, law=law)
    )


_CONSUMER_CODE = _l("Consumer Protection Code (Ley 29571)")
_BOOK_RULE = _l("Complaints Book Regulation (D.S. 011-2011-PCM)")
_DATA_LAW = _l("Personal Data Protection Law (Ley 29733)")

CRITERIA: tuple[Criterion, ...] = (
    Criterion(
        "https",
        SECURITY,
        _l("The whole site is served over HTTPS with a valid certificate."),
        True,
        _source(SECURITY),
        check="https",
    ),
    Criterion(
        "payments",
        SECURITY,
        _l("Secure online payments through a recognised payment provider."),
        True,
        _source(SECURITY),
    ),
    Criterion(
        "data_protection",
        SECURITY,
        _l("Personal data protected as Ley 29733 requires (databank registered, security)."),
        True,
        _source(SECURITY, _DATA_LAW),
    ),
    Criterion(
        "identity",
        TRANSPARENCY,
        _l("Formal identity: legal name, RUC, physical address, a corporate domain and email."),
        True,
        _source(TRANSPARENCY, _CONSUMER_CODE),
    ),
    Criterion(
        "ruc_shown",
        TRANSPARENCY,
        _l("The shop's RUC is shown on its home page."),
        True,
        _source(TRANSPARENCY, _CONSUMER_CODE),
        check="ruc_shown",
    ),
    Criterion(
        "contact",
        TRANSPARENCY,
        _l("Contact data (phone, email, address) visible on the site."),
        True,
        _source(TRANSPARENCY, _CONSUMER_CODE),
        check="contact",
    ),
    Criterion(
        "prices",
        TRANSPARENCY,
        _l("Clear final prices (taxes and delivery included) and stock."),
        True,
        _source(TRANSPARENCY, _CONSUMER_CODE),
    ),
    Criterion(
        "terms",
        TRANSPARENCY,
        _l("Terms and conditions visible before buying."),
        True,
        _source(TRANSPARENCY),
        check="terms",
    ),
    Criterion(
        "privacy",
        TRANSPARENCY,
        _l("A privacy policy that says what personal data is kept and why."),
        True,
        _source(TRANSPARENCY, _DATA_LAW),
        check="privacy",
    ),
    Criterion(
        "returns",
        EXPERIENCE,
        _l("Returns, exchanges and refunds policy visible."),
        True,
        _source(EXPERIENCE, _CONSUMER_CODE),
        check="returns",
    ),
    Criterion(
        "delivery",
        EXPERIENCE,
        _l("Delivery policy: areas, costs and times."),
        True,
        _source(EXPERIENCE),
    ),
    Criterion(
        "complaints_book",
        EXPERIENCE,
        _l("A visible link to the virtual Libro de Reclamaciones."),
        True,
        _source(EXPERIENCE, _BOOK_RULE),
        check="complaints_book",
        peru_only=True,
    ),
    Criterion(
        "complaint_answers",
        EXPERIENCE,
        _l("Complaints answered within the legal deadline of 15 business days."),
        True,
        _source(EXPERIENCE, _BOOK_RULE),
        peru_only=True,
    ),
    Criterion(
        "load_time",
        EXPERIENCE,
        _l("The home page loads in under 5 seconds."),
        False,
        _source(EXPERIENCE),
        check="load_time",
    ),
    Criterion(
        "verified_reviews",
        REPUTATION,
        _l("Verified reviews shown without deleting negative ones."),
        True,
        _source(REPUTATION),
    ),
    Criterion(
        "review_answers",
        REPUTATION,
        _l("Negative reviews answered in public."),
        False,
        _source(REPUTATION),
    ),
)

BY_ID: dict[str, Criterion] = {c.id: c for c in CRITERIA}
MANDATORY: tuple[str, ...] = tuple(c.id for c in CRITERIA if c.mandatory)
PERU_ONLY: frozenset[str] = frozenset(c.id for c in CRITERIA if c.peru_only)


def criteria() -> list[dict[str, Any]]:
    """The criteria in the current language (``code``, ``group`` and ``text`` are the names
    the first version of ``GET /api/v1/seal/criteria`` used, kept for its clients)."""
    return [
        {
            "id": c.id,
            "code": c.id,
            "group": c.area.id,
            "area": str(c.area.title),
            "title": str(c.title),
            "text": str(c.title),
            "mandatory": c.mandatory,
            "automatic": c.automatic,
            "source": str(c.source),
        }
        for c in CRITERIA
    ]


def check_verdict(criterion: Criterion, result: dict[str, Any], ruc: str | None) -> str | None:
    """The verdict a site check result gives an automatic criterion: ``pass`` or ``fail``;
    None when the check could not see it: a refused address, or a page that did not load
    (a timeout, a name that does not resolve) — except a failed TLS handshake, which is a
    verdict on HTTPS."""
    if criterion.check is None or result.get("refused"):
        return None
    if result.get("status") is None:  # the page never loaded
        tls_failed = (result.get("certificate") or {}).get("valid") is False
        return "fail" if criterion.check == "https" and tls_failed else None
    return "pass" if CHECKS[criterion.check](result, ruc) else "fail"


def unmet(verdicts: dict[str, str], inapplicable: Iterable[str] = ()) -> list[str]:
    """The mandatory criteria whose verdict is not ``pass``, in the list's order, but for
    the ``inapplicable`` ones (the book's, for a shop outside Peru)."""
    skip = frozenset(inapplicable)
    return [cid for cid in MANDATORY if cid not in skip and verdicts.get(cid) != "pass"]


def digest(passed: Iterable[str], version: str = VERSION) -> str:
    """The hex SHA-256 a badge assertion carries for the verdicts (see
    :func:`trustseal.transparency.numbers.criteria_digest` and docs/verify.md)."""
    return numbers.criteria_digest(passed, version)
