"""The legal copies of a Hoja de Reclamación agree: the page, every email, the PDF copy and
the merchant's register (PDF and CSV) show the date in Lima (and the time, labelled with
the zone) — even for a complaint filed late in the evening, when the UTC date is the next
day. Also: the public summary tells reclamos from quejas, and the guardian of a minor is
asked for only when the consumer says they are a minor (form and API)."""

from __future__ import annotations

import csv
import io
import re
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from tests.booking import entry_body, spy_on_emails
from tests.helpers import bearer, make_merchant
from tests.signing_in import post_form
from trustseal import clock
from trustseal.book import deadlines, display
from trustseal.book import service as book
from trustseal.book.models import BookEntry
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.jobs.models import Job
from trustseal.mail import service as mail
from trustseal.merchants import service as merchants
from trustseal.staff import service as staff_service

FILED = datetime(2026, 3, 2, 3, 30, tzinfo=UTC)  # 22:30 on Sunday 1 March 2026 in Lima
ANSWERED = "2026-03-05T04:10:00Z"  # 23:10 on Wednesday 4 March 2026 in Lima
FILED_ES, DUE_ES, ANSWERED_ES = "1 de marzo de 2026", "20 de marzo de 2026", "4 de marzo de 2026"
# The UTC dates of the filing and of the answer: no copy may show them.
UTC_DAYS_ES = re.compile(r"\b[25] de marzo de 2026")
UTC_DAYS_ISO = re.compile(r"2026-03-0[25]")
UTC_DAYS_EN = re.compile(r"\bMarch [25], 2026")
FORM = {
    "kind": "reclamo",
    "consumer.name": "Rosa Mendoza Quispe",
    "consumer.document_type": "DNI",
    "consumer.document_number": "45678912",
    "consumer.email": "rosa.mendoza@example.pe",
    "item.type": "servicio",
    "item.description": "Instalación de la cocina",
    "item.currency": "PEN",
    "detail": "El técnico no vino.",
    "request": "Que vengan esta semana.",
    "consent_email": "on",
}
GUARDIAN = {
    "consumer.guardian.name": "Ana Mendoza Quispe",
    "consumer.guardian.document_type": "DNI",
    "consumer.guardian.document_number": "12345678",
}


@pytest.fixture
def key(app: Flask) -> str:
    return make_merchant(
        app,
        slug="bodega",
        legal_name="Bodega Ñandú S.A.C.",
        ruc="20100070970",
        address="Av. Arequipa 100, Lima",
    )[1]


@pytest.fixture
def rendered(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[mail.Message]]:
    """Every email the book renders, by template (what goes into the outbox)."""
    return spy_on_emails(monkeypatch)


@dataclass
class Filed:
    """A reclamo filed through the form at 22:30 in Lima on 1 March 2026."""

    code: str
    number: str
    confirmation: str


@pytest.fixture
def filed(app: Flask, client: FlaskClient, key: str, monkeypatch: pytest.MonkeyPatch) -> Filed:
    monkeypatch.setattr(book, "utcnow", lambda: FILED)
    page = post_form(client, "/m/bodega/libro", FORM)
    monkeypatch.setattr(book, "utcnow", clock.utcnow)
    assert page.status_code == 201
    html = page.get_data(as_text=True)
    code = re.search(r'class="follow-code"><strong>([A-Z0-9-]+)<', html)
    assert code is not None
    return Filed(code.group(1), "000001-2026", html)


def _answer(client: FlaskClient, key: str, number: str) -> None:
    answer = client.put(
        f"/api/v1/book/{number}/response",
        json={"body": "El técnico irá el jueves.", "communicated_at": ANSWERED},
        headers=bearer(key),
    )
    assert answer.status_code == 200, answer.json


def _run_jobs(app: Flask) -> None:
    """Run every queued job now (reminders included), and the deliveries they queue."""
    with app.app_context():
        for _ in range(3):
            db.session.execute(
                update(Job)
                .where(Job.status == "queued")
                .values(run_at=datetime.now(UTC) - timedelta(seconds=1))
            )
            db.session.commit()
            jobs.run_due_jobs()


