"""The seal lifecycle: criteria, staff decisions with public reasons, history, expiry."""

from __future__ import annotations

import email
import socket
import threading
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header

import pytest
from sqlalchemy import delete, select, update

from tests.helpers import bearer, make_merchant, make_staff, pass_all_criteria
from tests.sites import StubResolver, shop_site
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.jobs.models import Job
from trustseal.merchants import service as merchants
from trustseal.seals import service as seals
from trustseal.seals import sitecheck
from trustseal.seals.models import Seal, SiteCheck
from trustseal.staff import service as staff_service
from trustseal.staff.models import StaffUser


@pytest.fixture
def certifier(app):
    make_merchant(app, slug="bodega")
    return make_staff(app, "certifier")


def decide(client, token, action, **extra):
    return client.post(
        "/api/v1/merchants/bodega/seal",
        json={"action": action, "reason": "Cumple los criterios", **extra},
        headers=bearer(token),
    )


def test_criteria_in_both_languages(client):
    spanish = client.get("/api/v1/seal/criteria").json
    codes = {c["code"] for c in spanish}
    assert {"identity", "https", "complaints_book", "verified_reviews", "payments"} <= codes
    assert any("Libro de Reclamaciones" in c["text"] for c in spanish)
    english = client.get("/api/v1/seal/criteria", headers={"Accept-Language": "en"}).json
    assert english[0]["title"].startswith("The whole site is served over HTTPS")


def test_lifecycle_with_public_history_and_log(app, client, certifier):
    assert client.get("/api/v1/merchants/bodega").json["seal"] == {
        "status": "none",
        "valid_until": None,
    }
    pass_all_criteria(app)
    approved = decide(client, certifier, "approve")
    assert approved.status_code == 200 and approved.json["status"] == "active"
    until = datetime.fromisoformat(approved.json["valid_until"].replace("Z", "+00:00"))
    assert timedelta(days=364) < until - datetime.now(UTC) < timedelta(days=366)
    assert (
        decide(client, certifier, "suspend", reason="Reclamos sin respuesta").json["status"]
        == "suspended"
    )
    assert client.get("/api/v1/merchants/bodega/score").json["seal"]["status"] == "suspended"
    assert decide(client, certifier, "reinstate").json["status"] == "active"
    assert (
        decide(client, certifier, "revoke", reason="Vende productos falsificados").json["status"]
        == "revoked"
    )
    assert decide(client, certifier, "reinstate").status_code == 409
    history = client.get("/api/v1/merchants/bodega/seal/history").json
    assert [h["action"] for h in history] == ["approve", "suspend", "reinstate", "revoke"]
    assert history[1]["reason"] == "Reclamos sin respuesta" and history[1]["log_index"] is not None
    entries = client.get("/api/v1/log/entries?start=0&end=100").json
    leaves = [e["leaf"] for e in entries if '"type":"seal.criterion"' not in e["leaf"]]
    assert [leaf.split('"type":"')[1].split('"')[0] for leaf in leaves] == [
        "seal.approved",
        "seal.suspended",
        "seal.reinstated",
        "seal.revoked",
    ]
    assert "Vende productos falsificados" in leaves[3]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"action": "bless", "reason": "x" * 5}, 422),
        ({"action": "approve"}, 422),
        ({"action": "approve", "reason": "ok"}, 422),
        ({"action": "approve", "reason": "Cumple", "valid_until": "2001-01-01T00:00:00Z"}, 422),
        ({"action": "suspend", "reason": "Sin sello aún"}, 409),
    ],
)
def test_bad_decisions(client, certifier, body, code):
    answer = client.post("/api/v1/merchants/bodega/seal", json=body, headers=bearer(certifier))
    assert answer.status_code == code, answer.json
    assert client.get("/api/v1/merchants/bodega/seal/history").json == []


def test_who_may_decide(app, client, certifier):
    _, merchant_key = make_merchant(app, slug="otra")
    moderator = make_staff(app, "moderator", "mod@cert.pe")
    assert decide(client, moderator, "approve").status_code == 403
    assert decide(client, merchant_key, "approve").status_code == 403  # valid key, wrong kind
    assert (
        client.post(
            "/api/v1/merchants/nadie/seal",
            json={"action": "approve", "reason": "Cumple"},
            headers=bearer(certifier),
        ).status_code
        == 404
    )


