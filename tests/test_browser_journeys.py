"""The three users' journeys end to end in Chromium, at desktop and phone sizes, with
axe-core (tests/browser, injected by Playwright) on every page: no serious or critical
accessibility violation. Screenshots of each step go to tests/screenshots/ (ignored)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require
from tests.helpers import bearer
from tests.signing_in import make_merchant_user, make_staff_user

AXE = Path(__file__).parent / "browser" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = Path(__file__).parent / "screenshots"
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
DEMO = "tienda-demo"
# The pages do not depend on the database: SQLite alone (the `database_url` fixture of
# tests/conftest.py, given its one parameter here).
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


class Journey:
    """A page of the browser walking one user's journey: each step is checked by axe and
    photographed; ``steps`` counts them."""

    def __init__(self, page: Any, base: str, name: str, size: str) -> None:
        self.page, self.base, self.name, self.size = page, base, name, size
        self.steps = 0
        self.problems: list[str] = []

    def check(self, what: str) -> None:
        """Run axe on the page as it is; photograph it."""
        self.page.wait_for_load_state()
        self.steps += 1
        found = self.page.evaluate(
            """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
                 .filter(v => v.impact === 'serious' || v.impact === 'critical')
                 .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"""
        )
        self.problems += [f"{what} ({self.page.url}): {problem}" for problem in found]
        SHOTS.mkdir(exist_ok=True)
        shot = SHOTS / f"{self.name}-{self.size}-{self.steps:02d}-{what}.png"
        self.page.screenshot(path=str(shot), full_page=True)

    def go(self, path: str, what: str) -> None:
        """Open ``path`` and check it."""
        self.page.goto(self.base + path)
        self.check(what)


@pytest.fixture
def axe() -> None:
    """axe-core is installed (``npm ci --prefix tests/browser``, done by make install)."""
    missing = f"axe-core is not installed ({AXE}): npm ci --prefix tests/browser"
    require(None if AXE.exists() else missing)  # under CI=true a failure, never a skip


@pytest.fixture
def demo(app: Any, runner: Any) -> str:
    """The demo shop (public, with reviews), its owner's account; its API key."""
    loaded = runner.invoke(args=["demo", "--purchases", "40"])
    assert loaded.exit_code == 0, loaded.output
    make_merchant_user(app, slug=DEMO, email="duena@tienda-demo.pe")
    found = re.search(r"api key: (\S+)", loaded.output)
    assert found
    return found.group(1)


def journey(browser: Any, live_server: str, name: str, size: str) -> Journey:
    """A fresh context at ``size`` with axe in every page it opens (the CSP bypassed so
    that axe can be injected; the pages' own CSP has its tests in test_browser_csp.py).

    axe is given once, as an init script the browser runs in each new document: added to
    each page as a script tag, its 550 kB went from Python to the browser at every step
    (a third of a step's time)."""
    context = browser.new_context(viewport=SIZES[size], locale="es-PE", bypass_csp=True)
    context.add_init_script(path=str(AXE))
    return Journey(context.new_page(), live_server, name, size)


def sign_in(walk: Journey, email: str, password: str) -> None:
    walk.page.goto(walk.base + "/login")
    walk.check("login")
    walk.page.fill("#email", email)
    walk.page.fill("#password", password)
    walk.page.click("main button[type=submit]")
    walk.page.wait_for_load_state()


@pytest.mark.usefixtures("axe")
@pytest.mark.parametrize("size", list(SIZES))
def test_browser_shopper_finds_reads_votes_reviews_and_files(
    app, client, live_server, browser, demo, size
):
    from tests.reviewing import review_link

    app.config["TRUSTSEAL_BASE_URL"] = live_server
    walk = journey(browser, live_server, "shopper", size)
    page = walk.page
    walk.go("/", "home")
    page.fill("input[name=q]", "demo")
    page.press("input[name=q]", "Enter")
    walk.check("search")
    page.click(f"main a[href='/m/{DEMO}']")
    walk.check("profile")
    page.select_option("select[name=sort]", "lowest")
    page.click("form.review-search button[type=submit]")
    walk.check("profile-lowest")
    assert "sort=lowest" in page.url
    page.locator("form.helpful button").first.click()
    walk.check("voted")
    assert re.search(r"\(1\)", page.locator("form.helpful button").first.inner_text())
    page.click("text=Presentar un reclamo")
    walk.check("book-form")
    page.check("input[name=kind][value=reclamo]")
    page.fill("#consumer-name", "Rosa Mendoza")
    page.select_option("#consumer-document_type", "DNI")
    page.fill("#consumer-document_number", "45678912")
    page.fill("#consumer-email", "rosa@example.pe")
    page.fill("#item-description", "Licuadora 600 W")
    page.fill("#detail", "Llegó con la jarra rota.")
    page.fill("#request", "Cambio por una nueva.")
    page.click("main button[type=submit]")
    walk.check("book-filed")
    assert "Registrado: número" in page.locator("h1").inner_text()
    code = page.locator("p.follow-code strong").inner_text()
    walk.go("/libro", "book-lookup")
    page.fill("input[name=code]", "ABCD-EFGH-JKLM-NPQR")
    page.press("input[name=code]", "Enter")
    walk.check("book-lookup-unknown")
    page.fill("input[name=code]", code.lower())
    page.press("input[name=code]", "Enter")
    walk.check("book-entry")
    assert "Llegó con la jarra rota." in page.locator("main").inner_text()
    walk.go(f"/verify/{DEMO}", "verify")
    walk.go("/score", "score-rules")
    walk.go("/transparency", "transparency")
    token = review_link(client, demo, "J-1")
    walk.go(f"/r/{token}", "review-form")
    page.check("input[name=rating][value='5']")
    page.check("input[name=process_rating][value='5']")
    # The new questions take one short row; the rest waits, folded, under "Más detalles".
    on_time = page.locator("fieldset:has(input[name=on_time])")
    assert on_time.bounding_box()["height"] < 120
    assert not page.locator("input[name=recommend]").first.is_visible()
    page.get_by_label("Sí", exact=True).check()
    page.locator("details.more-answers summary").click()
    page.check("input[name=recommend][value='9']")
    page.check("input[name=dimension_delivery][value='5']")
    page.fill("#body", "Todo llegó a tiempo y bien embalado.")
    page.click("main button[type=submit]")
    walk.check("receipt")
    assert "Tu opinión está publicada" in page.locator("main").inner_text()
    mine = client.get(f"/api/v1/merchants/{DEMO}/reviews?limit=1").json["items"][0]
    assert (mine["on_time"], mine["recommend"], mine["dimensions"]) == (True, 9, {"delivery": 5})
    # A low review the shop answered: its author's single-use link, "was it resolved?"
    walk.go(f"/resolve/{_resolution_link(app, client)}", "resolve-form")
    page.get_by_label("Sí", exact=True).check()
    page.check("input[name=rating][value='4']")
    page.fill("#comment", "Me cambiaron el producto al día siguiente.")
    page.click("main button[type=submit]")
    walk.check("resolved")
    assert "Gracias: tu respuesta quedó registrada" in page.locator("h1").inner_text()
    page.context.close()
    assert walk.steps == 17
    assert not walk.problems, "\n".join(walk.problems)


