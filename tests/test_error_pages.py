"""Error pages for people (403, 404, 405, 500...) in the visitor's language; API routes keep
their JSON errors."""

from __future__ import annotations

import re

import pytest

from tests.signing_in import make_merchant_user, sign_in

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
# Werkzeug's English names and descriptions must never reach a page.
WERKZEUG_WORDS = (
    "Not Found",
    "Forbidden",
    "Method Not Allowed",
    "Internal Server Error",
    "The requested URL was not found",
    "The method is not allowed",
    "You don't have the permission",
)


def h1(page: str) -> str:
    return re.search(r"<h1>(.*?)</h1>", page, re.S).group(1).strip()


def html_lang(page: str) -> str:
    return re.search(r'<html lang="([^"]+)"', page).group(1)


def assert_page(answer, code: int, lang: str) -> str:
    page = answer.get_data(as_text=True)
    assert answer.status_code == code
    assert answer.content_type.startswith("text/html")
    assert html_lang(page) == lang
    assert f'<p class="error-code" aria-hidden="true">{code}</p>' in page
    assert f"({code}) · trustseal</title>" in page
    for words in WERKZEUG_WORDS:
        assert words not in page
    assert 'href="/"' in page
    return page


@pytest.fixture
def broken_page(app, monkeypatch):
    """/score fails with an unexpected error."""

    def broken() -> str:
        raise RuntimeError("secret internals")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    monkeypatch.setitem(app.view_functions, "public_home.score_page", broken)
    return "/score"


def test_404_in_spanish_by_default_english_on_request(client):
    spanish = assert_page(client.get("/no-such-page", headers=HTML), 404, "es")
    english = assert_page(client.get("/no-such-page?lang=en", headers=HTML), 404, "en")
    assert h1(english) == "Page not found"
    assert "There is no page at this address." in english
    for page in (spanish, english):  # a way on: the shop search
        assert 'action="/buscar"' in page and 'name="q"' in page


def test_404_of_a_shop_that_is_not_public(client):
    english = assert_page(client.get("/m/nadie?lang=en", headers=HTML), 404, "en")
    assert h1(english) == "Page not found"


def test_403_for_a_signed_in_merchant_in_the_console(app, client):
    make_merchant_user(app)
    sign_in(client, "duena@bodega.pe", "clave-segura-123")
    assert_page(client.get("/console", headers=HTML), 403, "es")
    english = assert_page(client.get("/console?lang=en", headers=HTML), 403, "en")
    assert h1(english) == "You cannot open this page"
    assert 'href="/login"' in english


def test_405_on_a_page(client):
    answer = client.post("/?lang=en", headers=HTML)
    english = assert_page(answer, 405, "en")
    assert h1(english) == "This page does not accept that action"
    assert "GET" in answer.headers["Allow"]
    assert_page(client.delete("/score", headers=HTML), 405, "es")


def test_500_says_nothing_of_the_internals(client, broken_page):
    spanish = assert_page(client.get(broken_page, headers=HTML), 500, "es")
    english = assert_page(client.get(broken_page + "?lang=en", headers=HTML), 500, "en")
    assert h1(english) == "Something went wrong on our side"
    for page in (spanish, english):
        assert "secret internals" not in page and "RuntimeError" not in page
        assert "Traceback" not in page


def test_a_message_given_on_purpose_is_shown_a_default_one_never(app, client):
    from flask import abort

    from trustseal.api.errors import page_detail

    with app.test_request_context("/"):
        try:
            abort(403, description="Solo el titular puede hacerlo.")
        except Exception as error:
            assert page_detail(error, {"code": 403}) == "Solo el titular puede hacerlo."
        try:
            abort(404)
        except Exception as error:
            assert page_detail(error, {"code": 404}) is None
        try:
            abort(500, description="database password wrong")
        except Exception as error:
            assert page_detail(error, {"code": 500}) is None


def test_api_routes_keep_their_json_errors(client):
    missing = client.get("/api/v1/nothing-here", headers=HTML)
    assert missing.status_code == 404 and missing.is_json
    assert set(missing.json) >= {"code", "status", "message"}
    wrong = client.delete("/api/v1/seal/criteria", headers=HTML)
    assert wrong.status_code == 405 and wrong.json["code"] == 405
    unknown = client.get("/api/v1/merchants/nadie?lang=en")
    assert unknown.status_code == 404 and unknown.json["code"] == 404
    unknown_key = client.get("/.well-known/nothing", headers=HTML)
    assert unknown_key.status_code == 404 and unknown_key.is_json


def test_a_json_client_of_a_page_gets_json(client):
    answer = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert answer.status_code == 404 and answer.json["code"] == 404


def test_the_error_page_sends_the_page_security_headers(client):
    answer = client.get("/no-such-page", headers=HTML)
    assert "default-src 'self'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Frame-Options"] == "DENY"