def _element(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</', html, re.S)
    assert found is not None, element_id
    return found.group(1)


# --- PDF text, without a PDF library: fpdf2 writes each glyph of its embedded font as two
# bytes of a literal string, and maps them to Unicode in each font's ToUnicode CMap.

_OBJECT = re.compile(rb"(\d+) 0 obj(.*?)endobj", re.S)
_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _literal(data: bytes, start: int) -> tuple[bytes, int]:
    """The bytes of the PDF literal string opening at ``data[start]``, and its end."""
    out, depth, i = bytearray(), 1, start + 1
    while i < len(data):
        char = data[i : i + 1]
        if char == b"\\":
            following = data[i + 1 : i + 2]
            octal = re.match(rb"[0-7]{1,3}", data[i + 1 : i + 4])
            if following in _ESCAPES:
                out += _ESCAPES[following]
                i += 2
            elif octal:
                out.append(int(octal.group(), 8) & 0xFF)
                i += 1 + len(octal.group())
            else:
                out += b"" if following in (b"\r", b"\n") else following
                i += 2
            continue
        depth += {b"(": 1, b")": -1}.get(char, 0)
        if depth == 0:
            return bytes(out), i + 1
        out += char
        i += 1
    raise AssertionError("a PDF string that never ends")


def pdf_text(pdf: bytes) -> str:
    """The text an fpdf2 PDF shows, one line per text object (compressed or not)."""
    objects: dict[int, tuple[bytes, bytes]] = {}
    for number, body in _OBJECT.findall(pdf):
        stream = _STREAM.search(body)
        content = stream.group(1) if stream else b""
        if stream and b"/FlateDecode" in body[: stream.start()]:
            content = zlib.decompress(content)
        objects[int(number)] = (body, content)
    cmaps: dict[int, dict[int, str]] = {}
    for number, (body, _) in objects.items():
        to_unicode = re.search(rb"/ToUnicode (\d+) 0 R", body)
        if to_unicode:
            pairs = re.findall(
                rb"<([0-9A-Fa-f]{4})>\s*<([0-9A-Fa-f]+)>", objects[int(to_unicode.group(1))][1]
            )
            cmaps[number] = {
                int(glyph, 16): bytes.fromhex(text.decode()).decode("utf-16-be")
                for glyph, text in pairs
            }
    fonts = {
        name: cmaps[int(ref)]
        for name, ref in re.findall(rb"/(F\d+) (\d+) 0 R", pdf)
        if int(ref) in cmaps
    }
    lines: list[str] = []
    pages = [int(ref) for ref in re.findall(rb"/Contents (\d+) 0 R", pdf)]
    for content in (objects[number][1] for number in pages):
        font: bytes = b""
        line: list[str] = []
        i = 0
        while i < len(content):
            if content[i : i + 1] == b"(":
                raw, i = _literal(content, i)
                cmap = fonts.get(font, {})
                line.append(
                    "".join(
                        cmap.get(int.from_bytes(raw[j : j + 2], "big"), "?")
                        for j in range(0, len(raw) - 1, 2)
                    )
                )
                continue
            selected = re.match(rb"/(F\d+)\s+[\d.]+\s+Tf", content[i:])
            if selected:
                font, i = selected.group(1), i + selected.end()
                continue
            if content[i : i + 2] == b"ET" and line:
                lines.append("".join(line))
                line = []
            i += 1
    return "\n".join(lines)


def test_the_pdf_reader_reads_what_fpdf_writes():
    """The helper itself: Spanish letters and PDF escapes, with and without compression."""
    from fpdf import FPDF

    from badges.widths import FONTS

    for compress in (True, False):
        pdf = FPDF()
        pdf.set_compression(compress)
        pdf.add_font("DejaVu", "", str(FONTS["regular"]))
        pdf.add_page()
        pdf.set_font("DejaVu", size=10)
        pdf.cell(0, 5, "Fecha: 2026-03-01 22:30 (hora de Lima) · Ñandú \\ ()")
        assert (
            pdf_text(bytes(pdf.output())) == "Fecha: 2026-03-01 22:30 (hora de Lima) · Ñandú \\ ()"
        )


# --- the one function, and how the book's templates format with it


def test_lima_time_is_the_one_source_of_the_book_dates(app):
    assert deadlines.lima_time(FILED) == datetime(2026, 3, 1, 22, 30, tzinfo=deadlines.LIMA)
    assert deadlines.lima_date(FILED) == date(2026, 3, 1)
    with app.test_request_context("/?lang=es"):
        assert display.lima_day(FILED) == FILED_ES
        assert display.lima_day(date(2026, 3, 20)) == DUE_ES  # a date is Lima's already
        assert display.lima_clock(FILED) == "22:30"
        assert display.lima_day(None) == ""
    with app.test_request_context("/?lang=en"):
        assert display.lima_day(FILED) == "March 1, 2026"
        assert display.lima_stamp(FILED).startswith("March 1, 2026 at 10:30")
        assert display.lima_stamp(FILED).endswith("(Lima time)")


# --- every copy


def test_the_confirmation_and_follow_up_pages_show_the_lima_date_and_time(app, client, key, filed):
    for html in (filed.confirmation, client.get(f"/libro/{filed.code}").get_data(as_text=True)):
        when = _element(html, "filed-at")
        assert FILED_ES in when and "22:30" in when
        assert not UTC_DAYS_ES.search(html)
        assert DUE_ES in html
    english = client.get(f"/libro/{filed.code}?lang=en").get_data(as_text=True)
    when = _element(english, "filed-at")
    assert "March 1, 2026 at 10:30" in when and "(Lima time)" in when
    assert not UTC_DAYS_EN.search(english) and "March 20, 2026" in _element(english, "due-at")

    _answer(client, key, filed.number)
    answered = client.get(f"/libro/{filed.code}").get_data(as_text=True)
    assert ANSWERED_ES in _element(answered, "answered-at")
    assert not UTC_DAYS_ES.search(answered)
    english = client.get(f"/libro/{filed.code}?lang=en").get_data(as_text=True)
    assert "March 4, 2026" in _element(english, "answered-at")
    assert not UTC_DAYS_EN.search(english)


def test_every_email_shows_the_lima_dates(app, client, key, rendered, filed):
    _run_jobs(app)  # the merchant's notice and both reminders (the deadline is long past)
    with app.app_context():
        staff = staff_service.create_staff("certificadora@cert.pe", staff_service.Role.CERTIFIER)
        entry = db.session.scalars(select(BookEntry)).one()
        book.contact_merchant(entry.id, staff.staff.id, "Respondan, por favor.")
        db.session.commit()
    _answer(client, key, filed.number)
    _run_jobs(app)

    counts = {template: len(found) for template, found in rendered.items()}
    assert counts == {
        "book_copy": 1,
        "book_merchant": 1,
        "book_reminder": 2,
        "book_overdue_staff": 1,
        "book_answer": 1,
    }
    for template, found in rendered.items():
        for message in found:
            for body in (message.text, message.html):
                assert FILED_ES in body, template
                assert not UTC_DAYS_ES.search(body), template
            if template in ("book_copy", "book_merchant"):
                assert "22:30" in message.text and "22:30" in message.html, template
            if template != "book_answer":
                assert DUE_ES in message.text and DUE_ES in message.html, template
    answer = rendered["book_answer"][0]
    assert ANSWERED_ES in answer.text and ANSWERED_ES in answer.html
    # the kind is named as the law names it, in the merchant's emails too
    assert "(reclamo)" in rendered["book_merchant"][0].text
    assert "(reclamo)" in rendered["book_merchant"][0].subject


def test_the_pdf_copy_and_the_register_show_the_lima_dates(app, client, key, filed):
    _answer(client, key, filed.number)
    copy = client.get(f"/libro/{filed.code}.pdf")
    assert copy.status_code == 200 and copy.mimetype == "application/pdf"
    text = pdf_text(copy.data)
    assert "2026-03-01 22:30 (hora de Lima)" in text
    assert "2026-03-20" in text and "2026-03-04" in text
    assert not UTC_DAYS_ISO.search(text), text

    register = client.get("/api/v1/book/register.pdf", headers=bearer(key))
    assert register.status_code == 200
    text = pdf_text(register.data)
    assert f"{filed.number} · Reclamo · 2026-03-01 · respondido" in text
    assert "Plazo de respuesta: 2026-03-20" in text
    assert "Fecha de comunicación de la respuesta: 2026-03-04" in text
    assert not UTC_DAYS_ISO.search(text) and "answered" not in text

    export = client.get("/api/v1/book/export.csv", headers=bearer(key))
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True))))
    assert [(r["numero"], r["fecha"], r["vence"], r["fecha_respuesta"]) for r in rows] == [
        (filed.number, "2026-03-01", "2026-03-20", "2026-03-04")
    ]


