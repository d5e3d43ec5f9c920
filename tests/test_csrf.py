"""CSRF, fail-closed: every unsafe request outside the JSON API needs this session's token.

The form routes are found by walking the URL map, not listed: a POST to each without the
token (or with another session's) is a 400 that changes nothing. A blueprint registered
in a throwaway app is protected without being named anywhere. The JSON API and the
webhooks take no token, with or without a session cookie beside them.

The one exemption, listed below with its reason, is the profile's "Helpful" button: the
profile sets no cookie, so there is no session to hold a token; the route refuses posts
from other sites' pages by their Sec-Fetch-Site and Origin headers instead, tested here.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Blueprint, Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select

from tests import plugin_payloads as pp
from tests.booking import BOOK_FORM, entry_body
from tests.conftest import make_app
from tests.helpers import bearer, make_merchant, order_body
from tests.reviewing import review_body, review_link
from tests.signing_in import csrf, make_merchant_user, make_staff_user, post_form, sign_in
from trustseal.api.blueprint import Blueprint as ApiBlueprint
from trustseal.extensions import db

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
# Page routes exempt from the token, each with why, and what protects it instead. The walk
# checks that the app exempts exactly these (a new exemption must be listed and tested).
CSRF_EXEMPT = {
    "public_reviews.helpful": "cookie-less profile; cross-site posts refused by their "
    "Sec-Fetch-Site and Origin headers (test_the_helpful_button_takes_no_token_but_"
    "refuses_other_sites)",
    "public_unsubscribe.unsubscribe": "mail programs post the one-click unsubscribe (RFC "
    "8058) from their servers, without a session; only the recipient holds the signed link "
    "(test_a_mail_programs_one_click_post_unsubscribes)",
}
# Form routes the walk must find (a sample: the walk covers every one the map has).
KNOWN_FORMS = {
    "accounts.login_page",
    "accounts.logout",
    "accounts.signup",
    "accounts.signup_confirm",
    "accounts.reset_password",
    "public_reviews.review_form",
    "public_book.book_form",
    "dashboard.keys",
    "dashboard.answer_review",
    "dashboard.flag_review",
    "console.signal_decision",
    "console.enroll_totp",
}

# The refusal (``accounts.web.CSRF_REFUSED``) in Spanish, the default language.
REFUSED = "El formulario venció o no vino de este sitio; vuelve a cargarlo."


def _page_routes(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, method, URL) of every unsafe route outside the JSON API's blueprints."""
    adapter = app.url_map.bind("localhost")
    found = []
    for rule in app.url_map.iter_rules():
        blueprint = app.blueprints.get(rule.endpoint.rpartition(".")[0])
        if isinstance(blueprint, ApiBlueprint):
            continue
        url = adapter.build(rule.endpoint, dict.fromkeys(rule.arguments, 1))
        found += [(rule.endpoint, m, url) for m in sorted(set(UNSAFE) & (rule.methods or set()))]
    return found


def _row_counts(app: Flask) -> dict[str, int]:
    """The number of rows of every table (the audit trail and sessions included)."""
    with app.app_context():
        counts = {
            table.name: db.session.scalar(select(func.count()).select_from(table)) or 0
            for table in db.metadata.sorted_tables
        }
        db.session.remove()
        return counts


def _noisy_png(side: int = 800) -> bytes:
    """A photo PNG cannot compress (random pixels): about 3 bytes a pixel."""
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "PNG")
    return out.getvalue()


def _refused(answer: Any) -> bool:
    """True for the CSRF refusal: a 400 that says why."""
    said = answer.json["message"] if answer.is_json else answer.get_data(as_text=True)
    return answer.status_code == 400 and REFUSED in said


@pytest.fixture
def signed_in(app: Flask) -> dict[str, FlaskClient]:
    """A signed-in merchant owner, a signed-in admin and an anonymous visitor, each with a
    CSRF token in its session (so a refusal is about the request, not a missing session)."""
    make_merchant_user(app)
    email, password = make_staff_user(app, "admin")
    merchant, staff, anonymous = app.test_client(), app.test_client(), app.test_client()
    assert sign_in(merchant, "duena@bodega.pe", "clave-segura-123").status_code == 302
    assert sign_in(staff, email, password).status_code == 302
    csrf(merchant, "/dashboard/keys")
    csrf(staff, "/console")
    csrf(anonymous, "/login")
    return {"merchant": merchant, "staff": staff, "anonymous": anonymous}


def _exempt_endpoints(app: Flask) -> set[str]:
    """The endpoints whose views the app's CSRFProtect exempts."""
    exempt = app.extensions["csrf"]._exempt_views
    return {
        endpoint
        for endpoint, view in app.view_functions.items()
        if f"{view.__module__}.{view.__name__}" in exempt
    }


