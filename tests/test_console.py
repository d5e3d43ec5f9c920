"""The certifier console and the merchant dashboard."""

from __future__ import annotations

import email as email_lib
from datetime import UTC, datetime, timedelta
from email import policy as email_policy

import pytest
from sqlalchemy import select, update

from tests.booking import entry_body
from tests.helpers import bearer
from tests.reviewing import post_review, review_link
from tests.signing_in import make_merchant_user, make_staff_user, post_form, sign_in
from tests.sites import StubResolver, loopback_resolver, on_domain, shop_site
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.seals import sitecheck
from trustseal.seals.models import SiteCheck


@pytest.fixture
def merchant_key(app):
    return make_merchant_user(app)[0]


@pytest.fixture
def certifier(app, client):
    email, password = make_staff_user(app, "certifier")
    sign_in(client, email, password)
    return client


def test_certifier_checklist_site_check_and_approval(
    app, certifier, merchant_key, client, monkeypatch
):
    page = certifier.get("/console").get_data(as_text=True)
    assert "Bodega Ñandú" in page
    approve = {"action": "approve", "reason": "Cumple todo"}
    refused = post_form(
        certifier, "/console/m/bodega/seal", approve, token_from="/console/m/bodega"
    )
    assert refused.status_code == 302
    assert client.get("/api/v1/merchants/bodega").json["seal"]["status"] == "none"
    assert "Aún no: " in certifier.get("/console/m/bodega").get_data(as_text=True)
    app.config["TRUSTSEAL_SITE_CHECK_ALLOW_PRIVATE"] = True
    monkeypatch.setattr(sitecheck, "resolve", loopback_resolver())
    with shop_site() as url:
        address = {"url": on_domain(url)}  # the shop's own domain: the check judges it
        post_form(certifier, "/console/m/bodega/sitecheck", address, token_from="/console/m/bodega")
        with app.app_context():
            assert jobs.run_due_jobs().done == 1
    judged = {c["id"]: c for c in client.get("/api/v1/merchants/bodega/seal/criteria").json}
    assert judged["complaints_book"]["verdict"] == "pass" and judged["complaints_book"]["automatic"]
    assert judged["https"]["verdict"] == "fail"  # a loopback test site has no TLS
    assert judged["payments"]["verdict"] == "pending" and judged["payments"]["checked_at"] is None
    form = {f"verdict_{cid}": "pass" for cid in judged}
    form |= {"note_https": "Certificado vigente", "evidence_https": "https://bodega.pe/"}
    saved = post_form(certifier, "/console/m/bodega/criteria", form, token_from="/console/m/bodega")
    assert saved.status_code == 302
    judged = {c["id"]: c for c in client.get("/api/v1/merchants/bodega/seal/criteria").json}
    assert {c["verdict"] for c in judged.values()} == {"pass"}
    assert judged["https"]["override"] and judged["https"]["note"] == "Certificado vigente"
    detail = certifier.get("/console/m/bodega").get_data(as_text=True)
    assert "Certificado vigente" in detail and "site-complaints_book" in detail
    done = post_form(certifier, "/console/m/bodega/seal", approve, token_from="/console/m/bodega")
    assert done.status_code == 302
    assert client.get("/api/v1/merchants/bodega").json["seal"]["status"] == "active"
    assert b"VIGENTE" in client.get("/badges/bodega.svg?style=card").data


def test_checklist_form_refuses_links_that_are_not_https_and_changes_nothing(
    app, certifier, merchant_key, client
):
    for link in ("javascript:alert(1)", "http://bodega.pe/", "data:text/html,hola"):
        answer = post_form(
            certifier,
            "/console/m/bodega/criteria",
            {"verdict_https": "pass", "evidence_https": link, "verdict_terms": "pass"},
            token_from="/console/m/bodega",
        )
        assert answer.status_code == 422
        page = answer.get_data(as_text=True)
        assert 'id="problem-https"' in page and 'href="javascript' not in page
    judged = client.get("/api/v1/merchants/bodega/seal/criteria").json
    assert {c["verdict"] for c in judged} == {"pending"}