def test_the_register_names_states_in_spanish(app, client, key):
    for kind in ("reclamo", "queja"):
        assert (
            client.post("/api/v1/merchants/bodega/book", json=entry_body(kind)).status_code == 201
        )
    praise = entry_body("felicitacion")
    praise.pop("request")
    client.post("/api/v1/merchants/bodega/book", json=praise)
    with app.app_context():
        db.session.execute(
            update(BookEntry).where(BookEntry.kind == "queja").values(due_at=date(2020, 1, 2))
        )
        db.session.commit()
    text = pdf_text(client.get("/api/v1/book/register.pdf", headers=bearer(key)).data)
    assert "· Reclamo · " in text and "· pendiente de respuesta" in text
    assert "· Queja · " in text and "· vencido sin respuesta" in text
    assert "· Felicitación · " in text and "· no requiere respuesta" in text
    assert not re.search(r"· (open|overdue|answered)\b", text)


# --- the public summary: reclamos and quejas apart


def test_the_summary_counts_reclamos_and_quejas_apart(app, client, key):
    for kind in ("reclamo", "reclamo", "queja"):
        assert (
            client.post("/api/v1/merchants/bodega/book", json=entry_body(kind)).status_code == 201
        )
    praise = entry_body("felicitacion")
    praise.pop("request")
    assert client.post("/api/v1/merchants/bodega/book", json=praise).status_code == 201
    with app.app_context():
        merchant = merchants.get_by_slug("bodega")
        summary = book.complaints_summary(merchant)
        part = book.complaints_part(merchant)
    assert (summary["received_12m"], summary["reclamos_12m"], summary["quejas_12m"]) == (3, 2, 1)
    assert part == {
        "received_12m": 3,
        "reclamos_12m": 2,
        "quejas_12m": 1,
        "answered_on_time_rate": None,
    }
    with app.app_context():
        first = db.session.scalars(select(BookEntry).order_by(BookEntry.id)).first()
        first.filed_at = datetime.now(UTC) - timedelta(days=400)  # out of the 12 months
        db.session.commit()
        part = book.complaints_part(merchants.get_by_slug("bodega"))
    assert (part["received_12m"], part["reclamos_12m"], part["quejas_12m"]) == (2, 1, 1)


