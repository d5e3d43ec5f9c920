"""Consent (Ley 29733): every email to a consumer carries an unsubscribe link and
``List-Unsubscribe`` (RFC 8058 one-click); an address that used it gets no more invitations,
reminders or review notices from any merchant — only what the law requires (a complaint's
copy and answer). An unused invitation gets one reminder, once."""

from __future__ import annotations

import email as email_lib
import re
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from tests.booking import entry_body
from tests.helpers import bearer, make_merchant, order_body
from tests.reviewing import post_review, review_link
from tests.signing_in import make_merchant_user, post_form, sign_in
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.jobs.models import Job
from trustseal.mail import service as mail
from trustseal.mail.models import SuppressedAddress
from trustseal.orders.models import ReviewInvitation

CUSTOMER = "Lucia.Quispe@example.com"  # the address of tests.helpers.order_body


@pytest.fixture
def outbox(app: Flask, tmp_path: Path) -> Path:
    app.config["TRUSTSEAL_OUTBOX_DIR"] = str(tmp_path)
    app.config["TRUSTSEAL_INVITATION_EMAIL_DELAY_HOURS"] = 0
    return tmp_path


def _sent(outbox: Path) -> list[EmailMessage]:
    return [
        email_lib.message_from_bytes(p.read_bytes(), policy=email_policy.default)
        for p in sorted(outbox.glob("*.eml"))
    ]


def _subjects(outbox: Path) -> list[str]:
    return [str(m["Subject"]) for m in _sent(outbox)]


def _run_jobs(app: Flask, everything_due: bool = False) -> None:
    with app.app_context():
        if everything_due:  # as if the reminder's days had passed
            db.session.execute(update(Job).values(run_at=func.now()))
            db.session.commit()
        jobs.run_due_jobs()


def _delivered(client: FlaskClient, key: str, external_id: str, **customer: Any) -> int:
    body = order_body(external_id, status="delivered")
    body["customer"].update(customer)
    answer = client.post("/api/v1/orders", json=body, headers=bearer(key))
    assert answer.status_code == 201, answer.json
    return answer.json["id"]


def _unsubscribe_path(message: EmailMessage) -> str:
    header = message["List-Unsubscribe"]
    found = re.search(r"<(http://trustseal\.test(/unsubscribe/[^>]+))>", header)
    assert found, header
    return found.group(2)


def _invited(app: Flask, client: FlaskClient, outbox: Path) -> EmailMessage:
    """A shop (bodega), one delivered order and its invitation email, sent."""
    key = make_merchant(app)[1]
    _delivered(client, key, "A-1")
    _run_jobs(app)
    (invitation,) = _sent(outbox)
    return invitation


def test_the_invitation_carries_the_unsubscribe_link_and_one_click_headers(
    app: Flask, client: FlaskClient, outbox: Path
):
    invitation = _invited(app, client, outbox)
    assert invitation["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    path = _unsubscribe_path(invitation)
    assert path in invitation.get_body(("plain",)).get_content()
    assert path in invitation.get_body(("html",)).get_content()
    assert "No recibir más correos como este" in invitation.get_body(("html",)).get_content()
    assert CUSTOMER.lower() not in path.lower()  # the link does not name the address


def test_unsubscribing_stops_every_merchants_invitations_but_not_the_legal_copies(
    app: Flask, client: FlaskClient, outbox: Path
):
    path = _unsubscribe_path(_invited(app, client, outbox))

    page = client.get(path)  # a mail scanner opening the link changes nothing
    assert page.status_code == 200 and "Dar de baja esta dirección" in page.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SuppressedAddress)) == 0
    done = client.post(path)  # the page's button: no CSRF token needed
    assert done.status_code == 200 and "Listo" in done.get_data(as_text=True)
    assert client.post(path).status_code == 200  # twice is fine
    with app.app_context():
        (row,) = db.session.scalars(select(SuppressedAddress)).all()
        assert row.address_hash == mail.address_hash(CUSTOMER) and row.how == "page"
        assert CUSTOMER.lower() not in row.address_hash

    # Another shop, the same person in other letters: no invitation, no link issued.
    other_key = make_merchant(app, slug="otra")[1]
    _delivered(client, other_key, "B-1", email="LUCIA.quispe@EXAMPLE.com")
    _run_jobs(app, everything_due=True)
    assert len(_sent(outbox)) == 1
    with app.app_context():
        invitations = db.session.scalars(select(ReviewInvitation)).all()
        assert all(i.reminded_at is None for i in invitations)
        assert [i.sent_at is not None for i in invitations] == [True, False]

    # The Libro de Reclamaciones copy still goes: the law requires it (with the link).
    complainant = {**entry_body()["consumer"], "email": CUSTOMER}
    filed = client.post("/api/v1/merchants/bodega/book", json=entry_body(consumer=complainant))
    assert filed.status_code == 201, filed.json
    _run_jobs(app)
    copies = [m for m in _sent(outbox) if m["List-Unsubscribe"] and "Reclam" in str(m["Subject"])]
    assert len(copies) == 1, _subjects(outbox)


