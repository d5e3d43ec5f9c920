"""Audit a whole log from its data: leaves, stored nodes and signed heads.

Pure functions over plain values (no database, no server), so the same checks run in
``trustseal log verify`` and in anyone's copy of the log.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from trustseal.clock import rfc3339
from trustseal.signing import jws
from trustseal.transparency import merkle


@dataclass(frozen=True)
class HeadRecord:
    """A stored signed tree head, as plain values."""

    tree_size: int
    root_hash: bytes
    timestamp: Any
    signature: str


@dataclass
class Audit:
    """The outcome of an audit: what was checked and every problem found."""

    entries: int = 0
    nodes: int = 0
    heads: int = 0
    problems: list[str] | None = None

    def problem(self, message: str) -> None:
        """Record a problem."""
        if self.problems is None:
            self.problems = []
        self.problems.append(message)

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems


def check_leaves(
    audit: Audit, rows: Iterable[tuple[int, str, bytes]], start: int, size: int
) -> dict[int, bytes]:
    """Check leaves ``start``..``size-1``: present, canonical, matching their stored hash.

    Returns the recomputed leaf hashes by index.
    """
    recomputed: dict[int, bytes] = {}
    expected = start
    for index, leaf, stored_hash in rows:
        if index < start:
            continue
        if index > expected:
            audit.problem(f"entries {expected}..{index - 1} are missing")
        expected = index + 1
        audit.entries += 1
        data = leaf.encode("utf-8")
        leaf_hash = merkle.leaf_hash(data)
        recomputed[index] = leaf_hash
        if leaf_hash != bytes(stored_hash):
            audit.problem(f"entry {index}: the leaf does not match its stored hash (tampered)")
        try:
            canonical = merkle.canonical_json(json.loads(leaf)) == data
        except (ValueError, TypeError):
            canonical = False
        if not canonical:
            audit.problem(f"entry {index}: the leaf is not canonical JSON")
    if expected < size:
        audit.problem(f"entries {expected}..{size - 1} are missing")
    return recomputed


def check_nodes(
    audit: Audit,
    nodes: Mapping[tuple[int, int], bytes],
    leaf_hashes: Mapping[int, bytes],
    start: int,
    size: int,
) -> None:
    """Check every complete-subtree node that covers a leaf at or after ``start``."""
    level = 0
    while size >> level:
        first = start >> level
        for index in range(first, size >> level):
            key = (level, index)
            stored = nodes.get(key)
            audit.nodes += 1
            if level == 0:
                expected = leaf_hashes.get(index)
            else:
                left, right = (
                    nodes.get((level - 1, 2 * index)),
                    nodes.get((level - 1, 2 * index + 1)),
                )
                expected = merkle.node_hash(left, right) if left and right else None
            if stored is None:
                audit.problem(f"node ({level}, {index}) is missing")
            elif expected is not None and stored != expected:
                low, high = index << level, ((index + 1) << level) - 1
                what = (
                    f"entry {index}: the tree's leaf hash"
                    if level == 0
                    else (f"node ({level}, {index}) over entries {low}..{high}")
                )
                audit.problem(f"{what} does not match the data below it")
        level += 1


def check_heads(
    audit: Audit,
    heads: Iterable[HeadRecord],
    nodes: Mapping[tuple[int, int], bytes],
    size: int,
    jwks: Mapping[str, Any],
    start: int = 0,
) -> None:
    """Check each head's signature and root, and the consistency of successive heads."""

    def get(level: int, index: int) -> bytes:
        return nodes[(level, index)]

    ordered = sorted(heads, key=lambda h: h.tree_size)
    # From a trusted size on: the last head before it anchors the consistency chain.
    trusted = [h for h in ordered if h.tree_size < start][-1:]
    previous: HeadRecord | None = None
    for head in trusted + [h for h in ordered if h.tree_size >= start]:
        audit.heads += 1
        name = f"head at size {head.tree_size}"
        try:
            _, payload = jws.verify(head.signature, jwks)
            claimed = {
                "tree_size": head.tree_size,
                "root_hash": head.root_hash.hex(),
                "timestamp": rfc3339(head.timestamp),
            }
            if payload != claimed:
                audit.problem(f"{name}: the signed payload differs from the stored head")
        except jws.JWSError as error:
            audit.problem(f"{name}: signature not valid ({error})")
        if head.tree_size > size:
            audit.problem(f"{name}: larger than the log ({size} entries)")
            continue
        try:
            root = merkle.root_hash(head.tree_size, get) if head.tree_size else merkle.EMPTY_ROOT
        except KeyError as missing:
            audit.problem(f"{name}: cannot recompute the root, node {missing} missing")
            continue
        if root != head.root_hash:
            audit.problem(f"{name}: the root hash does not match the log's entries")
        if previous is not None and previous.tree_size > 0:
            try:
                proof = merkle.consistency_proof(previous.tree_size, head.tree_size, get)
                consistent = merkle.verify_consistency(
                    previous.tree_size, head.tree_size, previous.root_hash, head.root_hash, proof
                )
            except (KeyError, merkle.ProofError):
                consistent = False
            if not consistent:
                audit.problem(
                    f"heads at sizes {previous.tree_size} and {head.tree_size} are not consistent"
                )
        previous = head
