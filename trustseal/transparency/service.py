"""The transparency log's door: :func:`append` an event inside the caller's transaction,
read entries, prove inclusion and consistency, publish signed tree heads.

Appends lock the single ``log_state`` row, so they happen one at a time in commit order:
no two leaves share an index and a rolled-back transaction leaves no gap. Each append
stores the O(log n) complete-subtree hashes it completes; proofs read O(log n) of them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from flask import Flask, current_app
from sqlalchemy import bindparam, func, insert, select, tuple_, update

from trustseal.clock import rfc3339, utcnow
from trustseal.dbutil import execute_dml, insert_ignoring_duplicate
from trustseal.errors import DomainError
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.signing import service as signing
from trustseal.transparency import merkle, numbers, verify
from trustseal.transparency.models import (
    LogEntry,
    LogNode,
    LogSalt,
    LogState,
    NumbersAlert,
    ReplayState,
    TreeHead,
)

T = TypeVar("T")

EVENT_TYPES = numbers.NUMBER_TYPES | frozenset(
    {
        "response.edited",
        "review.redacted",
        "product.rated",
        "review.imported",
        "imported.removed",
        "imported.restored",
        "book.filed",
        "book.answered",
        "key.rotated",
        "merchant.domain_verified",
        "signal.confirmed",
        "signal.dismissed",
    }
)
RESERVED = frozenset({"v", "type", "merchant", "time", "logged_at", "text_sha256"})
LEAF_VERSION = 1
MAX_ENTRIES_PER_PAGE = 1000
WITNESS_JOB = "transparency.witness"
HEAD_LISTENERS = "trustseal.head_listeners"  # app.extensions key

HeadListener = Callable[[int], None]


class LogError(DomainError):
    """A request the log cannot answer (404/422)."""


@dataclass(frozen=True)
class Event:
    """What a domain asks the log to record.

    ``data`` holds public, non-personal facts (ids, ratings, reasons); ``texts`` holds
    text that only enters the leaf as a salted SHA-256 commitment.
    """

    type: str
    merchant: str | None = None
    data: Mapping[str, Any] | None = None
    texts: Mapping[str, str] | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class Appended:
    """An appended leaf: its index, bytes and hash."""

    index: int
    leaf: bytes
    leaf_hash: bytes


@dataclass(frozen=True)
class Head:
    """A signed tree head."""

    tree_size: int
    root_hash: bytes
    timestamp: datetime
    signature: str
    kid: str

    def as_json(self) -> dict[str, Any]:
        """The API.md shape (hex root, RFC 3339 timestamp)."""
        return {
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "timestamp": rfc3339(self.timestamp),
            "signature": self.signature,
            "kid": self.kid,
        }


def text_commitment(salt: bytes, text: str) -> str:
    """Hex SHA-256(salt ‖ UTF-8 text): what a leaf holds instead of the text."""
    return verify.text_commitment(salt, text)


def salts(indexes: Iterable[int | None]) -> dict[int, bytes]:
    """The salts of the leaves at ``indexes`` that still have one (erasure deletes a
    salt), by index, in one query: published with a review so anyone can check its text
    against the leaf's ``text_sha256``."""
    wanted = sorted({i for i in indexes if i is not None})
    if not wanted:
        return {}
    rows = db.session.execute(select(LogSalt.index, LogSalt.salt).where(LogSalt.index.in_(wanted)))
    return {index: bytes(salt) for index, salt in rows}


