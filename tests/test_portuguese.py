"""Portuguese (Brazil) end to end, and the Libro de Reclamaciones as Peru's alone.

A shop in Brazil (``country: "BR"``) is written to in Portuguese — its emails, its badge
snippets, its customers when no language is given — and shows its reviews and seal but
no Libro de Reclamaciones: the book's form answers, in the reader's language, that the
book is a Peruvian legal requirement, and the API answers 404 saying so; its seal is not
held to the book's criteria. A shop in Peru is unchanged. (SQLite and PostgreSQL.)
"""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.booking import BOOK_FORM, entry_body
from tests.helpers import approve_seal, bearer, make_merchant, make_staff, order_body
from tests.reviewing import publish_review
from tests.signing_in import make_merchant_user, post_form, sign_in
from trustseal.book.models import BookEntry
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.merchants import service as merchants
from trustseal.seals import criteria as checklist
from trustseal.seals import monitor
from trustseal.seals import service as seals
from trustseal.seals.models import SiteCheck

BRAZIL, PERU = "loja", "bodega"
NO_BOOK_PT = "O Libro de Reclamaciones é uma exigência legal do Peru, e esta loja não opera no Peru"


@pytest.fixture
def outbox(app: Flask, tmp_path: Path) -> Path:
    app.config["TRUSTSEAL_OUTBOX_DIR"] = str(tmp_path)
    app.config["TRUSTSEAL_INVITATION_EMAIL_DELAY_HOURS"] = 0
    return tmp_path


def _sent(outbox: Path) -> list[EmailMessage]:
    with_jobs = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted(outbox.glob("*.eml"))
    ]
    return [m for m in with_jobs if isinstance(m, EmailMessage)]


def _run_jobs(app: Flask) -> None:
    with app.app_context():
        jobs.run_due_jobs()


@pytest.fixture
def brazil(app: Flask) -> str:
    """A shop in Brazil, declared so by staff; its API key."""
    return make_merchant(
        app,
        slug=BRAZIL,
        name="Loja Ipê",
        domain="loja.com.br",
        contact_email="oi@loja.com.br",
        country="BR",
    )[1]


@pytest.fixture
def peru(app: Flask) -> str:
    return make_merchant(app, slug=PERU)[1]


# --- the merchant's country -------------------------------------------------------------


def test_a_merchant_country_is_an_iso_code_and_decides_the_book(app, client):
    staff = make_staff(app)
    body = {"name": "Loja", "domain": "loja.com.br", "contact_email": "oi@loja.com.br"}
    for wrong in ("XX", "br", "BRA", "EU", "Brasil"):
        answer = client.post(
            "/api/v1/merchants", json={**body, "country": wrong}, headers=bearer(staff)
        )
        assert answer.status_code == 422, wrong
        assert "country" in answer.json["errors"]["json"], wrong
    created = client.post(
        "/api/v1/merchants", json={**body, "country": "BR"}, headers=bearer(staff)
    )
    assert created.status_code == 201
    assert created.json["country"] == "BR" and created.json["complaints_book"] is False
    peruvian = client.post(
        "/api/v1/merchants",
        json={**body, "domain": "tienda.pe", "slug": "tienda"},
        headers=bearer(staff),
    )
    assert peruvian.json["country"] == "PE" and peruvian.json["complaints_book"] is True
    with app.app_context():
        assert merchants.get_by_slug(created.json["slug"]).country_source == "declared"
        assert merchants.get_by_slug("tienda").country_source == "default"


def test_a_declared_country_is_not_changed_by_a_platform_account(app, brazil, peru):
    with app.app_context():
        shop_in_brazil, shop_in_peru = merchants.get_by_slug(BRAZIL), merchants.get_by_slug(PERU)
        assert merchants.learn_country(shop_in_brazil, "PE", "vtex") is False
        assert shop_in_brazil.country == "BR"
        # a country nobody declared follows the platform account's
        assert merchants.learn_country(shop_in_peru, "BR", "vtex") is True
        assert (shop_in_peru.country, shop_in_peru.country_source) == ("BR", "vtex")
        assert merchants.learn_country(shop_in_peru, "ZZ", "vtex") is False  # not a country
        db.session.rollback()


