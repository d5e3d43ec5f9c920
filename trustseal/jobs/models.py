"""The job table and the workers' heartbeats."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from trustseal.clock import utcnow
from trustseal.dbtypes import UTCDateTime
from trustseal.extensions import Model


class Job(Model):
    """One unit of background work and its retry state.

    ``status``: ``queued`` (waiting for ``run_at``), ``running`` (claimed by ``claimed_by``
    until ``run_at``, its lease; a lapsed lease means the worker died), ``done`` or
    ``failed`` (after ``max_attempts`` attempts, or at once for a permanent error, with
    ``last_error`` kept). ``attempts`` counts claims, so an attempt that killed its worker
    counts too.
    """

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_run_at", "status", "run_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int]
    run_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WorkerHeartbeat(Model):
    """A job worker's sign of life, written by its loop (never by a side thread)."""

    __tablename__ = "worker_heartbeats"

    worker_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    jobs_done: Mapped[int] = mapped_column(default=0)
    jobs_failed: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
