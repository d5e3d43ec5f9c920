"""A seal is earned against binding criteria: verdicts public, logged, signed; applying."""

from __future__ import annotations

import email
import hashlib
from email import policy as email_policy

import pytest
from sqlalchemy import select, update

from tests.helpers import bearer, make_merchant, make_staff, pass_all_criteria
from tests.signing_in import make_merchant_user, post_form, sign_in
from tests.sites import loopback_resolver, on_domain, shop_site
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.merchants import service as merchants
from trustseal.merchants.models import Merchant
from trustseal.seals import criteria as checklist
from trustseal.seals import service as seals
from trustseal.seals import sitecheck
from trustseal.signing import jws

MANDATORY = list(checklist.MANDATORY)
BOOK_LINK_ONLY = b'<html><body><a href="/libro">Libro de Reclamaciones</a></body></html>'


@pytest.fixture
def certifier(app):
    make_merchant(app, slug="bodega", ruc="20100047218")
    return make_staff(app, "certifier")


def decide(client, token, action, **extra):
    return client.post(
        "/api/v1/merchants/bodega/seal",
        json={"action": action, "reason": "Revisada por la certificadora", **extra},
        headers=bearer(token),
    )


def put_verdicts(client, token, *verdicts, slug="bodega"):
    return client.put(
        f"/api/v1/merchants/{slug}/seal/criteria",
        json={"verdicts": list(verdicts)},
        headers=bearer(token),
    )


def judged(client, slug="bodega"):
    return {c["id"]: c for c in client.get(f"/api/v1/merchants/{slug}/seal/criteria").json}


def leaves_of(client, kind):
    answer = client.get("/api/v1/log/entries?start=0&end=999")
    entries = answer.json if answer.status_code == 200 else []  # 404: an empty log
    return [e["leaf"] for e in entries if f'"type":"{kind}"' in e["leaf"]]


def sent(app, folder, subject_part):
    """The recipients of the emails sent so far whose subject holds ``subject_part``."""
    with app.app_context():
        jobs.run_due_jobs()
    messages = [
        email.message_from_bytes(p.read_bytes(), policy=email_policy.default)
        for p in folder.glob("*.eml")
    ]
    return sorted(m["To"] for m in messages if subject_part in m["Subject"])


@pytest.fixture
def site_checks(app, monkeypatch):
    """Run a site check of a loopback page: ``check(home)`` serves ``home`` and checks it
    as bodega.pe would be reached (``own_domain=False``: at 127.0.0.1 itself)."""
    app.config["TRUSTSEAL_SITE_CHECK_ALLOW_PRIVATE"] = True
    monkeypatch.setattr(sitecheck, "resolve", loopback_resolver())

    def check(home: bytes, own_domain: bool = True) -> None:
        with shop_site(home) as url, app.app_context():
            seals.request_site_check(
                merchants.get_by_slug("bodega"), on_domain(url) if own_domain else url
            )
            db.session.commit()
            assert jobs.run_due_jobs().done == 1

    return check


def test_the_criteria_say_area_source_and_whether_they_bind(client):
    listed = client.get("/api/v1/seal/criteria").json
    assert {c["area"] for c in listed} == {
        "Seguridad",
        "Transparencia",
        "Experiencia del consumidor",
        "Reputación en línea",
    }
    by_id = {c["id"]: c for c in listed}
    assert by_id["https"]["mandatory"] and by_id["https"]["automatic"]
    assert by_id["payments"]["mandatory"] and not by_id["payments"]["automatic"]
    assert not by_id["load_time"]["mandatory"] and by_id["load_time"]["automatic"]
    assert "Ley 29733" in by_id["privacy"]["source"]
    assert "011-2011-PCM" in by_id["complaints_book"]["source"]
    automatic = {c["id"] for c in listed if c["automatic"]}
    assert automatic == {
        "https",
        "privacy",
        "terms",
        "returns",
        "contact",
        "complaints_book",
        "ruc_shown",
        "load_time",
    }
    page = client.get("/sello/criterios").get_data(as_text=True)
    assert "Reglamento del Libro de Reclamaciones" in page and "obligatorio" in page


