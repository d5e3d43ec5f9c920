"""An outside monitor of a trustseal log (``trustseal log watch URL``).

It keeps the last tree head it accepted in a file and, for every new head, checks the
signature against the service's JWKS and a consistency proof from the old head. A head
that shrinks the log, forks it or fails a proof is an alarm: the log was rewritten.
Time is checked too: a head dated before the one already accepted is an alarm (history
re-signed with a back-dated clock), and so is a latest head older than ``max_age``
(default 25 hours) or dated in the future: a log that serves an old head may be frozen
or hiding new entries from this monitor.
With witnesses (``--witness VKEY --quorum N``) it also reads the log's C2SP checkpoint
(``/log/checkpoint``) and requires N of those witnesses' cosignatures on it, then hashes
the log's tiles up to it and proves the JSON head consistent with it. A witness cosigns
only a tree that extends the last one it saw, so a log rewritten after it was witnessed
is caught even by a monitor that starts fresh: its tiles no longer hash to the witnessed
root, and the rewritten tree gets no cosignatures.
Only the standard library and the pure modules :mod:`trustseal.signing.jws`,
:mod:`merkle`, :mod:`note`, :mod:`checkpoint` and :mod:`tiles` are used.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from trustseal.signing import jws
from trustseal.transparency import checkpoint, merkle, note, tiles

DEFAULT_MAX_AGE = timedelta(hours=25)
"""How old the latest signed head may be before the monitor raises an alarm."""

MAX_CLOCK_SKEW = timedelta(minutes=5)
"""How far in the future a head may be dated (the two clocks may disagree a little)."""


class Alarm(Exception):
    """The log is not what it claimed before: report loudly."""


@dataclass(frozen=True)
class Seen:
    """A verified head."""

    tree_size: int
    root_hash: str
    timestamp: str

    @property
    def time(self) -> datetime:
        """The head's timestamp as an aware UTC datetime (:class:`Alarm` if malformed)."""
        return parse_timestamp(self.timestamp)


def parse_timestamp(value: str) -> datetime:
    """Parse a head's RFC 3339 timestamp (``2025-01-31T12:00:00Z``) into aware UTC.

    Raises:
        Alarm: if ``value`` is not an RFC 3339 date-time with ``Z`` or an offset.
    """
    try:
        if not isinstance(value, str) or "T" not in value:
            raise ValueError(value)
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise Alarm(f"tree head timestamp {value!r} is not an RFC 3339 date-time") from error
    if parsed.tzinfo is None:
        raise Alarm(f"tree head timestamp {value!r} has no time zone")
    return parsed.astimezone(UTC)


def _root_bytes(root_hash: str) -> bytes:
    """Decode a hex root hash; raise :class:`Alarm` unless it is 32 bytes."""
    try:
        root = bytes.fromhex(root_hash)
    except (TypeError, ValueError) as error:
        raise Alarm(f"tree head root {root_hash!r} is not hex") from error
    if len(root) != merkle.HASH_SIZE:
        raise Alarm(f"tree head root is {len(root)} bytes, not {merkle.HASH_SIZE}")
    return root


def check_well_formed(seen: Seen) -> None:
    """Raise :class:`Alarm` unless ``seen`` is a possible head.

    Its size is a non-negative integer, its root a 32-byte hash (the empty-tree hash
    when the size is 0) and its timestamp an RFC 3339 date-time.
    """
    if isinstance(seen.tree_size, bool) or not isinstance(seen.tree_size, int):
        raise Alarm(f"tree head size {seen.tree_size!r} is not an integer")
    if seen.tree_size < 0:
        raise Alarm(f"tree head size {seen.tree_size} is negative")
    root = _root_bytes(seen.root_hash)
    if seen.tree_size == 0 and root != merkle.EMPTY_ROOT:
        raise Alarm("a tree head of size 0 must carry the empty-tree root")
    parse_timestamp(seen.timestamp)


def _get(url: str, accept: str, timeout: float = 10.0) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        data: bytes = response.read()
        return data


def _get_json(url: str, timeout: float = 10.0) -> Any:
    return json.loads(_get(url, "application/json", timeout))


def verified_head(base_url: str) -> Seen:
    """Fetch the tree head and check its signature against the published JWKS."""
    base = base_url.rstrip("/")
    head = _get_json(f"{base}/api/v1/log/tree-head")
    keys = _get_json(f"{base}/.well-known/jwks.json")
    try:
        _, payload = jws.verify(head["signature"], keys)
    except (jws.JWSError, KeyError) as error:
        raise Alarm(f"tree head signature not valid: {error}") from error
    claimed = {k: head.get(k) for k in ("tree_size", "root_hash", "timestamp")}
    if payload != claimed:
        raise Alarm("the signed tree head payload differs from the head served")
    seen = Seen(payload["tree_size"], payload["root_hash"], payload["timestamp"])
    check_well_formed(seen)
    return seen


