"""The automatic site check: HTTPS and its certificate, HSTS, load time, and whether the
home page links to the complaints book, terms, privacy, returns and contact data.

It only ever connects to the public address it resolved and checked (no private,
loopback or link-local targets unless allowed, also after redirects), with timeouts and
a size limit.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

MAX_BYTES = 2 * 1024 * 1024
MAX_REDIRECTS = 3
LOAD_GOAL_SECONDS = 5.0
SIGNALS = {
    "complaints_book": ("libro de reclamaciones", "reclamaciones", "complaints book"),
    "terms": ("términos", "terminos", "condiciones", "terms"),
    "privacy": ("privacidad", "privacy", "datos personales", "protección de datos"),
    "returns": ("devoluci", "cambios y", "reembolso", "returns", "refund"),
    "contact": ("contacto", "contáctanos", "contact", "mailto:", "tel:", "whatsapp"),
}


class CheckRefused(ValueError):
    """The target may not be fetched (private address, bad URL)."""


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


def _public_ip(host: str, port: int, allow_private: bool) -> str:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise CheckRefused(f"cannot resolve {host}") from exc
    addresses = [info[4][0] for info in infos]
    for address in addresses:
        ip = ipaddress.ip_address(address)
        if not allow_private and (
            ip.is_private
            or ip.is_loopback
            or ip.is_link_local
            or ip.is_reserved
            or ip.is_multicast
            or ip.is_unspecified
        ):
            raise CheckRefused(f"{host} resolves to a private address ({address})")
    return addresses[0]


class _Pinned(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, ip: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._ip = ip

    def connect(self) -> None:
        self.sock = socket.create_connection((self._ip, self.port), self.timeout)


class _PinnedTLS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, ip: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._ip = ip

    def connect(self) -> None:
        raw = socket.create_connection((self._ip, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)


def check(url: str, *, allow_private: bool = False, timeout: float = 8.0) -> dict[str, Any]:
    """Fetch a home page and report what a certifier needs; never raises on site faults."""
    result: dict[str, Any] = {
        "url": url,
        "errors": [],
        "https": False,
        "certificate": None,
        "hsts": False,
        "load_seconds": None,
        "status": None,
        "links": {name: False for name in SIGNALS},
    }
    started = time.perf_counter()
    current = url
    try:
        for _ in range(MAX_REDIRECTS + 1):
            parts = urlsplit(current)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise CheckRefused(f"not a web address: {current}")
            port = parts.port or (443 if parts.scheme == "https" else 80)
            ip = _public_ip(parts.hostname, port, allow_private)
            cls = _PinnedTLS if parts.scheme == "https" else _Pinned
            connection = cls(parts.hostname, port, ip, timeout)
            try:
                connection.request(
                    "GET",
                    (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
                    headers={"User-Agent": "trustseal-site-check/1", "Accept": "text/html"},
                )
                response = connection.getresponse()
                if parts.scheme == "https":
                    result["https"] = True
                    cert = connection.sock.getpeercert() if connection.sock else None
                    if cert:
                        result["certificate"] = {
                            "not_before": cert.get("notBefore"),
                            "not_after": cert.get("notAfter"),
                            "valid": True,
                        }
                    result["hsts"] = bool(response.getheader("Strict-Transport-Security"))
                if response.status in (301, 302, 303, 307, 308) and response.getheader("Location"):
                    current = urljoin(current, response.getheader("Location") or "")
                    continue
                body = response.read(MAX_BYTES + 1)
                result["status"] = response.status
                if len(body) > MAX_BYTES:
                    result["errors"].append("the page is larger than 2 MB; only its start was read")
                parser = _Links()
                parser.feed(body[:MAX_BYTES].decode("utf-8", "replace"))
                text = " ".join(parser.found)
                result["links"] = {
                    name: any(k in text for k in keys) for name, keys in SIGNALS.items()
                }
                break
            finally:
                connection.close()
        else:
            result["errors"].append("too many redirects")
    except CheckRefused as refused:
        result["errors"].append(str(refused))
        result["refused"] = True
    except ssl.SSLError as error:
        result["errors"].append(f"TLS failed: {error.reason or error}")
        result["certificate"] = {"valid": False}
    except (OSError, http.client.HTTPException) as error:
        result["errors"].append(f"cannot load the page: {error}")
    result["load_seconds"] = round(time.perf_counter() - started, 3)
    result["fast_enough"] = result["load_seconds"] < LOAD_GOAL_SECONDS and result["status"] == 200
    result["url_final"] = current
    return result