def _resolution_link(app: Any, client: Any) -> str:
    """A fresh resolution link for a low demo review the shop answered and nobody judged."""
    from trustseal.extensions import db
    from trustseal.resolutions import service as resolutions

    items = client.get(f"/api/v1/merchants/{DEMO}/reviews?sort=lowest&limit=50").json["items"]
    review = next(r for r in items if r["response"] and r["update"] is None and r["rating"] <= 3)
    with app.test_request_context():
        merchant_id = client.get(f"/api/v1/merchants/{DEMO}").json["id"]
        token = resolutions.offer("review", review["id"], merchant_id)
        db.session.commit()
    assert token is not None
    return token


@pytest.mark.usefixtures("axe", "demo")
@pytest.mark.parametrize("size", list(SIZES))
def test_browser_merchant_answers_from_the_dashboard(app, live_server, browser, size):
    walk = journey(browser, live_server, "merchant", size)
    sign_in(walk, "duena@tienda-demo.pe", "clave-segura-123")
    walk.check("dashboard")
    for path, what in (
        ("/dashboard/reviews", "reviews"),
        ("/dashboard/complaints", "complaints"),
        ("/dashboard/complaints?tab=answered", "complaints-answered"),
        ("/dashboard/orders", "orders"),
        ("/dashboard/stores", "stores"),
        ("/dashboard/badge", "badge"),
        ("/dashboard/seal", "seal"),
        ("/dashboard/analytics", "analytics"),
        ("/dashboard/domain", "domain"),
        ("/dashboard/keys", "keys"),
    ):
        walk.go(path, what)
    walk.page.context.close()
    assert walk.steps == 12
    assert not walk.problems, "\n".join(walk.problems)


@pytest.mark.usefixtures("axe")
@pytest.mark.parametrize("size", list(SIZES))
def test_browser_certifier_walks_the_console(app, client, live_server, browser, size, demo):
    email, password = make_staff_user(app, "certifier")
    items = client.get(f"/api/v1/merchants/{DEMO}/reviews?limit=20").json["items"]
    review = next(r for r in items if r["body"] and len(r["body"].split()) > 2)
    passage = review["body"].split()[1]
    reported = client.post(
        f"/api/v1/reviews/{review['id']}/flags",
        json={"reason": "personal_data", "detail": "Publica datos de una persona"},
        headers=bearer(demo),
    )
    assert reported.status_code == 202, reported.json
    walk = journey(browser, live_server, "certifier", size)
    sign_in(walk, email, password)
    walk.check("console")
    for path, what in (
        (f"/console/m/{DEMO}", "merchant"),
        ("/console/moderation", "moderation"),
    ):
        walk.go(path, what)
    # The flag's reason (personal data) opens the form to hide a passage, not all of it.
    card = walk.page.locator(f"#r{review['id']}")
    card.get_by_label("Pasajes que se ocultarán").fill(passage)
    card.locator("details.redact").get_by_role("checkbox").check()
    card.get_by_role("button", name="Ocultar estos pasajes").click()
    walk.check("redacted")
    assert "Los pasajes quedaron ocultos" in walk.page.locator("main").inner_text()
    for path, what in (("/console/complaints", "complaints"), ("/console/audit", "audit")):
        walk.go(path, what)
    walk.page.goto(f"{walk.base}/m/{DEMO}#r{review['id']}")
    shown = walk.page.locator(f"#r{review['id']}").inner_text()
    assert "[…]" in shown and "Parte de este texto fue ocultada" in shown
    walk.page.context.close()
    assert walk.steps == 7
    assert not walk.problems, "\n".join(walk.problems)