def test_every_form_route_refuses_a_post_without_the_token(app, signed_in):
    routes = _page_routes(app)
    assert {endpoint for endpoint, _, _ in routes} >= KNOWN_FORMS
    assert _exempt_endpoints(app) == set(CSRF_EXEMPT)
    assert not app.extensions["csrf"]._exempt_blueprints
    before = _row_counts(app)
    not_refused = [
        (who, method, url, answer.status_code)
        for endpoint, method, url in routes
        if endpoint not in CSRF_EXEMPT
        for who, client in signed_in.items()
        if not _refused(answer := client.open(url, method=method, data={"x": "forged"}))
    ]
    assert not_refused == []
    assert _row_counts(app) == before  # nothing written, nothing audited


def test_the_helpful_button_takes_no_token_but_refuses_other_sites(app, client):
    key = make_merchant(app)[1]
    review = client.post("/api/v1/reviews", json=review_body(review_link(client, key))).json
    url = f"/m/bodega/r/{review['id']}/helpful"
    before = _row_counts(app)
    forged = [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "none"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://trustseal.test.evil.example"},
        {"Sec-Fetch-Site": "same-origin", "Origin": "https://evil.example"},
    ]
    for headers in forged:
        answer = client.post(url, headers=headers)
        assert answer.status_code == 403, headers
        assert "set-cookie" not in answer.headers
    counted = {"rate_limit_counters"}  # the refused posts count against the limit
    after = _row_counts(app)
    assert {t: n for t, n in after.items() if t not in counted} == {
        t: n for t, n in before.items() if t not in counted
    }  # not a vote more
    own = [
        {},  # no browser page (a script): one vote per visitor all the same
        {"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"},  # as addressed
        {"Origin": "http://trustseal.test"},  # the public BASE_URL
    ]
    for headers in own:
        answer = client.post(url, headers=headers)
        assert answer.status_code == 303, headers
        assert "set-cookie" not in answer.headers
    assert client.get(f"/api/v1/reviews/{review['id']}").json["helpful_count"] == 1
    with client.session_transaction() as session:
        assert "csrf_token" not in session  # no token was ever minted for it


def test_a_token_of_another_session_or_a_mangled_one_is_refused(app, signed_in):
    merchant = signed_in["merchant"]
    others = csrf(signed_in["anonymous"], "/login")
    mine = csrf(merchant, "/dashboard/keys")
    before = _row_counts(app)
    for token in (others, mine[:-2] + "xx", "", "not-a-token"):
        answer = merchant.post("/dashboard/keys", data={"label": "forjada", "csrf_token": token})
        assert _refused(answer), token
        assert _refused(merchant.post("/dashboard/keys", headers={"X-CSRFToken": token}))
    assert _row_counts(app) == before
    created = post_form(merchant, "/dashboard/keys", {"label": "buena"})
    assert created.status_code == 200 and _row_counts(app) != before


def test_the_refusal_is_the_service_error_page_or_json(app, signed_in):
    page = signed_in["merchant"].post("/dashboard/keys", data={"label": "x"})
    assert page.status_code == 400 and page.mimetype == "text/html"
    assert "<h1>" in page.get_data(as_text=True) and "no-store" in page.headers["Cache-Control"]
    as_json = signed_in["merchant"].post(
        "/dashboard/keys", data={"label": "x"}, headers={"Accept": "application/json"}
    )
    assert as_json.status_code == 400
    assert as_json.json == {"code": 400, "status": "Bad Request", "message": REFUSED}


def test_signing_in_starts_a_new_token(app, client):
    make_merchant_user(app)
    before = csrf(client)
    assert sign_in(client, "duena@bodega.pe", "clave-segura-123").status_code == 302
    with client.session_transaction() as session:
        assert "csrf_token" not in session  # no fixation: the next page mints a new one
    refused = client.post("/dashboard/keys", data={"label": "x", "csrf_token": before})
    assert _refused(refused)
    assert post_form(client, "/dashboard/keys", {"label": "x"}).status_code == 200
    token = csrf(client, "/dashboard")
    assert post_form(client, "/logout", {}, token_from="/dashboard").status_code == 302
    signed_out = client.post("/login", data={"email": "a", "password": "b", "csrf_token": token})
    assert _refused(signed_out)  # signing out dropped the token too


def test_the_public_review_and_book_forms_work_with_their_token(app, client):
    key = make_merchant(app)[1]
    token = review_link(client, key)
    form = client.get(f"/r/{token}")
    assert 'name="csrf_token"' in form.get_data(as_text=True)
    forged = client.post(f"/r/{token}", data={"rating": "5", "process_rating": "5", "body": "x"})
    assert _refused(forged)
    assert client.get("/api/v1/merchants/bodega/reviews").json["items"] == []
    photo = _noisy_png()
    assert len(photo) > app.config["MAX_CONTENT_LENGTH"]  # the token is read under the
    done = post_form(  # form's own upload cap, not the global one
        client,
        f"/r/{token}",
        {
            "rating": "5",
            "process_rating": "4",
            "body": "Todo bien",
            "photos": [(io.BytesIO(photo), "a.png")],
        },
    )
    assert done.status_code == 201, done.get_data(as_text=True)[:300]
    assert len(client.get("/api/v1/merchants/bodega/reviews").json["items"]) == 1

    assert _refused(client.post("/m/bodega/libro", data=BOOK_FORM))
    assert client.get("/api/v1/book/export.csv", headers=bearer(key)).data.count(b"\n") == 1
    filed = post_form(client, "/m/bodega/libro", BOOK_FORM)
    assert filed.status_code == 201 and "000001-" in filed.get_data(as_text=True)


