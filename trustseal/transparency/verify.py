"""Audit a whole log from its data: leaves, stored nodes and signed heads; and the
records of a database against the leaves they claim (:class:`LoggedClaim`).

Pure functions over plain values (no database, no server), so the same checks run in
``trustseal log verify`` and in anyone's copy of the log.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
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
    records: int = 0
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
    last_logged = ""  # RFC 3339 UTC to the second: ordered as text
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
            parsed = json.loads(leaf)
            canonical = merkle.canonical_json(parsed) == data
        except (ValueError, TypeError):
            parsed, canonical = None, False
        if not canonical:
            audit.problem(f"entry {index}: the leaf is not canonical JSON")
        logged = parsed.get("logged_at") if isinstance(parsed, dict) else None
        if isinstance(logged, str):
            if logged < last_logged:
                audit.problem(
                    f"entry {index}: logged_at {logged} is earlier than the leaf before "
                    f"({last_logged}): back-dated"
                )
            last_logged = max(last_logged, logged)
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


# --- the database against the log -----------------------------------------------------


def text_commitment(salt: bytes, text: str) -> str:
    """Hex SHA-256(salt ‖ UTF-8 text): what a leaf holds instead of the text."""
    return hashlib.sha256(salt + text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class LoggedClaim:
    """What a database record says the log holds for it.

    ``index`` is the leaf the record names, or None for a record that keeps no index
    (then it is the n-th claim of its sequence: the leaves of ``family`` for the same
    merchant and ``ids``, in log order). ``fields`` must be in the leaf and equal;
    ``extra`` is compared only when the leaf has it (leaves written before the field
    existed); ``texts`` are checked against the leaf's salted commitments, and with
    ``salt_required`` the salt must still be there (the text shown is not erased).
    ``record_problem``: what the domain found wrong among its own records (reported as
    is).
    """

    name: str
    kind: str
    index: int | None
    merchant_slug: str | None
    ids: Mapping[str, Any] = field(default_factory=dict)
    fields: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    texts: Mapping[str, str | None] = field(default_factory=dict)
    family: frozenset[str] = frozenset()
    salt_required: bool = False
    record_problem: str | None = None


@dataclass(frozen=True)
class ClaimSource:
    """One domain's claims, and the event types whose every leaf must be claimed by a
    record of that domain (event type → the leaf field naming the record, e.g.
    ``{"review.published": "review_id"}``)."""

    claims: Callable[[], Iterable[LoggedClaim]]
    complete: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NumbersSource:
    """The public numbers the database gives each merchant: ``slugs()`` lists every
    merchant, ``numbers(slug, now)`` is what the service would publish for it at ``now``
    (the keys of :meth:`trustseal.transparency.numbers.MerchantState.numbers`)."""

    slugs: Callable[[], Iterable[str]]
    numbers: Callable[[str, Any], Mapping[str, Any]]


def _named(key: str, value: Any) -> str:
    """``review_id``, 12 → ``review 12``."""
    return f"{key.removesuffix('_id')} {value}"


def claim_problem(
    claim: LoggedClaim, index: int, leaf: Mapping[str, Any] | None, salt: bytes | None
) -> str | None:
    """The first way the leaf at ``index`` (None: absent) fails ``claim``, or None."""
    if claim.record_problem:
        return f"{claim.name}: {claim.record_problem}"
    where = f"{claim.kind} leaf at index {index}"
    if leaf is None:
        return f"{claim.name}: no {where} (the log has no such entry)"
    if leaf.get("type") != claim.kind:
        return f"{claim.name}: no {where} (it is a {leaf.get('type')} leaf)"
    if leaf.get("merchant") != claim.merchant_slug:
        return (
            f"{claim.name}: the {where} is for merchant {leaf.get('merchant')!r}, "
            f"not {claim.merchant_slug!r}"
        )
    for key, value in {**claim.ids, **claim.fields}.items():
        if key not in leaf:
            return f"{claim.name}: the {where} has no {key}"
        if leaf[key] != value:
            return f"{claim.name}: the {where} has {key} {leaf[key]!r}, not {value!r}"
    for key, value in claim.extra.items():
        if key in leaf and leaf[key] != value:
            return f"{claim.name}: the {where} has {key} {leaf[key]!r}, not {value!r}"
    return text_problem(claim, index, leaf, salt)


def text_problem(
    claim: LoggedClaim, index: int, leaf: Mapping[str, Any], salt: bytes | None
) -> str | None:
    """Does every stored text match the leaf's commitment? Skipped once the salt is
    erased (or when the record keeps no texts any more, e.g. erased on request), unless
    the claim says its salt must be there."""
    if salt is None and claim.salt_required and claim.texts:
        return f"{claim.name}: leaf {index} has no salt left, so its text cannot be checked"
    if salt is None or not claim.texts:
        return None
    committed: Mapping[str, str] = leaf.get("text_sha256") or {}
    stored = {key: text for key, text in claim.texts.items() if text is not None}
    for key in sorted(set(committed) | set(stored)):
        if key not in stored:
            return f"{claim.name}: the stored {key} is missing (leaf {index} commits to one)"
        if key not in committed:
            return f"{claim.name}: the stored {key} is not committed to in leaf {index}"
        if text_commitment(salt, stored[key]) != committed[key]:
            return f"{claim.name}: the stored {key} does not match its commitment in leaf {index}"
    return None


def sequence_key(claim: LoggedClaim) -> tuple[Any, ...]:
    """What identifies an unindexed claim's sequence: merchant, family and ids."""
    return (claim.merchant_slug, claim.family, tuple(sorted(claim.ids.items())))


def leaf_key(leaf: Mapping[str, Any], ids: Iterable[str]) -> tuple[tuple[str, Any], ...]:
    """A leaf's values of the given id fields, in the shape of :func:`sequence_key`."""
    return tuple((key, leaf.get(key)) for key in sorted(ids))


def sequence_problem(
    claims: Sequence[LoggedClaim],
    leaves: Sequence[tuple[int, Mapping[str, Any], bytes | None]],
) -> str | None:
    """Match a sequence's claims, in order, to its leaves (index order): one leaf each."""
    for position, claim in enumerate(claims):
        if position >= len(leaves):
            kinds = "/".join(sorted(claim.family))
            return f"{claim.name}: no {kinds} leaf left for it ({len(leaves)} in the log)"
        index, leaf, salt = leaves[position]
        problem = claim_problem(claim, index, leaf, salt)
        if problem:
            return problem
    if len(leaves) > len(claims):
        index, leaf, _ = leaves[len(claims)]
        return (
            f"entry {index}: the {leaf.get('type')} leaf has no record in the database "
            f"({len(claims)} record(s) for {len(leaves)} leaves)"
        )
    return None


def unclaimed_problem(index: int, leaf: Mapping[str, Any], id_field: str) -> str:
    """A leaf that some record must claim, and none does."""
    return (
        f"{_named(id_field, leaf.get(id_field))}: the {leaf.get('type')} leaf at index "
        f"{index} names a record that is not in the database"
    )
