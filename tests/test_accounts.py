"""Sign-in for people: passwords, sessions, CSRF, lockout, resets, TOTP, roles, audit."""

from __future__ import annotations

import re
import time
from pathlib import Path

from sqlalchemy import func, select

from tests.signing_in import csrf, make_merchant_user, make_staff_user, post_form, sign_in
from trustseal.accounts import totp
from trustseal.accounts.models import AuditEvent
from trustseal.extensions import db
from trustseal.jobs import service as jobs


def test_rfc6238_vectors():
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # "12345678901234567890"
    assert totp.code_at(secret, 59, digits=8) == "94287082"
    assert totp.code_at(secret, 1111111109, digits=8) == "07081804"
    assert totp.verify(secret, totp.code_at(secret, 1000), 1000 + 25)
    assert not totp.verify(secret, "000000", 1000) or totp.code_at(secret, 1000) == "000000"


def test_staff_and_merchants_sign_in_at_one_page(app, client):
    make_merchant_user(app)
    email, password = make_staff_user(app)
    answer = sign_in(client, email, password)
    assert answer.status_code == 302 and answer.headers["Location"] == "/console"
    assert client.get("/console").status_code == 200
    assert client.get("/dashboard").status_code == 403  # staff are not merchants
    other = app.test_client()
    answer = sign_in(other, "duena@bodega.pe", "clave-segura-123")
    assert answer.headers["Location"] == "/dashboard"
    assert other.get("/dashboard").status_code == 200
    assert other.get("/console").status_code == 403  # a merchant cannot reach the console
    assert app.test_client().get("/console").status_code == 302  # signed out: to /login


def test_session_cookie_flags(app, client):
    email, password = make_staff_user(app)
    answer = sign_in(client, email, password)
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_wrong_password_gets_the_same_message_for_any_email(app, client):
    make_merchant_user(app)
    known = sign_in(client, "duena@bodega.pe", "wrong-password")
    unknown = sign_in(client, "nadie@ningun.pe", "wrong-password")
    assert known.status_code == unknown.status_code == 401
    message = "Correo o contraseña incorrectos."
    assert message in known.get_data(as_text=True) and message in unknown.get_data(as_text=True)


def test_lockout_after_repeated_failures(app, client):
    make_merchant_user(app)
    for _ in range(5):
        assert sign_in(client, "duena@bodega.pe", "wrong").status_code == 401
    locked = sign_in(client, "duena@bodega.pe", "clave-segura-123")
    assert locked.status_code == 429
    for _ in range(5):
        sign_in(client, "ghost@nowhere.pe", "wrong")
    assert sign_in(client, "ghost@nowhere.pe", "wrong").status_code == 429  # same for unknown


def test_forms_without_csrf_are_refused_and_change_nothing(app, client):
    make_merchant_user(app)
    sign_in(client, "duena@bodega.pe", "clave-segura-123")
    answer = client.post("/dashboard/keys", data={"label": "forged"})
    assert answer.status_code == 400
    from trustseal.merchants.models import ApiKey

    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ApiKey)) == 1
    assert client.post("/login", data={"email": "a", "password": "b"}).status_code == 400


def test_next_never_leaves_the_site(app, client):
    email, password = make_staff_user(app)
    token = csrf(client)
    answer = client.post(
        "/login?next=//evil.example/x",
        data={"email": email, "password": password, "csrf_token": token},
    )
    assert answer.headers["Location"] == "/console"


def test_password_reset_by_single_use_link(app, client, tmp_path):
    app.config["TRUSTSEAL_OUTBOX_DIR"] = str(tmp_path)
    make_merchant_user(app)
    old_session = app.test_client()
    sign_in(old_session, "duena@bodega.pe", "clave-segura-123")
    assert post_form(client, "/login/reset", {"email": "duena@bodega.pe"}).status_code == 200
    post_form(client, "/login/reset", {"email": "nadie@ningun.pe"})
    with app.app_context():
        assert jobs.run_due_jobs().done == 1  # one email: only the existing account
    mail = next(Path(tmp_path).glob("*.eml")).read_text()
    token = re.search(r"/login/reset/([\w-]+)", mail).group(1)
    assert post_form(client, f"/login/reset/{token}", {"password": "corta"}).status_code == 422
    done = post_form(client, f"/login/reset/{token}", {"password": "nueva-clave-456"})
    assert done.status_code == 302
    assert (
        post_form(client, f"/login/reset/{token}", {"password": "otra-clave-789"}).status_code
        == 422
    )
    assert old_session.get("/dashboard").status_code == 302  # signed out everywhere
    assert sign_in(client, "duena@bodega.pe", "nueva-clave-456").status_code == 302


def test_totp_second_factor_for_staff(app, client):
    email, password = make_staff_user(app)
    sign_in(client, email, password)
    page = post_form(client, "/console/totp", {}, token_from="/console").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    fresh = app.test_client()
    asked = sign_in(fresh, email, password)
    assert asked.status_code == 200 and 'name="code"' in asked.get_data(as_text=True)
    assert (
        sign_in(
            fresh,
            email,
            password,
            "000000" if totp.code_at(secret, time.time()) != "000000" else "111111",
        ).status_code
        == 401
    )
    assert sign_in(fresh, email, password, totp.code_at(secret, time.time())).status_code == 302


def test_sign_out_everywhere(app, client):
    make_merchant_user(app)
    other = app.test_client()
    sign_in(client, "duena@bodega.pe", "clave-segura-123")
    sign_in(other, "duena@bodega.pe", "clave-segura-123")
    post_form(client, "/logout/everywhere", {}, token_from="/dashboard")
    assert other.get("/dashboard").status_code == 302


def test_signup_creates_a_merchant_without_seal(app, client):
    answer = post_form(
        client,
        "/signup",
        {
            "name": "Tienda Sol",
            "domain": "sol.pe",
            "contact_email": "hola@sol.pe",
            "email": "ana@sol.pe",
            "password": "clave-segura-123",
        },
    )
    assert answer.status_code == 302 and answer.headers["Location"] == "/dashboard"
    assert client.get("/dashboard").status_code == 200
    assert client.get("/api/v1/merchants/tienda-sol").json["seal"]["status"] == "none"
    bad = post_form(
        app.test_client(), "/signup", {"name": "", "domain": "no", "email": "x", "password": "1"}
    )
    assert bad.status_code == 422


def test_audit_trail_is_for_admins(app, client):
    email, password = make_staff_user(app, "admin")
    make_merchant_user(app)
    merchant = app.test_client()
    sign_in(merchant, "duena@bodega.pe", "clave-segura-123")
    post_form(merchant, "/dashboard/keys", {"label": "tienda"})
    sign_in(client, email, password)
    page = client.get("/console/audit").get_data(as_text=True)
    assert "POST /dashboard/keys" in page and "duena@bodega.pe" in page
    certifier_email, certifier_password = make_staff_user(app, "certifier")
    certifier = app.test_client()
    sign_in(certifier, certifier_email, certifier_password)
    assert certifier.get("/console/audit").status_code == 403
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) >= 2


def test_a_merchant_key_write_is_audited_with_the_merchant(app, client):
    from tests import plugin_payloads as pp
    from tests.helpers import make_merchant

    _, key = make_merchant(app)
    pp.create_store(client, key, "shopify", **pp.shopify_settings())
    with app.app_context():
        actors = db.session.scalars(select(AuditEvent.actor)).all()
    assert "merchant-key:bodega" in actors
