"""The site checker connects only to globally routable addresses it checked itself.

No real DNS: names resolve through a stub; "public" sites are served on loopback by
pinning the connection (the checker still sees and checks the public address).
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest

from tests.helpers import serve_in_background
from tests.sites import LoopbackConnector, StubResolver, shop_site
from trustseal.seals import sitecheck

PUBLIC = "93.184.215.14"


@pytest.fixture
def no_connection(monkeypatch):
    def refuse(ip: str, port: int, timeout: float):
        raise AssertionError(f"the checker connected to {ip}:{port}")

    monkeypatch.setattr(sitecheck, "open_connection", refuse)


def test_allow_private_reaches_loopback_and_reports_links():
    with shop_site() as url:
        result = sitecheck.check(url, allow_private=True)
        assert result["status"] == 200 and result["links"] == {
            "complaints_book": True,
            "terms": True,
            "privacy": True,
            "returns": True,
            "contact": True,
        }
        assert result["https"] is False and result["load_seconds"] < 5 and not result["errors"]
        refused = sitecheck.check(url)
        assert refused["refused"] and refused["errors"] == [
            "127.0.0.1 resolves to 127.0.0.1, which is not a public address: loopback"
        ]


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("100.64.0.1", "shared carrier-grade NAT space (100.64.0.0/10, RFC 6598)"),
        ("100.127.255.254", "shared carrier-grade NAT space"),
        ("192.0.0.8", "IETF protocol assignments (192.0.0.0/24)"),
        ("198.18.0.1", "benchmarking (198.18.0.0/15, RFC 2544)"),
        ("198.19.255.1", "benchmarking"),
        ("2002:7f00:1::1", "6to4 tunnel address of 127.0.0.1, loopback"),
        ("2002:a00:1::1", "6to4 tunnel address of 10.0.0.1, private network"),
        ("::ffff:10.0.0.1", "IPv4-mapped form of 10.0.0.1, private network (RFC 1918)"),
        ("::ffff:127.0.0.1", "IPv4-mapped form of 127.0.0.1, loopback"),
        ("64:ff9b::10.0.0.1", "NAT64 form of 10.0.0.1, private network (RFC 1918)"),
        ("64:ff9b::a9fe:a9fe", "NAT64 form of 169.254.169.254, link-local"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo tunnel address of 192.0.2.45"),
        ("0.0.0.0", "'this network' (0.0.0.0/8)"),
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private network (RFC 1918)"),
        ("172.16.5.4", "private network (RFC 1918)"),
        ("192.168.1.1", "private network (RFC 1918)"),
        ("169.254.169.254", "link-local"),
        ("192.0.2.1", "documentation (TEST-NET-1)"),
        ("224.0.0.251", "multicast"),
        ("240.0.0.1", "reserved (240.0.0.0/4)"),
        ("255.255.255.255", "broadcast"),
        ("::", "unspecified"),
        ("::1", "loopback"),
        ("::a00:1", "deprecated IPv4-compatible IPv6 (::/96)"),
        ("fd12:3456::1", "unique local (fc00::/7)"),
        ("fe80::1", "link-local"),
        ("fec0::1", "deprecated site-local (fec0::/10)"),
        ("ff02::1", "multicast"),
        ("2001:db8::1", "documentation (2001:db8::/32)"),
        ("64:ff9b:1::1", "local-use NAT64 (64:ff9b:1::/48)"),
    ],
)
def test_non_global_addresses_are_refused_with_a_reason(no_connection, address, reason):
    assert sitecheck.address_problem(address).startswith(reason)
    stub = StubResolver({"tienda.example": [address]})
    result = sitecheck.check("https://tienda.example/", resolver=stub)
    assert result["refused"] is True and result["status"] is None
    assert result["errors"] == [
        f"tienda.example resolves to {address}, which is not a public address: "
        f"{sitecheck.address_problem(address)}"
    ]
    assert stub.calls == ["tienda.example"]


@pytest.mark.parametrize(
    "address", [PUBLIC, "8.8.8.8", "2606:4700::6810:84e5", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_global_addresses_pass(address):
    assert sitecheck.address_problem(address) is None


def test_a_literal_address_in_the_url_is_checked(no_connection):
    for url in ("http://100.64.0.1/", "http://[::ffff:10.0.0.1]:8080/", "http://0.0.0.0/"):
        result = sitecheck.check(url, resolver=StubResolver())
        assert result["refused"] and "not a public address" in result["errors"][0], url


def test_one_non_public_answer_among_public_ones_refuses(no_connection):
    stub = StubResolver({"tienda.example": [PUBLIC, "10.0.0.7"]})
    result = sitecheck.check("http://tienda.example/", resolver=stub)
    assert result["refused"] and "10.0.0.7" in result["errors"][0]


def test_unresolvable_name_is_a_result(no_connection):
    result = sitecheck.check("https://nadie.example/", resolver=StubResolver())
    assert result["refused"] and result["errors"] == ["cannot resolve nadie.example"]


def test_connection_is_pinned_to_the_checked_address(monkeypatch):
    with shop_site() as url:
        connector = LoopbackConnector(urlsplit(url).port)
        monkeypatch.setattr(sitecheck, "open_connection", connector)
        stub = StubResolver({"tienda.example": [PUBLIC]})
        result = sitecheck.check("http://tienda.example/", resolver=stub)
    assert result["status"] == 200 and result["links"]["complaints_book"], result["errors"]
    assert connector.opened == [(PUBLIC, 80)]


def test_mapped_address_is_pinned_to_its_ipv4(monkeypatch):
    with shop_site() as url:
        connector = LoopbackConnector(urlsplit(url).port)
        monkeypatch.setattr(sitecheck, "open_connection", connector)
        stub = StubResolver({"tienda.example": [f"::ffff:{PUBLIC}"]})
        assert sitecheck.check("http://tienda.example/", resolver=stub)["status"] == 200
    assert connector.opened == [(PUBLIC, 80)]


@pytest.mark.parametrize(
    ("location", "refused_address"),
    [
        ("http://interno.example/admin", "10.0.0.5"),
        ("http://100.64.0.1/", "100.64.0.1"),
        ("http://[2002:7f00:1::1]/", "2002:7f00:1::1"),
        ("http://198.18.0.1:8080/", "198.18.0.1"),
    ],
)
def test_redirect_from_an_allowed_host_to_a_refused_one(monkeypatch, location, refused_address):
    with shop_site(redirect=location) as url:
        connector = LoopbackConnector(urlsplit(url).port)
        monkeypatch.setattr(sitecheck, "open_connection", connector)
        stub = StubResolver({"tienda.example": [PUBLIC], "interno.example": ["10.0.0.5"]})
        result = sitecheck.check("http://tienda.example/", resolver=stub)
    assert result["refused"] and result["status"] is None
    assert f"resolves to {refused_address}, which is not a public address" in result["errors"][0]
    assert result["url_final"] == location
    assert connector.opened == [(PUBLIC, 80)]  # never connected to the refused target


def test_redirect_loop_stops(monkeypatch):
    with shop_site(redirect="http://tienda.example/otra-vez") as url:
        monkeypatch.setattr(sitecheck, "open_connection", LoopbackConnector(urlsplit(url).port))
        stub = StubResolver({"tienda.example": [PUBLIC]})
        result = sitecheck.check("http://tienda.example/", resolver=stub)
    assert result["errors"] == ["too many redirects"] and len(stub.calls) == 4


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://tienda.pe/", "not a web address"),
        ("javascript:alert(1)", "not a web address"),
        ("https:///sin-host", "not a web address"),
        ("https://tienda.pe:99999/", "not a web address"),
        ("https://user:secret@tienda.pe/", "must not contain a user name or password"),
        ("https://tienda.pe/a b", "spaces or control characters"),
        ("https://tienda.pe/" + "a" * 2000, "longer than 2000 characters"),
    ],
)
def test_unusable_urls_are_refused_before_any_lookup(url, problem):
    assert problem in sitecheck.url_problem(url)
    stub = StubResolver()
    result = sitecheck.check(url, resolver=stub)
    assert result["refused"] and problem in result["errors"][0] and stub.calls == []


def test_a_page_that_drips_stops_at_the_deadline():
    # 64 pieces 0.05 s apart: 3.2 s in all. The deadline leaves a busy machine time to send
    # the headers, and still cuts the body.
    with shop_site(body=b"x" * 4096, drip_seconds=0.05) as url:
        result = sitecheck.check(url, allow_private=True, deadline=1.5)
    assert result["status"] == 200 and result["load_seconds"] < 3
    assert result["errors"] == ["the page took longer than 1.5 s; only its start was read"]


def test_a_server_dripping_its_headers_is_cut_at_the_deadline():
    """A socket timeout bounds each wait, not their sum: a merchant's server sending a
    header byte every 0.2 s would keep a worker for ever without the watchdog."""
    import socketserver

    class Drip(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.rfile.readline()
            try:
                self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                for _ in range(200):
                    self.wfile.write(b"X")
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                return

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Drip)
    server.daemon_threads = True
    serve_in_background(server)
    try:
        started = time.perf_counter()
        result = sitecheck.check(
            f"http://127.0.0.1:{server.server_address[1]}/",
            allow_private=True,
            timeout=1.0,
            deadline=1.0,
        )
        elapsed = time.perf_counter() - started
    finally:
        server.shutdown()
        server.server_close()
    assert elapsed < 2.5
    assert not result["fast_enough"]
    assert any("took longer" in e or "cannot load" in e for e in result["errors"])