def test_forms_post_over_https_without_a_referer(app, client):
    """Secret-URL pages send ``Referrer-Policy: no-referrer``; their posts carry no Referer
    (nor an Origin), so Flask-WTF's strict Referer check over HTTPS stays off."""
    email, password = make_staff_user(app, "admin")
    https = "https://trustseal.test"
    page = client.get("/login", base_url=https).get_data(as_text=True)
    form = {"email": email, "password": password}
    form["csrf_token"] = page.split('name="csrf_token" value="')[1].split('"')[0]
    app.config["WTF_CSRF_SSL_STRICT"] = True  # Flask-WTF's default: refused
    assert _refused(client.post("/login", base_url=https, data=form))
    app.config["WTF_CSRF_SSL_STRICT"] = False  # as init_app sets it
    assert client.post("/login", base_url=https, data=form).status_code == 302


def test_a_token_lasts_as_long_as_a_session(app):
    assert app.config["WTF_CSRF_SSL_STRICT"] is False
    hours = app.config["TRUSTSEAL_SESSION_HOURS"]
    assert app.config["WTF_CSRF_TIME_LIMIT"] == hours * 3600
    assert app.config["PERMANENT_SESSION_LIFETIME"].total_seconds() == hours * 3600


def test_the_api_and_webhooks_take_no_token_even_beside_a_session_cookie(app, signed_in):
    browser = signed_in["merchant"]  # carries a signed-in session cookie
    key = make_merchant(app, slug="tienda", domain="tienda.pe")[1]
    order = browser.post("/api/v1/orders", json=order_body(status="delivered"), headers=bearer(key))
    assert order.status_code == 201, order.json
    link = browser.post(f"/api/v1/orders/{order.json['id']}/invitation", headers=bearer(key))
    assert link.status_code == 201
    review = browser.post("/api/v1/reviews", json=review_body(link.json["token"]))
    assert review.status_code == 201, review.json
    book = app.test_client().post("/api/v1/merchants/tienda/book", json=entry_body())
    assert book.status_code == 201, book.json
    store = pp.create_store(browser, key, "shopify", **pp.shopify_settings())
    body = pp.raw(pp.shopify_order(1001))
    hook = browser.post(
        f"/webhooks/shopify/{store['id']}",
        data=body,
        headers=pp.shopify_headers(body, "orders/create", "w-1"),
    )
    assert hook.status_code == 200
    # Why that is safe: the API never takes the session cookie as a credential, and
    # under /api/ a body must be JSON, which a cross-site form cannot send.
    assert browser.get("/api/v1/stores").status_code == 401
    form_encoded = browser.post("/api/v1/merchants/tienda/book", data={"kind": "queja"})
    assert form_encoded.status_code == 415


@pytest.fixture
def throwaway_app(app: Flask, database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """A second app on the test database, before its first request (blueprints can still be
    registered)."""
    fresh = make_app(database_url, tmp_path / "instance")
    yield fresh
    with fresh.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_new_blueprint_is_protected_without_being_listed(throwaway_app):
    """Fail-closed: routes nobody told the CSRF check about, even one under /api/."""
    for name, prefix in (("novedad", "/novedad"), ("api_a_mano", "/api/v1/a-mano")):
        extra = Blueprint(name, __name__, url_prefix=prefix)

        @extra.route("/form", methods=list(UNSAFE))
        def form() -> str:
            """A new form whose posts would change something."""
            return "done"

        throwaway_app.register_blueprint(extra)
    client = throwaway_app.test_client()
    token = csrf(client, "/login")
    for prefix in ("/novedad", "/api/v1/a-mano"):
        for method in UNSAFE:
            answer = client.open(f"{prefix}/form", method=method, json={"x": 1})
            assert answer.status_code == 400, (prefix, method)
            said = answer.json["message"] if answer.is_json else answer.get_data(as_text=True)
            assert REFUSED in said
            accepted = client.open(
                f"{prefix}/form", method=method, json={"x": 1}, headers={"X-CSRFToken": token}
            )
            assert accepted.status_code == 200 and accepted.data == b"done", (prefix, method)
    accepted = client.post("/novedad/form", data={"x": "1", "csrf_token": token})
    assert accepted.status_code == 200


def test_only_blueprints_of_the_json_api_are_exempt(throwaway_app):
    """A blueprint built on the API's class, registered through the API, takes no token."""
    machine = ApiBlueprint("maquina", __name__, url_prefix="/api/v1/maquina")

    @machine.route("/ping", methods=["POST"])
    def ping() -> dict[str, bool]:
        """A machine endpoint (bearer-authenticated in real life)."""
        return {"ok": True}

    throwaway_app.extensions["trustseal.api"].register_blueprint(machine)
    answer = throwaway_app.test_client().post("/api/v1/maquina/ping")
    assert answer.status_code == 200 and answer.json == {"ok": True}
