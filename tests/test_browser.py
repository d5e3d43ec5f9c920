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
