"""The complaints and praise book: numbering, deadlines, answers, privacy, records."""

from __future__ import annotations

import csv
import io
import json
import threading
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from tests.booking import BOOK_FORM, CONSUMER_DNI, CONSUMER_EMAIL, entry_body
from tests.helpers import approve_seal, bearer, make_merchant, make_staff
from tests.signing_in import post_form
from trustseal.book import deadlines
from trustseal.book.models import BookEntry
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.jobs.models import Job
from trustseal.mail.models import OutboxMessage

LIMA = deadlines.LIMA


@pytest.fixture
def key(app):
    return make_merchant(
        app,
        slug="bodega",
        legal_name="Bodega Ñandú S.A.C.",
        ruc="20100070970",
        address="Av. Arequipa 100, Lima",
    )[1]


def file(client, **changes):
    return client.post("/api/v1/merchants/bodega/book", json=entry_body(**changes))


@pytest.mark.parametrize(
    ("filed", "due"),
    [
        (datetime(2026, 3, 30, 12, tzinfo=LIMA), date(2026, 4, 22)),  # Semana Santa: 2-3 April
        (datetime(2026, 7, 20, 12, tzinfo=LIMA), date(2026, 8, 14)),  # 23, 28, 29 July; 6 August
        (datetime(2026, 12, 1, 12, tzinfo=LIMA), date(2026, 12, 24)),  # 8 and 9 December
        (datetime(2026, 12, 2, 3, tzinfo=UTC), date(2026, 12, 24)),  # 22:00 on 1 Dec in Lima
        (datetime(2026, 12, 19, 10, tzinfo=LIMA), date(2027, 1, 12)),  # Christmas, New Year
    ],
)
def test_due_date_skips_weekends_and_peruvian_holidays(filed, due):
    assert deadlines.due_date(filed) == due


def test_filing_numbers_copy_and_follow_up(app, client, key):
    first = file(client)
    assert first.status_code == 201, first.json
    year = datetime.now(LIMA).year
    assert first.json["number"] == f"000001-{year}"
    assert len(first.json["code"]) == 19 and first.json["code"].count("-") == 3
    assert first.json["due_at"] == deadlines.due_date(datetime.now(UTC)).isoformat()
    assert file(client, kind="queja").json["number"] == f"000002-{year}"
    make_merchant(app, slug="otra")
    other = client.post("/api/v1/merchants/otra/book", json=entry_body())
    assert other.json["number"] == f"000001-{year}"
    follow = client.get(f"/api/v1/book/{first.json['code'].lower()}")
    assert follow.status_code == 200
    assert follow.json["status"] == "open" and follow.json["answer"] is None
    assert client.get("/api/v1/book/AAAA-BBBB-CCCC-DDDD").status_code == 404
    with app.app_context():
        kinds = sorted(j.kind for j in db.session.scalars(select(Job)))
        copies = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.template == "book_copy")
        ).all()
        assert len(copies) == 3 and kinds.count("book.reminder") == 6
        assert kinds.count("mail.deliver") == 3  # the copies, queued with the filing
        # the follow-up code is in no job payload (only in the encrypted outbox message)
        payloads = [json.dumps(j.payload) for j in db.session.scalars(select(Job))]
        assert not any(first.json["code"] in p for p in payloads)
        reminders = [
            j.run_at for j in db.session.scalars(select(Job).where(Job.kind == "book.reminder"))
        ]
        today = deadlines.lima_date(datetime.now(UTC))
        assert {deadlines.lima_date(r) for r in reminders} == {
            deadlines.add_business_days(today, 10),
            deadlines.add_business_days(today, 13),
        }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "denuncia"}, "kind"),
        ({"consumer": {}}, "consumer"),
        ({"detail": ""}, "detail"),
        ({"request": None}, "request"),
        ({"item": {"type": "cosa", "description": "x"}}, "item"),
    ],
)
def test_missing_or_invalid_fields_are_named(client, key, change, field):
    body = entry_body()
    body.update(change)
    if body.get("request") is None:
        body.pop("request")
    answer = client.post("/api/v1/merchants/bodega/book", json=body)
    assert answer.status_code == 422
    assert field in answer.json["errors"]["json"]


@pytest.mark.parametrize(
    ("consumer", "bad"),
    [
        ({"document_number": "1234567"}, "document_number"),
        ({"document_type": "RUC", "document_number": "20100070971"}, "document_number"),
        ({"document_type": "CE", "document_number": "12"}, "document_number"),
        ({"email": "rosa@"}, "email"),
        ({"phone": "call me"}, "phone"),
        ({"minor": True}, "guardian"),
    ],
)
def test_documents_emails_and_guardians_are_validated(client, key, consumer, bad):
    body = entry_body()
    body["consumer"].update(consumer)
    answer = client.post("/api/v1/merchants/bodega/book", json=body)
    assert answer.status_code == 422
    assert bad in answer.json["errors"]["json"]["consumer"]