# --- the book is Peru's -----------------------------------------------------------------


def test_a_shop_in_brazil_has_no_book_and_says_why(app, client, brazil):
    filed = client.post(f"/api/v1/merchants/{BRAZIL}/book", json=entry_body())
    assert filed.status_code == 404
    assert filed.json["code"] == 404 and filed.json["status"] == "Not Found"
    assert "legal requirement of Peru" in filed.json["message"]
    assert f"/m/{BRAZIL}" in filed.json["message"]  # where its reviews and seal are
    praise = client.get(f"/api/v1/merchants/{BRAZIL}/praise")
    assert praise.status_code == 404 and "Libro de Reclamaciones" in praise.json["message"]
    assert client.get(f"/badges/{BRAZIL}/libro.svg").status_code == 404

    # the book's page, in the reader's language
    for lang, words in (
        ("pt", NO_BOOK_PT),
        ("es", "El Libro de Reclamaciones es una obligación legal del Perú"),
        ("en", "The Libro de Reclamaciones is a legal requirement in Peru"),
    ):
        page = client.get(f"/m/{BRAZIL}/libro?lang={lang}")
        assert page.status_code == 404, lang
        text = page.get_data(as_text=True)
        assert words in text and f'href="/m/{BRAZIL}"' in text, lang
        assert 'name="consumer.name"' not in text  # no form to file
    # posting the form files nothing either
    answer = post_form(client, f"/m/{BRAZIL}/libro", BOOK_FORM, token_from="/login")
    assert answer.status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(BookEntry)) == 0


def test_a_shop_in_peru_keeps_its_book(app, client, peru):
    assert client.post(f"/api/v1/merchants/{PERU}/book", json=entry_body()).status_code == 201
    assert client.get(f"/api/v1/merchants/{PERU}/praise").status_code == 200
    form = client.get(f"/m/{PERU}/libro?lang=pt")
    assert form.status_code == 200 and 'name="consumer.name"' in form.get_data(as_text=True)
    assert client.get(f"/badges/{PERU}/libro.svg").status_code == 200
    profile = client.get(f"/m/{PERU}?lang=pt").get_data(as_text=True)
    assert f'href="/m/{PERU}/libro"' in profile and 'id="book"' in profile
    assert client.get(f"/api/v1/merchants/{PERU}").json["complaints_book"] is True


def test_a_shop_in_brazil_shows_its_reviews_and_seal_not_a_book(app, client, brazil):
    for n in range(3):
        publish_review(client, brazil, f"B-{n}", rating=5)
    certifier = make_staff(app, "certifier")
    passing = [c.id for c in checklist.CRITERIA if c.id not in checklist.PERU_ONLY]
    with app.app_context():
        merchant = merchants.get_by_slug(BRAZIL)
        changes = [seals.VerdictChange(cid, "pass") for cid in passing]
        seals.set_verdicts(merchant, changes, None)
        db.session.commit()
    # the book's criteria do not apply: the seal is granted without them
    approved = client.post(
        f"/api/v1/merchants/{BRAZIL}/seal",
        json={"action": "approve", "reason": "Cumpre os critérios"},
        headers=bearer(certifier),
    )
    assert approved.status_code == 200, approved.json
    criteria = {c["id"]: c for c in client.get(f"/api/v1/merchants/{BRAZIL}/seal/criteria").json}
    for cid in checklist.PERU_ONLY:
        assert criteria[cid]["verdict"] == "not_applicable"
        assert "Libro de Reclamaciones" in criteria[cid]["note"]

    # Spanish first: words a cached template module kept in the first page's language
    # would show on the next page in another one
    assert "no aplica" in client.get(f"/m/{BRAZIL}?lang=es").get_data(as_text=True)
    profile = client.get(f"/m/{BRAZIL}?lang=pt")
    assert profile.status_code == 200
    text = profile.get_data(as_text=True)
    assert "Avaliações de compras verificadas" in text and "3 avaliações verificadas" in text
    assert "/libro" not in text and 'id="book"' not in text
    assert "não se aplica" in text  # the book's criteria, in words
    badge = client.get(f"/badges/{BRAZIL}.svg?style=card&lang=pt")
    assert badge.status_code == 200 and "VÁLIDO".encode() in badge.data
    assert b"/libro" not in badge.data
    verify = client.get(f"/verify/{BRAZIL}?lang=pt").get_data(as_text=True)
    assert "/libro" not in verify and "lang=pt" in verify


