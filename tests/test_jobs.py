"""Background jobs: durability, leases, retries with backoff, failed jobs, the worker and its
heartbeat, email sent once with a stable Message-ID."""

from __future__ import annotations

import email
import threading
from datetime import timedelta
from email import policy
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tests.fake_smtp import FakeSmtp
from tests.helpers import bearer, make_merchant, order_body
from trustseal.clock import utcnow
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.jobs.models import Job, WorkerHeartbeat

calls: list[dict] = []


@jobs.handler("test.record")
def _record(payload: dict) -> None:
    if payload.get("poison"):
        raise AssertionError("a poison job never runs to its end here")
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


def test_job_fails_after_max_attempts_with_its_error_kept(app, ctx):
    app.config["TRUSTSEAL_JOB_MAX_ATTEMPTS"] = 3
    jobs.enqueue("test.record", {"fail_times": 99})
    jobs.enqueue("test.permanent", {})
    db.session.commit()
    for _ in range(3):
        make_due(app)
        jobs.run_due_jobs()
    assert jobs.counts() == {"failed": 2}
    permanent = db.session.scalars(select(Job).where(Job.kind == "test.permanent")).one()
    assert permanent.attempts == 1 and "bad payload" in permanent.last_error
    transient = db.session.scalars(select(Job).where(Job.kind == "test.record")).one()
    assert transient.attempts == 3 and "transient failure" in transient.last_error


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
        assert jobs.run_due_jobs().done == 4  # two invitations, each queuing one delivery
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
        job = db.session.scalars(select(Job).where(Job.kind == "mail.deliver")).one()
        assert job.attempts == 1 and job.status == "queued"


def test_smtp_delivery(app, client):
    """A real SMTP conversation with a loopback server."""
    smtp = FakeSmtp()
    try:
        app.config.update(smtp.settings())
        _, key = make_merchant(app)
        client.post("/api/v1/orders", json=order_body(status="delivered"), headers=bearer(key))
        make_due(app)
        with app.app_context():
            assert jobs.run_due_jobs().done == 2  # the invitation, then its delivery
    finally:
        smtp.close()
    (raw,) = smtp.messages
    assert b"Subject:" in raw


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


def test_attempt_is_counted_when_claimed_and_a_lapsed_lease_is_taken_again(app, ctx):
    """A worker that dies mid-job (here: claims and never finishes) loses the job to
    another after the lease, and the attempt it spent counts."""
    app.config["TRUSTSEAL_JOB_MAX_ATTEMPTS"] = 2
    jobs.enqueue("test.record", {"n": 1})
    db.session.commit()
    claimed = jobs._claim("dead-worker:1")
    job = db.session.get(Job, claimed.id)
    assert (job.status, job.attempts, job.claimed_by) == ("running", 1, "dead-worker:1")
    assert job.run_at > utcnow() + timedelta(seconds=250)  # the lease: not due before it ends
    assert jobs.run_due_jobs().total == 0
    make_due(app)  # the lease lapses
    assert jobs.run_due_jobs().done == 1 and calls == [{"n": 1}]
    job = db.session.scalars(select(Job).execution_options(populate_existing=True)).one()
    assert job.attempts == 2 and job.status == "done"


def test_a_job_that_kills_its_worker_fails_after_its_attempts(app, ctx):
    """Poison: every attempt takes its worker down. It is counted, then buried with a
    reason, instead of coming back forever at the head of the queue."""
    app.config["TRUSTSEAL_JOB_MAX_ATTEMPTS"] = 3
    jobs.enqueue("test.record", {"poison": True})
    jobs.enqueue("test.record", {"n": 2})
    db.session.commit()
    poison_id = db.session.scalars(select(Job.id).order_by(Job.id)).first()
    for attempt in range(3):
        assert jobs._claim(f"crashing-worker:{attempt}").id == poison_id
        make_due(app)
    assert jobs.run_due_jobs().done == 1  # the other job; the poison one is buried on sight
    poison = db.session.get(Job, poison_id)
    assert poison.status == "failed" and poison.attempts == 3
    assert "crashing-worker:2" in poison.last_error and "lease" in poison.last_error
    assert calls == [{"n": 2}]