def test_valid_ruc_and_minor_with_guardian(client, key):
    body = entry_body()
    body["consumer"].update(
        document_type="RUC",
        document_number="20100070970",
        minor=True,
        guardian={"name": "Ana Mendoza", "document_type": "DNI", "document_number": "12345678"},
    )
    assert client.post("/api/v1/merchants/bodega/book", json=body).status_code == 201
    praise = entry_body("felicitacion")
    praise.pop("request")
    assert client.post("/api/v1/merchants/bodega/book", json=praise).status_code == 201


@pytest.mark.postgres_only
def test_numbers_have_no_gaps_under_concurrent_filings(app, key):
    numbers: list[str] = []
    barrier = threading.Barrier(10)

    def filer() -> None:
        local = app.test_client()
        barrier.wait()
        for _ in range(3):
            answer = local.post("/api/v1/merchants/bodega/book", json=entry_body())
            assert answer.status_code == 201
            numbers.append(answer.json["number"])

    threads = [threading.Thread(target=filer) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(int(n.split("-")[0]) for n in numbers) == list(range(1, 31))


def test_a_failed_filing_gives_its_number_back(app, client, key, monkeypatch):
    from trustseal.transparency import service as log

    real = log.append
    monkeypatch.setattr(log, "append", lambda event: (_ for _ in ()).throw(RuntimeError("x")))
    app.config["PROPAGATE_EXCEPTIONS"] = False
    assert file(client).status_code == 500
    monkeypatch.setattr(log, "append", real)
    assert file(client).json["number"].startswith("000001-")


def test_answer_once_logged_emailed_and_followed_up(app, client, key, tmp_path):
    app.config["TRUSTSEAL_OUTBOX_DIR"] = str(tmp_path)
    filed = file(client).json
    url = f"/api/v1/book/{filed['number']}/response"
    assert client.put(url, json={"body": "Le enviamos una nueva."}).status_code == 401
    answered = client.put(
        url, json={"body": "Le enviamos una nueva licuadora."}, headers=bearer(key)
    )
    assert answered.status_code == 200 and answered.json["status"] == "answered"
    assert client.put(url, json={"body": "otra"}, headers=bearer(key)).status_code == 409
    _, other = make_merchant(app, slug="otra")
    assert client.put(url, json={"body": "x"}, headers=bearer(other)).status_code == 404
    assert (
        client.put(
            "/api/v1/book/nonsense/response", json={"body": "x"}, headers=bearer(key)
        ).status_code
        == 404
    )
    follow = client.get(f"/api/v1/book/{filed['code']}").json
    assert follow["answer"] == "Le enviamos una nueva licuadora." and follow["status"] == "answered"
    leaves = [e["leaf"] for e in client.get("/api/v1/log/entries?start=0&end=5").json]
    assert [leaf.split('"type":"')[1].split('"')[0] for leaf in leaves] == [
        "book.filed",
        "book.answered",
    ]
    assert '"on_time":true' in leaves[1]
    assert CONSUMER_EMAIL not in "".join(leaves) and CONSUMER_DNI not in "".join(leaves)
    with app.app_context():
        db.session.execute(update(Job).values(run_at=datetime.now(UTC) - timedelta(seconds=1)))
        db.session.commit()
        jobs.run_due_jobs()
    mails = "\n".join(p.read_text() for p in Path(tmp_path).glob("*.eml"))
    assert filed["code"] in mails and "Le enviamos una nueva licuadora." in mails


def test_status_filters_and_overdue(app, client, key):
    first, second, third = (file(client).json for _ in range(3))
    client.put(
        f"/api/v1/book/{first['number']}/response", json={"body": "Resuelto"}, headers=bearer(key)
    )
    with app.app_context():
        entry = db.session.scalars(select(BookEntry).where(BookEntry.number == 2)).one()
        entry.due_at = date(2020, 1, 2)
        db.session.commit()

    def numbers(status):
        page = client.get(f"/api/v1/book?status={status}", headers=bearer(key)).json
        return [e["number"] for e in page["items"]]

    assert numbers("answered") == [first["number"]]
    assert numbers("overdue") == [second["number"]]
    assert numbers("open") == [third["number"]]
    items = client.get("/api/v1/book", headers=bearer(key)).json["items"]
    assert items[0]["consumer"]["email"] == CONSUMER_EMAIL
    assert client.get("/api/v1/book?status=late", headers=bearer(key)).status_code == 422
    summary = client.get("/api/v1/merchants/bodega/score").json["complaints"]
    assert summary["received_12m"] == 3 and summary["answered_on_time_rate"] == 0.5


def test_a_filing_whose_email_fails_is_kept_and_retried(app, client, key):
    app.config.update(
        TRUSTSEAL_SMTP_HOST="127.0.0.1", TRUSTSEAL_SMTP_PORT=9, TRUSTSEAL_SMTP_TIMEOUT=2.0
    )
    filed = file(client)
    assert filed.status_code == 201 and filed.json["number"]
    with app.app_context():
        result = jobs.run_due_jobs()
        assert result.retried >= 1  # the deliveries: copy and merchant notice
        assert db.session.scalars(select(BookEntry)).one().number == 1
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.sent_at.is_(None))
            )
            == 2
        )


