"""The log as C2SP serves it: signed checkpoints, tiles, and witnesses' cosignatures.

* A checkpoint (c2sp.org/tlog-checkpoint) of any size is recomputed from the stored nodes
  and signed as a note with the service's current Ed25519 key under the log's origin
  (``<issuer host>/log``); Ed25519 is deterministic, so the same size always gives the
  same bytes until the key rotates.
* Tiles (c2sp.org/tlog-tiles) are the stored node rows of one level, read by their
  primary key: O(1) per tile, never recomputed. A tile never changes (a partial one is
  another URL per width), so each process keeps the last hash tiles it served.
* Each new signed head is submitted to the witnesses in ``TRUSTSEAL_WITNESSES``
  (c2sp.org/tlog-witness ``add-checkpoint``, one retried job per witness); their
  cosignatures are verified against the witness's key before they are stored, and
  ``/log/checkpoint`` serves the newest checkpoint that ``TRUSTSEAL_WITNESS_QUORUM`` of
  them cosigned. A rewritten log cannot get new cosignatures: each witness remembers the
  last tree it cosigned and refuses any tree that does not extend it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import requests
from flask import Flask, current_app
from sqlalchemy import ScalarSelect, func, select

from trustseal.dbutil import insert_ignoring_duplicate
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.memo import TtlMemo
from trustseal.signing import service as signing
from trustseal.transparency import checkpoint, note, tiles
from trustseal.transparency import service as log
from trustseal.transparency.models import Cosignature, LogEntry, LogNode

TILE_CACHE_SIZE = 512
"""Hash tiles a process keeps (8 kB at most each): those every client asks for first."""

SIZE_CONTENT_TYPE = "text/x.tlog.size"


@dataclass(frozen=True)
class Witness:
    """A witness the log submits checkpoints to: its submission URL and its cosigning key."""

    url: str
    verifier: note.Verifier


@lru_cache(maxsize=8)
def parse_witnesses(text: str) -> tuple[Witness, ...]:
    """Parse ``TRUSTSEAL_WITNESSES``: entries separated by commas or whitespace, each
    ``URL=VKEY`` (the witness's submission prefix, then its cosignature/v1 verifier key).

    Raises:
        ValueError: an entry without ``=``, a URL that is not http(s), a key that is not
            a type 0x04 (cosignature/v1) verifier key, or the same key twice.
    """
    found: list[Witness] = []
    for entry in text.replace(",", " ").split():
        try:
            url, verifier = note.parse_pair(entry, note.COSIGNATURE_V1)
        except note.NoteError as error:
            raise ValueError(f"TRUSTSEAL_WITNESSES: {error}") from error
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"TRUSTSEAL_WITNESSES: {url!r} is not an http(s) URL")
        if any(w.verifier == verifier for w in found):
            raise ValueError(f"TRUSTSEAL_WITNESSES: {verifier.vkey} is listed twice")
        found.append(Witness(url.rstrip("/"), verifier))
    return tuple(found)


def check_config(config: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` unless the witness settings can be used (at app creation)."""
    configured = parse_witnesses(config["TRUSTSEAL_WITNESSES"])
    quorum = config["TRUSTSEAL_WITNESS_QUORUM"]
    if configured and not 1 <= quorum <= len(configured):
        raise ValueError(
            f"TRUSTSEAL_WITNESS_QUORUM must be from 1 to the {len(configured)} witnesses listed"
        )


def witnesses() -> tuple[Witness, ...]:
    """The configured witnesses."""
    return parse_witnesses(current_app.config["TRUSTSEAL_WITNESSES"])


def origin() -> str:
    """This log's origin line (and the name of its note key)."""
    return checkpoint.origin_of(current_app.config["TRUSTSEAL_ISSUER"])


def log_verifiers() -> list[note.Verifier]:
    """The log's note verifier keys: every published signing key under the origin name,
    current first. Witnesses are configured with them (``witness serve --log``)."""
    name = origin()
    signing.current_key()  # created on first use, as for the first signed head
    return [note.Verifier.for_key(name, key) for key in signing.public_keys()]


def checkpoint_at(tree_size: int) -> checkpoint.Checkpoint:
    """The checkpoint of the first ``tree_size`` leaves (its root from the stored nodes)."""
    return checkpoint.Checkpoint(origin(), tree_size, log.root_at(tree_size))


def _log_signature(text: str) -> note.Signature:
    signature, public_key = signing.sign_bytes(text.encode())
    return note.Signature(origin(), note.key_id(origin(), note.ED25519, public_key), signature)


def cosignatures(tree_size: int) -> list[note.Signature]:
    """The stored cosignatures of the checkpoint of ``tree_size``, oldest first."""
    lines = db.session.scalars(
        select(Cosignature.line).where(Cosignature.tree_size == tree_size).order_by(Cosignature.id)
    )
    return [note.parse_line(line) for line in lines]


def signed_checkpoint(tree_size: int, with_cosignatures: bool = True) -> str:
    """The checkpoint of ``tree_size`` as a signed note: the log's signature, then the
    witnesses' cosignatures (unless ``with_cosignatures`` is false)."""
    text = checkpoint_at(tree_size).body()
    kept = cosignatures(tree_size) if with_cosignatures else []
    return text + "\n" + "".join(s.line() for s in [_log_signature(text), *kept])


def _witnessed_sizes(at_least: int = 0) -> Any:
    """Tree sizes with at least the quorum of configured witnesses' cosignatures."""
    configured = witnesses()
    quorum = current_app.config["TRUSTSEAL_WITNESS_QUORUM"]
    names = [w.verifier.name for w in configured]
    key_ids = [w.verifier.key_id for w in configured]
    return (
        select(Cosignature.tree_size)
        .where(Cosignature.tree_size >= at_least)
        .where(Cosignature.witness.in_(names), Cosignature.key_id.in_(key_ids))
        .group_by(Cosignature.tree_size)
        .having(func.count(func.distinct(Cosignature.witness)) >= quorum)
    )


def served_size() -> int:
    """The size of the checkpoint ``/log/checkpoint`` serves: with witnesses configured,
    the newest one a quorum of them cosigned (the newest signed head until one has);
    without, the newest signed head."""
    head = log.publish_head()
    if not witnesses():
        return head.tree_size
    witnessed = db.session.scalar(
        _witnessed_sizes().order_by(Cosignature.tree_size.desc()).limit(1)
    )
    return witnessed if witnessed is not None else head.tree_size


@dataclass(frozen=True)
class WitnessStatus:
    """What the public page says of a configured witness: its key and the newest size it
    cosigned (None: not yet), when."""

    name: str
    vkey: str
    size: int | None
    signed_at: datetime | None


def statuses() -> list[WitnessStatus]:
    """Each configured witness and the newest checkpoint it cosigned."""
    found = []
    for witness in witnesses():
        row = db.session.execute(
            select(Cosignature.tree_size, Cosignature.signed_at)
            .where(
                Cosignature.witness == witness.verifier.name,
                Cosignature.key_id == witness.verifier.key_id,
            )
            .order_by(Cosignature.tree_size.desc())
            .limit(1)
        ).first()
        size, signed_at = (row[0], row[1]) if row else (None, None)
        found.append(WitnessStatus(witness.verifier.name, witness.verifier.vkey, size, signed_at))
    return found


def witnessed_size_column() -> ScalarSelect[int]:
    """The largest cosigned tree size, as a column to read in another statement (a badge
    names a witnessed head, so its cache key changes when a new one is cosigned)."""
    return select(func.max(Cosignature.tree_size)).scalar_subquery()


def witnessed(tree_size: int) -> dict[str, Any] | None:
    """The newest checkpoint a quorum of witnesses cosigned that includes the tree of
    ``tree_size`` leaves, with the consistency proof from that tree to it:
    ``{"checkpoint": note, "consistency": [hex]}`` (None without one)."""
    if not witnesses():
        return None
    size = db.session.scalar(
        _witnessed_sizes(tree_size).order_by(Cosignature.tree_size.desc()).limit(1)
    )
    if size is None:
        return None
    proof = log.consistency_proof(tree_size, size) if 0 < tree_size < size else []
    return {"checkpoint": signed_checkpoint(size), "consistency": [h.hex() for h in proof]}


TILE_CACHE = "trustseal.tiles"  # app.extensions key
TILE_SECONDS = 86400.0  # a tile never changes: kept as long as the memo has room


def _tile_cache() -> TtlMemo[bytes]:
    cache: TtlMemo[bytes] | None = current_app.extensions.get(TILE_CACHE)
    if cache is None:
        cache = current_app.extensions[TILE_CACHE] = TtlMemo(TILE_CACHE_SIZE)
    return cache


def forget_tiles(app: Flask) -> None:
    """Drop the process's kept tiles: only for a database replaced under a running app
    (the tests empty theirs after each test)."""
    app.extensions.pop(TILE_CACHE, None)


def tile_data(tile: tiles.Tile) -> bytes:
    """The bytes of a hash tile or an entry bundle; :class:`log.LogError` (404) until the
    log holds all it covers."""
    if tile.level is None:  # entry bundles (up to 256 leaves each) are read each time
        return _read_tile(tile)
    # Hash tiles, partial ones too, never change: each process keeps those it served.
    return _tile_cache().get_or_load(tile, TILE_SECONDS, lambda: _read_tile(tile))


def _read_tile(tile: tiles.Tile) -> bytes:
    first = tile.index * tiles.TILE_WIDTH
    if tile.level is None:
        leaves = db.session.scalars(
            select(LogEntry.leaf)
            .where(LogEntry.index >= first, LogEntry.index < first + tile.width)
            .order_by(LogEntry.index)
        ).all()
        found, data = len(leaves), tiles.encode_bundle(leaf.encode() for leaf in leaves)
    else:
        hashes = db.session.scalars(
            select(LogNode.hash)
            .where(LogNode.level == tiles.TILE_HEIGHT * tile.level)
            .where(LogNode.index >= first, LogNode.index < first + tile.width)
            .order_by(LogNode.index)
        ).all()
        found, data = len(hashes), b"".join(bytes(h) for h in hashes)
    if found != tile.width:
        raise log.LogError(404, f"The log does not hold {tile.path} yet.")
    return data


def submit_to_witnesses(tree_size: int) -> None:
    """Queue the submission of a new head to each configured witness (a head listener)."""
    for witness in witnesses():
        jobs.enqueue(log.WITNESS_JOB, {"witness": witness.verifier.vkey})


def _cosigned_size(witness: Witness, at_most: int) -> int:
    """The largest size (up to ``at_most``) this witness cosigned, as far as we stored."""
    found = db.session.scalar(
        select(func.max(Cosignature.tree_size)).where(
            Cosignature.witness == witness.verifier.name,
            Cosignature.key_id == witness.verifier.key_id,
            Cosignature.tree_size <= at_most,
        )
    )
    return int(found or 0)


def _request(size: int, old_size: int, signed: str) -> bytes:
    proof = log.consistency_proof(old_size, size) if 0 < old_size < size else []
    return checkpoint.AddCheckpoint(old_size, tuple(proof), signed).encode()


def _store(witness: Witness, tree_size: int, text: str, answer: str) -> int:
    """Verify a witness's answer (signature lines) and store its cosignatures."""
    try:
        opened = note.open_note(text + "\n" + answer, [witness.verifier])
    except note.NoteError as error:
        message = f"witness {witness.url}: its cosignature does not verify: {error}"
        raise RuntimeError(message) from error
    for signature in opened.signatures:
        insert_ignoring_duplicate(
            Cosignature,
            {
                "tree_size": tree_size,
                "witness": signature.name,
                "key_id": signature.key_id,
                "line": signature.line().rstrip("\n"),
                "signed_at": datetime.fromtimestamp(signature.timestamp or 0, UTC),
            },
            ["tree_size", "witness", "key_id"],
        )
    return len(opened.signatures)


def submit(witness: Witness) -> str:
    """Submit the newest signed head to ``witness`` and store its cosignature.

    Returns what happened (``cosigned N``, ``already cosigned N``, ``empty log``).
    Raises ``RuntimeError`` (the job is retried with backoff) if the witness is down or
    refuses: a refusal means it saw a tree this log's does not extend.
    """
    head = log.latest_head()
    if head is None or head.tree_size == 0:
        return "empty log"
    size = head.tree_size
    old_size = _cosigned_size(witness, size)
    if old_size == size:
        return f"already cosigned {size}"
    text = checkpoint_at(size).body()
    signed = signed_checkpoint(size, with_cosignatures=False)
    body = _request(size, old_size, signed)
    db.session.rollback()  # no transaction waits on the network
    timeout = current_app.config["TRUSTSEAL_WITNESS_TIMEOUT_SECONDS"]
    url = f"{witness.url}/add-checkpoint"
    response = requests.post(url, data=body, timeout=timeout)
    if response.status_code == 409 and response.headers.get("Content-Type", "").startswith(
        SIZE_CONTENT_TYPE
    ):
        # The witness last cosigned another size than we stored: prove from that one.
        try:
            known = int(response.text.strip())
        except ValueError as error:
            raise RuntimeError(f"witness {witness.url}: bad 409 body") from error
        if not 0 <= known <= size:
            raise RuntimeError(
                f"witness {witness.url} has cosigned size {known}, beyond this log's {size}"
            )
        body = _request(size, known, signed)
        db.session.rollback()
        response = requests.post(url, data=body, timeout=timeout)
    if response.status_code != 200:
        raise RuntimeError(
            f"witness {witness.url} refused size {size}: {response.status_code} "
            f"{response.text[:200]!r}"
        )
    stored = _store(witness, size, text, response.text)
    return f"cosigned {size} ({stored} signatures)"


@jobs.handler(log.WITNESS_JOB)
def _witness_job(payload: dict[str, Any]) -> None:
    for witness in witnesses():
        if witness.verifier.vkey == payload["witness"]:
            submit(witness)
            return
    # a witness no longer configured: nothing to do


def vkeys_text(verifiers: Iterable[note.Verifier]) -> str:
    """Verifier keys one per line."""
    return "".join(f"{v.vkey}\n" for v in verifiers)