def test_the_site_check_does_not_ask_a_shop_in_brazil_for_a_book_link(app, client, brazil, peru):
    """The book link is a criterion of the site check, and the monitoring rule reads it:
    for a shop in Peru only."""
    no_book_link = {"state": "done", "status": 200, "https": True, "links": {}}
    shops = ((BRAZIL, "loja.com.br"), (PERU, "bodega.pe"))
    with app.app_context():  # no verdict yet: the check judges what applies
        for slug, domain in shops:
            merchant = merchants.get_by_slug(slug)
            changed = seals.apply_site_check(
                merchant, {**no_book_link, "url": f"https://{domain}/"}
            )
            assert "https" in changed and ("complaints_book" in changed) is (slug == PERU), slug
            every = [seals.VerdictChange(c.id, "pass") for c in checklist.CRITERIA]
            seals.set_verdicts(merchant, every, None)
        db.session.commit()
    certifier = make_staff(app, "certifier")
    for slug, _domain in shops:
        approved = client.post(
            f"/api/v1/merchants/{slug}/seal",
            json={"action": "approve", "reason": "Cumple"},
            headers=bearer(certifier),
        )
        assert approved.status_code == 200, approved.json
    now = datetime.now(UTC)
    with app.app_context():  # then four days of checks that find HTTPS but no book link
        for slug, domain in shops:
            for days in (1, 2, 3, 4):
                when = now + timedelta(days=days)
                db.session.add(
                    SiteCheck(
                        merchant_id=merchants.get_by_slug(slug).id,
                        url=f"https://{domain}/",
                        result={**no_book_link, "checked_at": when.isoformat()},
                        created_at=when,
                    )
                )
        db.session.commit()
        at = now + timedelta(days=4, hours=1)
        in_peru = monitor.assess(merchants.get_by_slug(PERU), at)
        in_brazil = monitor.assess(merchants.get_by_slug(BRAZIL), at)
        assert [b.rule for b in in_peru.breaches] == [monitor.SITE_CHECK_FAILING]
        assert in_brazil.breaches == [] and in_brazil.cautions == []
        db.session.rollback()


# --- Portuguese for a shop in Brazil and its customers ----------------------------------


def test_an_order_without_a_language_takes_the_shops(app, client, brazil, peru):
    for key, expected in ((brazil, "pt"), (peru, "es")):
        answer = client.post("/api/v1/orders", json=order_body("A-1"), headers=bearer(key))
        assert answer.status_code == 201 and answer.json["customer"]["locale"] == expected


@pytest.mark.parametrize(
    ("given", "stored"), [("pt", "pt"), ("pt-BR", "pt"), ("PT_br", "pt"), ("es-PE", "es")]
)
def test_an_order_language_is_a_code_or_a_tag_of_one(client, peru, given, stored):
    body = order_body("A-1")
    body["customer"]["locale"] = given
    answer = client.post("/api/v1/orders", json=body, headers=bearer(peru))
    assert answer.status_code == 201 and answer.json["customer"]["locale"] == stored


