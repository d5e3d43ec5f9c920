"""The jobs domain's door: enqueue work, register handlers, run due jobs.

A job is claimed with ``SELECT … FOR UPDATE SKIP LOCKED`` and its handler runs in that
same transaction, so on PostgreSQL the row stays locked while it runs (no two workers
run it at once), the handler's writes and the job's completion commit together, and a
worker that dies leaves the job queued for another. SQLite ignores the locking clause
and serialises writers itself.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from trustseal.clock import utcnow
from trustseal.dbutil import insert_row
from trustseal.extensions import db
from trustseal.jobs.models import Job

log = logging.getLogger("trustseal.jobs")

Handler = Callable[[dict[str, Any]], None]
_handlers: dict[str, Handler] = {}


class PermanentJobError(Exception):
    """Raised by a handler when retrying cannot help: the job goes dead at once."""


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that runs jobs of ``kind``."""

    def register(function: Handler) -> Handler:
        _handlers[kind] = function
        return function

    return register


def enqueue(
    kind: str,
    payload: dict[str, Any],
    *,
    delay: timedelta | None = None,
    run_at: datetime | None = None,
) -> int:
    """Add a job in the caller's transaction (it runs only if that commits); its id."""
    if kind not in _handlers:
        raise KeyError(f"no handler registered for job kind {kind!r}")
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


@dataclass
class RunResult:
    """What one call of :func:`run_due_jobs` did."""

    done: int = 0
    retried: int = 0
    dead: int = 0

    @property
    def total(self) -> int:
        """Jobs claimed in all."""
        return self.done + self.retried + self.dead


def _claim() -> Job | None:
    stmt = (
        select(Job)
        .where(Job.status == "queued", Job.run_at <= utcnow())
        .order_by(Job.run_at, Job.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return db.session.scalars(stmt).first()


def _record_failure(job_id: int, error: str, permanent: bool) -> str:
    """In a fresh transaction, count the failed attempt and schedule a retry or bury it."""
    db.session.rollback()
    job = db.session.scalars(select(Job).where(Job.id == job_id).with_for_update()).one()
    job.attempts += 1
    job.last_error = error[-4000:]
    if permanent or job.attempts >= job.max_attempts:
        job.status = "dead"
        job.finished_at = utcnow()
    else:
        job.run_at = utcnow() + backoff(job.attempts)
    db.session.commit()
    return job.status


def run_one() -> str | None:
    """Claim and run one due job; return ``done``, ``queued`` (retry), ``dead`` or None."""
    job = _claim()
    if job is None:
        db.session.rollback()
        return None
    job_id, kind = job.id, job.kind
    function = _handlers.get(kind)
    try:
        if function is None:
            raise PermanentJobError(f"no handler for job kind {kind!r}")
        function(dict(job.payload))
        job.attempts += 1
        job.status = "done"
        job.finished_at = utcnow()
        db.session.commit()
    except Exception as exc:
        permanent = isinstance(exc, PermanentJobError)
        log.warning("job failed", extra={"job_id": job_id, "kind": kind, "error": repr(exc)})
        return _record_failure(job_id, traceback.format_exc(), permanent)
    log.info("job done", extra={"job_id": job_id, "kind": kind})
    return "done"


def run_due_jobs(limit: int | None = None) -> RunResult:
    """Run due jobs until none is left (or ``limit`` were claimed)."""
    result = RunResult()
    while limit is None or result.total < limit:
        outcome = run_one()
        if outcome is None:
            break
        if outcome == "done":
            result.done += 1
        elif outcome == "dead":
            result.dead += 1
        else:
            result.retried += 1
    return result


def work_forever(poll_seconds: float) -> None:
    """The worker loop: run due jobs, sleep when idle (stopped by a signal)."""
    while True:
        if run_due_jobs().total == 0:
            time.sleep(poll_seconds)


def counts() -> dict[str, int]:
    """Number of jobs per status (for health pages and tests)."""
    rows = db.session.execute(select(Job.status, func.count()).group_by(Job.status))
    return {status: n for status, n in rows}
