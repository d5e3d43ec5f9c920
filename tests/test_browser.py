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


def test_review_with_photo_then_merchant_answer_on_profile(
    app, client, live_server, page, tmp_path
):
    from tests.helpers import bearer
    from tests.reviewing import image_bytes, review_link, shop

    app.config["TRUSTSEAL_BASE_URL"] = live_server
    key = shop(app)
    token = review_link(client, key)
    photo = tmp_path / "entrega.jpg"
    photo.write_bytes(image_bytes(size=(300, 200), exif=True))

    page.goto(f"{live_server}/r/{token}")
    page.check("input[name=rating][value='2']")
    page.check("input[name=process_rating][value='3']")
    page.fill("#title", "Llegó tarde")
    page.fill("#body", "El paquete llegó con tres días de retraso.")
    page.set_input_files("#photos", str(photo))
    page.click("button[type=submit]")
    page.wait_for_selector("text=¡Gracias! Tu opinión está publicada.")

    review = client.get("/api/v1/merchants/bodega/reviews").json["items"][0]
    assert review["photos"] and review["awaiting_response"]
    answer = client.put(
        f"/api/v1/reviews/{review['id']}/response",
        json={"body": "Disculpe la demora; le devolvimos el envío."},
        headers=bearer(key),
    )
    assert answer.status_code == 200

    page.goto(f"{live_server}/m/bodega")
    article = page.locator(f"#r{review['id']}")
    assert "Llegó tarde" in article.inner_text()
    assert "Disculpe la demora; le devolvimos el envío." in article.locator(".answer").inner_text()
    thumb = article.locator(".photos img")
    thumb.scroll_into_view_if_needed()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle()
    )
    assert page.locator(".awaiting").count() == 0


