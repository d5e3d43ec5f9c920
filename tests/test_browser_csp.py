"""Browser tests of the strict Content-Security-Policy (headless Debian Chromium): the pages
run with zero violations, and what used inline script or style still works."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.reviewing import publish_review
from tests.signing_in import make_merchant_user, make_staff_user

REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (e) {
  window.__reportViolation(e.violatedDirective + " blocked " + (e.blockedURI || "inline")
    + " at " + e.documentURI + ":" + e.lineNumber);
});
"""


class Watch:
    """What a page reports when the CSP (or anything else) refuses or fails."""

    def __init__(self, context: Any) -> None:
        self.violations: list[str] = []
        self.console: list[str] = []
        context.expose_function("__reportViolation", self.report)
        context.add_init_script(REPORT_VIOLATIONS)

    def report(self, violation: str) -> None:
        """Record one ``securitypolicyviolation`` event (called from the page)."""
        self.violations.append(violation)

    def attach(self, page: Any) -> Any:
        """Listen to a page's console (Chromium logs every CSP refusal there)."""
        page.on(
            "console",
            lambda m: self.console.append(f"{m.type}: {m.text} ({m.location.get('url')})"),
        )
        page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
        page.on(
            "response",
            lambda r: (
                self.console.append(f"status {r.status}: {r.url}") if r.status >= 400 else None
            ),
        )
        return page

    def csp_messages(self) -> list[str]:
        """Console lines about the Content-Security-Policy."""
        return [m for m in self.console if "Content Security Policy" in m or "Refused to" in m]

    def errors(self) -> list[str]:
        """Console errors of any kind (but the browser's own /favicon.ico probe)."""
        return [
            m
            for m in self.console
            if m.startswith(("error:", "pageerror:", "status")) and "/favicon.ico" not in m
        ]


@pytest.fixture
def shop(app: Flask, client: FlaskClient, live_server: str) -> dict[str, str]:
    """A merchant with three reviews, an owner user and a certifier."""
    app.config["TRUSTSEAL_BASE_URL"] = live_server  # embed snippets point here
    key, password = make_merchant_user(app)
    for n, rating in enumerate((5, 4, 2)):
        publish_review(client, key, f"C-{n}", rating=rating, body="Bien\ny rápido")
    staff_email, staff_password = make_staff_user(app, "certifier")
    return {
        "email": "duena@bodega.pe",
        "password": password,
        "staff_email": staff_email,
        "staff_password": staff_password,
    }


@pytest.fixture
def watched(page: Any) -> Iterator[tuple[Any, Watch]]:
    """The ``page`` fixture with CSP violations and console messages recorded."""
    watch = Watch(page.context)
    yield watch.attach(page), watch


