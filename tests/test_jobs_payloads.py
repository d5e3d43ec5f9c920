"""No secret in a job payload: ``enqueue`` refuses keys that name one, and the flows that
email a secret (a follow-up code, reset, sign-up and review links) keep it out of every job
they queue. Finished jobs are pruned after their retention; migration 0012 forgets the
finished consumer-copy jobs that kept a follow-up code."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path

import flask_migrate
import pytest
from sqlalchemy import insert, select, update

from tests.booking import entry_body
from tests.helpers import bearer, make_merchant, order_body
from tests.signing_in import make_merchant_user
from trustseal.accounts import service as accounts
from trustseal.clock import utcnow
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.jobs.models import Job


@jobs.handler("test.payloads")
def _nothing(payload: dict) -> None:
    """A job that does nothing."""


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ({"entry_id": 1, "code": "K7QM-AAAA-BBBB-CCCC"}, ["code"]),
        ({"reset_token": "x"}, ["reset_token"]),
        ({"apiKey": "x"}, ["apiKey"]),
        ({"Password": "x"}, ["Password"]),
        ({"store": {"client-secret": "x"}}, ["store.client-secret"]),
        ({"links": [{"n": 1}, {"totp": "x"}]}, ["links[1].totp"]),
        ({"session": "x", "cookie": "y"}, ["session", "cookie"]),
    ],
)
def test_enqueue_refuses_a_payload_key_that_names_a_secret(ctx, payload, named):
    with pytest.raises(ValueError, match="no secret") as refused:
        jobs.enqueue("test.payloads", payload)
    assert jobs.secret_keys(payload) == named
    assert all(path in str(refused.value) for path in named)


def test_enqueue_takes_references(ctx):
    payload = {"store_id": 1, "external_id": "E-1", "purchase_ids": [1, 2], "url": "https://a.pe"}
    assert jobs.secret_keys(payload) == []
    assert jobs.enqueue("test.payloads", payload) > 0


def _run_every_job(app) -> None:
    """Run jobs (delayed ones too) until none is left."""
    for _ in range(10):
        with app.app_context():
            db.session.execute(update(Job).where(Job.status == "queued").values(run_at=utcnow()))
            db.session.commit()
            if jobs.run_due_jobs().total == 0:
                return


def _emailed_secrets(outbox: Path) -> set[str]:
    """The follow-up codes and the link tokens in every message written to the outbox."""
    found: set[str] = set()
    for path in outbox.glob("*.eml"):
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        text = message.get_body(("plain",)).get_content()
        found |= set(re.findall(r"\b[A-Z2-9]{4}(?:-[A-Z2-9]{4}){3}\b", text))
        for url in re.findall(r"http://trustseal\.test/\S+", text):
            found |= {part for part in url.split("/") if len(part) >= 16}
    return found


def test_no_emailed_secret_is_in_any_job_payload(app, client, tmp_path):
    app.config["TRUSTSEAL_OUTBOX_DIR"] = str(tmp_path)
    _, key = make_merchant(app)
    filed = client.post("/api/v1/merchants/bodega/book", json=entry_body()).json
    client.post("/api/v1/orders", json=order_body(status="delivered"), headers=bearer(key))
    make_merchant_user(app)
    with app.app_context():
        accounts.request_reset("duena@bodega.pe")
        accounts.request_signup("nueva@tienda.pe", "clave-segura-456", {"name": "Tienda"})
        db.session.commit()
    _run_every_job(app)
    secrets = _emailed_secrets(tmp_path)
    assert filed["code"] in secrets and len(secrets) >= 4  # code, reset, sign-up, review link
    with app.app_context():
        payloads = [json.dumps(p) for p in db.session.scalars(select(Job.payload))]
        assert payloads and jobs.counts().keys() == {"done"}
    for secret in secrets:
        for variant in {secret, secret.replace("-", "")}:
            assert not any(variant in p for p in payloads), variant


def test_finished_jobs_are_pruned_after_their_retention_and_others_never(app, ctx):
    app.config.update(TRUSTSEAL_JOB_RETENTION_DAYS=7, TRUSTSEAL_JOB_FAILED_RETENTION_DAYS=90)
    now = utcnow()
    ages = {"done": (8, 6), "failed": (91, 30), "queued": (400,), "running": (400,)}
    for status, days in ages.items():
        for age in days:
            job_id = jobs.enqueue("test.payloads", {"age": age})
            then = now - timedelta(days=age)
            finished = then if status in ("done", "failed") else None
            db.session.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(status=status, created_at=then, finished_at=finished)
            )
    db.session.commit()
    assert jobs.prune(now) == 2
    db.session.commit()
    kept = db.session.execute(select(Job.status, Job.payload)).all()
    assert sorted((s, p["age"]) for s, p in kept) == [
        ("done", 6),
        ("failed", 30),
        ("queued", 400),
        ("running", 400),
    ]
    assert "jobs.prune" in jobs._periodic  # the worker runs it


def test_0012_forgets_finished_copy_jobs_that_kept_a_follow_up_code(app, ctx):
    now = utcnow()
    rows = [
        ("book.consumer_copy", "done"),
        ("book.consumer_copy", "failed"),
        ("book.consumer_copy", "queued"),  # still to send: its handler queues the copy
        ("book.merchant_notice", "done"),
    ]
    db.session.execute(
        insert(Job),
        [
            {
                "kind": kind,
                "payload": {"entry_id": 1, "code": "K7QM-AAAA-BBBB-CCCC"},
                "status": status,
                "attempts": 1,
                "max_attempts": 8,
                "run_at": now,
                "created_at": now,
                "finished_at": now if status != "queued" else None,
            }
            for kind, status in rows
        ],
    )
    db.session.commit()
    db.session.remove()
    flask_migrate.downgrade(revision="0011_numbers_from_the_log")
    flask_migrate.upgrade()
    kept = db.session.execute(select(Job.kind, Job.status).order_by(Job.id)).all()
    assert [tuple(row) for row in kept] == [
        ("book.consumer_copy", "queued"),
        ("book.merchant_notice", "done"),
    ]
