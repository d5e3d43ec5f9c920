"""The job worker under faults: killed mid-job (before and after the mail server accepted),
its database connection killed while idle. Figures: 0 emails lost, none sent twice under
two Message-IDs, every job done, the worker back on its own."""

from __future__ import annotations

import os
import signal
import time

from sqlalchemy import func, select

from tests.booking import entry_body
from tests.fake_smtp import FakeSmtp
from tests.reliability.conftest import wait_until, worker
from trustseal.extensions import db
from trustseal.jobs.models import Job, WorkerHeartbeat
from trustseal.mail.models import OutboxMessage
from trustseal.merchants import service as merchants

FAST = {
    "TRUSTSEAL_WORKER_POLL_SECONDS": "0.1",
    "TRUSTSEAL_JOB_LEASE_SECONDS": "2",
    "TRUSTSEAL_JOB_BACKOFF_SECONDS": "1",
    "TRUSTSEAL_WORKER_HEARTBEAT_SECONDS": "0.5",
}


def _file_complaints(app, slug: str, n: int) -> None:
    """``n`` complaints: each queues the consumer's copy and a job that emails the merchant."""
    with app.app_context():
        if merchants.get_by_slug(slug) is None:
            merchants.create_merchant(
                name=f"Tienda {slug}",
                domain=f"{slug}.pe",
                contact_email=f"hola@{slug}.pe",
                slug=slug,
            )
            db.session.commit()
    client = app.test_client()
    for i in range(n):
        body = entry_body(detail=f"Pedido {i} llegó roto.")
        assert client.post(f"/api/v1/merchants/{slug}/book", json=body).status_code == 201


def _outbox_ids(app) -> set[str]:
    with app.app_context():
        ids = set(db.session.scalars(select(OutboxMessage.message_id)))
        db.session.rollback()
        return ids


def _all_sent(app) -> bool:
    with app.app_context():
        unsent = db.session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
        )
        active = db.session.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.status.in_(("queued", "running")))
            .where(Job.kind.not_in(("book.reminder", "book.overdue")))  # days away
        )
        db.session.rollback()
        return unsent == 0 and active == 0


def test_worker_killed_mid_send_loses_nothing_and_sends_nothing_twice(
    database, local_app, tmp_path, report
):
    pids: dict[str, int] = {}
    moments: dict[str, str] = {}

    def on_data(n: int, message_id: str) -> str:
        if n == 2:  # mid-conversation: the worker holds no transaction open meanwhile
            moments["open_transactions"] = database.psql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                "AND state LIKE 'idle in transaction%%'",
                database.name,
            )[0][0]
        if n == 4:  # worker A dies while the server has the message but has not answered
            os.kill(pids["a"], signal.SIGKILL)
            moments["dropped"] = message_id
            return "drop"
        if n == 9:  # worker B is frozen, the server accepts, then B is killed
            os.kill(pids["b"], signal.SIGSTOP)
            moments["accepted_unrecorded"] = message_id
            return "accept-then-hold"
        return "accept"

    smtp = FakeSmtp(on_data)
    try:
        _file_complaints(local_app, "golpeada", 15)  # 30 emails: 15 copies, 15 notices
        env = {**FAST, **smtp.env()}
        with worker(database, tmp_path, "a", **env) as a:
            pids["a"] = a.popen.pid
            wait_until(lambda: a.popen.poll() is not None, 60, what="worker A to be killed")
        with worker(database, tmp_path, "b", **env) as b:
            pids["b"] = b.popen.pid
            wait_until(lambda: "accepted_unrecorded" in moments, 60, what="the 9th message")
            time.sleep(0.2)  # the 250 reaches the frozen worker's socket
            b.kill(signal.SIGKILL)
        smtp.release()
        with worker(database, tmp_path, "c", **env) as c:
            wait_until(lambda: _all_sent(local_app), 90, what="every email to be sent")
            assert c.popen.poll() is None
    finally:
        smtp.close()

    assert moments["open_transactions"] == 0
    queued = _outbox_ids(local_app)
    delivered = smtp.counts()
    assert len(queued) == 30
    assert set(delivered) == queued  # 0 lost
    twice = {mid for mid, n in delivered.items() if n > 1}
    # Only the message accepted while its worker was frozen went out again — with the same
    # Message-ID, so the receiving side can drop the copy. The dropped one went out once.
    assert twice <= {moments["accepted_unrecorded"]}
    assert delivered[moments["dropped"]] == 1
    with local_app.app_context():
        statuses = dict(
            db.session.execute(
                select(Job.status, func.count())
                .where(Job.kind.not_in(("book.reminder", "book.overdue")))  # days away
                .group_by(Job.status)
            ).all()
        )
        assert statuses == {"done": 45}  # 15 notices + 30 deliveries
        retried = db.session.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.kind == "mail.deliver", Job.attempts > 1)
        )
        assert retried >= 2  # the two interrupted deliveries, counted
    report(
        len(queued),
        len(twice),
        len(queued - set(delivered)),
        "2 workers SIGKILLed mid-send; a resend keeps its Message-ID",
    )


def test_worker_outlives_its_database_connections_being_killed(
    database, local_app, tmp_path, report
):
    smtp = FakeSmtp()
    try:
        env = {**FAST, **smtp.env()}
        with worker(database, tmp_path, "resilient", **env) as proc:

            def beat_after(moment: float) -> bool:
                with local_app.app_context():
                    last = db.session.scalar(select(func.max(WorkerHeartbeat.beat_at)))
                    db.session.rollback()
                return last is not None and last.timestamp() > moment

            wait_until(lambda: beat_after(0), 30, what="a first heartbeat")
            before = set(smtp.accepted)
            for _ in range(3):  # its idle connection killed, again once it has a new one
                wait_until(database.terminate_connections, 30, what="a connection to kill")
            with local_app.app_context():
                db.engine.dispose()  # this test's own pool was killed too
            _file_complaints(local_app, "tercera", 3)
            wait_until(lambda: _all_sent(local_app), 60, what="the new emails")
            assert len(set(smtp.accepted) - before) == 6
            moment = time.time()
            wait_until(lambda: beat_after(moment), 30, what="the heartbeat to go on")
            assert proc.popen.poll() is None, proc.output()
            # it went on by itself: never stopped, and told what happened in its log
            assert '"worker stopped"' not in proc.output()
            report(6, 0, 6 - len(set(smtp.accepted) - before), "3 kills of the idle connection")
    finally:
        smtp.close()