def test_a_mail_programs_one_click_post_unsubscribes(
    app: Flask, client: FlaskClient, outbox: Path
):
    path = _unsubscribe_path(_invited(app, client, outbox))
    answer = client.post(
        path,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert answer.status_code == 200
    with app.app_context():
        assert mail.is_suppressed(CUSTOMER)
        assert db.session.scalars(select(SuppressedAddress.how)).one() == "one_click"


@pytest.mark.parametrize("token", ["nada", "eyJhIjoxfQ.forged", "x" * 300, "señal"])
def test_a_forged_or_broken_link_is_404_and_changes_nothing(
    app: Flask, client: FlaskClient, token: str
):
    assert client.get(f"/unsubscribe/{token}").status_code == 404
    assert client.post(f"/unsubscribe/{token}").status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SuppressedAddress)) == 0


def test_one_reminder_for_an_unused_invitation_and_never_again(
    app: Flask, client: FlaskClient, outbox: Path
):
    _invited(app, client, outbox)
    _run_jobs(app)  # not due yet: 7 days
    assert len(_sent(outbox)) == 1
    _run_jobs(app, everything_due=True)
    reminders = [m for m in _sent(outbox) if str(m["Subject"]).startswith("Recordatorio")]
    assert len(_sent(outbox)) == 2 and len(reminders) == 1, _subjects(outbox)
    reminder = reminders[0]
    assert reminder["List-Unsubscribe"]
    link = re.search(r"http://trustseal\.test/r/(\S+)", reminder.get_body(("plain",)).get_content())
    assert link
    with app.app_context():  # the job again (a retry, a duplicate): nothing more
        invitation = db.session.scalars(select(ReviewInvitation)).one()
        assert invitation.reminded_at is not None
        jobs.enqueue("orders.invitation_reminder", {"invitation_id": invitation.id})
        db.session.commit()
    _run_jobs(app, everything_due=True)
    assert len(_sent(outbox)) == 2
    # The reminder's link works.
    assert post_review(client, link.group(1)).status_code == 201


def test_no_reminder_once_reviewed_or_unsubscribed(app: Flask, client: FlaskClient, outbox: Path):
    key = make_merchant(app)[1]
    token = review_link(client, key, "A-1")  # sent by the shop itself: never reminded
    _delivered(client, key, "A-2", email="otra@example.com")
    _delivered(client, key, "A-3", email="tercera@example.com")
    _run_jobs(app)
    invitations = {str(m["To"]): m for m in _sent(outbox)}
    assert set(invitations) == {"otra@example.com", "tercera@example.com"}
    second = re.search(
        r"http://trustseal\.test/r/(\S+)",
        invitations["otra@example.com"].get_body(("plain",)).get_content(),
    )
    assert second and post_review(client, second.group(1)).status_code == 201
    assert client.post(_unsubscribe_path(invitations["tercera@example.com"])).status_code == 200
    assert post_review(client, token).status_code == 201
    _run_jobs(app, everything_due=True)
    assert not [s for s in _subjects(outbox) if s.startswith("Recordatorio")]


def test_the_reminder_can_be_turned_off(app: Flask, client: FlaskClient, outbox: Path):
    app.config["TRUSTSEAL_INVITATION_REMINDER_DAYS"] = 0
    key = make_merchant(app)[1]
    _delivered(client, key, "A-1")
    _run_jobs(app)
    _run_jobs(app, everything_due=True)
    assert len(_sent(outbox)) == 1


def test_the_shops_own_link_comes_with_a_whatsapp_message(app: Flask, client: FlaskClient):
    key = make_merchant_user(app)[0]
    order_id = _delivered(client, key, "W-1")
    sign_in(client, "duena@bodega.pe", "clave-segura-123")
    page = post_form(client, f"/dashboard/orders/{order_id}/invitation", {}, "/dashboard/orders")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    whatsapp = re.search(r'href="(https://wa\.me/\?text=[^"]+)"', html)
    assert whatsapp, html
    text = parse_qs(urlsplit(whatsapp.group(1).replace("&amp;", "&")).query)["text"][0]
    assert "Lucía Quispe" in text and "W-1" in text
    link = re.search(r"http://trustseal\.test/r/(\S+)", text)
    assert link and link.group(0) in html
    assert post_review(client, link.group(1)).status_code == 201