def test_hostile_badges_render_in_chromium_without_running_script(app, client, live_server, page):
    from tests.test_badges import HOSTILE, _hostile_shop

    app.config["TRUSTSEAL_BASE_URL"] = live_server
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    _hostile_shop(app, client, HOSTILE[0] + HOSTILE[2] + HOSTILE[4])
    inline = [
        client.get(f"/badges/hostil.svg?style={s}").get_data(as_text=True)
        for s in ("compact", "seal", "card")
    ]
    images = "".join(
        f'<img id="{s}" src="/badges/hostil.svg?style={s}">' for s in ("compact", "seal", "card")
    )
    page.goto(live_server + "/healthz")  # same origin for the page below
    page.set_content(f"<html><body>{images}{''.join(inline)}</body></html>")
    page.wait_for_function("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    widths = page.evaluate("[...document.images].map(i => i.naturalWidth)")
    assert all(w > 0 for w in widths)
    assert page.locator("svg").count() == 3
    assert page.evaluate("document.querySelectorAll('script').length") == 0
    page.wait_for_timeout(200)
    assert dialogs == []


def _screenshot(page, name: str) -> None:
    """Save a screenshot when TRUSTSEAL_SCREENSHOTS is set (how docs/img/ is refreshed)."""
    import os
    from pathlib import Path

    folder = os.environ.get("TRUSTSEAL_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_file_a_reclamo_and_read_the_answer_by_code(app, client, live_server, page):
    from tests.helpers import bearer, make_merchant

    _, key = make_merchant(
        app,
        slug="bodega",
        legal_name="Bodega Ñandú S.A.C.",
        ruc="20100070970",
        address="Av. Arequipa 100, Lima",
    )
    page.goto(f"{live_server}/m/bodega/libro")
    _screenshot(page, "libro-form-phone")
    page.check("input[name=kind][value=reclamo]")
    page.fill("#consumer-name", "Rosa Mendoza")
    page.select_option("#consumer-document_type", "DNI")
    page.fill("#consumer-document_number", "4567891")  # one digit short
    page.fill("#consumer-email", "rosa@example.pe")
    page.fill("#item-description", "Licuadora 600 W")
    page.fill("#detail", "Llegó con la jarra rota.")
    page.fill("#request", "Cambio por una nueva.")
    page.click("button[type=submit]")
    assert "no es válido" in page.locator("#consumer-document_number-error").inner_text()
    assert page.input_value("#detail") == "Llegó con la jarra rota."
    page.fill("#consumer-document_number", "45678912")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "Registrado: número" in page.locator("h1").inner_text(), page.locator(
        ".error"
    ).all_inner_texts()
    code = page.locator("p.follow-code strong").inner_text()
    number = page.locator("h1").inner_text().split()[-1]
    answer = client.put(
        f"/api/v1/book/{number}/response",
        json={"body": "Le enviamos una licuadora nueva el lunes."},
        headers=bearer(key),
    )
    assert answer.status_code == 200
    page.goto(f"{live_server}/libro/{code}")
    assert "Le enviamos una licuadora nueva el lunes." in page.locator("main").inner_text()
    assert "respondido" in page.locator("main").inner_text()


def _login(page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_certifier_reviews_checks_and_approves(
    app, client, live_server, page, browser, monkeypatch
):
    from tests.signing_in import make_merchant_user, make_staff_user
    from tests.sites import loopback_resolver, on_domain, shop_site
    from trustseal.jobs import service as jobs
    from trustseal.seals import sitecheck

    app.config["TRUSTSEAL_SITE_CHECK_ALLOW_PRIVATE"] = True
    monkeypatch.setattr(sitecheck, "resolve", loopback_resolver())  # the worker runs here
    make_merchant_user(app)
    email, password = make_staff_user(app, "certifier")
    _login(page, live_server, email, password)
    assert page.url.endswith("/console")
    page.click("text=Bodega Ñandú")
    page.select_option("#action", "approve")  # nothing judged yet: refused, with why
    page.fill("#reason", "Cumple")
    page.click("text=Registrar la decisión")
    page.wait_for_load_state()
    assert "Aún no: " in page.locator("main").inner_text()
    with shop_site() as url:
        page.fill("#url", on_domain(url))
        page.click("text=Revisar el sitio")
        page.wait_for_load_state()
        assert "en cola o en curso" in page.locator("#site-pending").inner_text()
        with app.app_context():
            assert jobs.run_due_jobs().done == 1  # the worker runs the check, not the request
        page.click("text=Recargar para ver el resultado")
        page.wait_for_load_state()
    assert page.locator("#site-result .site-complaints_book").inner_text() == "✓"
    checklist = page.locator("#checklist-form")
    # the site check judged the automatic criteria: the link is there, HTTPS is not (loopback)
    assert checklist.locator("select[name=verdict_complaints_book]").input_value() == "pass"
    assert checklist.locator("select[name=verdict_https]").input_value() == "fail"
    # one form, one save: every verdict, a note and an evidence link
    for select in checklist.locator("select").all():
        select.select_option("pass")
    checklist.locator("input[name=note_https]").fill("Certificado vigente en bodega.pe")
    checklist.locator("input[name=evidence_https]").fill("javascript:alert(1)")
    checklist.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert "https://" in page.locator("#problem-https").inner_text()  # refused, in place
    assert page.locator("a[href^=javascript]").count() == 0
    checklist = page.locator("#checklist-form")
    assert checklist.locator("input[name=note_https]").input_value().startswith("Certificado")
    checklist.locator("input[name=evidence_https]").fill("https://www.ssllabs.com/ssltest/")
    checklist.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert "veredictos cambiados" in page.locator("main").inner_text()
    assert page.locator("#checklist-form select[name=verdict_https]").input_value() == "pass"
    page.select_option("#action", "approve")
    page.fill("#reason", "Cumple todos los criterios obligatorios")
    page.click("text=Registrar la decisión")
    page.wait_for_load_state()
    assert "Decisión registrada" in page.locator("main").inner_text()
    _screenshot(page, "console-desktop")
    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="es-PE")
    phone.add_cookies(page.context.cookies())
    phone_page = phone.new_page()
    phone_page.goto(f"{live_server}/console/m/bodega")
    _screenshot(phone_page, "console-phone")
    phone.close()
    page.goto(f"{live_server}/badges/bodega.svg?style=card")
    assert "VIGENTE" in page.content()


def test_merchant_answers_and_sees_it_public_but_not_the_console(
    app, client, live_server, page, browser
):
    from tests.booking import entry_body
    from tests.reviewing import post_review, review_link
    from tests.signing_in import make_merchant_user

    key, password = make_merchant_user(app)
    review_id = post_review(
        client, review_link(client, key, "W-1"), rating=1, body="Nunca llegó"
    ).json["id"]
    filed = client.post("/api/v1/merchants/bodega/book", json=entry_body()).json
    page.set_viewport_size({"width": 1200, "height": 900})
    _login(page, live_server, "duena@bodega.pe", password)
    assert page.url.endswith("/dashboard")
    _screenshot(page, "dashboard-desktop")
    page.goto(f"{live_server}/dashboard/reviews")
    page.fill(f"#answer-{review_id}", "Le reenviamos el pedido hoy.")
    page.click("text=Publicar la respuesta")
    page.wait_for_load_state()
    page.goto(f"{live_server}/dashboard/complaints")
    page.fill(f"[id='answer-{filed['number']}']", "Cambiamos la licuadora.")
    page.click("text=Enviar la respuesta")
    page.wait_for_load_state()
    page.goto(f"{live_server}/m/bodega")
    assert "Le reenviamos el pedido hoy." in page.locator(f"#r{review_id}").inner_text()
    page.goto(f"{live_server}/libro/{filed['code']}")
    assert "Cambiamos la licuadora." in page.locator("main").inner_text()
    response = page.goto(f"{live_server}/console")
    assert response.status == 403
    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="es-PE")
    phone.add_cookies(page.context.cookies())
    phone_page = phone.new_page()
    phone_page.goto(f"{live_server}/dashboard")
    _screenshot(phone_page, "dashboard-phone")
    phone.close()
