"""Sign-in for people: passwords, sessions, CSRF, lockout, resets, TOTP, roles, audit."""

from __future__ import annotations

import email
import re
import time
from datetime import UTC, datetime, timedelta
from email import policy as email_policy
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
    assert totp.matching_step(secret, totp.code_at(secret, 1000), 1000 + 25) == 1000 // 30
    assert totp.matching_step(secret, totp.code_at(secret, 1000), 1000 + 95) is None  # too old
    assert (
        totp.matching_step(secret, "000000", 1000) is None or totp.code_at(secret, 1000) == "000000"
    )


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
    assert "El formulario venció o no vino de este sitio" in answer.get_data(as_text=True)
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


SIGNUP = {
    "name": "Tienda Sol",
    "domain": "sol.pe",
    "contact_email": "hola@sol.pe",
    "email": "ana@sol.pe",
    "password": "clave-segura-123",
}


def _outbox(app, tmp_path: Path) -> list:
    """Run the jobs, then read every email written to the outbox folder."""
    with app.app_context():
        jobs.run_due_jobs()
    return [
        email.message_from_bytes(p.read_bytes(), policy=email_policy.default)
        for p in sorted(tmp_path.glob("*.eml"))
    ]


def test_signup_is_confirmed_by_email_and_creates_a_merchant_without_seal(app, client, tmp_path):
    app.config["TRUSTSEAL_OUTBOX_DIR"] = str(tmp_path)
    answer = post_form(client, "/signup", SIGNUP)
    assert answer.status_code == 200 and "ana@sol.pe" in answer.get_data(as_text=True)
    assert client.get("/api/v1/merchants/tienda-sol").status_code == 404  # nothing yet
    (sent,) = _outbox(app, tmp_path)
    assert sent["To"] == "ana@sol.pe"
    link = re.search(
        r"http://trustseal.test(/signup/confirm/[\w-]+)", sent.get_body(("plain",)).get_content()
    )
    path = link.group(1)
    assert client.get(path).status_code == 200  # a GET (a mail scanner) creates nothing
    assert client.get("/api/v1/merchants/tienda-sol").status_code == 404
    confirmed = post_form(client, path, {})
    assert confirmed.status_code == 302 and confirmed.headers["Location"] == "/dashboard"
    assert client.get("/dashboard").status_code == 200
    # the shop exists, without a seal, but is not public until it proves its domain
    assert client.get("/api/v1/merchants/tienda-sol").status_code == 404
    from trustseal.merchants import service as merchants
    from trustseal.seals import service as seals

    with app.app_context():
        merchant = merchants.get_by_slug("tienda-sol")
        assert merchant.domain_status == "pending" and seals.summary(merchant)["status"] == "none"
    assert post_form(app.test_client(), path, {}).status_code == 410  # once
    assert sign_in(app.test_client(), "ana@sol.pe", "clave-segura-123").status_code == 302
    bad = post_form(
        app.test_client(), "/signup", {"name": "", "domain": "no", "email": "x", "password": "1"}
    )
    assert bad.status_code == 422


def test_signup_does_not_tell_whether_an_email_has_an_account(app, client, tmp_path):
    app.config["TRUSTSEAL_OUTBOX_DIR"] = str(tmp_path)
    make_merchant_user(app)  # duena@bodega.pe has an account
    taken = post_form(client, "/signup", {**SIGNUP, "email": "duena@bodega.pe"})
    free = post_form(app.test_client(), "/signup", {**SIGNUP, "email": "nueva@sol.pe"})
    assert taken.status_code == free.status_code == 200

    def page(answer) -> str:
        return re.sub(r"[\w.]+@[\w.]+|value=\"[^\"]*\"", "", answer.get_data(as_text=True))

    assert page(taken) == page(free)
    by_to = {m["To"]: m for m in _outbox(app, tmp_path)}
    assert "/signup/confirm/" not in by_to["duena@bodega.pe"].get_body(("plain",)).get_content()
    assert "/login" in by_to["duena@bodega.pe"].get_body(("plain",)).get_content()
    assert "/signup/confirm/" in by_to["nueva@sol.pe"].get_body(("plain",)).get_content()


