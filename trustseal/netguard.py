"""Guarded outbound HTTP: the one way trustseal fetches a URL a merchant controls (the
site check, the domain-verification file) or posts to one (outgoing webhooks).

It only ever connects to a globally routable address that it resolved and checked itself
(the connection is pinned to that address, for the first request and after every
redirect), with a timeout on each network operation, a deadline for the whole fetch (looked
at before each request, and enforced by a watchdog that cuts the connection wherever it
waits) and a size limit. Private, shared (carrier-grade NAT), loopback, link-local,
benchmarking, documentation, multicast and other special-purpose addresses are refused, as
are IPv6 forms that embed such an IPv4 address (IPv4-mapped, NAT64) and the 6to4 and
Teredo tunnels, unless ``allow_private`` (the test setting ``SITE_CHECK_ALLOW_PRIVATE``:
tests reach a loopback server with it).

:func:`resolve` and :func:`open_connection` are module-level hooks: tests replace them
(no real DNS, a loopback server standing in for a public address).
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import quote, urljoin, urlsplit

import dns.exception
import dns.resolver

MAX_REDIRECTS = 3
MAX_URL_LENGTH = 2000
CHUNK_BYTES = 64 * 1024
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

Resolver = Callable[[str, int], list[str]]
Connector = Callable[[str, int, float], socket.socket]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# IANA special-purpose registries (RFC 6890 and successors): blocks that are not
# globally reachable, with the reason shown to people. Checked before ``is_global``
# because older Pythons count some of them (192.0.0.0/24, fec0::/10, ...) as global.
# 6to4 (2002::/16) and Teredo (2001::/32) are handled before this table.
_SPECIAL: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.ip_network(network), reason)
    for network, reason in (
        ("0.0.0.0/8", "'this network' (0.0.0.0/8)"),
        ("10.0.0.0/8", "private network (RFC 1918)"),
        ("100.64.0.0/10", "shared carrier-grade NAT space (100.64.0.0/10, RFC 6598)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private network (RFC 1918)"),
        ("192.0.0.0/24", "IETF protocol assignments (192.0.0.0/24)"),
        ("192.0.2.0/24", "documentation (TEST-NET-1)"),
        ("192.88.99.0/24", "deprecated 6to4 relay anycast (192.88.99.0/24)"),
        ("192.168.0.0/16", "private network (RFC 1918)"),
        ("198.18.0.0/15", "benchmarking (198.18.0.0/15, RFC 2544)"),
        ("198.51.100.0/24", "documentation (TEST-NET-2)"),
        ("203.0.113.0/24", "documentation (TEST-NET-3)"),
        ("224.0.0.0/4", "multicast"),
        ("255.255.255.255/32", "broadcast"),
        ("240.0.0.0/4", "reserved (240.0.0.0/4)"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/96", "deprecated IPv4-compatible IPv6 (::/96)"),
        ("64:ff9b:1::/48", "local-use NAT64 (64:ff9b:1::/48)"),
        ("100::/64", "discard-only (100::/64)"),
        ("2001::/23", "IETF protocol assignments (2001::/23)"),
        ("2001:db8::/32", "documentation (2001:db8::/32)"),
        ("3fff::/20", "documentation (3fff::/20)"),
        ("5f00::/16", "segment routing (5f00::/16)"),
        ("fc00::/7", "unique local (fc00::/7)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "deprecated site-local (fec0::/10)"),
        ("ff00::/8", "multicast"),
    )
)
_PRINTABLE_ASCII = "".join(chr(code) for code in range(33, 127))
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")


class Refused(ValueError):
    """The target may not be fetched (non-public address, unusable URL, plain http where
    only https is allowed)."""


class Unresolved(Refused):
    """The target's host name resolves to no address (nothing to check, nothing fetched)."""


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be fetched (without any network I/O), or None.

    It must be an http(s) address with a host name, a valid port, no user name or
    password (they would end up stored and in a job's payload), at most 2000 characters.
    """
    if len(url) > MAX_URL_LENGTH:
        return "the address is longer than 2000 characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return f"not a web address: {url}"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"not a web address: {url}"
    if parts.username is not None or parts.password is not None:
        return "the address must not contain a user name or password"
    if any(ord(c) < 33 or c == "\x7f" for c in url):
        return "the address contains spaces or control characters"
    return None


def address_problem(address: str | IPAddress) -> str | None:
    """Why a resolved address may not be connected to, or None if it is globally routable.

    Refuses everything that is not ``is_global``, every special-purpose block (also on
    Pythons whose ``is_global`` misses some), multicast, IPv6 outside 2000::/3, 6to4 and
    Teredo, and IPv4-mapped or NAT64 forms of a refused IPv4 address.
    """
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            inner = address_problem(ip.ipv4_mapped)
            return f"IPv4-mapped form of {ip.ipv4_mapped}, {inner}" if inner else None
        if ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
            inner = address_problem(embedded)
            return f"NAT64 form of {embedded}, {inner}" if inner else None
        if ip.sixtofour is not None:
            inner = address_problem(ip.sixtofour)
            return f"6to4 tunnel address of {ip.sixtofour}" + (f", {inner}" if inner else "")
        if ip.teredo is not None:
            server, client = ip.teredo
            inner = address_problem(client) or address_problem(server)
            return f"Teredo tunnel address of {client}" + (f", {inner}" if inner else "")
    for network, reason in _SPECIAL:
        if ip.version == network.version and ip in network:
            return reason
    if isinstance(ip, ipaddress.IPv6Address) and ip not in _GLOBAL_UNICAST_V6:
        return "outside the IPv6 global unicast space (2000::/3)"
    if not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        return "not globally routable"
    return None


# How long one name may take to resolve (each of A and AAAA): the system's getaddrinfo
# has no timeout at all, and resolv.conf retries could hold a worker for minutes.
RESOLVE_SECONDS = 5.0


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (A and AAAA through the system's name servers,
    with a timeout; tests replace this). Raises :class:`OSError` when it cannot say."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    addresses: list[str] = []
    try:
        resolver = dns.resolver.Resolver()
        for record_type in ("A", "AAAA"):
            try:
                answer = resolver.resolve(host, record_type, lifetime=RESOLVE_SECONDS)
            except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
                continue
            addresses.extend(str(record.address) for record in answer)
    except dns.exception.DNSException as exc:
        raise OSError(f"cannot resolve {host}: {exc}") from exc
    return addresses


def open_connection(ip: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection to exactly ``ip`` (never a name: the pinned, checked address)."""
    return socket.create_connection((ip, port), timeout)


def tls_context() -> ssl.SSLContext:
    """The TLS settings of every https fetch: the system's trusted CAs, host names checked
    (tests replace it to trust their own test certificate authority)."""
    return ssl.create_default_context()


def public_address(
    host: str, port: int, allow_private: bool = False, resolver: Resolver | None = None
) -> str:
    """The checked address to connect to for ``host``; every address it resolves to must
    be public (else :class:`Refused`, naming the address and why)."""
    try:
        addresses = (resolver or resolve)(host, port)
    except (OSError, UnicodeError) as exc:
        raise Unresolved(f"cannot resolve {host}") from exc
    if not addresses:
        raise Unresolved(f"cannot resolve {host}")
    pinned: list[str] = []
    for address in addresses:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError as exc:
            raise Refused(f"{host} resolves to an invalid address ({address})") from exc
        problem = None if allow_private else address_problem(ip)
        if problem:
            raise Refused(f"{host} resolves to {address}, which is not a public address: {problem}")
        mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
        pinned.append(str(mapped) if mapped is not None else address)
    return pinned[0]


class _Pinned(http.client.HTTPConnection):
    timeout: float  # always given (typeshed allows None)

    def __init__(self, host: str, port: int, ip: str, timeout: float, connect: Connector) -> None:
        super().__init__(host, port, timeout=timeout)
        self._ip = ip
        self._open = connect
        self.raw: socket.socket | None = None

    def connect(self) -> None:
        self.sock = self.raw = self._open(self._ip, self.port, self.timeout)


class _PinnedTLS(http.client.HTTPSConnection):
    timeout: float  # always given (typeshed allows None)
    _context: ssl.SSLContext  # set by HTTPSConnection (private, so not in typeshed)

    def __init__(self, host: str, port: int, ip: str, timeout: float, connect: Connector) -> None:
        super().__init__(host, port, timeout=timeout, context=tls_context())
        self._ip = ip
        self._open = connect
        self.raw: socket.socket | None = None

    def connect(self) -> None:
        self.raw = self._open(self._ip, self.port, self.timeout)
        self.sock = self._context.wrap_socket(self.raw, server_hostname=self.host)


class _Watchdog:
    """Cuts a connection when the fetch's deadline passes, wherever it is waiting — the
    TLS handshake, the status line, a header dripped a byte at a time (a socket timeout
    bounds each wait, not their sum)."""

    def __init__(self, connection: _Pinned | _PinnedTLS, seconds: float) -> None:
        self._connection = connection
        self._timer = threading.Timer(max(seconds, 0.0), self._cut)
        self._timer.daemon = True

    def _cut(self) -> None:
        raw = self._connection.raw
        if raw is not None:
            with contextlib.suppress(OSError):
                raw.shutdown(socket.SHUT_RDWR)

    def start(self) -> None:
        """Arm it."""
        self._timer.start()

    def cancel(self) -> None:
        """Disarm it (the fetch ended in time)."""
        self._timer.cancel()


def _read_body(
    response: http.client.HTTPResponse, max_bytes: int, deadline: float
) -> tuple[bytes, bool]:
    """Up to ``max_bytes + 1`` bytes of the body; ``True`` if the deadline cut it short."""
    chunks: list[bytes] = []
    size = 0
    while size <= max_bytes:
        if time.perf_counter() > deadline:
            return b"".join(chunks), True
        chunk = response.read1(min(CHUNK_BYTES, max_bytes + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), False


@dataclass(frozen=True)
class Hop:
    """One answer received: its URL, status and headers, and for https the certificate."""

    url: str
    status: int
    tls: bool
    certificate: dict[str, Any] | None
    headers: http.client.HTTPMessage


@dataclass
class FetchResult:
    """What a fetch got. ``error`` says why there is no final answer (then ``failure`` is
    ``refused``, ``unresolved``, ``tls``, ``network`` or ``redirects``); ``url`` is the
    last address tried."""

    url: str
    hops: list[Hop] = field(default_factory=list)
    body: bytes = b""
    truncated: bool = False  # the body was larger than max_bytes; ``body`` is its start
    cut: bool = False  # the deadline cut the body short
    error: str | None = None
    failure: str | None = None
    elapsed: float = 0.0

    @property
    def status(self) -> int | None:
        """The final answer's HTTP status (None when the fetch failed)."""
        return None if self.error or not self.hops else self.hops[-1].status

    @property
    def refused(self) -> bool:
        """Whether the target (or a redirect's) was refused before any connection to it,
        its name resolving to no address included."""
        return self.failure in ("refused", "unresolved")


def _plain_http_allowed(ip: str, allow_private: bool) -> bool:
    """With ``https_only``, plain http is for the tests' loopback server alone."""
    return allow_private and ipaddress.ip_address(ip).is_loopback


def fetch(
    url: str,
    *,
    max_bytes: int,
    timeout: float,
    deadline: float,
    allow_private: bool = False,
    resolver: Resolver | None = None,
    connector: Connector | None = None,
    max_redirects: int = MAX_REDIRECTS,
    https_only: bool = False,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
) -> FetchResult:
    """GET ``url`` through the guard; never raises on faults of the site or the network.
    With ``body``, POST it instead (an outgoing webhook): a redirect is then the answer,
    never followed.

    Follows up to ``max_redirects`` redirects, checking every hop as the first. Each
    network operation waits at most ``timeout`` seconds, the whole fetch ``deadline``
    seconds; at most ``max_bytes`` of the body are kept. ``https_only`` refuses plain http
    (on every hop), except to a loopback address when ``allow_private`` (tests).
    ``resolver`` and ``connector`` replace :func:`resolve` and :func:`open_connection`.
    """
    started = time.perf_counter()
    result = FetchResult(url)
    connect = connector or open_connection
    current = url
    try:
        for _ in range(max_redirects + 1):
            result.url = current
            problem = url_problem(current)
            if problem:
                raise Refused(problem)
            parts = urlsplit(current)
            assert parts.hostname is not None  # url_problem refuses an address without one
            port = parts.port or (443 if parts.scheme == "https" else 80)
            ip = public_address(parts.hostname, port, allow_private, resolver)
            if (
                https_only
                and parts.scheme != "https"
                and not _plain_http_allowed(ip, allow_private)
            ):
                raise Refused(f"only https:// addresses are fetched, not {current}")
            remaining = started + deadline - time.perf_counter()
            if remaining <= 0:
                raise TimeoutError(f"no answer within {deadline:g} s")
            cls = _PinnedTLS if parts.scheme == "https" else _Pinned
            connection = cls(parts.hostname, port, ip, min(timeout, remaining), connect)
            watchdog = _Watchdog(connection, remaining)
            watchdog.start()
            try:
                target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                connection.request(
                    "GET" if body is None else "POST",
                    quote(target, safe=_PRINTABLE_ASCII),  # non-ASCII paths percent-encoded
                    body=body,
                    headers=dict(headers or {}),
                )
                response = connection.getresponse()
                tls = parts.scheme == "https"
                sock = cast(ssl.SSLSocket | None, connection.sock)  # an SSLSocket when tls
                cert = sock.getpeercert() if tls and sock else None
                result.hops.append(Hop(current, response.status, tls, cert, response.msg))
                location = response.getheader("Location")
                if response.status in REDIRECT_STATUSES and location and body is None:
                    current = urljoin(current, location)
                    continue
                body, cut = _read_body(response, max_bytes, started + deadline)
                result.cut = cut or time.perf_counter() >= started + deadline  # watchdog cut
                result.truncated = len(body) > max_bytes
                result.body = body[:max_bytes]
                break
            finally:
                watchdog.cancel()
                connection.close()
        else:
            result.url = current
            result.error, result.failure = "too many redirects", "redirects"
    except Refused as refused:
        kind = "unresolved" if isinstance(refused, Unresolved) else "refused"
        result.error, result.failure = str(refused), kind
    except ssl.SSLError as error:
        result.error, result.failure = f"TLS failed: {error.reason or error}", "tls"
    except (OSError, http.client.HTTPException, UnicodeError) as error:
        result.error, result.failure = f"cannot load the page: {error}", "network"
    result.elapsed = time.perf_counter() - started
    return result
