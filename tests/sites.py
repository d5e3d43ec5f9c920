"""A merchant's home page served on loopback, and a stub resolver, for the site check."""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.helpers import serve_in_background

HOME = b"""<!doctype html><html><body>
<a href="/libro">Libro de Reclamaciones</a> <a href="/terminos">T&eacute;rminos y condiciones</a>
<a href="/privacidad">Pol&iacute;tica de privacidad</a>
<a href="/devoluciones">Cambios y devoluciones</a>
<a href="mailto:hola@tienda.pe">Contacto</a></body></html>"""


@contextmanager
def shop_site(
    body: bytes = HOME, redirect: str | None = None, drip_seconds: float = 0.0
) -> Iterator[str]:
    """Serve ``body`` at / on a free loopback port; yield the base URL.

    ``redirect``: answer every request with a 302 to that address instead.
    ``drip_seconds``: send the body one 64-byte piece at a time, pausing between pieces.
    """

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if redirect is not None:
                self.send_response(302)
                self.send_header("Location", redirect)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not drip_seconds:
                self.wfile.write(body)
                return
            try:
                for start in range(0, len(body), 64):
                    self.wfile.write(body[start : start + 64])
                    self.wfile.flush()
                    time.sleep(drip_seconds)
            except OSError:
                return  # the checker gave up and closed the connection

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    serve_in_background(server)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class StubResolver:
    """Resolves names from a table (an IP literal to itself) and records every lookup.

    Use it instead of real DNS: ``monkeypatch.setattr(sitecheck, "resolve", stub)``.
    """

    def __init__(self, table: dict[str, list[str]] | None = None) -> None:
        self.table = table or {}
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            pass
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(self.table[host])


class LoopbackConnector:
    """Stands in for ``sitecheck.open_connection``: records the (checked, pinned) address
    the checker connects to, and connects to a loopback port instead."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.opened: list[tuple[str, int]] = []

    def __call__(self, ip: str, port: int, timeout: float) -> socket.socket:
        self.opened.append((ip, port))
        return socket.create_connection(("127.0.0.1", self.port), timeout)


def on_domain(url: str, domain: str = "bodega.pe") -> str:
    """``url`` of a loopback ``shop_site`` as the merchant's own domain would reach it
    (same port): resolve ``domain`` to 127.0.0.1 with ``StubResolver({domain: [...]})``."""
    return url.replace("127.0.0.1", domain, 1)


def loopback_resolver(domain: str = "bodega.pe") -> StubResolver:
    """A resolver that sends ``domain`` (and IP literals) to loopback."""
    return StubResolver({domain: ["127.0.0.1"], f"www.{domain}": ["127.0.0.1"]})