def test_a_job_taken_over_after_its_lease_does_not_commit_its_work(app, ctx):
    from trustseal.merchants import service as merchants

    @jobs.handler("test.slow_write")
    def _slow(payload: dict) -> None:
        merchants.create_merchant(name="Tardía", domain="tardia.pe", contact_email="a@t.pe")
        # meanwhile the lease lapsed and another worker claimed the job
        db.session.execute(update(Job).values(claimed_by="other:2"))

    jobs.enqueue("test.slow_write", {})
    db.session.commit()
    assert jobs.run_due_jobs().retried == 1
    assert merchants.get_by_slug("tardia") is None
    assert db.session.scalars(select(Job.status)).one() == "running"  # the other worker's


@pytest.mark.postgres_only
def test_the_handler_runs_outside_the_row_lock(app, ctx):
    """While a handler runs (an SMTP conversation, say), its job row is not locked."""
    from sqlalchemy import text

    seen: dict[str, object] = {}

    @jobs.handler("test.peek")
    def _peek(payload: dict) -> None:
        with db.engine.connect() as other:
            other.execute(text("SET lock_timeout = '200ms'"))
            row = other.execute(
                text("SELECT status, attempts FROM jobs WHERE id = :id FOR UPDATE NOWAIT"),
                {"id": payload["id"]},
            ).one()
            seen["row"] = tuple(row)
            other.rollback()

    job_id = jobs.enqueue("test.peek", {})
    db.session.execute(update(Job).where(Job.id == job_id).values(payload={"id": job_id}))
    db.session.commit()
    assert jobs.run_due_jobs().done == 1
    assert seen["row"] == ("running", 1)  # claimed and counted, and lockable by anyone


def test_an_email_keeps_its_message_id_across_retries_and_is_sent_once(app, client):
    from trustseal.mail.models import OutboxMessage

    smtp = FakeSmtp(lambda n, message_id: "defer" if n == 1 else "accept")
    app.config["TRUSTSEAL_INVITATION_REMINDER_DAYS"] = 0  # the invitation's jobs only
    try:
        app.config.update(smtp.settings())
        _, key = make_merchant(app)
        client.post("/api/v1/orders", json=order_body(status="delivered"), headers=bearer(key))
        make_due(app)
        with app.app_context():
            assert jobs.run_due_jobs().retried == 1  # the server said 451
            queued = db.session.scalars(select(OutboxMessage)).one()
            message_id, sealed = queued.message_id, queued.sealed
            assert sealed and "lucia" not in sealed.lower()  # encrypted at rest
        make_due(app)
        with app.app_context():
            assert jobs.run_due_jobs().done == 1
            sent = db.session.scalars(select(OutboxMessage)).one()
            assert sent.sent_at is not None and sent.sealed is None  # the text is gone
            # a retry of an already sent message (a crash before its job was marked done)
            db.session.execute(update(Job).values(status="queued", run_at=utcnow()))
            db.session.commit()
            assert jobs.run_due_jobs().done == 2
    finally:
        smtp.close()
    assert smtp.accepted == [message_id]  # sent once, with the Message-ID it was queued with


class _Flaky:
    """Raises like a lost database connection the first ``n`` times it is called."""

    def __init__(self, real, n: int) -> None:
        self.real, self.n, self.calls = real, n, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls <= self.n:
            from sqlalchemy.exc import OperationalError

            raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
        return self.real(*args, **kwargs)


def test_the_worker_survives_database_errors_and_goes_on(app, ctx, monkeypatch):
    app.config["TRUSTSEAL_WORKER_MAX_BACKOFF_SECONDS"] = 0.05
    app.config["TRUSTSEAL_WORKER_POLL_SECONDS"] = 0.01
    jobs.enqueue("test.record", {"n": 1})
    db.session.commit()
    flaky = _Flaky(jobs.run_one, 3)
    monkeypatch.setattr(jobs, "run_one", flaky)
    worker = jobs.Worker(poll_seconds=0.01, owner="test-worker:1")

    def stop_when_done() -> None:
        while not calls:
            threading.Event().wait(0.01)
        worker.stop.set()

    threading.Thread(target=stop_when_done, daemon=True).start()
    worker.run()
    assert flaky.calls >= 4 and calls == [{"n": 1}]
    assert "server closed the connection" in (worker.last_error or "")
    beat = db.session.get(WorkerHeartbeat, "test-worker:1")
    assert beat.stopped_at is not None and beat.jobs_done == 1


