"""The jobs domain's door: enqueue work, register handlers, run due jobs, keep a worker alive.

A job is *claimed* in a short transaction of its own: its attempt is counted, its status
becomes ``running`` and its ``run_at`` becomes the end of a lease. The handler then runs
outside any row lock, and its writes commit together with the job's outcome (``done``),
provided the worker still holds the lease. A worker that dies mid-job leaves the lease to
lapse; another worker claims the job again after it, or marks it ``failed`` if that was its
last attempt. So a job that kills its worker is counted and buried like any other, and a
retry waits at least the lease instead of coming back at the head of the queue.

On PostgreSQL the claim reads with ``FOR UPDATE SKIP LOCKED`` so workers do not wait on
one another; on every database the claim is a compare-and-set on the row, so two workers
never run the same attempt.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, select, update

from trustseal.clock import utcnow
from trustseal.dbutil import execute_dml, insert_row, upsert
from trustseal.extensions import db
from trustseal.jobs.models import Job, WorkerHeartbeat

log = logging.getLogger("trustseal.jobs")

Handler = Callable[[dict[str, Any]], None]
_handlers: dict[str, Handler] = {}
_periodic: dict[str, tuple[timedelta, Callable[[], object]]] = {}

ACTIVE = ("queued", "running")
# A payload key containing one of these words names a secret (``code``, ``reset_token``,
# ``apiKey``...): :func:`enqueue` refuses it. A key that only looks like one takes another
# name; a real secret stays out of the payload (see :func:`enqueue`).
SECRET_WORDS = frozenset(
    {"code", "token", "password", "passwd", "secret", "secrets", "otp", "totp", "key", "apikey"}
    | {"credential", "credentials", "cookie", "session"}
)
_BEAT = "heartbeat"  # its last time, among the periodic tasks' (never a task's name)


class PermanentJobError(Exception):
    """Raised by a handler when retrying cannot help: the job fails at once."""


class LeaseLost(Exception):
    """The job's lease lapsed while its handler ran; another worker has it now."""


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that runs jobs of ``kind``.

    A handler must end well within ``TRUSTSEAL_JOB_LEASE_SECONDS`` (bound its network
    calls with timeouts and a deadline): past the lease another worker may start the job
    again. It should hold no transaction open while it waits on the network (roll back
    after reading what it needs), and be safe to run twice (the lease makes that rare,
    not impossible).
    """

    def register(function: Handler) -> Handler:
        _handlers[kind] = function
        return function

    return register


def periodic(name: str, every: timedelta) -> Callable[[Callable[[], object]], Callable[[], object]]:
    """Register a maintenance task the worker runs about every ``every`` (idempotent work
    only: several workers may each run it)."""

    def register(function: Callable[[], object]) -> Callable[[], object]:
        _periodic[name] = (every, function)
        return function

    return register


def _words(name: str) -> set[str]:
    """The lower-case words of a key: ``resetToken`` and ``reset-token`` give reset, token."""
    return set(re.split(r"[^a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()))


def secret_keys(payload: object, path: str = "") -> list[str]:
    """The paths of the keys in ``payload`` (nested dicts and lists too) that name a secret."""
    if isinstance(payload, dict):
        found = []
        for name, value in payload.items():
            where = f"{path}.{name}" if path else str(name)
            if _words(str(name)) & SECRET_WORDS:
                found.append(where)
            found += secret_keys(value, where)
        return found
    if isinstance(payload, list | tuple):
        return [hit for i, item in enumerate(payload) for hit in secret_keys(item, f"{path}[{i}]")]
    return []


def enqueue(
    kind: str,
    payload: dict[str, Any],
    *,
    delay: timedelta | None = None,
    run_at: datetime | None = None,
) -> int:
    """Add a job in the caller's transaction (it runs only if that commits); its id.

    The payload is stored in plain text until the job is pruned: put references in it
    (ids), never a secret or a token. A key that names one (:data:`SECRET_WORDS`) is
    refused with a ``ValueError``: render the secret into the encrypted outbox message
    now (``mail.queue``), or keep it sealed in the owner's table and pass that row's id.
    """
    if kind not in _handlers:
        raise KeyError(f"no handler registered for job kind {kind!r}")
    named = secret_keys(payload)
    if named:
        raise ValueError(
            f"job {kind!r}: payloads are stored in plain text, no secret in them: "
            f"{', '.join(named)}; pass a reference (an id) instead"
        )
    when = run_at or utcnow() + (delay or timedelta())
    job_id: int = insert_row(
        Job,
        {
            "kind": kind,
            "payload": payload,
            "run_at": when,
            "max_attempts": current_app.config["TRUSTSEAL_JOB_MAX_ATTEMPTS"],
            "attempts": 0,
            "status": "queued",
        },
    )
    return job_id


def backoff(attempts: int) -> timedelta:
    """Delay before retry number ``attempts``: exponential, capped."""
    base = current_app.config["TRUSTSEAL_JOB_BACKOFF_SECONDS"]
    cap = current_app.config["TRUSTSEAL_JOB_BACKOFF_MAX_SECONDS"]
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def lease() -> timedelta:
    """How long a claimed job belongs to its worker before another may take it."""
    return timedelta(seconds=current_app.config["TRUSTSEAL_JOB_LEASE_SECONDS"])


def worker_id() -> str:
    """This process's name in ``claimed_by`` and in the heartbeats: ``host:pid``."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}"