def test_expiry_is_immediate_and_recorded_by_a_job(app, client, certifier):
    soon = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    pass_all_criteria(app)
    assert decide(client, certifier, "approve", valid_until=soon).json["status"] == "active"
    past = datetime.now(UTC) - timedelta(seconds=1)
    with app.app_context():
        db.session.execute(update(Seal).values(valid_until=past))
        db.session.execute(update(Job).where(Job.kind == "seals.expire").values(run_at=past))
        db.session.commit()
    assert client.get("/api/v1/merchants/bodega").json["seal"]["status"] == "expired"
    with app.app_context():
        assert jobs.run_due_jobs().done == 2  # the expiry, and the approval's email
    history = client.get("/api/v1/merchants/bodega/seal/history").json
    assert history[-1]["action"] == "expire" and history[-1]["status"] == "expired"
    assert decide(client, certifier, "approve").json["status"] == "active"  # re-certified


def test_cli_decide(runner, app):
    make_merchant(app, slug="bodega")
    refused = runner.invoke(args=["seals", "decide", "bodega", "approve", "--reason", "Auditada"])
    assert refused.exit_code != 0 and "payments" in refused.output
    pass_all_criteria(app)
    result = runner.invoke(
        args=[
            "seals",
            "decide",
            "bodega",
            "approve",
            "--reason",
            "Auditada",
            "--valid-until",
            "2030-01-31",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "active until 2030-01-31" in result.output
    again = runner.invoke(args=["seals", "decide", "bodega", "reinstate", "--reason", "x"])
    assert again.exit_code != 0


# --- the automatic site check runs as a job -------------------------------------------


@pytest.fixture
def resolver(monkeypatch):
    """No real DNS: bodega.pe resolves (through a stub) to a refused address."""
    stub = StubResolver({"bodega.pe": ["198.18.0.1"]})
    monkeypatch.setattr(sitecheck, "resolve", stub)
    return stub


@pytest.fixture
def bodega(app, ctx):
    make_merchant(app, slug="bodega")
    return merchants.get_by_slug("bodega")


def make_staff_user_row(email: str) -> StaffUser:
    staff: StaffUser = staff_service.create_staff(email, staff_service.Role.CERTIFIER).staff
    db.session.commit()
    return staff


def _site_rows(merchant_id: int) -> list[SiteCheck]:
    return list(
        db.session.scalars(
            select(SiteCheck).where(SiteCheck.merchant_id == merchant_id).order_by(SiteCheck.id)
        )
    )


def test_site_check_request_is_queued_and_run_by_the_worker(bodega, resolver):
    staff_email = "certifier@cert.pe"
    staff = make_staff_user_row(staff_email)
    request, queued = seals.request_site_check(bodega, None, staff)
    db.session.commit()
    assert queued and request.url == "https://bodega.pe/" and request.requested_by == staff_email
    assert resolver.calls == [] and seals.latest_site_check(bodega) is None
    assert seals.pending_site_check(bodega) == request
    again, queued_again = seals.request_site_check(bodega, "https://bodega.pe/otra", staff)
    db.session.commit()
    assert not queued_again and again == request  # no duplicate while one is pending
    assert jobs.run_due_jobs().done == 1
    assert resolver.calls == ["bodega.pe"] and seals.pending_site_check(bodega) is None
    latest = seals.latest_site_check(bodega)
    assert latest["refused"] and latest["status"] is None and latest["url"] == "https://bodega.pe/"
    assert "198.18.0.1, which is not a public address: benchmarking" in latest["errors"][0]
    assert set(latest["links"]) == set(sitecheck.SIGNALS) and latest["fast_enough"] is False
    assert isinstance(latest["checked_at"], datetime) and latest["requested_by"] == staff_email
    assert latest["checked_at"] >= latest["requested_at"]


def test_site_check_job_is_idempotent(bodega, resolver):
    request, _ = seals.request_site_check(bodega)
    db.session.commit()
    payload = {"check_id": request.id, "merchant_id": bodega.id, "url": request.url}
    seals.run_requested_site_check(payload)
    seals.run_requested_site_check(payload)  # a second run (a lapsed lease, a retry)
    db.session.commit()
    assert jobs.run_due_jobs().done == 1  # the queued job itself: nothing left to do
    assert len(_site_rows(bodega.id)) == 1 and resolver.calls == ["bodega.pe"]
    assert seals.latest_site_check(bodega)["refused"] is True


def test_site_check_job_survives_a_vanished_merchant_or_request(bodega, resolver):
    request, _ = seals.request_site_check(bodega)
    db.session.commit()
    seals.run_requested_site_check({"check_id": request.id, "merchant_id": 999_999, "url": "x"})
    seals.run_requested_site_check({"merchant_id": 999_999, "url": "https://bodega.pe/"})
    db.session.execute(delete(SiteCheck))
    db.session.commit()
    assert jobs.run_due_jobs().done == 1  # its request row is gone: nothing to record
    assert _site_rows(bodega.id) == [] and resolver.calls == []


def test_a_failing_site_is_a_result_not_a_job_failure(app, bodega, monkeypatch):
    app.config["TRUSTSEAL_SITE_CHECK_ALLOW_PRIVATE"] = True
    with socket.socket() as closed:  # a loopback port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setattr(sitecheck, "resolve", StubResolver())
    seals.request_site_check(bodega, f"http://127.0.0.1:{port}/")
    db.session.commit()
    assert jobs.run_due_jobs().done == 1
    assert "cannot load the page" in seals.latest_site_check(bodega)["errors"][0]
    seals.request_site_check(bodega, "https://nadie.example/")
    db.session.commit()
    assert jobs.run_due_jobs().done == 1
    assert seals.latest_site_check(bodega)["errors"] == ["cannot resolve nadie.example"]


def test_an_unexpected_error_raises_and_leaves_the_request_pending(bodega, monkeypatch):
    def broken(url: str, **options: object) -> dict[str, object]:
        raise RuntimeError("bug in the checker")

    monkeypatch.setattr(sitecheck, "check", broken)
    request, _ = seals.request_site_check(bodega)
    db.session.commit()
    with pytest.raises(RuntimeError):
        seals.run_requested_site_check(
            {"check_id": request.id, "merchant_id": bodega.id, "url": request.url}
        )
    db.session.rollback()
    assert seals.pending_site_check(bodega) == request and seals.latest_site_check(bodega) is None


def test_site_check_of_an_unusable_address_is_refused_at_once(bodega, resolver):
    for url in ("ftp://bodega.pe/", "https://duena:clave@bodega.pe/", "https://bodega.pe:0x/"):
        with pytest.raises(seals.SiteCheckError) as refused:
            seals.request_site_check(bodega, url)
        assert refused.value.code == 422 and refused.value.field == "url"
    db.session.rollback()
    assert _site_rows(bodega.id) == [] and jobs.run_due_jobs().done == 0


def test_job_payload_without_request_and_synchronous_check(app, bodega):
    app.config["TRUSTSEAL_SITE_CHECK_ALLOW_PRIVATE"] = True
    with shop_site() as url:
        jobs.enqueue(seals.SITE_CHECK_JOB, {"merchant_id": bodega.id, "url": url})
        db.session.commit()
        assert jobs.run_due_jobs().done == 1
        assert seals.latest_site_check(bodega)["links"]["complaints_book"] is True
        result = seals.run_site_check(bodega, url)  # synchronous: CLI and scripts
        db.session.commit()
    assert result["status"] == 200 and len(_site_rows(bodega.id)) == 2


def test_results_stored_before_checks_were_jobs_still_read(bodega):
    old = {"url": "https://bodega.pe/", "errors": [], "https": True, "status": 200}
    db.session.add(SiteCheck(merchant_id=bodega.id, url="https://bodega.pe/", result=old))
    db.session.commit()
    latest = seals.latest_site_check(bodega)
    assert latest["status"] == 200 and latest["checked_at"] == latest["requested_at"]
    assert latest["requested_by"] is None and seals.pending_site_check(bodega) is None


@pytest.mark.postgres_only
def test_concurrent_requests_queue_one_site_check(app, resolver):
    make_merchant(app, slug="bodega")
    barrier = threading.Barrier(8)
    queued: list[bool] = []

    def ask() -> None:
        with app.app_context():
            merchant = merchants.get_by_slug("bodega")
            barrier.wait()
            queued.append(seals.request_site_check(merchant)[1])
            db.session.commit()
            db.session.remove()

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(queued) == [False] * 7 + [True]
    with app.app_context():
        assert jobs.run_due_jobs().done == 1
    assert resolver.calls == ["bodega.pe"]


def test_the_merchant_is_emailed_when_its_application_arrives_and_each_decision(
    app, client, certifier, tmp_path
):
    app.config["TRUSTSEAL_OUTBOX_DIR"] = str(tmp_path)
    pass_all_criteria(app)
    assert decide(client, certifier, "approve").status_code == 200
    assert decide(client, certifier, "suspend").status_code == 200
    with app.app_context():
        jobs.run_due_jobs()
    sent = [email.message_from_bytes(p.read_bytes()) for p in sorted(tmp_path.glob("*.eml"))]
    to_merchant = [m for m in sent if m["To"] == "hola@bodega.pe"]
    subjects = [str(make_header(decode_header(m["Subject"]))) for m in to_merchant]
    assert sorted(subjects) == [
        "Sello de Confianza Online otorgado: Bodega Ñandú",
        "Sello suspendido: Bodega Ñandú",
    ]