def test_praise_published_only_with_consent(client, key):
    body = entry_body("felicitacion", publish_praise=True, detail="¡Entrega rapidísima!")
    body.pop("request")
    client.post("/api/v1/merchants/bodega/book", json=body)
    private = entry_body("felicitacion", detail="Gracias")
    private.pop("request")
    client.post("/api/v1/merchants/bodega/book", json=private)
    praise = client.get("/api/v1/merchants/bodega/praise").json
    assert praise == [
        {"name": "Rosa Q.", "detail": "¡Entrega rapidísima!", "filed_at": praise[0]["filed_at"]}
    ]
    assert "¡Entrega rapidísima!" in client.get("/m/bodega").get_data(as_text=True)


def test_no_personal_data_in_any_public_output(app, client, key):
    filed = file(client, detail="Pedido con DNI en el texto").json
    client.put(
        f"/api/v1/book/{filed['number']}/response", json={"body": "Atendido"}, headers=bearer(key)
    )
    approve_seal(app, client)
    public = [
        "/api/v1/merchants/bodega",
        "/api/v1/merchants/bodega/score",
        "/api/v1/merchants/bodega/praise",
        "/api/v1/merchants/bodega/reviews",
        "/api/v1/merchants/bodega/seal/history",
        "/api/v1/merchants/bodega/badge",
        "/api/v1/log/entries?start=0&end=50",
        "/api/v1/log/tree-head",
        "/m/bodega",
        "/verify/bodega",
        "/transparency",
        "/m/bodega/libro",
        "/badges/bodega/libro.svg",
        "/badges/bodega/assertion",
    ] + [
        f"/badges/bodega.{fmt}?style={style}"
        for fmt in ("svg", "png")
        for style in ("compact", "seal", "card")
    ]
    for url in public:
        body = client.get(url).get_data()
        for secret in (CONSUMER_EMAIL, CONSUMER_DNI, "Rosa Mendoza", "987 654 321", "Ucayali"):
            assert secret.encode() not in body, (url, secret)


def test_html_is_escaped_on_pages(client, key):
    filed = file(client, detail="<script>alert(1)</script>").json
    page = client.get(f"/libro/{filed['code']}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    pdf = client.get(f"/libro/{filed['code']}.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")


def test_flood_from_one_address_is_429(app, client, key):
    app.config["TRUSTSEAL_RATELIMIT_PUBLIC_WRITE"] = "3 per minute"
    codes = [file(client).status_code for _ in range(4)]
    assert codes == [201, 201, 201, 429]


def test_register_csv_and_pdf(app, client, key):
    file(client, detail='=HYPERLINK("http://evil")')
    answer = client.get("/api/v1/book/export.csv", headers=bearer(key))
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    assert rows[0][0] == "numero" and rows[1][5] == "Rosa Mendoza Quispe"
    assert rows[1][14].startswith("'=")  # no formula for a spreadsheet to run
    staff = make_staff(app, "certifier")
    assert (
        client.get("/api/v1/book/export.csv?merchant=bodega", headers=bearer(staff)).status_code
        == 200
    )
    assert client.get("/api/v1/book/export.csv").status_code == 401
    assert (
        client.get("/api/v1/book/export.csv?merchant=nadie", headers=bearer(staff)).status_code
        == 404
    )
    pdf = client.get("/api/v1/book/register.pdf", headers=bearer(key))
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_erasure_after_retention_keeps_number_dates_and_kind(app, client, key, runner):
    filed = file(client).json
    with app.app_context():
        db.session.execute(
            update(BookEntry).values(filed_at=datetime.now(UTC) - timedelta(days=800))
        )
        db.session.commit()
    result = runner.invoke(args=["book", "erase-expired"])
    assert result.exit_code == 0 and "1 entries" in result.output
    with app.app_context():
        entry = db.session.scalars(select(BookEntry)).one()
        assert (entry.number, entry.kind) == (1, "reclamo") and entry.due_at and entry.filed_at
        assert entry.email is None and entry.document_number is None and entry.detail is None
    assert client.get(f"/api/v1/book/{filed['code']}").json["number"] == filed["number"]


def test_form_page_errors_in_spanish_with_values_kept(client, key):
    page = client.get("/m/bodega/libro").get_data(as_text=True)
    assert "INDECOPI" in page and "quince (15) días hábiles" in page and "RUC 20100070970" in page
    bad = post_form(
        client,
        "/m/bodega/libro",
        {
            "kind": "reclamo",
            "consumer.name": "Rosa",
            "consumer.document_type": "DNI",
            "consumer.document_number": "123",
            "detail": "Se rompió",
        },
    )
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert 'value="Rosa"' in html and "Se rompió" in html
    assert "no es válido" in html and "correo" in html.lower()
    ok = post_form(
        client,
        "/m/bodega/libro",
        BOOK_FORM,
    )
    assert ok.status_code == 201
    assert "000001-" in ok.get_data(as_text=True)


def test_book_link_button(client, key):
    answer = client.get("/badges/bodega/libro.svg")
    root = ET.fromstring(answer.data)
    assert root.get("aria-label") == "Libro de Reclamaciones"
    assert b"/m/bodega/libro" in answer.data
    assert client.get("/badges/nadie/libro.svg").status_code == 404