@dataclass
class RunResult:
    """What one call of :func:`run_due_jobs` did."""

    done: int = 0
    retried: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        """Jobs claimed in all."""
        return self.done + self.retried + self.failed


@dataclass(frozen=True)
class Claimed:
    """A job this worker holds the lease of."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    owner: str


def _lapsed_error(job: Job) -> str:
    return (
        f"attempt {job.attempts} did not finish: its worker {job.claimed_by} stopped "
        f"or lost the database before its lease ended at {job.run_at.isoformat()}"
    )


def _claim(owner: str) -> Claimed | None:
    """Take the next due job (or a lapsed lease) in a short transaction of its own."""
    now = utcnow()
    while True:
        candidate = db.session.scalars(
            select(Job)
            .where(Job.status.in_(ACTIVE), Job.run_at <= now)
            .order_by(Job.run_at, Job.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if candidate is None:
            db.session.rollback()
            return None
        seen: dict[str, Any] = {
            "id": candidate.id,
            "status": candidate.status,
            "attempts": candidate.attempts,
        }
        if candidate.status == "running" and candidate.attempts >= candidate.max_attempts:
            # Its last attempt took its worker down: bury it, with what we know.
            values: dict[str, Any] = {
                "status": "failed",
                "finished_at": now,
                "last_error": _lapsed_error(candidate),
            }
        else:
            values = {
                "status": "running",
                "attempts": candidate.attempts + 1,
                "run_at": now + lease(),
                "claimed_by": owner,
            }
            if candidate.status == "running":
                values["last_error"] = _lapsed_error(candidate)
        taken = execute_dml(
            update(Job)
            .where(Job.id == seen["id"], Job.status == seen["status"])
            .where(Job.attempts == seen["attempts"])
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount
        kind, payload, limit = candidate.kind, dict(candidate.payload), candidate.max_attempts
        db.session.commit()
        if taken != 1:
            continue  # another worker took it first (SQLite has no SKIP LOCKED)
        if values["status"] == "failed":
            log.error("job failed: its worker died", extra={"job_id": seen["id"], "kind": kind})
            continue
        return Claimed(seen["id"], kind, payload, seen["attempts"] + 1, limit, owner)


def _finish(job: Claimed) -> None:
    """Mark the job done in the handler's transaction, if this worker still holds it."""
    marked = execute_dml(
        update(Job)
        .where(Job.id == job.id, Job.status == "running", Job.claimed_by == job.owner)
        .where(Job.attempts == job.attempts)
        .values(status="done", finished_at=utcnow(), last_error=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if marked != 1:
        raise LeaseLost(f"job {job.id} was taken over by another worker")


def _record_failure(job: Claimed, error: str, permanent: bool) -> str:
    """In a fresh transaction, schedule a retry of the failed attempt or fail the job."""
    db.session.rollback()
    last = permanent or job.attempts >= job.max_attempts
    values: dict[str, Any] = {"last_error": error[-4000:]}
    if last:
        values.update(status="failed", finished_at=utcnow())
    else:
        values.update(status="queued", run_at=utcnow() + backoff(job.attempts))
    recorded = execute_dml(
        update(Job)
        .where(Job.id == job.id, Job.status == "running", Job.claimed_by == job.owner)
        .where(Job.attempts == job.attempts)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    # No row: the lease lapsed and another worker has the job; it decides its fate.
    return str(values["status"]) if recorded == 1 else "queued"


def run_one(owner: str | None = None) -> str | None:
    """Claim and run one due job; return ``done``, ``queued`` (retry), ``failed`` or None."""
    job = _claim(owner or worker_id())
    if job is None:
        return None
    function = _handlers.get(job.kind)
    try:
        if function is None:
            raise PermanentJobError(f"no handler for job kind {job.kind!r}")
        function(job.payload)
        _finish(job)
        db.session.commit()
    except LeaseLost:
        db.session.rollback()
        log.warning("job lease lost", extra={"job_id": job.id, "kind": job.kind})
        return "queued"
    except Exception as exc:
        permanent = isinstance(exc, PermanentJobError)
        log.warning("job failed", extra={"job_id": job.id, "kind": job.kind, "error": repr(exc)})
        return _record_failure(job, traceback.format_exc(), permanent)
    log.info("job done", extra={"job_id": job.id, "kind": job.kind})
    return "done"


def run_due_jobs(limit: int | None = None, owner: str | None = None) -> RunResult:
    """Run due jobs until none is left (or ``limit`` were claimed)."""
    result = RunResult()
    while limit is None or result.total < limit:
        outcome = run_one(owner)
        if outcome is None:
            break
        if outcome == "done":
            result.done += 1
        elif outcome == "failed":
            result.failed += 1
        else:
            result.retried += 1
    return result


def beat(owner: str, started_at: datetime, done: int, failed: int, error: str | None) -> None:
    """Write this worker's heartbeat (its own short transaction)."""
    upsert(
        WorkerHeartbeat,
        {
            "worker_id": owner,
            "started_at": started_at,
            "beat_at": utcnow(),
            "jobs_done": done,
            "jobs_failed": failed,
            "last_error": error,
            "stopped_at": None,
        },
        ["worker_id"],
    )
    db.session.commit()


def _stopped(owner: str) -> None:
    db.session.execute(
        update(WorkerHeartbeat)
        .where(WorkerHeartbeat.worker_id == owner)
        .values(stopped_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


@dataclass(frozen=True)
class Liveness:
    """Whether some worker ran recently, and how far behind the queue is."""

    status: str  # ok | stale | absent
    last_beat_at: datetime | None
    seconds_since: float | None
    due: int
    failed: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (for ``/readyz``)."""
        return {
            "status": self.status,
            "last_beat_at": self.last_beat_at.isoformat() if self.last_beat_at else None,
            "seconds_since_beat": None if self.seconds_since is None else round(self.seconds_since),
            "jobs_due": self.due,
            "jobs_failed": self.failed,
        }


def liveness(now: datetime | None = None) -> Liveness:
    """The freshest heartbeat against ``TRUSTSEAL_WORKER_STALE_SECONDS``, and the backlog.

    A worker that stopped cleanly, or a ``worker --once`` run from cron, counts until its
    last beat grows stale: the question is whether jobs ran recently.
    """
    now = now or utcnow()
    last = db.session.scalar(select(func.max(WorkerHeartbeat.beat_at)))
    due = db.session.scalar(
        select(func.count()).select_from(Job).where(Job.status.in_(ACTIVE), Job.run_at <= now)
    )
    failed = db.session.scalar(select(func.count()).select_from(Job).where(Job.status == "failed"))
    if last is None:
        return Liveness("absent", None, None, int(due or 0), int(failed or 0))
    age = (now - last).total_seconds()
    stale = age > current_app.config["TRUSTSEAL_WORKER_STALE_SECONDS"]
    return Liveness("stale" if stale else "ok", last, age, int(due or 0), int(failed or 0))


def run_maintenance(last_run: dict[str, float] | None = None) -> None:
    """Run the periodic tasks that are due (all of them without ``last_run``), each in
    its own transaction: one that fails is logged and tried again at its next turn,
    and does not keep the others, or the jobs, from running."""
    last_run = {} if last_run is None else last_run
    for name, (every, function) in _periodic.items():
        if time.monotonic() - last_run.get(name, -1e18) < every.total_seconds():
            continue
        last_run[name] = time.monotonic()
        try:
            function()
            db.session.commit()
        except Exception:
            _reset_connection()
            log.exception("maintenance failed", extra={"task": name})
            continue
        log.info("maintenance done", extra={"task": name})


class Worker:
    """The worker loop: it survives any error (database, SMTP, a bad handler).

    On an error outside a handler (the database went away, say) it rolls back, drops its
    connections, waits with exponential backoff and goes on. SIGTERM and SIGINT stop it
    after the job at hand.
    """

    def __init__(self, poll_seconds: float, owner: str | None = None) -> None:
        self.poll = poll_seconds
        self.owner = owner or worker_id()
        self.stop = threading.Event()
        self.started_at = utcnow()
        self.done = self.failed = 0
        self.last_error: str | None = None

    def install_signal_handlers(self) -> None:
        """Stop gracefully on SIGTERM and SIGINT."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop.set())

    def step(self, last_run: dict[str, float]) -> int:
        """Run due jobs one at a time (up to a batch), beating between them and stopping
        early when asked; then the maintenance that is due. Jobs claimed."""
        config = current_app.config
        claimed = 0
        while claimed < config["TRUSTSEAL_WORKER_BATCH"] and not self.stop.is_set():
            if time.monotonic() - last_run.get(_BEAT, -1e18) >= config[
                "TRUSTSEAL_WORKER_HEARTBEAT_SECONDS"
            ]:
                self.beat()
                last_run[_BEAT] = time.monotonic()
            outcome = run_one(self.owner)
            if outcome is None:
                break
            claimed += 1
            self.done += outcome == "done"
            self.failed += outcome == "failed"
        run_maintenance(last_run)
        return claimed

    def beat(self) -> None:
        """Write the heartbeat now."""
        beat(self.owner, self.started_at, self.done, self.failed, self.last_error)

    def run(self) -> None:
        """Loop until stopped."""
        config = current_app.config
        delay = config["TRUSTSEAL_WORKER_POLL_SECONDS"]
        last_run: dict[str, float] = {}
        log.info("worker started", extra={"worker": self.owner})
        while not self.stop.is_set():
            try:
                claimed = self.step(last_run)
                delay = self.poll
            except Exception as exc:  # never die: roll back, reconnect, back off, go on
                self.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                log.error(
                    "worker error; retrying",
                    extra={"worker": self.owner, "retry_in_s": delay, "error": self.last_error},
                )
                _reset_connection()
                self.stop.wait(delay)
                delay = min(delay * 2, config["TRUSTSEAL_WORKER_MAX_BACKOFF_SECONDS"])
                continue
            if claimed == 0:
                self.stop.wait(self.poll)
        try:
            self.beat()
            _stopped(self.owner)
        except Exception:
            _reset_connection()
        log.info("worker stopped", extra={"worker": self.owner})


def _reset_connection() -> None:
    """Forget the session and its connection (a dead one is not given back to the pool)."""
    try:
        db.session.rollback()
    except Exception:
        log.debug("rollback after a lost connection failed", exc_info=True)
    db.session.remove()


def work_forever(poll_seconds: float) -> None:
    """Run the worker loop in this process until SIGTERM/SIGINT."""
    worker = Worker(poll_seconds)
    worker.install_signal_handlers()
    worker.run()


def counts() -> dict[str, int]:
    """Number of jobs per status (for health pages and tests)."""
    rows = db.session.execute(select(Job.status, func.count()).group_by(Job.status))
    return {status: n for status, n in rows}


def prune(now: datetime | None = None) -> int:
    """Delete finished jobs past their retention (done: ``TRUSTSEAL_JOB_RETENTION_DAYS``;
    failed: ``TRUSTSEAL_JOB_FAILED_RETENTION_DAYS``) and heartbeats of workers long gone."""
    now = now or utcnow()
    config = current_app.config
    done_before = now - timedelta(days=config["TRUSTSEAL_JOB_RETENTION_DAYS"])
    failed_before = now - timedelta(days=config["TRUSTSEAL_JOB_FAILED_RETENTION_DAYS"])
    removed = 0
    for status, before in (("done", done_before), ("failed", failed_before)):
        removed += execute_dml(
            delete(Job).where(Job.status == status, Job.finished_at < before)
        ).rowcount
    db.session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.beat_at < failed_before))
    return removed


periodic("jobs.prune", timedelta(hours=1))(prune)