# --- the guardian of a minor, only for a minor


def _guardian_body(**consumer: Any) -> dict[str, Any]:
    body = entry_body()
    body["consumer"].update(consumer)
    return body


GUARDIAN_JSON = {"name": "Ana Mendoza", "document_type": "DNI", "document_number": "12345678"}


@pytest.mark.parametrize(
    ("consumer", "status"),
    [
        ({"minor": True, "guardian": GUARDIAN_JSON}, 201),
        ({"minor": False}, 201),
        ({"minor": False, "guardian": None}, 201),
        ({}, 201),  # minor defaults to false
        ({"minor": True}, 422),  # a minor files through a guardian
        ({"minor": True, "guardian": None}, 422),
        ({"minor": False, "guardian": GUARDIAN_JSON}, 422),  # only a minor has one
        ({"guardian": GUARDIAN_JSON}, 422),
    ],
)
def test_the_api_wants_a_guardian_exactly_for_a_minor(client, key, consumer, status):
    answer = client.post("/api/v1/merchants/bodega/book", json=_guardian_body(**consumer))
    assert answer.status_code == status, answer.json
    if status == 422:
        assert list(answer.json["errors"]["json"]) == ["consumer"]
        assert list(answer.json["errors"]["json"]["consumer"]) == ["guardian"]
    else:
        listed = client.get("/api/v1/book", headers=bearer(key)).json["items"][0]
        expected = GUARDIAN_JSON if consumer.get("minor") else None
        assert listed["consumer"]["guardian"] == expected