@pytest.mark.parametrize("given", ["fr", "português", "pt-", "", 5])
def test_another_language_is_422(client, peru, given):
    body = order_body("A-1")
    body["customer"]["locale"] = given
    answer = client.post("/api/v1/orders", json=body, headers=bearer(peru))
    assert answer.status_code == 422
    assert "locale" in answer.json["errors"]["json"]["customer"]


def test_the_review_invitation_in_portuguese(app, client, peru, outbox):
    body = order_body("A-1", status="delivered")
    body["customer"]["locale"] = "pt-BR"
    assert client.post("/api/v1/orders", json=body, headers=bearer(peru)).status_code == 201
    _run_jobs(app)
    (invitation,) = _sent(outbox)
    assert invitation["Content-Language"] == "pt-BR"
    assert invitation["Subject"] == "Como foi a sua compra em Bodega Ñandú?"
    html = invitation.get_body(("html",)).get_content()
    assert '<html lang="pt-BR">' in html and "Escrever a minha avaliação" in html
    assert "Não receber mais e-mails como este" in html
    text = invitation.get_body(("plain",)).get_content()
    assert "Olá, Lucía Quispe," in text and "/r/" in text


def test_a_shop_in_brazil_gets_its_emails_in_portuguese(app, client, brazil, outbox):
    """The merchant's own emails (here: a review of 1 star) follow its country."""
    publish_review(client, brazil, "B-1", rating=1, body="Chegou quebrado.")
    _run_jobs(app)
    alerts = [m for m in _sent(outbox) if m["To"] == "oi@loja.com.br"]
    (alert,) = alerts
    assert alert["Content-Language"] == "pt-BR"
    assert alert["Subject"] == "Nova avaliação de 1 estrela: Loja Ipê"
    assert "responda a ela pelo seu painel" in alert.get_body(("plain",)).get_content()


def test_the_badge_snippets_of_a_shop_in_brazil_are_portuguese(client, brazil, peru):
    snippets = client.get(f"/api/v1/merchants/{BRAZIL}/badge").json["snippets"]
    assert (
        "lang=pt" in snippets["card"]
        and 'alt="Selo de Confiança Online: Loja Ipê"' in (snippets["card"])
    )
    asked = client.get(f"/api/v1/merchants/{BRAZIL}/badge?lang=en").json["snippets"]
    assert "lang=en" in asked["card"]
    assert "lang=es" in client.get(f"/api/v1/merchants/{PERU}/badge").json["snippets"]["seal"]


@pytest.mark.parametrize("style", ["compact", "seal", "card"])
@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_the_badge_in_portuguese_in_every_style_and_format(app, client, peru, style, fmt):
    for n in range(4):
        publish_review(client, peru, f"B-{n}", rating=5)
    approve_seal(app, client, PERU)
    answer = client.get(f"/badges/{PERU}.{fmt}?style={style}&lang=pt")
    assert answer.status_code == 200
    english = client.get(f"/badges/{PERU}.{fmt}?style={style}&lang=en")
    assert answer.data != english.data and answer.headers["ETag"] != english.headers["ETag"]
    if fmt == "svg":
        label = answer.data.split(b'aria-label="', 1)[1].split(b'"', 1)[0].decode()
        assert label.startswith("Selo de Confiança Online: Bodega Ñandú — VÁLIDO")
        assert label.endswith(", 4 avaliações")


def test_a_signed_in_shop_in_brazil_reads_its_dashboard_in_portuguese(app, brazil):
    make_merchant_user(app, BRAZIL, "dono@loja.com.br")
    dashboard: FlaskClient = app.test_client()
    dashboard.get("/lang/pt")
    assert sign_in(dashboard, "dono@loja.com.br", "clave-segura-123").status_code == 302
    page = dashboard.get("/dashboard").get_data(as_text=True)
    assert '<html lang="pt-BR">' in page and "Os seus primeiros passos" in page
