"""Browser tests: the pages as a person sees them (headless Debian Chromium)."""

from __future__ import annotations

from tests.helpers import make_merchant


def test_home_in_spanish_then_english(live_server, page):
    page.goto(live_server + "/")
    assert page.locator("h1").inner_text() == "¿Puedo confiar en esta tienda?"
    assert page.locator("html").get_attribute("lang") == "es"
    page.click("text=English")
    assert page.locator("h1").inner_text() == "Can I trust this shop?"
    page.goto(live_server + "/")  # the choice is remembered
    assert page.locator("html").get_attribute("lang") == "en"


def test_api_reference_renders_offline(app, live_server, page):
    make_merchant(app)
    external = []
    page.on(
        "request", lambda r: external.append(r.url) if not r.url.startswith(live_server) else None
    )
    page.goto(live_server + "/api/v1/docs")
    assert "POST" in page.locator("main").inner_text()
    assert page.locator("code", has_text="/api/v1/orders").count() >= 1
    assert external == []  # no CDN, nothing outside the service