def test_approval_is_refused_while_mandatory_criteria_are_pending_or_failed(app, client, certifier):
    refused = decide(client, certifier, "approve")
    assert refused.status_code == 409
    assert refused.json["errors"]["json"]["criteria"] == MANDATORY
    assert client.get("/api/v1/merchants/bodega/seal/history").json == []
    pass_all_criteria(app)
    failed = put_verdicts(client, certifier, {"id": "payments", "verdict": "fail", "note": "Sin"})
    assert failed.status_code == 200
    refused = decide(client, certifier, "approve")
    assert refused.status_code == 409 and refused.json["errors"]["json"]["criteria"] == ["payments"]
    assert "payments" in refused.json["message"]
    # an optional criterion that fails or does not apply does not block
    put_verdicts(
        client,
        certifier,
        {"id": "payments", "verdict": "pass"},
        {"id": "load_time", "verdict": "fail"},
        {"id": "review_answers", "verdict": "not_applicable"},
    )
    approved = decide(client, certifier, "approve")
    assert approved.status_code == 200 and approved.json["status"] == "active"


def test_reinstating_requires_the_criteria_to_pass_again(app, client, certifier):
    pass_all_criteria(app)
    assert decide(client, certifier, "approve").status_code == 200
    assert decide(client, certifier, "suspend", reason="Reclamos sin respuesta").status_code == 200
    put_verdicts(client, certifier, {"id": "complaint_answers", "verdict": "fail"})
    refused = decide(client, certifier, "reinstate")
    assert refused.status_code == 409
    assert refused.json["errors"]["json"]["criteria"] == ["complaint_answers"]
    put_verdicts(client, certifier, {"id": "complaint_answers", "verdict": "pass"})
    assert decide(client, certifier, "reinstate").json["status"] == "active"


def test_an_unproven_shop_cannot_be_approved(app, client, certifier):
    pass_all_criteria(app)
    with app.app_context():
        db.session.execute(update(Merchant).values(domain_status="pending"))
        db.session.commit()
    assert decide(client, certifier, "approve").status_code in (404, 409)
    with app.app_context():
        merchant = db.session.scalars(select(Merchant)).one()
        with pytest.raises(seals.SealError) as refused:
            seals.decide(merchant, seals.Action.APPROVE, "Cumple", None)
        assert refused.value.code == 409


def test_verdicts_are_public_dated_and_each_change_is_a_log_event(app, client, certifier):
    before = judged(client)
    assert {c["verdict"] for c in before.values()} == {"pending"}
    assert all(c["checked_at"] is None for c in before.values())
    answer = put_verdicts(
        client,
        certifier,
        {
            "id": "payments",
            "verdict": "pass",
            "note": "Culqi",
            "evidence_url": "https://bodega.pe/p",
        },
        {"id": "delivery", "verdict": "fail", "note": "No indica plazos de entrega"},
    )
    assert answer.status_code == 200
    now = judged(client)
    assert now["payments"]["verdict"] == "pass" and now["payments"]["note"] == "Culqi"
    assert now["payments"]["evidence_url"] == "https://bodega.pe/p"
    assert now["payments"]["checked_at"] is not None and now["delivery"]["verdict"] == "fail"
    leaves = leaves_of(client, "seal.criterion")
    assert len(leaves) == 2
    assert '"criterion":"payments"' in leaves[0] and '"verdict":"pass"' in leaves[0]
    assert '"criterion":"delivery"' in leaves[1] and "No indica plazos" in leaves[1]
    # the same verdicts again change nothing and log nothing
    put_verdicts(client, certifier, {"id": "payments", "verdict": "pass", "note": "Culqi"})
    assert len(leaves_of(client, "seal.criterion")) == 2
    for page in ("/verify/bodega", "/m/bodega"):
        html = client.get(page).get_data(as_text=True)
        assert "criterion-delivery" in html and 'data-verdict="fail"' in html
        assert "No indica plazos de entrega" in html and "no cumple" in html