def test_site_check_refuses_loopback_by_default(app, certifier, merchant_key):
    with shop_site() as url:
        post_form(
            certifier, "/console/m/bodega/sitecheck", {"url": url}, token_from="/console/m/bodega"
        )
        with app.app_context():
            assert jobs.run_due_jobs().done == 1  # a refused target is a result, not a failure
    page = certifier.get("/console/m/bodega").get_data(as_text=True)
    assert "which is not a public address: loopback" in page and 'id="site-pending"' not in page


@pytest.fixture
def resolver(monkeypatch):
    """No real DNS: the checker resolves through a stub that records each lookup."""
    stub = StubResolver({"bodega.pe": ["100.64.0.1"]})
    monkeypatch.setattr(sitecheck, "resolve", stub)
    return stub


def test_site_check_runs_in_the_worker_not_in_the_request(app, certifier, merchant_key, resolver):
    asked = post_form(certifier, "/console/m/bodega/sitecheck", {}, token_from="/console/m/bodega")
    assert asked.status_code == 302 and asked.headers["Location"].endswith("/console/m/bodega#site")
    assert resolver.calls == []  # no network I/O inside the console request
    page = certifier.get("/console/m/bodega").get_data(as_text=True)
    assert "Revisión del sitio en cola" in page  # the flash
    assert 'id="site-pending"' in page and "en cola o en curso" in page
    assert "https://bodega.pe/" in page and "certifier@cert.pe" in page
    assert 'id="site-result"' not in page and "Recargar para ver el resultado" in page
    assert 'href="/console/m/bodega?shown=' in page  # a new URL: following it reloads
    again = post_form(certifier, "/console/m/bodega/sitecheck", {}, token_from="/console/m/bodega")
    assert again.status_code == 302 and resolver.calls == []
    assert "Ya hay una revisión del sitio" in certifier.get("/console/m/bodega").get_data(
        as_text=True
    )
    with app.app_context():
        assert jobs.run_due_jobs().done == 1  # one job: asking again queued no duplicate
    assert resolver.calls == ["bodega.pe"]
    page = certifier.get("/console/m/bodega").get_data(as_text=True)
    assert 'id="site-pending"' not in page and 'id="site-result"' in page
    assert "100.64.0.1, which is not a public address: shared carrier-grade NAT" in page
    assert "Pedida por" in page and "certifier@cert.pe" in page
    with app.app_context():
        assert jobs.run_due_jobs().done == 0
    post_form(certifier, "/console/m/bodega/sitecheck", {}, token_from="/console/m/bodega")
    with app.app_context():
        assert jobs.run_due_jobs().done == 1  # once the result is in, a new check may be asked
    assert resolver.calls == ["bodega.pe", "bodega.pe"]


@pytest.mark.parametrize(
    "url", ["ftp://bodega.pe/", "https://duena:secreto@bodega.pe/", "javascript:alert(1)"]
)
def test_site_check_of_an_unusable_address_is_not_queued(
    app, certifier, merchant_key, resolver, url
):
    post_form(
        certifier, "/console/m/bodega/sitecheck", {"url": url}, token_from="/console/m/bodega"
    )
    page = certifier.get("/console/m/bodega").get_data(as_text=True)
    assert "No se puede revisar esa dirección" in page and 'id="site-pending"' not in page
    with app.app_context():
        assert jobs.run_due_jobs().done == 0
    assert resolver.calls == []