def _login(page: Any, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def _assert_clean(page: Any, watch: Watch) -> None:
    page.wait_for_load_state("load")
    page.wait_for_timeout(100)  # violation events are dispatched asynchronously
    assert watch.violations == []
    assert watch.csp_messages() == []
    assert watch.errors() == []


def test_browser_public_profile_runs_under_the_csp(
    live_server: str, shop: dict[str, str], watched: tuple[Any, Watch]
) -> None:
    """The profile: JSON-LD is data (no violation), bars and chart render from CSS and SVG
    attributes alone, multi-line texts keep their lines."""
    page, watch = watched
    response = page.goto(f"{live_server}/m/bodega")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe" not in csp
    _assert_clean(page, watch)
    assert page.locator('script[type="application/ld+json"]').count() == 1
    bars = page.locator(".dist .bar rect")
    assert bars.count() == 5
    five_stars = bars.first.bounding_box()
    assert five_stars is not None and five_stars["width"] > 0
    chart = page.locator("svg.chart")
    assert chart.evaluate("e => getComputedStyle(e).maxWidth") == "640px"
    assert chart.locator("rect").count() == 12
    body = page.locator(".review p.pre-line").first
    assert body.evaluate("e => getComputedStyle(e).whiteSpace") == "pre-line"
    assert body.evaluate(
        "e => e.getBoundingClientRect().height > 1.5 * parseFloat(getComputedStyle(e).lineHeight)"
    )
    page.goto(f"{live_server}/verify/bodega")
    _assert_clean(page, watch)
    assert page.locator(".seal-line").evaluate("e => getComputedStyle(e).fontSize") != "16px"


def test_browser_dashboard_copy_buttons_work_under_the_csp(
    live_server: str, shop: dict[str, str], watched: tuple[Any, Watch]
) -> None:
    """The copy buttons come from /static/copy.js: a click copies the snippet and says ✓."""
    page, watch = watched
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    _login(page, live_server, shop["email"], shop["password"])
    assert page.url.endswith("/dashboard")
    _assert_clean(page, watch)
    page.goto(f"{live_server}/dashboard/badge")
    _assert_clean(page, watch)
    assert page.locator("script:not([src])").count() == 0
    # The previews load (img-src) from the service itself; the lazy ones once in view.
    for image in page.locator("main img").all():
        image.scroll_into_view_if_needed()
    page.wait_for_load_state("networkidle")
    assert page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    button = page.locator("button.copy").first
    snippet = button.get_attribute("data-copy")
    assert button.inner_text() != "✓"
    button.click()
    page.wait_for_function("b => b.textContent === '✓'", arg=button.element_handle())
    assert page.evaluate("navigator.clipboard.readText()") == snippet
    assert (
        page.locator("pre.wrap-all").first.evaluate("e => getComputedStyle(e).whiteSpace")
        == "pre-wrap"
    )
    page.goto(f"{live_server}/dashboard/analytics")
    _assert_clean(page, watch)
    assert page.locator("svg.chart").count() == 2
    assert page.locator("svg.chart").first.bounding_box()["width"] > 0
    page.goto(f"{live_server}/dashboard/stores")
    _assert_clean(page, watch)


def test_browser_console_merchant_page_runs_under_the_csp(
    browser: Any, live_server: str, shop: dict[str, str]
) -> None:
    """The certifier's merchant page (forms, inline forms) with zero violations."""
    context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="es-PE")
    try:
        watch = Watch(context)
        page = watch.attach(context.new_page())
        _login(page, live_server, shop["staff_email"], shop["staff_password"])
        assert page.url.endswith("/console")
        _assert_clean(page, watch)
        response = page.goto(f"{live_server}/console/m/bodega")
        assert response.status == 200
        assert response.headers["x-frame-options"] == "DENY"
        assert "no-store" in response.headers["cache-control"]
        _assert_clean(page, watch)
        form = page.locator("#checklist-form")
        form.locator("select[name=verdict_https]").select_option("pass")
        form.locator("button[type=submit]").click()  # form-action 'self' lets the post through
        page.wait_for_load_state()
        assert page.locator("#checklist-form select[name=verdict_https]").input_value() == "pass"
        _assert_clean(page, watch)
        signout = page.locator("header form.inline")
        assert signout.evaluate("e => getComputedStyle(e).display") == "inline"
    finally:
        context.close()


def test_browser_an_inline_script_would_be_refused(
    live_server: str, shop: dict[str, str], watched: tuple[Any, Watch]
) -> None:
    """The watch sees real violations (so zero above means zero): inject an inline script
    and an inline style into a served page and both are refused."""
    page, watch = watched
    page.goto(f"{live_server}/score")
    page.evaluate(
        """() => {
          const s = document.createElement("script");
          s.textContent = "window.__ran = true";
          document.body.appendChild(s);
          const p = document.createElement("p");
          p.setAttribute("style", "color: red");
          document.body.appendChild(p);
        }"""
    )
    page.wait_for_timeout(200)
    assert page.evaluate("window.__ran === undefined")
    directives = {v.split()[0] for v in watch.violations}
    assert {"script-src-elem", "style-src-attr"} <= directives, watch.violations
