"""The automatic site check: HTTPS and its certificate, HSTS, load time, and whether the
home page links to the complaints book, terms, privacy, returns and contact data.

The page is fetched through :mod:`trustseal.netguard`: only a globally routable address
the guard resolved and checked itself, pinned for the first request and after every
redirect, with a timeout on each network operation, a deadline for the whole check and a
size limit (``allow_private`` lets tests reach a loopback server).

It runs in the worker (job ``seals.sitecheck``), never inside a web request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from trustseal import netguard

# The guard's checks, under the names this module has always offered (the console and
# tests use them); ``resolve`` and ``open_connection`` are this module's hooks: tests
# replace them here to steer the site check alone.
from trustseal.netguard import Resolver, address_problem, open_connection, resolve, url_problem

__all__ = [
    "SIGNALS",
    "CheckRefused",
    "address_problem",
    "badge_shown",
    "check",
    "ruc_shown",
    "url_problem",
]

MAX_BYTES = 2 * 1024 * 1024
MAX_REDIRECTS = netguard.MAX_REDIRECTS
LOAD_GOAL_SECONDS = 5.0
DEADLINE_SECONDS = 30.0
SIGNALS = {
    "complaints_book": ("libro de reclamaciones", "reclamaciones", "complaints book"),
    "terms": ("términos", "terminos", "condiciones", "terms"),
    "privacy": ("privacidad", "privacy", "datos personales", "protección de datos"),
    "returns": ("devoluci", "cambios y", "reembolso", "returns", "refund"),
    "contact": ("contacto", "contáctanos", "contact", "mailto:", "tel:", "whatsapp"),
}
HEADERS = {"User-Agent": "trustseal-site-check/1", "Accept": "text/html"}

CheckRefused = netguard.Refused


@dataclass
class _Links(HTMLParser):
    found: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href") or ""
            self.found.append(self._href.lower())

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self.found.append(data.lower())

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._href = None


def ruc_shown(body: bytes, ruc: str | None) -> bool:
    """Whether a page shows the RUC: its 11 digits not inside a longer number (spaces,
    dots or dashes between digit groups are allowed, as shops often write it)."""
    if not ruc or not ruc.isdigit():
        return False
    digits = r"[\s.\-]?".join(ruc)
    return re.search(rf"(?<!\d){digits}(?!\d)", body.decode("utf-8", "replace")) is not None


def badge_shown(body: bytes, badge_path: str | None) -> bool:
    """Whether a page embeds the badge at ``badge_path`` (``/badges/SLUG``; not another
    slug that merely starts the same)."""
    if not badge_path:
        return False
    return re.search(re.escape(badge_path.encode()) + rb"(?![a-z0-9-])", body) is not None


def check(
    url: str,
    *,
    allow_private: bool = False,
    timeout: float = 8.0,
    deadline: float = DEADLINE_SECONDS,
    resolver: Resolver | None = None,
    ruc: str | None = None,
    badge_path: str | None = None,
) -> dict[str, Any]:
    """Fetch a home page and report what a certifier needs; never raises on site faults.

    A refused target (bad address, non-public address, also after a redirect), a timeout,
    a TLS or HTTP failure is reported in ``errors`` (``refused`` is set for a refusal).
    ``resolver`` replaces :func:`resolve` (tests use a stub: no real DNS). With ``ruc``,
    ``ruc_shown`` says whether the page shows that RUC (its 11 digits, standing alone);
    with ``badge_path`` (``/badges/SLUG``), ``badge_shown`` whether the page embeds it.
    """
    fetched = netguard.fetch(
        url,
        max_bytes=MAX_BYTES,
        timeout=timeout,
        deadline=deadline,
        allow_private=allow_private,
        resolver=resolver or resolve,
        connector=open_connection,  # looked up now: tests replace this module's hook
        max_redirects=MAX_REDIRECTS,
        headers=HEADERS,
    )
    result: dict[str, Any] = {
        "url": url,
        "errors": [],
        "https": False,
        "certificate": None,
        "hsts": False,
        "load_seconds": round(fetched.elapsed, 3),
        "status": fetched.status,
        "links": {name: False for name in SIGNALS},
        "ruc_shown": False,
        "badge_shown": False,
    }
    for hop in fetched.hops:
        if hop.tls:
            result["https"] = True
            if hop.certificate:
                result["certificate"] = {
                    "not_before": hop.certificate.get("notBefore"),
                    "not_after": hop.certificate.get("notAfter"),
                    "valid": True,
                }
            result["hsts"] = bool(hop.headers.get("Strict-Transport-Security"))
    if fetched.error:
        result["errors"].append(fetched.error)
        if fetched.refused:
            result["refused"] = True
        if fetched.failure == "tls":
            result["certificate"] = {"valid": False}
    else:
        if fetched.cut:
            result["errors"].append(
                f"the page took longer than {deadline:g} s; only its start was read"
            )
        elif fetched.truncated:
            result["errors"].append("the page is larger than 2 MB; only its start was read")
        parser = _Links()
        parser.feed(fetched.body.decode("utf-8", "replace"))
        text = " ".join(parser.found)
        result["links"] = {name: any(k in text for k in keys) for name, keys in SIGNALS.items()}
        result["ruc_shown"] = ruc_shown(fetched.body, ruc)
        result["badge_shown"] = badge_shown(fetched.body, badge_path)
    result["fast_enough"] = (
        result["load_seconds"] < LOAD_GOAL_SECONDS and result["status"] == 200 and not fetched.cut
    )
    result["url_final"] = fetched.url
    return result