def test_a_site_check_that_never_ran_does_not_block_a_new_one(
    app, certifier, merchant_key, resolver
):
    post_form(certifier, "/console/m/bodega/sitecheck", {}, token_from="/console/m/bodega")
    with app.app_context():
        db.session.execute(
            update(SiteCheck).values(created_at=datetime.now(UTC) - timedelta(hours=2))
        )
        db.session.commit()
    page = certifier.get("/console/m/bodega").get_data(as_text=True)
    assert "sin terminar" in page and "Puedes pedirla de nuevo" in page
    post_form(certifier, "/console/m/bodega/sitecheck", {}, token_from="/console/m/bodega")
    assert "en cola o en curso" in certifier.get("/console/m/bodega").get_data(as_text=True)
    with app.app_context():
        assert jobs.run_due_jobs().done == 2  # the old job and the new one: two results
    assert resolver.calls == ["bodega.pe", "bodega.pe"]


def test_moderator_cannot_ask_for_a_site_check(app, client, merchant_key, resolver):
    email, password = make_staff_user(app, "moderator")
    sign_in(client, email, password)
    answer = post_form(client, "/console/m/bodega/sitecheck", {}, token_from="/console/m/bodega")
    assert answer.status_code == 403
    with app.app_context():
        assert jobs.run_due_jobs().done == 0


def test_moderator_cannot_decide_seals(app, client, merchant_key):
    email, password = make_staff_user(app, "moderator")
    sign_in(client, email, password)
    answer = post_form(
        client,
        "/console/m/bodega/seal",
        {"action": "approve", "reason": "x"},
        token_from="/console/m/bodega",
    )
    assert answer.status_code == 403
    assert client.get("/api/v1/merchants/bodega").json["seal"]["status"] == "none"


def test_moderation_queue_remove_and_keep(app, certifier, merchant_key, client, tmp_path):
    first = post_review(client, review_link(client, merchant_key, "M-1"), rating=1).json["id"]
    second = post_review(client, review_link(client, merchant_key, "M-2"), rating=2).json["id"]
    for review_id in (first, second):
        client.post(
            f"/api/v1/reviews/{review_id}/flags",
            json={"reason": "not_genuine"},
            headers=bearer(merchant_key),
        )
    queue = certifier.get("/console/moderation").get_data(as_text=True)
    assert f'id="r{first}"' in queue
    assert '<option value="not_genuine" selected>' in queue  # the reason the flag gave
    post_form(  # not confirmed: nothing happens
        certifier,
        f"/console/reviews/{first}/decision",
        {"decision": "remove", "reason": "spam"},
        token_from="/console/moderation",
    )
    assert client.get(f"/api/v1/reviews/{first}").json["status"] == "published"
    app.config["TRUSTSEAL_OUTBOX_DIR"] = str(tmp_path)
    post_form(
        certifier,
        f"/console/reviews/{first}/decision",
        {"decision": "remove", "reason": "spam", "confirm": "yes"},
        token_from="/console/moderation",
    )
    with app.app_context():
        jobs.run_due_jobs()
    told = [
        email_lib.message_from_bytes(p.read_bytes(), policy=email_policy.default)
        for p in tmp_path.glob("*.eml")
    ]
    removed = [m for m in told if "fue retirada" in str(m["Subject"])]
    assert len(removed) == 1 and "spam" in removed[0].get_body(("plain",)).get_content()
    post_form(
        certifier,
        f"/console/reviews/{second}/decision",
        {"decision": "keep"},
        token_from="/console/moderation",
    )
    assert client.get(f"/api/v1/reviews/{first}").json["status"] == "removed"
    assert client.get(f"/api/v1/reviews/{second}").json["status"] == "published"
    assert "No hay opiniones marcadas" in certifier.get("/console/moderation").get_data(
        as_text=True
    )


def test_overdue_complaints_across_merchants(app, certifier, merchant_key, client):
    from datetime import date

    from trustseal.book.models import BookEntry

    client.post("/api/v1/merchants/bodega/book", json=entry_body())
    with app.app_context():
        db.session.scalars(select(BookEntry)).one().due_at = date(2020, 1, 2)
        db.session.commit()
    assert "Bodega Ñandú" in certifier.get("/console/complaints").get_data(as_text=True)