@pytest.mark.parametrize(
    ("verdict", "problem"),
    [
        ({"id": "payments", "verdict": "pass", "evidence_url": "javascript:alert(1)"}, "url"),
        ({"id": "payments", "verdict": "pass", "evidence_url": "http://bodega.pe/"}, "url"),
        ({"id": "payments", "verdict": "pass", "evidence_url": "https://"}, "url"),
        ({"id": "nada", "verdict": "pass"}, "id"),
        ({"id": "payments", "verdict": "quizas"}, "verdict"),
        ({"id": "payments"}, "verdict"),
    ],
)
def test_bad_verdicts_are_refused_and_change_nothing(app, client, certifier, verdict, problem):
    good = {"id": "delivery", "verdict": "pass"}
    answer = put_verdicts(client, certifier, good, verdict)
    assert answer.status_code == 422, answer.json
    assert {c["verdict"] for c in judged(client).values()} == {"pending"}
    assert leaves_of(client, "seal.criterion") == []


def test_only_certifiers_set_verdicts(app, client, certifier):
    _, merchant_key = make_merchant(app, slug="otra", domain="otra.pe")
    moderator = make_staff(app, "moderator", "mod@cert.pe")
    verdict = {"id": "payments", "verdict": "pass"}
    assert put_verdicts(client, merchant_key, verdict).status_code == 403
    assert put_verdicts(client, moderator, verdict).status_code == 403
    assert client.put("/api/v1/merchants/bodega/seal/criteria", json={}).status_code == 401
    assert put_verdicts(client, certifier, verdict, slug="nadie").status_code == 404
    duplicate = put_verdicts(client, certifier, verdict, verdict)
    assert duplicate.status_code == 422
    assert client.get("/api/v1/merchants/nadie/seal/criteria").status_code == 404


def test_the_badge_signs_a_digest_of_the_passed_criteria(app, client, certifier):
    def claims() -> dict:
        token = client.get("/badges/bodega/assertion").get_data(as_text=True)
        return jws.verify(token, client.get("/.well-known/jwks.json").json)[1]

    empty = hashlib.sha256(b"trustseal-criteria/2").hexdigest()
    assert claims()["criteria"] == {"version": "2", "digest": empty}
    pass_all_criteria(app)
    assert decide(client, certifier, "approve").status_code == 200
    passed = sorted(c["id"] for c in judged(client).values() if c["verdict"] == "pass")
    text = "trustseal-criteria/2" + "".join(f"\n{cid}" for cid in passed)
    assert claims()["criteria"]["digest"] == hashlib.sha256(text.encode()).hexdigest()
    assert claims()["criteria"]["digest"] == checklist.digest(passed)
    put_verdicts(client, certifier, {"id": "load_time", "verdict": "fail"})
    assert claims()["criteria"]["digest"] == checklist.digest(set(passed) - {"load_time"})


def test_the_site_check_judges_the_automatic_criteria_unless_staff_set_them(
    client, certifier, site_checks
):
    home = (
        b"<html><body><p>Bodega S.A.C. - RUC 20100047218</p>"
        b'<a href="/libro">Libro de Reclamaciones</a> <a href="/terminos">T\xc3\xa9rminos</a>'
        b'<a href="/privacidad">Privacidad</a> <a href="/devoluciones">Devoluciones</a>'
        b'<a href="mailto:hola@bodega.pe">Contacto</a></body></html>'
    )
    put_verdicts(client, certifier, {"id": "https", "verdict": "pass", "note": "TLS en bodega.pe"})
    site_checks(home)
    now = judged(client)
    for cid in ("ruc_shown", "complaints_book", "terms", "privacy", "returns", "contact"):
        assert now[cid]["verdict"] == "pass", cid
        assert now[cid]["checked_at"] is not None
    assert now["https"]["verdict"] == "pass" and now["https"]["override"]  # staff's, kept
    automatic = [leaf for leaf in leaves_of(client, "seal.criterion") if '"automatic":true' in leaf]
    assert len(automatic) == 7  # six links and the load time
    # handing https back to the check: the next check says what it finds (no TLS here)
    put_verdicts(client, certifier, {"id": "https", "verdict": "pending"})
    site_checks(b"<html><body>Nada</body></html>")
    now = judged(client)
    assert now["https"]["verdict"] == "fail" and not now["https"]["override"]
    assert now["ruc_shown"]["verdict"] == "fail" and now["complaints_book"]["verdict"] == "fail"


