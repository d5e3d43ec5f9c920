"""The witness's memory: per origin, the last checkpoint it cosigned (SQLite).

Checking a request's old size against the stored one and storing the new checkpoint
happen in one ``BEGIN IMMEDIATE`` transaction, so two concurrent submissions cannot roll
the witness back (the race c2sp.org/tlog-witness describes). Refused checkpoints that
the log did sign are kept as evidence of its misbehaviour.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoints (
    origin TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    root BLOB NOT NULL,
    note TEXT NOT NULL,
    cosigned_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS evidence (
    id INTEGER PRIMARY KEY,
    origin TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    reason TEXT NOT NULL,
    request BLOB NOT NULL
);
"""


@dataclass(frozen=True)
class Latest:
    """The last checkpoint cosigned for an origin: size, root, and the note as served
    (the log's signatures and this witness's cosignature)."""

    size: int
    root: bytes
    note: str
    cosigned_at: int


class Conflict(Exception):
    """The request's old size is not the size this witness last cosigned."""

    def __init__(self, size: int) -> None:
        super().__init__(f"the last cosigned size is {size}")
        self.size = size


class WitnessState:
    """One SQLite file; safe to share between the server's threads."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def latest(self, origin: str) -> Latest | None:
        """The last checkpoint cosigned for ``origin``, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT size, root, note, cosigned_at FROM checkpoints WHERE origin = ?",
                (origin,),
            ).fetchone()
        return Latest(row[0], bytes(row[1]), row[2], row[3]) if row else None

    def advance(
        self,
        origin: str,
        old_size: int,
        check: Callable[[Latest | None], None],
        cosign: Callable[[int], str],
        size: int,
        root: bytes,
    ) -> str:
        """Atomically: raise :class:`Conflict` unless ``old_size`` is the stored size (0
        when none), run ``check`` on the stored checkpoint (it raises to refuse), then
        store the new one with ``cosign(now)``'s note and return that note."""
        with self._transaction() as connection:
            row = connection.execute(
                "SELECT size, root, note, cosigned_at FROM checkpoints WHERE origin = ?",
                (origin,),
            ).fetchone()
            latest = Latest(row[0], bytes(row[1]), row[2], row[3]) if row else None
            if old_size != (latest.size if latest else 0):
                raise Conflict(latest.size if latest else 0)
            check(latest)
            # A cosignature is never dated before the one it follows.
            now = max(int(time.time()), latest.cosigned_at if latest else 0, 1)
            served = cosign(now)
            connection.execute(
                "INSERT INTO checkpoints (origin, size, root, note, cosigned_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (origin) DO UPDATE SET size = "
                "excluded.size, root = excluded.root, note = excluded.note, "
                "cosigned_at = excluded.cosigned_at",
                (origin, size, root, served, now),
            )
            return served

    def keep_evidence(self, origin: str, reason: str, request: bytes) -> None:
        """Store a signed checkpoint that was refused (a fork, a rollback, a bad proof)."""
        with self._transaction() as connection:
            connection.execute(
                "INSERT INTO evidence (origin, received_at, reason, request) VALUES (?, ?, ?, ?)",
                (origin, int(time.time()), reason, request),
            )

    def evidence(self, origin: str) -> list[tuple[str, bytes]]:
        """The refusals kept for ``origin``: ``(reason, request body)``, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT reason, request FROM evidence WHERE origin = ? ORDER BY id", (origin,)
            ).fetchall()
        return [(reason, bytes(request)) for reason, request in rows]
