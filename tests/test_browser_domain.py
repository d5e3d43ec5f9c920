"""Browser test (headless Debian Chromium): a shop signs up, confirms its email, proves its
domain with the verification file on a loopback site, and its profile goes public."""

from __future__ import annotations

import email
import re
from email import policy as email_policy
from urllib.parse import urlsplit

from tests.sites import LoopbackConnector, StubResolver, shop_site
from trustseal import netguard
from trustseal.jobs import service as jobs
from trustseal.merchants import service as merchants


def _no_dns(name: str, timeout: float) -> list[str]:
    raise merchants.DnsLookupFailed("no_name", "the name does not exist")


def test_sign_up_prove_the_domain_by_file_and_go_public(
    app, live_server, page, tmp_path, monkeypatch
):
    app.config["TRUSTSEAL_BASE_URL"] = live_server
    app.config["TRUSTSEAL_OUTBOX_DIR"] = str(tmp_path)
    app.config["TRUSTSEAL_SITE_CHECK_ALLOW_PRIVATE"] = True  # the test setting: a loopback site
    monkeypatch.setattr(merchants, "lookup_txt", _no_dns)  # never real DNS
    monkeypatch.setattr(netguard, "resolve", StubResolver())
    csp: list[str] = []
    page.on(
        "console",
        lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None,
    )

    page.goto(f"{live_server}/signup")
    page.fill("#name", "Tienda Sol")
    page.fill("#domain", "sol.pe")
    page.fill("#contact_email", "hola@sol.pe")
    page.fill("#email", "ana@sol.pe")
    page.fill("#password", "clave-segura-123")
    page.click("button[type=submit]")
    page.wait_for_selector("text=ana@sol.pe")

    with app.app_context():
        jobs.run_due_jobs()
    (sent,) = [
        email.message_from_bytes(p.read_bytes(), policy=email_policy.default)
        for p in tmp_path.glob("*.eml")
    ]
    text = sent.get_body(("plain",)).get_content()
    link = re.search(r"(http://127\.0\.0\.1:\d+/signup/confirm/[\w-]+)", text).group(1)
    page.goto(link)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/dashboard")
    assert "Tu perfil todavía no es público." in page.locator("#domain-banner").inner_text()
    assert page.request.get(f"{live_server}/m/tienda-sol").status == 404
    assert page.request.get(f"{live_server}/badges/tienda-sol.svg").status == 404

    page.click("#domain-banner a")
    page.wait_for_url(f"{live_server}/dashboard/domain")
    content = page.locator("#file-content").inner_text()
    assert page.locator("#file-url").inner_text() == "https://sol.pe/.well-known/trustseal.txt"
    assert content.startswith("trustseal-verification=")

    with shop_site(body=content.encode() + b"\n") as site_url:
        monkeypatch.setattr(netguard, "resolve", StubResolver({"sol.pe": ["127.0.0.1"]}))
        monkeypatch.setattr(netguard, "open_connection", LoopbackConnector(urlsplit(site_url).port))
        page.click("#domain-check")  # «Comprobar»
        page.wait_for_selector("text=Tu dominio está verificado: tu perfil ya es público.")
    assert page.locator("#domain-banner").count() == 0

    public = page.goto(f"{live_server}/m/tienda-sol")
    assert public is not None and public.status == 200
    assert "Tienda Sol" in page.locator("h1").inner_text()
    assert csp == []