def test_a_merchant_applies_and_staff_are_emailed(app, client, certifier, tmp_path):
    app.config["TRUSTSEAL_OUTBOX_DIR"] = str(tmp_path)
    _, key = make_merchant(app, slug="tienda", domain="tienda.pe")
    make_staff(app, "admin", "admin@cert.pe")
    applied = client.post(
        "/api/v1/seal/application", json={"note": "Listos para la auditoría"}, headers=bearer(key)
    )
    assert applied.status_code == 201 and applied.json["status"] == "pending"
    assert applied.json["unmet_mandatory"] == MANDATORY
    assert sent(app, tmp_path, "Solicitud de sello de") == ["admin@cert.pe", "certifier@cert.pe"]
    assert sent(app, tmp_path, "Recibimos tu solicitud del Sello") == ["hola@bodega.pe"]
    again = client.post("/api/v1/seal/application", json={}, headers=bearer(key))
    assert again.status_code == 409
    assert client.post("/api/v1/seal/application", json={}).status_code == 401
    assert (
        client.post("/api/v1/seal/application", json={}, headers=bearer(certifier)).status_code
        == 403
    )
    assert (
        client.post("/api/v1/seal/application", json={"note": 5}, headers=bearer(key)).status_code
        == 422
    )
    history = client.get("/api/v1/merchants/tienda/seal/history").json
    assert [h["action"] for h in history] == ["apply"]
    assert history[0]["reason"] == "Listos para la auditoría" and history[0]["automatic"] is False


def test_an_unproven_shop_cannot_apply(app, client):
    _, key = make_merchant(app, slug="tienda", domain="tienda.pe")
    with app.app_context():
        db.session.execute(update(Merchant).values(domain_status="pending"))
        db.session.commit()
    refused = client.post("/api/v1/seal/application", json={}, headers=bearer(key))
    assert refused.status_code == 409 and "domain" in refused.json["message"]


def test_the_dashboard_shows_where_the_application_stands(app, client, certifier, tmp_path):
    app.config["TRUSTSEAL_OUTBOX_DIR"] = str(tmp_path)
    make_merchant_user(app)
    put_verdicts(
        client, certifier, {"id": "delivery", "verdict": "fail", "note": "Faltan los plazos"}
    )
    sign_in(client, "duena@bodega.pe", "clave-segura-123")
    page = client.get("/dashboard/seal").get_data(as_text=True)
    assert 'id="failed-criteria"' in page and "Faltan los plazos" in page
    assert 'id="pending-criteria"' in page
    bad = post_form(
        client, "/dashboard/seal", {"url_payments": "javascript:alert(1)", "note_payments": "x"}
    )
    assert bad.status_code == 422 and 'id="problem-payments"' in bad.get_data(as_text=True)
    assert 'href="javascript' not in bad.get_data(as_text=True)
    with app.app_context():
        rows = {r["id"]: r for r in seals.criterion_reviews(merchants.get_by_slug("bodega"))}
        assert rows["payments"]["merchant_evidence_url"] is None
    applied = post_form(
        client,
        "/dashboard/seal",
        {"url_payments": "https://bodega.pe/pagos", "apply": "1", "message": "Hola"},
    )
    assert applied.status_code == 302
    assert client.get("/api/v1/merchants/bodega").json["seal"]["status"] == "pending"
    assert sent(app, tmp_path, "Solicitud de sello de") == ["certifier@cert.pe"]
    with app.app_context():  # the merchant's evidence is for staff; the public sees theirs
        rows = {r["id"]: r for r in seals.criterion_reviews(merchants.get_by_slug("bodega"))}
        assert rows["payments"]["merchant_evidence_url"] == "https://bodega.pe/pagos"
    assert judged(client)["payments"]["evidence_url"] is None


