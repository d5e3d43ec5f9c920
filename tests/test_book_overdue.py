"""Overdue complaints: the console links each one to its page, where staff contact the
merchant (one email through the outbox, recorded) or keep a note; the consumer's follow-up
page of an overdue entry points to INDECOPI."""

from __future__ import annotations

import email
import re
import threading
from datetime import UTC, datetime, timedelta
from email import policy as email_policy
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.booking import CONSUMER_DNI, CONSUMER_EMAIL, entry_body
from tests.helpers import make_merchant
from tests.signing_in import csrf, make_staff_user, post_form, sign_in
from trustseal.accounts.models import AuditEvent
from trustseal.book import deadlines
from trustseal.book import service as book
from trustseal.book.models import BookEntry, BookStaffNote
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.mail.models import OutboxMessage

INDECOPI = "https://www.gob.pe/indecopi"
TEMPLATE = "book_overdue_staff"
DAYS_LATE = 3


def _file(client: FlaskClient, **changes: Any) -> dict[str, Any]:
    answer = client.post("/api/v1/merchants/bodega/book", json=entry_body(**changes))
    assert answer.status_code == 201, answer.json
    return dict(answer.json)


def _entry_id(app: Flask, number: str) -> int:
    with app.app_context():
        year_number = book.parse_number(number)
        assert year_number is not None
        return int(
            db.session.scalar(
                select(BookEntry.id).where(
                    BookEntry.number == year_number[0], BookEntry.year == year_number[1]
                )
            )
        )


def _late(app: Flask, entry_id: int, days: int = DAYS_LATE) -> None:
    """Move the entry's deadline ``days`` days into the past (Lima dates)."""
    with app.app_context():
        entry = db.session.get(BookEntry, entry_id)
        assert entry is not None
        entry.due_at = book.today_lima() - timedelta(days=days)
        db.session.commit()


@pytest.fixture
def book_world(app: Flask, client: FlaskClient) -> dict[str, Any]:
    """A merchant with one overdue reclamo and one open queja."""
    make_merchant(app, slug="bodega", ruc="20100070970", legal_name="Bodega Ñandú S.A.C.")
    late = _file(client)
    fresh = _file(client, kind="queja", detail="Me atendieron de mala manera.")
    late["id"], fresh["id"] = _entry_id(app, late["number"]), _entry_id(app, fresh["number"])
    _late(app, late["id"])
    return {"late": late, "fresh": fresh}


def _staff(app: Flask, role: str) -> tuple[FlaskClient, str]:
    address, password = make_staff_user(app, role)
    staff = app.test_client()
    assert sign_in(staff, address, password).status_code == 302
    return staff, address


@pytest.fixture
def certifier(app: Flask) -> tuple[FlaskClient, str]:
    return _staff(app, "certifier")


@pytest.fixture
def moderator(app: Flask) -> tuple[FlaskClient, str]:
    return _staff(app, "moderator")


def _queued(app: Flask, template: str = TEMPLATE) -> int:
    with app.app_context():
        return int(
            db.session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.template == template)
            )
            or 0
        )


def _notes(app: Flask) -> list[tuple[str, str | None]]:
    with app.app_context():
        return [
            (n.action, n.body)
            for n in db.session.scalars(select(BookStaffNote).order_by(BookStaffNote.id))
        ]


