"""Attacks through gunicorn (two worker processes): a TOTP brute force with the password
known, and secrets in URLs that must never reach a log, a job payload or the audit trail."""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from sqlalchemy import select

from tests.booking import entry_body
from tests.helpers import bearer, make_merchant, order_body
from tests.reliability.conftest import gunicorn, trustseal
from tests.signing_in import make_merchant_user
from trustseal.accounts import service as accounts
from trustseal.accounts import totp
from trustseal.accounts.models import AuditEvent
from trustseal.extensions import db
from trustseal.jobs.models import Job
from trustseal.staff import service as staff_service

PASSWORD = "clave-staff-1234"


def _form(session: requests.Session, url: str) -> str:
    page = session.get(url, timeout=10).text
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_totp_brute_force_with_the_password_gets_nowhere(database, local_app, tmp_path, report):
    with local_app.app_context():
        created = staff_service.create_staff("admin@cert.pe", staff_service.Role.ADMIN, PASSWORD)
        db.session.flush()
        principal = accounts.Principal("staff", created.staff.id, created.staff.email, "admin")
        secret = accounts.enroll_totp(principal)
        db.session.commit()
    rng = random.Random(1)
    with gunicorn(database, tmp_path, workers=2, threads=4) as web:

        def guess(_: int) -> int:
            attacker = requests.Session()  # a fresh session each time, as a script would
            now = time.time()
            valid = {totp.code_at(secret, now + drift * totp.STEP) for drift in (-1, 0, 1)}
            code = f"{rng.randrange(10**6):06d}"
            while code in valid:
                code = f"{rng.randrange(10**6):06d}"
            answer = attacker.post(
                f"{web.url}/login",
                data={
                    "email": "admin@cert.pe",
                    "password": PASSWORD,
                    "code": code,
                    "csrf_token": _form(attacker, f"{web.url}/login"),
                },
                allow_redirects=False,
                timeout=30,
            )
            return answer.status_code

        # 60 guesses, 8 at a time over two processes: counting before checking means no
        # parallel guess slips past the lockout.
        with ThreadPoolExecutor(max_workers=8) as pool:
            outcomes = Counter(pool.map(guess, range(60)))
        # the one-digit code of the probe (~27 % per guess before) is refused too
        attacker = requests.Session()
        short = attacker.post(
            f"{web.url}/login",
            data={
                "email": "admin@cert.pe",
                "password": PASSWORD,
                "code": "0",
                "csrf_token": _form(attacker, f"{web.url}/login"),
            },
            allow_redirects=False,
            timeout=10,
        )
    assert outcomes[302] == 0 and short.status_code != 302
    assert outcomes[401] <= 5 and outcomes[429] == 60 - outcomes[401], outcomes
    report(61, 0, 0, f"codes checked: {outcomes[401]}, refused unchecked: {outcomes[429]}")


SECRET_URLS = (
    "/r/{review}",
    "/r/{review}/no-such-page",
    "/api/v1/book/{code}",
    "/libro/{code}",
    "/libro/{code}.pdf",
    "/libro?code={code}",
    "/login/reset/{reset}",
    "/signup/confirm/{signup}",
)


def test_secrets_in_urls_never_reach_logs_payloads_or_the_audit(
    database, local_app, tmp_path, report
):
    _, key = make_merchant(local_app, slug="secretos")
    make_merchant_user(local_app, slug="secretos", email="duena@secretos.pe")
    outbox = tmp_path / "outbox"
    env = {"TRUSTSEAL_OUTBOX_DIR": str(outbox), "TRUSTSEAL_LOG_LEVEL": "INFO"}
    # gunicorn's own access log too (default format: path, Referer, user agent)
    access_log = ("--access-logfile", "-")
    with gunicorn(database, tmp_path, workers=2, options=access_log, **env) as web:
        http = requests.Session()
        order = http.post(
            f"{web.url}/api/v1/orders",
            json=order_body("S-1", status="delivered"),
            headers=bearer(key),
            timeout=10,
        ).json()
        review = http.post(
            f"{web.url}/api/v1/orders/{order['id']}/invitation", headers=bearer(key), timeout=10
        ).json()["token"]
        code = http.post(
            f"{web.url}/api/v1/merchants/secretos/book", json=entry_body(), timeout=10
        ).json()["code"]
        token = _form(http, f"{web.url}/login/reset")
        http.post(
            f"{web.url}/login/reset", data={"email": "duena@secretos.pe", "csrf_token": token}
        )
        token = _form(http, f"{web.url}/signup")
        http.post(
            f"{web.url}/signup",
            data={
                "name": "Tienda Nueva",
                "domain": "nueva.pe",
                "contact_email": "hola@nueva.pe",
                "email": "nueva@nueva.pe",
                "password": "clave-segura-123",
                "csrf_token": token,
            },
        )
        trustseal(database, "worker", "--once", TRUSTSEAL_OUTBOX_DIR=str(outbox))
        mails = "\n".join(p.read_text() for p in Path(outbox).glob("*.eml"))
        secrets = {"review": review, "code": code}
        for name, pattern in (
            ("signup", r"/signup/confirm/([\w-]+)"),
            ("reset", r"/login/reset/([\w-]+)"),
        ):
            secrets[name] = re.search(pattern, mails).group(1)
        for url in SECRET_URLS:
            page = web.url + url.format(**secrets)
            http.get(page, timeout=10)
            # what the page then asks of the site carries it as Referer, if the browser
            # sends one (the page says no-referrer; the log must not rely on it)
            http.get(f"{web.url}/static/site.css", headers={"Referer": page}, timeout=10)
            http.get(f"{web.url}/lang/en?next={url.format(**secrets)}", timeout=10)
        http.put(f"{web.url}/r/{review}", timeout=10)  # 405 on a secret route
        http.get(f"{web.url}/api/v1/book/{code}?x=1", timeout=10)
        log = web.output()
    for name, secret in secrets.items():
        assert secret not in log, f"the {name} secret reached the log"
    assert "/r/<token>" in log and "/libro/<code>" in log  # redacted, still useful
    assert '"GET /static/site.css HTTP/1.1" 200' in log  # gunicorn's access lines are there
    with local_app.app_context():
        payloads = " ".join(str(p) for p in db.session.scalars(select(Job.payload)))
        actions = " ".join(db.session.scalars(select(AuditEvent.action)))
    for name, secret in secrets.items():
        assert secret not in payloads and secret not in actions, name
    report(len(SECRET_URLS) + 2, 0, 0, "secrets found in logs, payloads, audit: 0")