def build_leaf(
    event: Event, salt: bytes | None, at: datetime, logged_at: datetime | None = None
) -> bytes:
    """The canonical JSON bytes of an event's leaf: ``time`` is the event's own time (a
    review imported with its date keeps it), ``logged_at`` when the log appended it."""
    if event.type not in EVENT_TYPES:
        raise ValueError(f"unknown log event type {event.type!r}")
    data = dict(event.data or {})
    clash = RESERVED & set(data)
    if clash:
        raise ValueError(f"reserved leaf fields in event data: {sorted(clash)}")
    leaf: dict[str, Any] = {
        "v": LEAF_VERSION,
        "type": event.type,
        "merchant": event.merchant,
        "time": rfc3339(at),
        **({"logged_at": rfc3339(logged_at)} if logged_at is not None else {}),
        **data,
    }
    if event.texts:
        assert salt is not None
        leaf["text_sha256"] = {k: text_commitment(salt, v) for k, v in event.texts.items()}
    return merkle.canonical_json(leaf)


_NODES_BY_KEY = select(LogNode.level, LogNode.index, LogNode.hash).where(
    tuple_(LogNode.level, LogNode.index).in_(bindparam("keys", expanding=True))
)


def _load_nodes(keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """Fetch stored nodes by (level, index) in one statement of a stable shape."""
    wanted = list(set(keys))
    if not wanted:
        return {}
    rows = db.session.execute(_NODES_BY_KEY, {"keys": wanted})
    return {(level, index): bytes(value) for level, index, value in rows}


def _with_stored_nodes(compute: Callable[[merkle.GetNode], T]) -> T:
    """Run a Merkle computation against stored nodes, fetched in one round trip.

    The nodes a computation reads depend only on indices and sizes, never on hash
    values, so a first dry run with placeholder hashes learns which to fetch.
    """
    wanted: set[tuple[int, int]] = set()

    def record(level: int, index: int) -> bytes:
        wanted.add((level, index))
        return bytes(merkle.HASH_SIZE)

    compute(record)
    nodes = _load_nodes(wanted)

    def stored(level: int, index: int) -> bytes:
        try:
            return nodes[(level, index)]
        except KeyError:
            raise RuntimeError(f"log node ({level}, {index}) is missing") from None

    return compute(stored)


def _left_siblings(index: int) -> list[tuple[int, int]]:
    """The stored nodes appending leaf ``index`` reads: one per trailing 1-bit of the index
    (each completed subtree combines with its left neighbour at that level)."""
    siblings = []
    level = 0
    while (index >> level) & 1:
        siblings.append((level, (index >> level) - 1))
        level += 1
    return siblings


def _lock_state() -> LogState:
    state = db.session.scalars(
        select(LogState)
        .where(LogState.id == 1)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if state is None:  # the migration creates it; tolerate a hand-made schema
        insert_ignoring_duplicate(LogState, {"id": 1, "size": 0}, ["id"])
        return _lock_state()
    return state


def append(event: Event) -> Appended:
    """Append one event as a leaf, in the caller's transaction (committed with it)."""
    return append_many([event])[0]


def append_many(events: Iterable[Event]) -> list[Appended]:
    """Append events in order, in the caller's transaction, with one lock and bulk inserts."""
    state = _lock_state()
    size = state.size
    # the log's own clock for the leaves: never earlier than the last leaf's, so history
    # cannot be back-filled whatever time an event says it happened
    now = max(utcnow().replace(microsecond=0), _last_logged_at(size))
    appended: list[Appended] = []
    folded: list[tuple[int, dict[str, Any]]] = []  # leaves that move a public number
    entries: list[dict[str, Any]] = []
    salts: list[dict[str, Any]] = []
    new_nodes: dict[tuple[int, int], bytes] = {}
    stored: dict[tuple[int, int], bytes] = {}

    def cached(level: int, idx: int) -> bytes:
        return new_nodes.get((level, idx)) or stored[(level, idx)]

    for event in events:
        salt = os.urandom(32) if event.texts else None
        at = event.at or now
        leaf = build_leaf(event, salt, at, now)
        leaf_hash = merkle.leaf_hash(leaf)
        index = size + len(appended)
        missing = {
            key for key in _left_siblings(index) if key not in new_nodes and key not in stored
        }
        if missing:
            stored.update(_load_nodes(missing))
        for level, idx, value in merkle.nodes_after_append(index, leaf_hash, cached):
            new_nodes[(level, idx)] = value
        entries.append(
            {
                "index": index,
                "event_type": event.type,
                "merchant_slug": event.merchant,
                "leaf": leaf.decode("utf-8"),
                "leaf_hash": leaf_hash,
                "created_at": now,
            }
        )
        if salt is not None:
            salts.append({"index": index, "salt": salt})
        if event.merchant is not None and event.type in numbers.NUMBER_TYPES:
            folded.append((index, json.loads(leaf)))
        appended.append(Appended(index, leaf, leaf_hash))
    if not appended:
        return []
    db.session.execute(insert(LogEntry), entries)
    if salts:
        db.session.execute(insert(LogSalt), salts)
    db.session.execute(
        insert(LogNode),
        [{"level": lv, "index": ix, "hash": h} for (lv, ix), h in new_nodes.items()],
    )
    state.size = size + len(appended)
    if folded:
        _fold(folded)
    return appended


def _fold(leaves: list[tuple[int, dict[str, Any]]]) -> None:
    """Fold appended leaves into their merchants' replay states (one read for the batch)."""
    slugs = sorted({leaf["merchant"] for _, leaf in leaves})
    rows = {
        row.merchant_slug: row
        for row in db.session.scalars(
            select(ReplayState).where(ReplayState.merchant_slug.in_(slugs))
        )
    }
    states = {slug: numbers.MerchantState.from_json(row.state) for slug, row in rows.items()}
    for index, leaf in leaves:
        states.setdefault(leaf["merchant"], numbers.MerchantState()).apply(index, leaf)
    for slug, folded in states.items():
        row = rows.get(slug)
        if row is None:
            db.session.add(
                ReplayState(
                    merchant_slug=slug, last_index=folded.last_index, state=folded.to_json()
                )
            )
        else:
            row.last_index, row.state = folded.last_index, folded.to_json()


def replayed(merchant_slug: str) -> numbers.MerchantState:
    """A merchant's numbers as its leaves add up (kept by the appender; an empty state for
    a merchant without such leaves)."""
    text = db.session.scalar(
        select(ReplayState.state).where(ReplayState.merchant_slug == merchant_slug)
    )
    return numbers.MerchantState.from_json(text) if text else numbers.MerchantState()


def merchant_kpis(merchant_slug: str) -> dict[str, Any]:
    """A merchant's service KPIs (``delivery``, ``satisfaction``, ``first_response``,
    ``resolution``, ``min_sample``) as its leaves add up: one row read."""
    state = replayed(merchant_slug)
    return numbers.kpis(state.sums, state.kpi)


def head_of(state: numbers.MerchantState) -> dict[str, Any]:
    """``{tree_size, root_hash}`` of the log right after the last leaf ``state`` reflects:
    a head that includes every event its numbers reflect and no later one."""
    tree_size = state.last_index + 1
    return {"tree_size": tree_size, "root_hash": root_at(tree_size).hex()}


def replay(merchant_slug: str) -> tuple[numbers.MerchantState, str | None]:
    """A merchant's state replayed from its leaves alone (every review event checked
    against its review's leaf), and the first problem met, if any."""
    run = numbers.Replay()
    rows = db.session.execute(
        select(LogEntry.index, LogEntry.leaf)
        .where(
            LogEntry.merchant_slug == merchant_slug,
            LogEntry.event_type.in_(sorted(numbers.NUMBER_TYPES)),
        )
        .order_by(LogEntry.index)
        .execution_options(yield_per=10_000)
    )
    for index, leaf in rows:
        problem = run.feed(index, json.loads(leaf))
        if problem:
            return run.states.get(merchant_slug, numbers.MerchantState()), problem
    return run.states.get(merchant_slug, numbers.MerchantState()), None


def stored_replay_problem(merchant_slug: str, now: datetime) -> str | None:
    """Whether the kept replay state of a merchant still equals its leaves' replay."""
    full, problem = replay(merchant_slug)
    if problem:
        return problem
    kept = replayed(merchant_slug)
    difference = numbers.first_difference(
        {**full.numbers(now), "last_index": full.last_index},
        {**kept.numbers(now), "last_index": kept.last_index},
    )
    if difference is None:
        return None
    name, from_leaves, stored = difference
    return (
        f"{merchant_slug}: the kept replay state says {name} {json.dumps(stored)}, "
        f"its leaves {json.dumps(from_leaves)}"
    )


def replayed_merchants() -> list[str]:
    """Every merchant with a leaf that moves a public number, sorted."""
    return list(
        db.session.scalars(
            select(LogEntry.merchant_slug)
            .where(
                LogEntry.merchant_slug.is_not(None),
                LogEntry.event_type.in_(sorted(numbers.NUMBER_TYPES)),
            )
            .distinct()
            .order_by(LogEntry.merchant_slug)
        )
    )


def raise_alert(merchant_slug: str, problem: str) -> bool:
    """Record, in the caller's transaction, that a merchant's numbers disagree with the
    log. True when the problem is new — the caller then tells staff — False when it was
    seen already (only counted)."""
    now = utcnow()
    found = execute_dml(
        update(NumbersAlert)
        .where(NumbersAlert.merchant_slug == merchant_slug, NumbersAlert.problem == problem)
        .values(last_seen_at=now, times=NumbersAlert.times + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not found:
        db.session.add(
            NumbersAlert(
                merchant_slug=merchant_slug, problem=problem, first_seen_at=now, last_seen_at=now
            )
        )
    return not found


def alerts(limit: int = 50) -> list[NumbersAlert]:
    """The latest disagreements between stored numbers and the log, newest first."""
    return list(
        db.session.scalars(
            select(NumbersAlert).order_by(NumbersAlert.last_seen_at.desc()).limit(limit)
        )
    )


def _last_logged_at(size: int) -> datetime:
    """When the last leaf was appended (the epoch for an empty log), to the second."""
    last = None
    if size:
        last = db.session.scalar(select(LogEntry.created_at).where(LogEntry.index == size - 1))
    return (last or datetime(1970, 1, 1, tzinfo=UTC)).replace(microsecond=0)


def size() -> int:
    """The number of leaves committed so far."""
    return db.session.scalar(select(LogState.size).where(LogState.id == 1)) or 0


def _check_size(tree_size: int, name: str = "tree_size") -> None:
    if tree_size < 1:
        raise LogError(422, f"{name} must be at least 1.")
    if tree_size > size():
        raise LogError(404, f"{name} {tree_size} is larger than the log.")


def root_at(tree_size: int) -> bytes:
    """The root hash of the first ``tree_size`` leaves."""
    if tree_size == 0:
        return merkle.EMPTY_ROOT
    _check_size(tree_size)
    return _with_stored_nodes(lambda get: merkle.root_hash(tree_size, get))


def inclusion_proof(index: int, tree_size: int) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``tree_size`` leaves."""
    _check_size(tree_size)
    if not 0 <= index < tree_size:
        raise LogError(422, "index must be at least 0 and smaller than tree_size.")
    return _with_stored_nodes(lambda get: merkle.inclusion_proof(index, tree_size, get))


def consistency_proof(first: int, second: int) -> list[bytes]:
    """The proof that the tree of ``first`` leaves is a prefix of the tree of ``second``."""
    if first < 1:
        raise LogError(422, "first must be at least 1.")
    if first > second:
        raise LogError(422, "first must not be larger than second.")
    _check_size(second, "second")
    return _with_stored_nodes(lambda get: merkle.consistency_proof(first, second, get))


def merchant_entries(merchant_slug: str, limit: int = 100) -> list[LogEntry]:
    """A merchant's latest leaves, newest first."""
    return list(
        db.session.scalars(
            select(LogEntry)
            .where(LogEntry.merchant_slug == merchant_slug)
            .order_by(LogEntry.index.desc())
            .limit(limit)
        )
    )


def merchant_entries_after(
    merchant_slug: str,
    index: int,
    limit: int = MAX_ENTRIES_PER_PAGE,
    types: Iterable[str] | None = None,
) -> list[LogEntry]:
    """A merchant's leaves after ``index`` (-1: from its first), oldest first, at most
    ``limit`` of them (of these ``types`` only, when given): what changed since a reader
    last looked (the Google feeds)."""
    stmt = select(LogEntry).where(LogEntry.merchant_slug == merchant_slug, LogEntry.index > index)
    if types is not None:
        stmt = stmt.where(LogEntry.event_type.in_(sorted(types)))
    return list(db.session.scalars(stmt.order_by(LogEntry.index).limit(limit)))


def entries(start: int, end: int) -> list[LogEntry]:
    """Entries ``start`` to ``end`` inclusive (at most 1000; clipped to the log's end)."""
    if start < 0 or end < start:
        raise LogError(422, "start must be at least 0 and end at least start.")
    current = size()
    if start >= current:
        raise LogError(404, f"start {start} is beyond the log's {current} entries.")
    end = min(end, current - 1, start + MAX_ENTRIES_PER_PAGE - 1)
    return list(
        db.session.scalars(
            select(LogEntry)
            .where(LogEntry.index >= start, LogEntry.index <= end)
            .order_by(LogEntry.index)
        )
    )


def _sign_head(tree_size: int, root: bytes, timestamp: datetime) -> tuple[str, str]:
    return signing.sign(
        {"tree_size": tree_size, "root_hash": root.hex(), "timestamp": rfc3339(timestamp)}
    )


def _head(row: TreeHead) -> Head:
    return Head(row.tree_size, bytes(row.root_hash), row.timestamp, row.signature, row.kid)


def latest_head() -> Head | None:
    """The newest stored signed tree head, or None."""
    row = db.session.scalars(select(TreeHead).order_by(TreeHead.tree_size.desc())).first()
    return _head(row) if row else None


def publish_head(force: bool = False) -> Head:
    """Return the latest signed head, first signing a new one if the log has grown and
    the latest is older than the configured interval (or ``force``), or none exists.

    A log that has not grown gets its head signed again, with a fresh timestamp, once
    it is older than ``TRUSTSEAL_LOG_HEAD_REFRESH_SECONDS``: monitors (``log watch``)
    take a stale head as a sign that the operator stopped signing, or hides newer ones.
    """
    latest = latest_head()
    current = size()
    interval = timedelta(seconds=current_app.config["TRUSTSEAL_LOG_HEAD_INTERVAL_SECONDS"])
    refresh = timedelta(seconds=current_app.config["TRUSTSEAL_LOG_HEAD_REFRESH_SECONDS"])
    now = utcnow().replace(microsecond=0)
    if latest is not None and latest.tree_size == current:
        if now - latest.timestamp < refresh:
            return latest
        return _resign(latest, now)
    if latest is not None and not force and now - latest.timestamp < interval:
        return latest
    root = root_at(current)
    signature, kid = _sign_head(current, root, now)
    inserted = insert_ignoring_duplicate(
        TreeHead,
        {
            "tree_size": current,
            "root_hash": root,
            "timestamp": now,
            "signature": signature,
            "kid": kid,
        },
        ["tree_size"],
    )
    if inserted is not None:
        for listener in current_app.extensions.get(HEAD_LISTENERS, ()):
            listener(current)
    head = latest_head()
    assert head is not None
    return head


def wire_head_listeners(app: Flask, listeners: Iterable[HeadListener]) -> None:
    """Composition (app factory): what runs, in the signer's transaction, when a head of a
    new size is signed (the submission of its checkpoint to the witnesses)."""
    app.extensions[HEAD_LISTENERS] = list(listeners)


def _resign(latest: Head, now: datetime) -> Head:
    """Sign the latest head's size and root again at ``now`` (a compare-and-set on its
    timestamp: of two processes refreshing at once, one signs and both return it)."""
    signature, kid = _sign_head(latest.tree_size, latest.root_hash, now)
    db.session.execute(
        update(TreeHead)
        .where(TreeHead.tree_size == latest.tree_size, TreeHead.timestamp == latest.timestamp)
        .values(timestamp=now, signature=signature, kid=kid)
        .execution_options(synchronize_session=False)
    )
    head = latest_head()
    assert head is not None
    return head


def refresh_head() -> Head:
    """Periodic task: sign a head now if the latest is due (grown, or stale)."""
    return publish_head()


def receipt(appended: Appended) -> dict[str, Any]:
    """Proof that a just-appended leaf is in the log: its inclusion path against a head of
    exactly ``index + 1`` leaves, signed now (valid once the caller's transaction commits)."""
    tree_size = appended.index + 1
    path = _with_stored_nodes(lambda get: merkle.inclusion_proof(appended.index, tree_size, get))
    root = _with_stored_nodes(lambda get: merkle.root_hash(tree_size, get))
    now = utcnow().replace(microsecond=0)
    signature, kid = _sign_head(tree_size, root, now)
    return {
        "leaf_index": appended.index,
        "leaf_hash": appended.leaf_hash.hex(),
        "tree_size": tree_size,
        "root_hash": root.hex(),
        "inclusion_proof": [h.hex() for h in path],
        "timestamp": rfc3339(now),
        "signature": signature,
        "kid": kid,
    }


def forget_text(index: int) -> bool:
    """Erase the salt of a leaf's text commitments (after the text itself was erased).

    The leaf and the tree stay intact; nobody can test a guess against the commitment
    any more. Returns False when the leaf had no salt.
    """
    salt = db.session.get(LogSalt, index)
    if salt is None:
        return False
    db.session.delete(salt)
    return True


def text_matches(index: int, field: str, text: str) -> bool | None:
    """Does ``text`` match the leaf's commitment for ``field``? None once erased."""
    salt = db.session.get(LogSalt, index)
    entry = db.session.get(LogEntry, index)
    if salt is None or entry is None:
        return None
    committed = json.loads(entry.leaf).get("text_sha256", {}).get(field)
    return committed == text_commitment(bytes(salt.salt), text)


def audit(
    start: int = 0,
    sources: Iterable[verify.ClaimSource] = (),
    numbers_source: verify.NumbersSource | None = None,
) -> verify.Audit:
    """Check the stored log from leaf ``start`` on (see :mod:`trustseal.transparency.verify`),
    then the domains' records against it (``sources``: whole log, first mismatch only),
    then every merchant's numbers against the replay of its leaves (``numbers_source``)."""
    result = verify.Audit()
    current = size()
    if not 0 <= start <= current:
        result.problem(f"--from {start} is outside the log (0..{current})")
        return result
    _audit_log(result, start, current)
    problem = check_claims(result, sources)
    if not problem and numbers_source is not None:
        problem = check_numbers(result, numbers_source, utcnow())
    if problem:
        result.problem(problem)
    return result


def check_numbers(result: verify.Audit, source: verify.NumbersSource, now: datetime) -> str | None:
    """The first merchant whose leaves contradict each other, whose numbers in the
    database differ from the replay of its leaves, or whose kept replay state does."""
    slugs = set(source.slugs()) | set(replayed_merchants())
    for slug in sorted(slugs):
        result.records += 1
        full, problem = replay(slug)
        if problem:
            return f"{slug}: {problem}"
        difference = numbers.first_difference(
            numbers.kept_twice(full.numbers(now)), source.numbers(slug, now)
        )
        if difference is not None:
            name, from_log, in_database = difference
            return (
                f"{slug}: {name} is {json.dumps(in_database)} in the database, "
                f"{json.dumps(from_log)} in the replay of the log"
            )
        problem = stored_replay_problem(slug, now)
        if problem:
            return problem
    return None


def _audit_log(result: verify.Audit, start: int, current: int) -> None:
    """The log's own checks: leaves, stored nodes, signed heads."""
    rows = db.session.execute(
        select(LogEntry.index, LogEntry.leaf, LogEntry.leaf_hash)
        .where(LogEntry.index >= start)
        .order_by(LogEntry.index)
        .execution_options(yield_per=10_000)
    )
    leaf_hashes = verify.check_leaves(result, rows, start, current)
    nodes = {
        (level, index): bytes(value)
        for level, index, value in db.session.execute(
            select(LogNode.level, LogNode.index, LogNode.hash).execution_options(yield_per=50_000)
        )
    }
    verify.check_nodes(result, nodes, leaf_hashes, start, current)
    heads = [
        verify.HeadRecord(h.tree_size, bytes(h.root_hash), h.timestamp, h.signature)
        for h in db.session.scalars(select(TreeHead).order_by(TreeHead.tree_size))
    ]
    verify.check_heads(result, heads, nodes, current, signing.jwks(), start)


CLAIM_BATCH = 500
LeafWithSalt = tuple[int, dict[str, Any], bytes | None]

_LEAVES_BY_INDEX = (
    select(LogEntry.index, LogEntry.leaf, LogSalt.salt)
    .outerjoin(LogSalt, LogSalt.index == LogEntry.index)
    .where(LogEntry.index.in_(bindparam("indices", expanding=True)))
)


def _leaves_at(indices: Iterable[int]) -> dict[int, LeafWithSalt]:
    """Leaves (parsed) and salts by index, in one statement."""
    wanted = sorted(set(indices))
    if not wanted:
        return {}
    rows = db.session.execute(_LEAVES_BY_INDEX, {"indices": wanted})
    return {
        index: (index, json.loads(leaf), bytes(salt) if salt is not None else None)
        for index, leaf, salt in rows
    }


def _leaves_of(merchant_slug: str | None, kinds: frozenset[str]) -> list[LeafWithSalt]:
    """One merchant's leaves of some event types, in log order (by the merchant index)."""
    rows = db.session.execute(
        select(LogEntry.index, LogEntry.leaf, LogSalt.salt)
        .outerjoin(LogSalt, LogSalt.index == LogEntry.index)
        .where(LogEntry.merchant_slug == merchant_slug, LogEntry.event_type.in_(sorted(kinds)))
        .order_by(LogEntry.index)
    )
    return [
        (index, json.loads(leaf), bytes(salt) if salt is not None else None)
        for index, leaf, salt in rows
    ]


def _check_batch(batch: list[verify.LoggedClaim]) -> str | None:
    """Check claims that name their leaf's index, with one look-up for the batch."""
    leaves = _leaves_at(claim.index for claim in batch if claim.index is not None)
    for claim in batch:
        assert claim.index is not None
        found = leaves.get(claim.index)
        problem = verify.claim_problem(
            claim, claim.index, found[1] if found else None, found[2] if found else None
        )
        if problem:
            return problem
    return None


class _Sequences:
    """Unindexed claims, matched per sequence against one merchant's leaves at a time
    (memory: that merchant's leaves of the family, and one sequence's claims)."""

    def __init__(self) -> None:
        self.key: tuple[Any, ...] | None = None
        self.claims: list[verify.LoggedClaim] = []
        self.loaded: tuple[str | None, frozenset[str]] | None = None
        self.groups: dict[tuple[tuple[str, Any], ...], list[LeafWithSalt]] = {}

    def add(self, claim: verify.LoggedClaim) -> str | None:
        """Queue a claim; check the previous sequence once a new one starts."""
        key = verify.sequence_key(claim)
        problem = self.flush() if key != self.key else None
        self.key = key
        self.claims.append(claim)
        return problem

    def flush(self) -> str | None:
        """Check the queued sequence against its leaves."""
        if not self.claims:
            return None
        first, claims = self.claims[0], self.claims
        self.claims = []
        wanted = (first.merchant_slug, first.family)
        if self.loaded != wanted:
            self.loaded, self.groups = wanted, {}
            for leaf in _leaves_of(*wanted):
                self.groups.setdefault(verify.leaf_key(leaf[1], first.ids), []).append(leaf)
        leaves = self.groups.get(tuple(sorted(first.ids.items())), [])
        return verify.sequence_problem(claims, leaves)


def _unclaimed(source: verify.ClaimSource, counts: Mapping[str, int]) -> str | None:
    """Every leaf of a source's ``complete`` types is claimed: its checked claims of each
    type are as many as the leaves. If fewer, name a leaf no record claims (only then are
    the claimed indices of that type collected)."""
    if not source.complete:
        return None
    leaves = dict(
        db.session.execute(
            select(LogEntry.event_type, func.count())
            .where(LogEntry.event_type.in_(sorted(source.complete)))
            .group_by(LogEntry.event_type)
        ).all()
    )
    for kind, id_field in sorted(source.complete.items()):
        if counts.get(kind, 0) >= leaves.get(kind, 0):
            continue
        claimed = {c.index for c in source.claims() if c.kind == kind and c.index is not None}
        rows = db.session.execute(
            select(LogEntry.index, LogEntry.leaf)
            .where(LogEntry.event_type == kind)
            .order_by(LogEntry.index)
            .execution_options(yield_per=10_000)
        )
        for index, leaf in rows:
            if index not in claimed:
                return verify.unclaimed_problem(index, json.loads(leaf), id_field)
    return None


def _check_source(
    result: verify.Audit, source: verify.ClaimSource, sequences: _Sequences
) -> str | None:
    """Stream one source's claims: those naming an index in batches, the others sequence
    by sequence; then its ``complete`` types."""
    batch: list[verify.LoggedClaim] = []
    counts: dict[str, int] = {}
    for claim in source.claims():
        result.records += 1
        if claim.index is None:
            problem = sequences.add(claim)
        else:
            counts[claim.kind] = counts.get(claim.kind, 0) + 1
            batch.append(claim)
            problem = None
            if len(batch) >= CLAIM_BATCH:
                problem, batch = _check_batch(batch), []
        if problem:
            return problem
    return _check_batch(batch) or sequences.flush() or _unclaimed(source, counts)


def check_claims(result: verify.Audit, sources: Iterable[verify.ClaimSource]) -> str | None:
    """The first mismatch between the domains' records and the log, or None."""
    sequences = _Sequences()
    for source in sources:
        problem = _check_source(result, source, sequences)
        if problem:
            return problem
    return None


jobs.periodic("transparency.refresh_head", timedelta(minutes=15))(refresh_head)


def kpis_of_merchants(merchant_slugs: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The service KPIs (as :func:`merchant_kpis`) of each merchant named, from their kept
    replay states in one query: a merchant without such leaves gets the empty state's."""
    wanted = sorted(set(merchant_slugs))
    if not wanted:
        return {}
    rows = db.session.execute(
        select(ReplayState.merchant_slug, ReplayState.state).where(
            ReplayState.merchant_slug.in_(wanted)
        )
    )
    states = {slug: numbers.MerchantState.from_json(text) for slug, text in rows}
    found: dict[str, dict[str, Any]] = {}
    for slug in wanted:
        state = states.get(slug) or numbers.MerchantState()
        found[slug] = numbers.kpis(state.sums, state.kpi)
    return found