def test_totp_code_must_be_exactly_six_digits(app, client, monkeypatch):
    """The probe's attack: with the password, ``code=0`` passed ~27% of the time."""
    email, password = make_staff_user(app)
    secret = _enroll(app, client, email, password)
    now = time.time()
    good = totp.code_at(secret, now)
    full_width = "\uff11\uff12\uff13\uff14\uff15\uff16"  # digits, but not ASCII ones
    wrong = ("0", good[:1], good[:5], good + "0", "0" + good, full_width, "123 45")
    for code in wrong:
        assert totp.matching_step(secret, code, now) is None, code
    answers = [sign_in(app.test_client(), email, password, code) for code in wrong]
    # refused (401), then the account's lockout takes over (429): never signed in
    assert [a.status_code for a in answers] == [401] * 5 + [429] * 2
    assert totp.matching_step(secret, good, now) == int(now // totp.STEP)


def test_totp_code_is_refused_when_used_again(app, client):
    email, password = make_staff_user(app)
    secret = _enroll(app, client, email, password)
    code = totp.code_at(secret, time.time())
    first = app.test_client()
    assert sign_in(first, email, password, code).status_code == 302
    replay = app.test_client()  # someone who saw the code, within its 90-second window
    assert sign_in(replay, email, password, code).status_code == 401
    earlier = totp.code_at(secret, time.time() - totp.STEP)
    if earlier != code:  # an older code of the window is refused too
        assert sign_in(replay, email, password, earlier).status_code == 401


def _enroll(app, client, email: str, password: str) -> str:
    sign_in(client, email, password)
    page = post_form(client, "/console/totp", {}, token_from="/console").get_data(as_text=True)
    return re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)


def test_lockout_grows_and_spares_a_browser_that_signed_in_before(app, client, monkeypatch):
    from trustseal.accounts import service as accounts

    app.config["TRUSTSEAL_RATELIMIT_LOGIN"] = "100 per minute"  # the per-address limit aside
    make_merchant_user(app)
    owner = app.test_client()
    assert sign_in(owner, "duena@bodega.pe", "clave-segura-123").status_code == 302
    clock = [datetime(2026, 12, 1, 12, 0, tzinfo=UTC)]
    monkeypatch.setattr(accounts, "utcnow", lambda: clock[0])
    attacker = app.test_client()
    for _ in range(5):
        assert sign_in(attacker, "duena@bodega.pe", "wrong").status_code == 401

    def wait_of(answer) -> int:
        assert answer.status_code == 429
        return int(re.search(r"espera (\d+) segundos", answer.get_data(as_text=True)).group(1))

    # locked, even with the right password (it is not checked while locked)
    assert wait_of(sign_in(attacker, "duena@bodega.pe", "clave-segura-123")) == 30
    clock[0] += timedelta(seconds=31)
    assert sign_in(attacker, "duena@bodega.pe", "wrong").status_code == 401  # 6th failure
    assert wait_of(sign_in(attacker, "duena@bodega.pe", "wrong")) == 60  # the delay doubles
    clock[0] += timedelta(seconds=61)
    sign_in(attacker, "duena@bodega.pe", "wrong")
    assert wait_of(sign_in(attacker, "duena@bodega.pe", "wrong")) == 120
    # the owner's browser (it signed in before) is not locked out by the attacker
    assert sign_in(owner, "duena@bodega.pe", "clave-segura-123").status_code == 302
    # a forged or foreign device cookie does not help
    attacker.set_cookie(
        "ts_device", owner.get_cookie("ts_device", path="/login").value, path="/login"
    )
    make_merchant_user(app, email="otra@bodega.pe")
    for _ in range(5):
        sign_in(attacker, "otra@bodega.pe", "wrong")
    assert sign_in(attacker, "otra@bodega.pe", "clave-segura-123").status_code == 429


def test_sign_out_ends_the_session_on_the_server(app, client):
    make_merchant_user(app)
    sign_in(client, "duena@bodega.pe", "clave-segura-123")
    copied = app.test_client()
    copied.set_cookie("session", client.get_cookie("session").value)
    assert copied.get("/dashboard").status_code == 200  # a copy works while signed in...
    post_form(client, "/logout", {}, token_from="/dashboard")
    assert client.get("/dashboard").status_code == 302
    assert copied.get("/dashboard").status_code == 302  # ...and stops with the sign-out


def test_cookies_are_secure_when_the_site_is_https(database_url, tmp_path):
    from tests.conftest import make_app

    app = make_app(database_url, tmp_path, BASE_URL="https://sello.example.pe")
    assert app.config["SESSION_COOKIE_SECURE"] is True
    plain = make_app(database_url, tmp_path / "plain")
    assert plain.config["SESSION_COOKIE_SECURE"] is False


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