def test_merchant_answers_reviews_and_complaints_from_the_dashboard(app, client, merchant_key):
    review_id = post_review(client, review_link(client, merchant_key, "D-1"), rating=1).json["id"]
    filed = client.post("/api/v1/merchants/bodega/book", json=entry_body()).json
    dashboard = app.test_client()
    sign_in(dashboard, "duena@bodega.pe", "clave-segura-123")
    home = dashboard.get("/dashboard").get_data(as_text=True)
    assert "Opiniones que esperan tu respuesta" in home and "quedan" in home
    post_form(
        dashboard,
        f"/dashboard/reviews/{review_id}/answer",
        {"body": "Lo sentimos mucho."},
        token_from="/dashboard/reviews",
    )
    post_form(
        dashboard,
        f"/dashboard/complaints/{filed['number']}/answer",
        {"body": "Cambio enviado."},
        token_from="/dashboard/complaints",
    )
    assert (
        client.get(f"/api/v1/reviews/{review_id}").json["response"]["body"] == "Lo sentimos mucho."
    )
    assert client.get(f"/api/v1/book/{filed['code']}").json["answer"] == "Cambio enviado."


def test_dashboard_stores_keys_seal_badge_analytics(app, client, merchant_key):
    dashboard = app.test_client()
    sign_in(dashboard, "duena@bodega.pe", "clave-segura-123")
    connected = post_form(
        dashboard, "/dashboard/stores", {"platform": "woocommerce", "base_url": "https://bodega.pe"}
    )
    page = connected.get_data(as_text=True)
    assert "webhook_secret" in page and "Añadir webhook" in page
    keys = post_form(dashboard, "/dashboard/keys", {"label": "ERP"}).get_data(as_text=True)
    assert 'id="new-key">tsk_' in keys
    post_form(
        dashboard,
        "/dashboard/seal",
        {"url_https": "https://bodega.pe", "note_returns": "Ver /cambios", "apply": "1"},
    )
    assert client.get("/api/v1/merchants/bodega").json["seal"]["status"] == "pending"
    assert dashboard.get("/dashboard/badge").status_code == 200
    for n in range(3):
        client.post(
            "/api/v1/orders",
            json={
                "external_id": f"R-{n}",
                "status": "paid",
                "customer": {"email": "fiel@example.pe"},
                "placed_at": f"2026-0{n + 1}-10T10:00:00Z",
                "items": [{"product_id": "p", "title": "t"}],
            },
            headers=bearer(merchant_key),
        )
    analytics = dashboard.get("/dashboard/analytics")
    assert analytics.status_code == 200 and "<svg" in analytics.get_data(as_text=True)
    orders = dashboard.get("/dashboard/orders").get_data(as_text=True)
    assert "R-1" in orders


def test_repeat_customer_rate(app, merchant_key, ctx):
    from datetime import UTC, datetime, timedelta

    from trustseal.merchants import service as merchants
    from trustseal.orders import service as orders

    now = datetime.now(UTC)
    merchant_id = merchants.get_by_slug("bodega").id

    def buy(n: int, email: str, days_ago: int) -> None:
        orders.record_purchase_event(
            merchant_id,
            "api",
            orders.PurchaseEvent(
                external_id=f"P-{n}",
                status=orders.Status.PAID,
                customer_email=email,
                placed_at=now - timedelta(days=days_ago),
            ),
        )

    # previous period: a, b, c, d; this period: a and b again, and e (new) -> (3 - 1) / 4
    for n, (email, days) in enumerate(
        [("a", 500), ("b", 400), ("c", 380), ("d", 600), ("a", 30), ("b", 60), ("e", 10)]
    ):
        buy(n, f"{email}@x.pe", days)
    db.session.commit()
    assert orders.repeat_customer_rate(merchant_id, now) == 0.5