def test_the_form_hides_the_guardian_until_the_minor_box_is_ticked(client, key):
    page = client.get("/m/bodega/libro").get_data(as_text=True)
    box = page.index('<input type="checkbox" id="minor" name="consumer.minor"')
    fieldset = page.index('<fieldset class="guardian" id="guardian">')
    # the fieldset is the next sibling but the box's label: the CSS rule reaches it
    assert re.fullmatch(r'<input [^>]*>\s*<label for="minor">[^<]*</label>\s*', page[box:fieldset])
    assert page.index('name="consumer.guardian.name"') > fieldset
    assert 'href="/static/book.css"' in page and "<style" not in page
    css = client.get("/static/book.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    assert "#minor:not(:checked) ~ .guardian{display:none}" in css.get_data(as_text=True)


def test_the_form_ignores_a_guardian_without_the_minor_box(app, client, key):
    filed = post_form(client, "/m/bodega/libro", {**FORM, **GUARDIAN})
    assert filed.status_code == 201
    with app.app_context():
        assert db.session.scalars(select(BookEntry)).one().guardian is None


def test_the_form_requires_the_guardian_of_a_minor(app, client, key):
    refused = post_form(
        client, "/m/bodega/libro?lang=en", {**FORM, "consumer.minor": "on"}, "/m/bodega/libro"
    )
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert 'id="minor" name="consumer.minor" aria-controls="guardian" checked' in html
    assert 'value="Rosa Mendoza Quispe"' in html and "El técnico no vino." in html
    assert "A minor files through a parent or guardian: complete their details." in html
    # as a browser sends it: the guardian's document type (a select) and nothing else
    refused = post_form(
        client,
        "/m/bodega/libro?lang=en",
        {**FORM, "consumer.minor": "on", "consumer.guardian.document_type": "DNI"},
        "/m/bodega/libro",
    )
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "Write the guardian's full name." in html
    assert 'id="consumer-guardian-document_number-error"' in html
    with app.app_context():
        assert db.session.scalars(select(BookEntry)).first() is None

    filed = post_form(client, "/m/bodega/libro", {**FORM, **GUARDIAN, "consumer.minor": "on"})
    assert filed.status_code == 201
    with app.app_context():
        assert db.session.scalars(select(BookEntry)).one().guardian == {
            "name": "Ana Mendoza Quispe",
            "document_type": "DNI",
            "document_number": "12345678",
        }


def test_an_empty_form_marks_every_required_field(client, key):
    refused = post_form(client, "/m/bodega/libro?lang=en", {}, "/m/bodega/libro")
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    for field in (
        "kind",
        "consumer-name",
        "consumer-document_number",
        "consumer-email",
        "item-type",
        "item-description",
        "detail",
    ):
        assert f'id="{field}-error"' in html, field


def test_the_follow_up_page_names_the_item_and_praise_in_the_readers_language(client, key):
    filed = client.post("/api/v1/merchants/bodega/book", json=entry_body()).json
    spanish = client.get(f"/libro/{filed['code']}").get_data(as_text=True)
    english = client.get(f"/libro/{filed['code']}?lang=en").get_data(as_text=True)
    assert "Producto: Licuadora" in spanish and "Product: Licuadora" in english
    praise = entry_body("felicitacion")
    praise.pop("request")
    code = client.post("/api/v1/merchants/bodega/book", json=praise).json["code"]
    english = client.get(f"/libro/{code}?lang=en").get_data(as_text=True)
    assert "a felicitación needs no answer" in english and ">answered<" not in english


def test_the_guardian_fieldset_shows_only_while_the_box_is_ticked(app, live_server, page):
    make_merchant(app, slug="bodega")
    page.goto(f"{live_server}/m/bodega/libro")
    assert not page.is_visible("#guardian")
    assert not page.is_visible("#consumer-guardian-name")
    page.check("#minor")
    assert page.is_visible("#guardian") and page.is_visible("#consumer-guardian-name")
    page.uncheck("#minor")
    assert not page.is_visible("#guardian")
    page.click("label[for=minor]")  # the label ticks the box too
    assert page.is_checked("#minor") and page.is_visible("#guardian")
