"""The merchant's complaints desk: open, overdue and answered, with what resolving takes."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from tests.booking import CONSUMER_DNI, CONSUMER_EMAIL, entry_body
from tests.signing_in import make_merchant_user, post_form, sign_in
from trustseal.book import deadlines
from trustseal.book.models import BookEntry
from trustseal.extensions import db


def test_business_days_between_counts_weekdays_and_skips_holidays():
    friday, monday = date(2026, 7, 24), date(2026, 7, 27)
    assert deadlines.business_days_between(friday, friday) == 0
    assert deadlines.business_days_between(friday, monday) == 1  # the weekend is not counted
    assert deadlines.business_days_between(monday, friday) == -1
    # 28 and 29 July are Peru's national holidays: Monday 27 to Thursday 30 is one day.
    assert deadlines.business_days_between(monday, date(2026, 7, 30)) == 1


def test_the_desk_shows_each_complaint_with_what_it_takes_to_resolve_it(app, client):
    make_merchant_user(app)
    late = client.post("/api/v1/merchants/bodega/book", json=entry_body(order_ref="PED-1001")).json
    fresh = client.post("/api/v1/merchants/bodega/book", json=entry_body("queja")).json
    client.post("/api/v1/merchants/bodega/book", json=entry_body("felicitacion"))
    with app.app_context():
        entry = db.session.scalars(select(BookEntry).where(BookEntry.number == 1)).one()
        entry.due_at = date(2020, 1, 2)
        db.session.commit()
    desk = app.test_client()
    sign_in(desk, "duena@bodega.pe", "clave-segura-123")

    opened = desk.get("/dashboard/complaints").get_data(as_text=True)
    assert fresh["number"] in opened and late["number"] not in opened
    assert "quedan 15 días hábiles" in opened or "quedan 14 días hábiles" in opened
    for fact in (CONSUMER_EMAIL, CONSUMER_DNI, "+51 987 654 321", "S/\xa0189,90", "queja"):
        assert fact in opened, fact
    assert "Abiertos (1)" in opened and "Vencidos (1)" in opened and "Respondidos (0)" in opened

    overdue = desk.get("/dashboard/complaints?tab=overdue").get_data(as_text=True)
    assert late["number"] in overdue and "PED-1001" in overdue
    assert "días hábiles de atraso" in overdue

    post_form(
        desk,
        f"/dashboard/complaints/{late['number']}/answer",
        {"body": "Le enviamos una licuadora nueva."},
        token_from="/dashboard/complaints?tab=overdue",
    )
    answered = desk.get("/dashboard/complaints?tab=answered").get_data(as_text=True)
    assert late["number"] in answered and "Le enviamos una licuadora nueva." in answered
    assert "respondido el" in answered
    assert "Respondidos (1)" in answered and "Vencidos (0)" in answered
    # An unknown tab is the open one; the register and the CSV are labelled links.
    odd = desk.get("/dashboard/complaints?tab=<b>").get_data(as_text=True)
    assert fresh["number"] in odd
    assert "Registro del Libro de Reclamaciones (PDF)" in odd and "CSV" in odd