def check_consistent(base_url: str, old: Seen, new: Seen) -> None:
    """Raise :class:`Alarm` unless ``new`` extends ``old``."""
    if new.tree_size < old.tree_size:
        raise Alarm(f"the log shrank from {old.tree_size} to {new.tree_size} entries")
    old_root, new_root = _root_bytes(old.root_hash), _root_bytes(new.root_hash)
    if new.tree_size == old.tree_size:
        if new_root != old_root:
            raise Alarm(f"two different roots for size {new.tree_size}: the log forked")
        return
    if old.tree_size == 0:
        # RFC 9162: nothing to fetch, the proof from the empty tree is empty.
        if not merkle.verify_consistency(0, new.tree_size, old_root, new_root, []):
            raise Alarm("the accepted head of size 0 does not carry the empty-tree root")
        return
    query = urllib.parse.urlencode({"first": old.tree_size, "second": new.tree_size})
    proof = _get_json(f"{base_url.rstrip('/')}/api/v1/log/proof/consistency?{query}")
    try:
        ok = merkle.verify_consistency(
            old.tree_size,
            new.tree_size,
            old_root,
            new_root,
            [bytes.fromhex(h) for h in proof["path"]],
        )
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise Alarm(
            f"size {new.tree_size} is not consistent with size {old.tree_size}: "
            "entries were changed or removed"
        )


def check_forward(old: Seen, new: Seen) -> None:
    """Raise :class:`Alarm` if ``new`` is dated before ``old``: head time never goes back.

    Equal timestamps are allowed (heads are dated to the second).
    """
    if new.time < old.time:
        raise Alarm(
            f"the log went back in time: the head of size {new.tree_size} is dated "
            f"{new.timestamp}, before the head of size {old.tree_size} already seen, "
            f"dated {old.timestamp}"
        )


def check_fresh(new: Seen, now: datetime, max_age: timedelta = DEFAULT_MAX_AGE) -> None:
    """Raise :class:`Alarm` unless ``new`` was signed within ``max_age`` before ``now``.

    A head dated more than :data:`MAX_CLOCK_SKEW` after ``now`` is an alarm too: it
    would make every honest head after it look like a step back in time.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    age = now - new.time
    if age > max_age:
        hours = age.total_seconds() / 3600
        raise Alarm(
            f"the latest tree head is stale: size {new.tree_size} dated {new.timestamp}, "
            f"{hours:.1f} hours old (limit {max_age.total_seconds() / 3600:g} hours); "
            "the log may be frozen or hiding new entries"
        )
    if -age > MAX_CLOCK_SKEW:
        raise Alarm(
            f"the latest tree head is dated in the future: {new.timestamp} "
            f"(now {now.astimezone(UTC).isoformat(timespec='seconds')})"
        )


@dataclass(frozen=True)
class Witnessed:
    """A checkpoint verified with the log's key and a quorum of witnesses' cosignatures."""

    checkpoint: checkpoint.Checkpoint
    cosigners: tuple[str, ...]


def log_note_verifiers(origin: str, keys: dict[str, Any]) -> list[note.Verifier]:
    """The log's note keys: each Ed25519 key of its JWKS under the checkpoint's origin."""
    verifiers = []
    for jwk in keys.get("keys", []):
        try:
            raw = jws.b64url_decode(str(jwk.get("x", "")))
            verifiers.append(note.Verifier.for_key(origin, raw))
        except (jws.JWSError, note.NoteError):
            continue
    return verifiers


def witnessed_checkpoint(
    signed: str, keys: dict[str, Any], witnesses: Sequence[note.Verifier], quorum: int
) -> Witnessed:
    """Check a signed checkpoint: the log's signature (a key of its JWKS) and at least
    ``quorum`` distinct witnesses' valid cosignatures; raise :class:`Alarm` otherwise."""
    try:
        text, _ = note.split(signed)
        parsed = checkpoint.Checkpoint.parse(text)
        note.open_note(signed, log_note_verifiers(parsed.origin, keys))
    except (note.NoteError, checkpoint.CheckpointError) as error:
        raise Alarm(f"the checkpoint is not one the log signed: {error}") from error
    if not parsed.possible:
        raise Alarm("the checkpoint of an empty tree does not carry the empty-tree root")
    try:
        found = note.open_note(signed, witnesses).signatures
    except note.UnverifiedNoteError:
        found = []
    except note.NoteError as error:
        raise Alarm(f"a witness's cosignature on the checkpoint is forged: {error}") from error
    cosigners = tuple(sorted({f"{s.name}+{s.key_id:08x}" for s in found}))
    if len(cosigners) < quorum:
        raise Alarm(
            f"the checkpoint of size {parsed.size} carries {len(cosigners)} of the {quorum} "
            "witness cosignatures required: the log may show different histories to "
            "different people"
        )
    return Witnessed(parsed, cosigners)