def test_a_checklist_sent_back_unchanged_changes_nothing_and_overrides_nothing(
    app, client, certifier, site_checks
):
    from tests.signing_in import make_staff_user

    site_checks(BOOK_LINK_ONLY)
    leaves = len(leaves_of(client, "seal.criterion"))
    email, password = make_staff_user(app, "certifier", "otra@cert.pe")
    sign_in(client, email, password)
    form = {f"verdict_{cid}": c["verdict"] for cid, c in judged(client).items()}
    form |= {f"note_{cid}": "" for cid in form} | {f"evidence_{cid}": "" for cid in form}
    for _ in range(2):
        saved = post_form(
            client, "/console/m/bodega/criteria", form, token_from="/console/m/bodega"
        )
        assert saved.status_code == 302
    now = judged(client)
    assert len(leaves_of(client, "seal.criterion")) == leaves  # nothing changed, nothing logged
    assert now["complaints_book"]["verdict"] == "pass" and not now["complaints_book"]["override"]
    assert "0 veredictos cambiados" in client.get("/console/m/bodega").get_data(as_text=True)


@pytest.mark.parametrize("link", ["https://[::1", "https://bodega.pe:99999999/", "https:///x"])
def test_malformed_evidence_links_are_a_clear_422_everywhere(app, client, certifier, link):
    answer = put_verdicts(
        client, certifier, {"id": "payments", "verdict": "pass", "evidence_url": link}
    )
    assert answer.status_code == 422
    make_merchant_user(app)
    sign_in(client, "duena@bodega.pe", "clave-segura-123")
    assert post_form(client, "/dashboard/seal", {"url_payments": link}).status_code == 422
    assert {c["verdict"] for c in judged(client).values()} == {"pending"}


def test_a_verdict_without_a_note_keeps_the_note_and_the_merchant_cannot_move_the_evidence(
    app, client, certifier
):
    proof = "https://culqi.com/comercios/bodega"
    put_verdicts(
        client,
        certifier,
        {"id": "payments", "verdict": "pass", "note": "Culqi verificado", "evidence_url": proof},
    )
    put_verdicts(client, certifier, {"id": "payments", "verdict": "pass"})
    assert judged(client)["payments"]["note"] == "Culqi verificado"
    make_merchant_user(app)
    sign_in(client, "duena@bodega.pe", "clave-segura-123")
    post_form(client, "/dashboard/seal", {"url_payments": "https://otra.example/prueba-falsa"})
    assert judged(client)["payments"]["evidence_url"] == proof  # the certifier's, untouched
    assert judged(client)["payments"]["verdict"] == "pass"


def test_a_check_of_another_address_or_that_never_loaded_judges_nothing(
    app, client, certifier, site_checks
):
    site_checks(BOOK_LINK_ONLY, own_domain=False)  # 127.0.0.1, not bodega.pe
    with app.app_context():
        assert seals.latest_site_check(merchants.get_by_slug("bodega"))["links"]["complaints_book"]
    with app.app_context():  # bodega.pe on a port nobody listens on: the page never loads
        seals.request_site_check(merchants.get_by_slug("bodega"), "http://bodega.pe:9/")
        db.session.commit()
        assert jobs.run_due_jobs().done == 1
    assert {c["verdict"] for c in judged(client).values()} == {"pending"}
    assert leaves_of(client, "seal.criterion") == []
