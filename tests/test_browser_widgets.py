"""Browser test (headless Debian Chromium): a product page on a loopback "shop" embeds the
product's stars and its reviews frame, as a merchant pastes them from the dashboard.

The shop is served over HTTPS (a certificate made for the test, accepted by this browser
alone) at ``https://tienda.test`` — the merchant's verified domain — and at
``https://otra.test``, a site that is not the merchant's: Chromium maps both names, port
443, to one loopback server (``--host-resolver-rules``), so the frame's ancestor is the
real origin the Content-Security-Policy names. trustseal itself is the test's live server
on loopback, which a page over HTTPS may embed (a loopback address is trustworthy).

On the merchant's site the picture loads and the frame shows the reviews, with no cookie
set and no script in it; on the other site the browser refuses to frame the reviews."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.helpers import bearer, make_merchant, serve_in_background
from tests.reviewing import publish_review

SHOP, ELSEWHERE = "tienda.test", "otra.test"
PRODUCT = {"product_id": "alp-chal", "title": "Chalina de alpaca", "quantity": 1}


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for both shop names (and its key), as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SHOP)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName(SHOP),
                    x509.DNSName(ELSEWHERE),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "shop.pem", directory / "shop.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def product_page(trustseal: str) -> bytes:
    """The shop's product page, with the two snippets the dashboard gives."""
    return f"""<!doctype html><html lang="es"><head><meta charset="utf-8">
<title>Chalina de alpaca · Tienda</title></head><body>
<h1>Chalina de alpaca</h1>
<img id="stars" src="{trustseal}/widgets/bodega/product/alp-chal.svg?lang=es" alt="" height="20">
<iframe id="reviews" src="{trustseal}/widgets/bodega/reviews?product_id=alp-chal&amp;lang=es"
 title="Opiniones" width="600" height="480"></iframe>
</body></html>""".encode()


@pytest.fixture
def shop_server(tmp_path: Path, live_server: str) -> Iterator[int]:
    """The shop over HTTPS on a free loopback port, serving the product page; its port."""
    body = product_page(live_server)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    cert, key = _certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    serve_in_background(server)
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def shop_browser(playwright: Any, shop_server: int) -> Iterator[Any]:
    """Chromium that finds both shop names, port 443, at the loopback shop, and accepts
    its test certificate."""
    rules = ", ".join(f"MAP {host}:443 127.0.0.1:{shop_server}" for host in (SHOP, ELSEWHERE))
    args = [*CHROMIUM_ARGS, f"--host-resolver-rules={rules}", "--ignore-certificate-errors"]
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
    yield browser
    browser.close()


@pytest.fixture
def reviewed(app: Flask, client: FlaskClient, live_server: str) -> None:
    """The merchant ``bodega`` at tienda.test, with two reviews of the scarf and an answer."""
    app.config["TRUSTSEAL_BASE_URL"] = live_server
    _, key = make_merchant(app, domain=SHOP)
    first = publish_review(
        client,
        key,
        "W-1",
        items=[PRODUCT],
        products=[{"product_id": "alp-chal", "rating": 5, "comment": "Suavecita y abriga."}],
        display_name="Rosa M.",
    )
    publish_review(
        client,
        key,
        "W-2",
        items=[PRODUCT],
        products=[{"product_id": "alp-chal", "rating": 4, "comment": "Linda, tardó un poco."}],
    )
    answered = client.put(
        f"/api/v1/reviews/{first}/response",
        json={"body": "¡Gracias, Rosa!"},
        headers=bearer(key),
    )
    assert answered.status_code == 200


def test_a_product_page_on_the_shop_s_domain_shows_the_stars_and_the_reviews(
    reviewed: None, shop_browser: Any, live_server: str
) -> None:
    context = shop_browser.new_context()
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    page.goto(f"https://{SHOP}/producto/chalina")

    stars = page.locator("#stars")
    stars.wait_for()
    page.wait_for_function("document.getElementById('stars').complete")
    assert stars.evaluate("img => img.naturalWidth") > 100

    frame = page.frame_locator("#reviews")
    frame.locator("ol.reviews").wait_for()
    text = frame.locator("body").inner_text()
    assert "Suavecita y abriga." in text and "Linda, tardó un poco." in text
    assert "Respuesta de Bodega Ñandú" in text and "¡Gracias, Rosa!" in text
    assert frame.locator("script").count() == 0
    (widget,) = [f for f in page.frames if f.url.startswith(f"{live_server}/widgets/")]
    summary = widget.locator(".summary img")
    summary.wait_for()
    assert "4,5 de 5 estrellas, 2 opiniones verificadas" in summary.get_attribute("alt")
    assert widget.evaluate("document.querySelector('.summary img').naturalWidth") > 100
    # styled by its own sheet: the reviews' list has no bullets
    assert (
        widget.evaluate("getComputedStyle(document.querySelector('ol.reviews')).listStyleType")
        == "none"
    )
    assert context.cookies() == []
    assert [m for m in console if "Content Security Policy" in m or "Refused" in m] == []
    context.close()


def test_the_same_page_on_another_site_gets_no_reviews_frame(
    reviewed: None, shop_browser: Any, live_server: str
) -> None:
    context = shop_browser.new_context()
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    page.goto(f"https://{ELSEWHERE}/producto/chalina")
    page.wait_for_function("document.getElementById('stars').complete")
    # the picture is public and shown anywhere (like the badge)...
    assert page.locator("#stars").evaluate("img => img.naturalWidth") > 100
    # ...the reviews frame is refused by the browser: no widget document in it
    page.wait_for_timeout(500)
    framed = [f for f in page.frames if f != page.main_frame]
    assert all(not f.url.startswith(f"{live_server}/widgets/") or not f.content() for f in framed)
    for frame in framed:
        assert "Suavecita" not in frame.content()
    assert any("frame-ancestors" in m for m in console), console
    assert context.cookies() == []
    context.close()