def tile_fetcher(base_url: str) -> tiles.Fetch:
    """Fetch tiles from ``<base>/log/``; a tile the log does not serve is an alarm."""
    base = base_url.rstrip("/")

    def fetch(path: str) -> bytes:
        try:
            return _get(f"{base}/log/{path}", "application/octet-stream")
        except urllib.error.HTTPError as error:
            if error.code == 404:
                raise Alarm(f"the log does not serve {path}, which its checkpoint needs") from error
            raise

    return fetch


def check_witnessed(base_url: str, witnessed: Witnessed, head: Seen) -> int:
    """Hash the log's tiles up to the witnessed checkpoint and prove the JSON head
    consistent with it; raise :class:`Alarm` otherwise. Returns the tiles fetched."""
    cp = witnessed.checkpoint
    reader = tiles.TileReader(tile_fetcher(base_url), max(cp.size, head.tree_size))
    try:
        served_root = merkle.root_hash(cp.size, reader.get_node)
        if served_root != cp.root_hash:
            raise Alarm(
                f"the log's tiles do not hash to the root its witnesses cosigned at size "
                f"{cp.size}: entries were changed after they were witnessed"
            )
        pair = ((cp.size, cp.root_hash), (head.tree_size, _root_bytes(head.root_hash)))
        first, second = sorted(pair)
        proof = merkle.consistency_proof(first[0], second[0], reader.get_node) if first[0] else []
        consistent = (
            first[1] == second[1]
            if first[0] == second[0]
            else merkle.verify_consistency(first[0], second[0], first[1], second[1], proof)
        )
    except (tiles.TileError, merkle.ProofError) as error:
        raise Alarm(f"the log's tiles are not a tree: {error}") from error
    if not consistent:
        raise Alarm(
            f"the signed head of size {head.tree_size} is not consistent with the witnessed "
            f"checkpoint of size {cp.size}: the log forked"
        )
    return reader.requests


def load_state(path: Path) -> Seen | None:
    """The last accepted head, or None on the first run."""
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return Seen(int(data["tree_size"]), str(data["root_hash"]), str(data["timestamp"]))


def load_origin(path: Path) -> str | None:
    """The origin of the last witnessed checkpoint accepted, if any."""
    if not path.exists():
        return None
    origin = json.loads(path.read_text()).get("origin")
    return str(origin) if origin else None


def save_state(path: Path, seen: Seen, witnessed: Witnessed | None = None) -> None:
    """Store the accepted head (and the witnessed checkpoint's origin) atomically."""
    data: dict[str, Any] = dict(seen.__dict__)
    if witnessed is not None:
        cp = witnessed.checkpoint
        data.update(origin=cp.origin, witnessed_size=cp.size, witnessed_root=cp.root_hash.hex())
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def watch_once(
    base_url: str,
    state: Path,
    *,
    max_age: timedelta = DEFAULT_MAX_AGE,
    now: datetime | None = None,
    witnesses: Sequence[note.Verifier] = (),
    quorum: int = 0,
) -> tuple[Seen | None, Seen, Witnessed | None]:
    """Check the current head against the stored one; store it when it is accepted.

    Accepted means: validly signed and well formed, consistent with the stored head,
    not dated before it, and no older than ``max_age`` at ``now`` (default: the
    current time). With ``quorum`` > 0, also: the log's checkpoint carries ``quorum``
    cosignatures of ``witnesses``, the log's tiles hash to its root, and the head is
    consistent with it. Anything else raises :class:`Alarm` and leaves the state alone.
    """
    old = load_state(state)
    new = verified_head(base_url)
    if old is not None:
        check_consistent(base_url, old, new)
        check_forward(old, new)
    check_fresh(new, now or datetime.now(UTC), max_age)
    witnessed = None
    if quorum > 0:
        base = base_url.rstrip("/")
        keys = _get_json(f"{base}/.well-known/jwks.json")
        signed = _get(f"{base}/log/checkpoint", "text/plain").decode("utf-8", "replace")
        witnessed = witnessed_checkpoint(signed, keys, witnesses, quorum)
        known = load_origin(state)
        if known is not None and known != witnessed.checkpoint.origin:
            raise Alarm(f"the log's origin changed from {known} to {witnessed.checkpoint.origin}")
        check_witnessed(base_url, witnessed, new)
    save_state(state, new, witnessed)
    return old, new, witnessed
