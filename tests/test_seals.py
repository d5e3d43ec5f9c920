"""The seal lifecycle: criteria, staff decisions with public reasons, history, expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from tests.helpers import bearer, make_merchant, make_staff
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.jobs.models import Job
from trustseal.seals.models import Seal


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
    assert english[0]["text"].startswith("Formal identity")


def test_lifecycle_with_public_history_and_log(app, client, certifier):
    assert client.get("/api/v1/merchants/bodega").json["seal"] == {
        "status": "none",
        "valid_until": None,
    }
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
    leaves = [e["leaf"] for e in client.get("/api/v1/log/entries?start=0&end=10").json]
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
    assert decide(client, merchant_key, "approve").status_code == 401
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
    assert decide(client, certifier, "approve", valid_until=soon).json["status"] == "active"
    past = datetime.now(UTC) - timedelta(seconds=1)
    with app.app_context():
        db.session.execute(update(Seal).values(valid_until=past))
        db.session.execute(update(Job).where(Job.kind == "seals.expire").values(run_at=past))
        db.session.commit()
    assert client.get("/api/v1/merchants/bodega").json["seal"]["status"] == "expired"
    with app.app_context():
        assert jobs.run_due_jobs().done == 1
    history = client.get("/api/v1/merchants/bodega/seal/history").json
    assert history[-1]["action"] == "expire" and history[-1]["status"] == "expired"
    assert decide(client, certifier, "approve").json["status"] == "active"  # re-certified


def test_cli_decide(runner, app):
    make_merchant(app, slug="bodega")
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
