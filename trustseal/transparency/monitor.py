"""An outside monitor of a trustseal log (``trustseal log watch URL``).

It keeps the last tree head it accepted in a file and, for every new head, checks the
signature against the service's JWKS and a consistency proof from the old head. A head
that shrinks the log, forks it or fails a proof is an alarm: the log was rewritten.
Only the standard library and :mod:`trustseal.signing.jws` / :mod:`merkle` are used.
"""

from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trustseal.signing import jws
from trustseal.transparency import merkle


class Alarm(Exception):
    """The log is not what it claimed before: report loudly."""


@dataclass(frozen=True)
class Seen:
    """A verified head."""

    tree_size: int
    root_hash: str
    timestamp: str


def _get_json(url: str, timeout: float = 10.0) -> Any:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


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
    return Seen(int(head["tree_size"]), str(head["root_hash"]), str(head["timestamp"]))


def check_consistent(base_url: str, old: Seen, new: Seen) -> None:
    """Raise :class:`Alarm` unless ``new`` extends ``old``."""
    if new.tree_size < old.tree_size:
        raise Alarm(f"the log shrank from {old.tree_size} to {new.tree_size} entries")
    if new.tree_size == old.tree_size:
        if new.root_hash != old.root_hash:
            raise Alarm(f"two different roots for size {new.tree_size}: the log forked")
        return
    if old.tree_size == 0:
        return
    query = urllib.parse.urlencode({"first": old.tree_size, "second": new.tree_size})
    proof = _get_json(f"{base_url.rstrip('/')}/api/v1/log/proof/consistency?{query}")
    try:
        ok = merkle.verify_consistency(
            old.tree_size,
            new.tree_size,
            bytes.fromhex(old.root_hash),
            bytes.fromhex(new.root_hash),
            [bytes.fromhex(h) for h in proof["path"]],
        )
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise Alarm(
            f"size {new.tree_size} is not consistent with size {old.tree_size}: "
            "entries were changed or removed"
        )


def load_state(path: Path) -> Seen | None:
    """The last accepted head, or None on the first run."""
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return Seen(int(data["tree_size"]), str(data["root_hash"]), str(data["timestamp"]))


def save_state(path: Path, seen: Seen) -> None:
    """Store the accepted head atomically."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(seen.__dict__))
    os.replace(tmp, path)


def watch_once(base_url: str, state: Path) -> tuple[Seen | None, Seen]:
    """Check the current head against the stored one; store it when it is consistent."""
    old = load_state(state)
    new = verified_head(base_url)
    if old is not None:
        check_consistent(base_url, old, new)
    save_state(state, new)
    return old, new