def test_liveness_in_readyz_and_worker_check(app, client, runner, monkeypatch):
    answer = client.get("/readyz").json
    assert answer["worker"]["status"] == "absent"
    result = runner.invoke(args=["worker", "--check"])
    assert result.exit_code == 1 and "absent" in result.output
    with app.app_context():
        jobs.beat("w:1", utcnow(), 0, 0, None)
    assert client.get("/readyz").json["worker"]["status"] == "ok"
    assert runner.invoke(args=["worker", "--check"]).exit_code == 0
    with app.app_context():
        db.session.execute(
            update(WorkerHeartbeat).values(beat_at=utcnow() - timedelta(minutes=10))
        )
        jobs.enqueue("test.record", {"n": 1})
        db.session.commit()
    stale = client.get("/readyz")
    assert stale.status_code == 200  # the web still serves; the body says the worker is late
    assert stale.json["worker"]["status"] == "stale" and stale.json["worker"]["jobs_due"] == 1
    result = runner.invoke(args=["worker", "--check"])
    assert result.exit_code == 1 and "stale" in result.output


def test_finished_jobs_and_sent_mail_are_pruned(app, ctx):
    from trustseal.mail import service as mail
    from trustseal.mail.models import OutboxMessage

    jobs.enqueue("test.record", {"n": 1})
    jobs.enqueue("test.record", {"n": 2})
    db.session.commit()
    jobs.run_due_jobs()
    long_ago = utcnow() - timedelta(days=31)
    db.session.execute(update(Job).where(Job.id == 1).values(finished_at=long_ago))
    db.session.add(OutboxMessage(message_id="<x@y>", template="t", created_at=long_ago))
    db.session.commit()
    assert jobs.prune() == 1 and mail.prune() == 1
    db.session.commit()
    assert db.session.scalars(select(Job.id)).all() == [2]


def test_a_sent_email_is_not_sent_again_when_its_job_cannot_be_marked_done(
    app, client, monkeypatch
):
    """The server accepted the message, then the database failed before the job was
    marked done (or its lease was lost): the retry finds the message sent."""
    from sqlalchemy.exc import OperationalError

    smtp = FakeSmtp()
    app.config["TRUSTSEAL_INVITATION_REMINDER_DAYS"] = 0  # the invitation's jobs only
    try:
        app.config.update(smtp.settings())
        _, key = make_merchant(app)
        client.post("/api/v1/orders", json=order_body(status="delivered"), headers=bearer(key))
        make_due(app)
        finish = jobs._finish

        def database_gone(job) -> None:
            if job.kind == "mail.deliver":
                raise OperationalError("UPDATE jobs", {}, Exception("connection lost"))
            finish(job)

        monkeypatch.setattr(jobs, "_finish", database_gone)
        with app.app_context():
            assert jobs.run_due_jobs().retried == 1
        monkeypatch.setattr(jobs, "_finish", finish)
        make_due(app)
        with app.app_context():
            assert jobs.run_due_jobs().done == 1
            assert jobs.counts() == {"done": 2}
    finally:
        smtp.close()
    assert len(smtp.accepted) == 1


def test_a_failing_maintenance_task_keeps_neither_the_others_nor_the_jobs_from_running(
    app, ctx, monkeypatch
):
    def broken() -> None:
        raise RuntimeError("maintenance bug")

    monkeypatch.setitem(jobs._periodic, "test.broken", (timedelta(hours=1), broken))
    jobs.enqueue("test.record", {"n": 1})
    db.session.commit()
    jobs.run_due_jobs()
    long_ago = utcnow() - timedelta(days=30)
    db.session.execute(update(Job).values(finished_at=long_ago))
    db.session.commit()
    jobs.run_maintenance()  # the broken task is logged, the prune still runs
    assert jobs.counts() == {}


def test_the_worker_stops_between_jobs_when_asked(app, ctx):
    worker = jobs.Worker(poll_seconds=0.01, owner="stopping:1")

    @jobs.handler("test.stop_after")
    def _stop(payload: dict) -> None:
        calls.append(payload)
        worker.stop.set()  # SIGTERM arrives while the first job runs

    for n in range(3):
        jobs.enqueue("test.stop_after", {"n": n})
    db.session.commit()
    assert worker.step({}) == 1
    assert calls == [{"n": 0}] and jobs.counts() == {"done": 1, "queued": 2}
