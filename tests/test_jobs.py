"""Background jobs: durability, retries with backoff, dead jobs, the worker, email."""

from __future__ import annotations

import email
import threading
from datetime import timedelta
from email import policy
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tests.helpers import bearer, make_merchant, order_body
from trustseal.clock import utcnow
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.jobs.models import Job

calls: list[dict] = []


@jobs.handler("test.record")
def _record(payload: dict) -> None:
    calls.append(payload)
    if payload.get("fail_times", 0) > len([c for c in calls if c == payload]) - 1:
        raise RuntimeError("transient failure")


@jobs.handler("test.permanent")
def _permanent(payload: dict) -> None:
    raise jobs.PermanentJobError("bad payload")


@pytest.fixture(autouse=True)
def _clear_calls():
    calls.clear()


def make_due(app):
    with app.app_context():
        db.session.execute(update(Job).values(run_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()


def test_job_is_written_only_with_its_transaction(app, ctx):
    jobs.enqueue("test.record", {"n": 1})
    db.session.rollback()
    assert jobs.run_due_jobs().total == 0
    jobs.enqueue("test.record", {"n": 2})
    db.session.commit()
    assert jobs.run_due_jobs().done == 1
    assert calls == [{"n": 2}]
    assert jobs.counts() == {"done": 1}


def test_unknown_kind_is_refused_at_enqueue(ctx):
    with pytest.raises(KeyError):
        jobs.enqueue("no.such.kind", {})


def test_delayed_job_waits(ctx):
    jobs.enqueue("test.record", {"n": 1}, delay=timedelta(hours=1))
    db.session.commit()
    assert jobs.run_due_jobs().total == 0


def test_retries_with_exponential_backoff_then_succeeds(app, ctx):
    app.config["TRUSTSEAL_JOB_BACKOFF_SECONDS"] = 10
    jobs.enqueue("test.record", {"fail_times": 2})
    db.session.commit()
    before = utcnow()
    assert jobs.run_due_jobs().retried == 1
    job = db.session.scalars(select(Job)).one()
    assert job.attempts == 1 and job.status == "queued" and "transient" in job.last_error
    assert timedelta(seconds=9) < job.run_at - before < timedelta(seconds=12)
    make_due(app)
    assert jobs.run_due_jobs().retried == 1
    job = db.session.scalars(select(Job).execution_options(populate_existing=True)).one()
    assert timedelta(seconds=19) < job.run_at - utcnow() < timedelta(seconds=21)
    make_due(app)
    assert jobs.run_due_jobs().done == 1
    assert len(calls) == 3


def test_job_goes_dead_after_max_attempts(app, ctx):
    app.config["TRUSTSEAL_JOB_MAX_ATTEMPTS"] = 3
    jobs.enqueue("test.record", {"fail_times": 99})
    jobs.enqueue("test.permanent", {})
    db.session.commit()
    for _ in range(3):
        make_due(app)
        jobs.run_due_jobs()
    assert jobs.counts() == {"dead": 2}
    permanent = db.session.scalars(select(Job).where(Job.kind == "test.permanent")).one()
    assert permanent.attempts == 1


def test_failed_handler_writes_are_rolled_back(app, ctx):
    from trustseal.merchants import service as merchants

    @jobs.handler("test.half_write")
    def _half(payload: dict) -> None:
        merchants.create_merchant(name="Fantasma", domain="fantasma.pe", contact_email="a@f.pe")
        raise RuntimeError("after the write")

    jobs.enqueue("test.half_write", {})
    db.session.commit()
    jobs.run_due_jobs()
    assert merchants.get_by_slug("fantasma") is None


def test_worker_cli_once(runner, app):
    with app.app_context():
        jobs.enqueue("test.record", {"n": 7})
        db.session.commit()
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0
    assert "1 done" in result.output


def test_invitation_email_lands_in_outbox_in_spanish(app, client, tmp_path):
    app.config["TRUSTSEAL_OUTBOX_DIR"] = str(tmp_path)
    _, key = make_merchant(app)
    client.post("/api/v1/orders", json=order_body(status="delivered"), headers=bearer(key))
    english = order_body("EN-1", status="delivered")
    english["customer"] = {"email": "john@example.com", "name": "John", "locale": "en"}
    client.post("/api/v1/orders", json=english, headers=bearer(key))
    make_due(app)
    with app.app_context():
        assert jobs.run_due_jobs().done == 2
    messages = [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in sorted(Path(tmp_path).glob("*.eml"))
    ]
    by_to = {m["To"]: m for m in messages}
    spanish = by_to["lucia.quispe@example.com"]
    assert spanish["Subject"] == "¿Qué tal tu compra en Bodega Ñandú?"
    text = spanish.get_body(("plain",)).get_content()
    assert "Hola, Lucía Quispe:" in text and "http://trustseal.test/r/" in text
    assert by_to["john@example.com"]["Subject"] == "How was your purchase at Bodega Ñandú?"
    # the emailed link is a working token
    token = text.split("http://trustseal.test/r/")[1].split()[0]
    from trustseal.orders import service

    with app.app_context():
        assert service.invitation_for_token(token) is not None
        order = client.get("/api/v1/orders?external_id=A-1", headers=bearer(key)).json["items"][0]
        assert order["invitation"]["status"] == "sent"


def test_cancelled_invitation_sends_no_email(app, client, tmp_path):
    app.config["TRUSTSEAL_OUTBOX_DIR"] = str(tmp_path)
    _, key = make_merchant(app)
    client.post("/api/v1/orders", json=order_body(status="delivered"), headers=bearer(key))
    client.post("/api/v1/orders", json=order_body(status="refunded"), headers=bearer(key))
    make_due(app)
    with app.app_context():
        assert jobs.run_due_jobs().done == 1
    assert list(Path(tmp_path).glob("*.eml")) == []


def test_smtp_failure_is_retried(app, client, monkeypatch):
    app.config["TRUSTSEAL_SMTP_HOST"] = "127.0.0.1"
    app.config["TRUSTSEAL_SMTP_PORT"] = 9  # nothing listens: connection refused
    app.config["TRUSTSEAL_SMTP_TIMEOUT"] = 2.0
    _, key = make_merchant(app)
    client.post("/api/v1/orders", json=order_body(status="delivered"), headers=bearer(key))
    make_due(app)
    with app.app_context():
        assert jobs.run_due_jobs().retried == 1
        job = db.session.scalars(select(Job)).one()
        assert job.attempts == 1 and job.status == "queued"


def test_smtp_delivery(app, client):
    """A real SMTP conversation with a tiny loopback server."""
    import socketserver

    received: list[bytes] = []

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.wfile.write(b"220 test\r\n")
            data = False
            while line := self.rfile.readline():
                if data:
                    if line == b".\r\n":
                        data = False
                        self.wfile.write(b"250 ok\r\n")
                    else:
                        received.append(line)
                    continue
                verb = line[:4].upper()
                if verb == b"DATA":
                    data = True
                    self.wfile.write(b"354 go\r\n")
                elif verb == b"QUIT":
                    self.wfile.write(b"221 bye\r\n")
                    return
                else:
                    self.wfile.write(b"250 ok\r\n")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        app.config.update(
            TRUSTSEAL_SMTP_HOST="127.0.0.1",
            TRUSTSEAL_SMTP_PORT=server.server_address[1],
            TRUSTSEAL_SMTP_STARTTLS=False,
        )
        _, key = make_merchant(app)
        client.post("/api/v1/orders", json=order_body(status="delivered"), headers=bearer(key))
        make_due(app)
        with app.app_context():
            assert jobs.run_due_jobs().done == 1
    finally:
        server.shutdown()
        server.server_close()
    assert any(b"Subject:" in line for line in received)


@pytest.mark.postgres_only
def test_workers_share_the_table_without_running_a_job_twice(app):
    seen: list[int] = []
    lock = threading.Lock()

    @jobs.handler("test.slow")
    def _slow(payload: dict) -> None:
        with lock:
            seen.append(payload["n"])
        threading.Event().wait(0.01)

    with app.app_context():
        for n in range(60):
            jobs.enqueue("test.slow", {"n": n})
        db.session.commit()

    def work() -> None:
        with app.app_context():
            jobs.run_due_jobs()
            db.session.remove()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seen) == list(range(60))
    with app.app_context():
        assert jobs.counts() == {"done": 60}