def _audited(app: Flask, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_console_lists_overdue_entries_with_links(app, book_world, certifier):
    staff, _ = certifier
    late, fresh = book_world["late"], book_world["fresh"]
    home = staff.get("/console").get_data(as_text=True)
    assert re.search(r'<div class="stat">1</div><a href="/console/complaints">', home)
    listing = staff.get("/console/complaints")
    assert listing.status_code == 200
    page = listing.get_data(as_text=True)
    assert f'<a href="/console/complaints/{late["id"]}">{late["number"]}</a>' in page
    assert f"/console/complaints/{late['id']}#actions" in page  # not contacted yet: act
    assert f'<span class="error">{DAYS_LATE}</span>' in page
    assert "Bodega Ñandú" in page
    assert fresh["number"] not in page and f"/console/complaints/{fresh['id']}" not in page


def test_entry_page_shows_the_entry_dates_and_actions(app, book_world, certifier):
    staff, _ = certifier
    late = book_world["late"]
    answer = staff.get(f"/console/complaints/{late['id']}")
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert late["number"] in page and "Bodega Ñandú" in page and "hola@bodega.pe" in page
    assert "Llegó con la jarra rota." in page and "Cambio por una nueva." in page
    assert 'id="days-overdue"' in page and f">{DAYS_LATE} " in page
    with app.app_context():
        entry = db.session.get(BookEntry, late["id"])
        filed_on = deadlines.lima_date(entry.filed_at)
    assert str(filed_on.year) in page
    assert f'action="/console/complaints/{late["id"]}/contact"' in page
    assert f'action="/console/complaints/{late["id"]}/notes"' in page
    assert page.count('name="csrf_token"') >= 2
    # the consumer's document and contact details are not shown to staff here
    assert CONSUMER_DNI not in page and CONSUMER_EMAIL not in page
    # a complaint that is not overdue has its page, without the contact action
    fresh = staff.get(f"/console/complaints/{book_world['fresh']['id']}").get_data(as_text=True)
    assert "/contact" not in fresh and "/notes" in fresh


def test_contact_the_merchant_queues_one_email_and_is_recorded(
    app, book_world, certifier, tmp_path: Path
):
    app.config["TRUSTSEAL_OUTBOX_DIR"] = str(tmp_path)
    staff, address = certifier
    late = book_world["late"]
    url = f"/console/complaints/{late['id']}"
    sent = post_form(staff, f"{url}/contact", {"message": "Por favor respondan hoy."}, url)
    assert sent.status_code == 302 and sent.headers["Location"].endswith(f"{url}#notes")
    assert _queued(app) == 1
    assert _notes(app) == [("contact", "Por favor respondan hoy.")]
    audited = _audited(app, f"POST {url}/contact")
    assert [(e.status, address in e.actor) for e in audited] == [(302, True)]

    page = staff.get(url).get_data(as_text=True)
    assert "Por favor respondan hoy." in page and address in page
    listing = staff.get("/console/complaints").get_data(as_text=True)
    assert f"{url}#actions" not in listing  # the list shows when the merchant was contacted

    # a second click (or a colleague at the same time) sends nothing more
    again = post_form(staff, f"{url}/contact", {"message": ""}, url)
    assert again.status_code == 409 and 'role="alert"' in again.get_data(as_text=True)
    assert _queued(app) == 1 and len(_notes(app)) == 1
    assert len(_audited(app, f"POST {url}/contact")) == 1  # refusals are not actions

    with app.app_context():
        jobs.run_due_jobs()
    mails = [
        email.message_from_bytes(p.read_bytes(), policy=email_policy.default)
        for p in tmp_path.glob("*.eml")
    ]
    overdue = [
        m for m in mails if "Por favor respondan hoy." in m.get_body(("plain",)).get_content()
    ]
    assert len(overdue) == 1
    message = overdue[0]
    assert message["To"] == "hola@bodega.pe" and late["number"] in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    assert late["number"] in text and "http://trustseal.test/dashboard/complaints" in text
    assert f" {DAYS_LATE} " in text
    assert CONSUMER_DNI not in message.as_string()


@pytest.mark.postgres_only
def test_two_staff_contacting_at_once_send_one_email(app, book_world):
    url = f"/console/complaints/{book_world['late']['id']}"
    clients = [_staff(app, role)[0] for role in ("certifier", "admin")]
    tokens = [csrf(staff, url) for staff in clients]
    barrier = threading.Barrier(len(clients))
    statuses: list[int] = []

    def contact(staff: FlaskClient, token: str) -> None:
        barrier.wait()
        answer = staff.post(f"{url}/contact", data={"message": "", "csrf_token": token})
        statuses.append(answer.status_code)

    threads = [
        threading.Thread(target=contact, args=pair) for pair in zip(clients, tokens, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [302, 409]
    assert _queued(app) == 1 and [action for action, _ in _notes(app)] == ["contact"]


def test_only_an_overdue_complaint_is_raised_with_the_merchant(app, book_world, certifier):
    staff, _ = certifier
    fresh = f"/console/complaints/{book_world['fresh']['id']}"
    refused = post_form(staff, f"{fresh}/contact", {}, fresh)
    assert refused.status_code == 409 and 'role="alert"' in refused.get_data(as_text=True)
    assert _queued(app) == 0 and _notes(app) == []


def test_a_moderator_notes_but_cannot_contact(app, book_world, moderator):
    staff, address = moderator
    url = f"/console/complaints/{book_world['late']['id']}"
    page = staff.get(url).get_data(as_text=True)
    assert f"{url}/contact" not in page and f"{url}/notes" in page
    assert post_form(staff, f"{url}/contact", {"message": "hola"}, url).status_code == 403
    assert _queued(app) == 0
    saved = post_form(
        staff, f"{url}/notes", {"body": "Llamé a la tienda:\nresponden el lunes."}, url
    )
    assert saved.status_code == 302 and saved.headers["Location"].endswith(f"{url}#notes")
    assert _notes(app) == [("note", "Llamé a la tienda:\nresponden el lunes.")]
    page = staff.get(url).get_data(as_text=True)
    assert "Llamé a la tienda:\nresponden el lunes." in page and address in page
    assert [e.status for e in _audited(app, f"POST {url}/notes")] == [302]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("", 422),
        ("   \n  ", 422),
        ("x" * (book.STAFF_NOTE_MAX + 1), 422),
        ("oculto\u202etexto", 422),  # a text-direction override
    ],
)
def test_an_empty_or_bad_note_is_refused_clearly(app, book_world, moderator, body, status):
    staff, _ = moderator
    url = f"/console/complaints/{book_world['late']['id']}"
    refused = post_form(staff, f"{url}/notes", {"body": body}, url)
    assert refused.status_code == status
    assert refused.mimetype == "text/html" and "<h1>" in refused.get_data(as_text=True)
    assert _notes(app) == [] and _audited(app, f"POST {url}/notes") == []


def test_forms_without_csrf_and_unknown_entries_are_refused(app, book_world, certifier):
    staff, _ = certifier
    url = f"/console/complaints/{book_world['late']['id']}"
    csrf(staff, url)  # the session has a token; these posts do not carry it
    for action, data in (("contact", {"message": "x"}), ("notes", {"body": "x"})):
        forged = staff.post(f"{url}/{action}", data=data)
        assert forged.status_code == 400, action
        assert "vuelve a cargarlo" in forged.get_data(as_text=True)
    assert _queued(app) == 0 and _notes(app) == []
    assert staff.get("/console/complaints/999999").status_code == 404
    assert (
        post_form(staff, "/console/complaints/999999/notes", {"body": "x"}, url).status_code == 404
    )
    praise = _file(staff, kind="felicitacion", detail="Muy buena atención.")
    assert staff.get(f"/console/complaints/{_entry_id(app, praise['number'])}").status_code == 404
    anonymous = app.test_client()
    assert anonymous.get(url).status_code == 302  # to the sign-in page


def test_follow_up_page_of_an_overdue_entry_points_to_indecopi(app, book_world, client):
    late = client.get(f"/libro/{book_world['late']['code']}")
    assert late.status_code == 200
    page = late.get_data(as_text=True)
    assert f'href="{INDECOPI}"' in page and 'id="indecopi"' in page and "Reclama Virtual" in page
    assert book_world["late"]["number"] in page
    fresh = client.get(f"/libro/{book_world['fresh']['code']}").get_data(as_text=True)
    assert INDECOPI not in fresh and 'id="indecopi"' not in fresh


def test_indecopi_appears_once_the_real_deadline_passes_and_not_after_an_answer(
    app, client, monkeypatch
):
    make_merchant(app, slug="bodega")
    filed = _file(client)
    url = f"/libro/{filed['code']}"
    assert INDECOPI not in client.get(url).get_data(as_text=True)
    with app.app_context():
        due = db.session.get(BookEntry, _entry_id(app, filed["number"])).due_at
    # the day after the deadline (15 business days, Peruvian holidays skipped), in Lima
    after = datetime(due.year, due.month, due.day, 12, tzinfo=deadlines.LIMA) + timedelta(days=1)
    monkeypatch.setattr("trustseal.book.service.utcnow", lambda: after.astimezone(UTC))
    assert INDECOPI in client.get(url).get_data(as_text=True)
    with app.app_context():
        entry = db.session.get(BookEntry, _entry_id(app, filed["number"]))
        entry.status, entry.answer = "answered", "Le enviamos una nueva."
        entry.answered_at = after.astimezone(UTC)
        db.session.commit()
    assert INDECOPI not in client.get(url).get_data(as_text=True)


def test_notes_are_erased_with_the_entry_personal_data(app, book_world, moderator):
    staff, _ = moderator
    url = f"/console/complaints/{book_world['late']['id']}"
    post_form(staff, f"{url}/notes", {"body": "La consumidora Rosa llamó."}, url)
    with app.app_context():
        book.erase_expired(datetime.now(UTC) + timedelta(days=10 * 365))
        db.session.commit()
    assert _notes(app) == [("note", None)]
    page = staff.get(url).get_data(as_text=True)
    assert "Rosa" not in page and "Llegó con la jarra rota." not in page
