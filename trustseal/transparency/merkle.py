"""RFC 9162 (Certificate Transparency v2) Merkle tree primitives.

Pure and dependency-free (standard library only), so the same code serves the
server-side log and the offline verifier.

Hashing (RFC 9162 section 2.1.1, SHA-256)::

    leaf hash  = SHA-256(0x00 || leaf_bytes)
    node hash  = SHA-256(0x01 || left || right)
    empty tree = SHA-256("")

Storage model: a log stores the hash of every *complete aligned subtree*.
Node ``(level, index)`` is the Merkle tree hash of leaves
``[index * 2**level, (index + 1) * 2**level)``; level 0 holds the leaf hashes.
Node ``(level, index)`` exists once the log holds at least
``(index + 1) * 2**level`` leaves and never changes afterwards.  Every function
that needs stored data takes a ``get_node(level, index) -> bytes`` callback and
reads O(log n) nodes through it.

Proof layout follows RFC 9162: audit paths and consistency proofs list hashes
from the bottom of the tree (nearest the leaf) up to the root.
"""

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from typing import TypeAlias

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "GetNode",
    "MemoryTree",
    "NodeRow",
    "ProofError",
    "canonical_json",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "nodes_after_append",
    "root_from_inclusion_proof",
    "root_from_leaf_hashes",
    "root_hash",
    "subtree_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT: bytes = hashlib.sha256(b"").digest()

# JSON integers outside this range are not exactly representable as IEEE 754
# doubles, so RFC 8785 implementations in other languages would disagree.
_MAX_SAFE_INTEGER = 2**53 - 1

GetNode: TypeAlias = Callable[[int, int], bytes]
"""Callback returning the stored hash of complete subtree ``(level, index)``."""

NodeRow: TypeAlias = tuple[int, int, bytes]
"""A ``(level, index, hash)`` row to store."""


class ProofError(ValueError):
    """A proof or its arguments are structurally impossible.

    Raised for arguments that can never describe a valid proof (negative sizes,
    ``index >= size``, ``first > second``, a path of the wrong length or with
    hashes that are not 32 bytes).  A well-formed proof that simply does not
    match is reported by the ``verify_*`` functions returning ``False``.
    """


# --------------------------------------------------------------------------
# Hashing


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 9162 leaf hash ``SHA-256(0x00 || data)``."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 9162 interior node hash ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


# --------------------------------------------------------------------------
# Canonical JSON (RFC 8785 subset)


def _utf16_sort_key(key: str) -> bytes:
    """RFC 8785 orders object members by the UTF-16 code units of their names."""
    return key.encode("utf-16-be", "surrogatepass")


def _jcs_normalize(obj: object) -> object:
    """Validate ``obj`` for :func:`canonical_json` and sort object members."""
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, int):
        if not -_MAX_SAFE_INTEGER <= obj <= _MAX_SAFE_INTEGER:
            raise ValueError(f"integer {obj} is outside the interoperable range +-(2**53 - 1)")
        return int(obj)
    if isinstance(obj, float):
        raise TypeError("floats are not allowed in canonical JSON; use integers")
    if isinstance(obj, list):
        return [_jcs_normalize(item) for item in obj]
    if isinstance(obj, dict):
        for key in obj:
            if not isinstance(key, str):
                raise TypeError(f"canonical JSON object keys must be str, not {type(key).__name__}")
        return {key: _jcs_normalize(obj[key]) for key in sorted(obj, key=_utf16_sort_key)}
    raise TypeError(f"type {type(obj).__name__} is not allowed in canonical JSON")


def canonical_json(obj: object) -> bytes:
    """Serialise ``obj`` as RFC 8785 (JCS) canonical JSON, UTF-8 encoded.

    Supported subset: ``dict`` (``str`` keys only), ``list``, ``str``, ``int``
    (within +-(2**53 - 1)), ``bool`` and ``None``.  Object members are sorted
    by the UTF-16 code units of their names, there is no insignificant
    whitespace and non-ASCII text is emitted as raw UTF-8.

    Raises:
        TypeError: for floats (including NaN/infinity), non-``str`` keys or any
            other unsupported type.
        ValueError: for integers outside the interoperable range or strings
            that cannot be encoded as UTF-8 (lone surrogates).
    """
    normalized = _jcs_normalize(obj)
    text = json.dumps(normalized, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8")


# --------------------------------------------------------------------------
# Small integer helpers


def _check_size(name: str, value: int) -> None:
    """Reject sizes/indices that are not non-negative integers."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProofError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ProofError(f"{name} must be non-negative, got {value}")


def _check_hash(name: str, value: bytes) -> None:
    """Reject hashes that are not 32-byte ``bytes``."""
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise ProofError(f"{name} must be {HASH_SIZE} bytes")


def _split_point(n: int) -> int:
    """Largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _decomp_inclusion_proof(index: int, size: int) -> tuple[int, int]:
    """Split an inclusion proof length into its inner and border parts.

    ``inner`` proof nodes are on levels where the paths to ``index`` and to the
    last leaf ``size - 1`` diverge; ``border`` nodes are the left siblings on the
    right border above that.  Mirrors transparency-dev/merkle's
    ``decompInclProof``.
    """
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner, border


def _inclusion_proof_length(index: int, size: int) -> int:
    """Number of hashes in the inclusion proof of ``index`` in a tree of ``size``."""
    inner, border = _decomp_inclusion_proof(index, size)
    return inner + border


def _consistency_proof_length(first: int, second: int) -> int:
    """Number of hashes in the consistency proof for ``0 < first < second``."""
    inner, border = _decomp_inclusion_proof(first - 1, second)
    shift = (first & -first).bit_length() - 1  # trailing zero bits of first
    seed = 0 if first == 1 << shift else 1  # power-of-two first: seed is first_root
    return seed + inner - shift + border


# --------------------------------------------------------------------------
# Stored-node algorithms


def nodes_after_append(leaf_index: int, leaf_hash: bytes, get_node: GetNode) -> list[NodeRow]:
    """Return the ``(level, index, hash)`` rows to store when appending a leaf.

    ``leaf_index`` is the 0-based number of the new leaf (the tree size before
    the append) and ``leaf_hash`` its RFC 9162 leaf hash.  The result holds the
    leaf itself at level 0 followed by every complete subtree the new leaf
    completes, bottom-up.  Left siblings are read with ``get_node`` (they are
    all complete already); the right-hand hash is carried locally, so this
    never reads a node produced by the same call.  Reads at most
    ``log2(leaf_index + 1)`` nodes.
    """
    _check_size("leaf_index", leaf_index)
    _check_hash("leaf_hash", leaf_hash)
    rows: list[NodeRow] = [(0, leaf_index, leaf_hash)]
    level, index, current = 0, leaf_index, leaf_hash
    while index & 1:
        current = node_hash(get_node(level, index - 1), current)
        level += 1
        index >>= 1
        rows.append((level, index, current))
    return rows


def subtree_hash(start: int, end: int, get_node: GetNode) -> bytes:
    """Return the Merkle tree hash (MTH) of leaves ``[start, end)``.

    The range is decomposed into complete aligned subtrees of decreasing size
    (the binary expansion of ``end - start``), each read with one ``get_node``
    call, and folded right-to-left, which is exactly RFC 9162's MTH recursion
    (split at the largest power of two smaller than the size).  ``start`` must
    be a multiple of the largest of those subtrees, as it always is for ranges
    produced by the RFC recursion.  An empty range yields :data:`EMPTY_ROOT`.
    Reads ``popcount(end - start)`` nodes.
    """
    _check_size("start", start)
    _check_size("end", end)
    if end < start:
        raise ValueError(f"end ({end}) < start ({start})")
    if end == start:
        return EMPTY_ROOT
    parts: list[bytes] = []
    position, remaining = start, end - start
    while remaining:
        level = remaining.bit_length() - 1
        width = 1 << level
        if position & (width - 1):
            raise ValueError(f"range [{start}, {end}) is not aligned to complete subtrees")
        parts.append(get_node(level, position >> level))
        position += width
        remaining -= width
    result = parts.pop()
    while parts:
        result = node_hash(parts.pop(), result)
    return result


def root_hash(size: int, get_node: GetNode) -> bytes:
    """Return the root hash of the tree made of the first ``size`` leaves.

    :data:`EMPTY_ROOT` for ``size == 0``.  Reads ``popcount(size)`` nodes.
    """
    _check_size("size", size)
    return subtree_hash(0, size, get_node)


def inclusion_proof(index: int, size: int, get_node: GetNode) -> list[bytes]:
    """Return the RFC 9162 section 2.1.3.1 audit path ``PATH(index, D[size])``.

    Hashes are ordered from the leaf's sibling up to the child of the root.
    Each sibling that is a complete subtree is read directly; at most one
    sibling (the incomplete right-hand one on the tree's right border) is
    assembled with :func:`subtree_hash`, so O(log n) nodes are read in total.

    Raises:
        ValueError: unless ``0 <= index < size``.
    """
    _check_size("index", index)
    _check_size("size", size)
    if index >= size:
        raise ValueError(f"index ({index}) must be < size ({size})")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _split_point(end - start)
        middle = start + k
        if index < middle:
            path.append(subtree_hash(middle, end, get_node))
            end = middle
        else:
            path.append(subtree_hash(start, middle, get_node))
            start = middle
    path.reverse()
    return path


def consistency_proof(first: int, second: int, get_node: GetNode) -> list[bytes]:
    """Return the RFC 9162 section 2.1.4.1 consistency proof ``PROOF(first, D[second])``.

    Hashes are ordered bottom-up as produced by ``SUBPROOF``.  The proof is
    empty when ``first == second`` or ``first == 0``.  At most one hash (an
    incomplete right-hand subtree) is assembled from several nodes, so O(log n)
    nodes are read in total.

    Raises:
        ValueError: unless ``0 <= first <= second``.
    """
    _check_size("first", first)
    _check_size("second", second)
    if first > second:
        raise ValueError(f"first ({first}) must be <= second ({second})")
    if first in (0, second):
        return []
    # Iterative SUBPROOF(m, D[start:end], b) with m = first - start.
    proof: list[bytes] = []
    start, end = 0, second
    whole_old_tree = True  # the RFC's flag b
    while True:
        n, m = end - start, first - start
        if m == n:
            if not whole_old_tree:
                proof.append(subtree_hash(start, end, get_node))
            break
        k = _split_point(n)
        middle = start + k
        if m <= k:
            proof.append(subtree_hash(middle, end, get_node))
            end = middle
        else:
            proof.append(subtree_hash(start, middle, get_node))
            start = middle
            whole_old_tree = False
    proof.reverse()
    return proof


# --------------------------------------------------------------------------
# In-memory reference implementation


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """Return the RFC 9162 root hash of a complete list of leaf hashes.

    Independent of the stored-node functions (a binary-counter stack of
    complete subtrees), so it doubles as a cross-check and as the offline
    verifier's way to recompute a root from a full leaf dump.  O(n) time.
    """
    stack: list[tuple[int, bytes]] = []  # (level, hash), levels strictly decreasing
    for item in hashes:
        level, current = 0, item
        while stack and stack[-1][0] == level:
            current = node_hash(stack.pop()[1], current)
            level += 1
        stack.append((level, current))
    if not stack:
        return EMPTY_ROOT
    result = stack.pop()[1]
    while stack:
        result = node_hash(stack.pop()[1], result)
    return result


class MemoryTree:
    """A small in-memory Merkle log built on the stored-node functions.

    Keeps the leaf hashes in :attr:`leaf_hashes` and every complete subtree in
    :attr:`nodes` keyed by ``(level, index)``, exactly like the database-backed
    log does.  Used by tests, benchmarks and the offline verifier.
    """

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        """Create a tree, optionally appending ``leaves`` (raw leaf bytes)."""
        self.leaf_hashes: list[bytes] = []
        self.nodes: dict[tuple[int, int], bytes] = {}
        for leaf in leaves:
            self.append(leaf)

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return len(self.leaf_hashes)

    def __len__(self) -> int:
        """Number of leaves appended so far."""
        return len(self.leaf_hashes)

    def get_node(self, level: int, index: int) -> bytes:
        """Return stored complete subtree ``(level, index)`` (``KeyError`` if absent)."""
        return self.nodes[(level, index)]

    def append(self, leaf: bytes) -> int:
        """Append raw leaf bytes; return the new leaf's 0-based index."""
        return self.append_hash(leaf_hash(leaf))

    def append_hash(self, hashed_leaf: bytes) -> int:
        """Append an already computed leaf hash; return its 0-based index."""
        index = len(self.leaf_hashes)
        for level, node_index, value in nodes_after_append(index, hashed_leaf, self.get_node):
            self.nodes[(level, node_index)] = value
        self.leaf_hashes.append(hashed_leaf)
        return index

    def _check_tree_size(self, size: int) -> None:
        """Reject sizes larger than the tree."""
        if size > self.size:
            raise ValueError(f"size {size} exceeds tree size {self.size}")

    def root(self, size: int | None = None) -> bytes:
        """Return the root hash at ``size`` (default: the current size)."""
        size = self.size if size is None else size
        self._check_tree_size(size)
        return root_hash(size, self.get_node)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Return the audit path for leaf ``index`` in the tree of ``size`` leaves."""
        size = self.size if size is None else size
        self._check_tree_size(size)
        return inclusion_proof(index, size, self.get_node)

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """Return the consistency proof between tree sizes ``first`` and ``second``."""
        second = self.size if second is None else second
        self._check_tree_size(second)
        return consistency_proof(first, second, self.get_node)


# --------------------------------------------------------------------------
# Verifiers (RFC 9162 sections 2.1.3.2 and 2.1.4.2)


def _check_path(path: Sequence[bytes]) -> list[bytes]:
    """Copy ``path`` into a list, rejecting entries that are not 32-byte hashes."""
    items = list(path)
    for position, item in enumerate(items):
        _check_hash(f"path[{position}]", item)
    return items


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, path: Sequence[bytes]
) -> bytes:
    """Recompute the root implied by an inclusion proof (RFC 9162 section 2.1.3.2).

    Args:
        leaf_hash: the RFC 9162 leaf hash (not the raw leaf bytes).
        index: 0-based leaf index.
        size: tree size the proof was made for.
        path: audit path, bottom-up.

    Raises:
        ProofError: if ``index >= size``, a size is negative, ``path`` has the
            wrong length for ``(index, size)`` or holds non-32-byte entries.
    """
    _check_size("index", index)
    _check_size("size", size)
    if index >= size:
        raise ProofError(f"index ({index}) must be < size ({size})")
    _check_hash("leaf_hash", leaf_hash)
    items = _check_path(path)
    expected = _inclusion_proof_length(index, size)
    if len(items) != expected:
        raise ProofError(f"wrong inclusion proof length {len(items)}, want {expected}")

    fn, sn = index, size - 1
    r = leaf_hash
    for p in items:
        if sn == 0:
            raise ProofError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is too short")
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """Return whether ``path`` proves leaf ``index`` with ``leaf_hash`` is in tree ``root``.

    Implements RFC 9162 section 2.1.3.2.  Returns ``False`` when a well-formed
    proof does not lead to ``root``.  Note that the tree size is not bound
    cryptographically by the proof; it must come from a signed tree head.

    Raises:
        ProofError: for structurally impossible arguments (see
            :func:`root_from_inclusion_proof`), including a ``root`` that is
            not 32 bytes.
    """
    _check_hash("root", root)
    return root_from_inclusion_proof(leaf_hash, index, size, path) == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, path: Sequence[bytes]
) -> bool:
    """Return whether ``path`` proves tree ``second_root`` extends ``first_root``.

    Implements RFC 9162 section 2.1.4.2 for ``0 < first < second``, plus the
    edge cases the RFC leaves to the caller:

    * ``first == 0``: the proof must be empty (RFC 9162 section 2.1.4.1 and
      transparency-dev/merkle) and ``first_root`` must be :data:`EMPTY_ROOT`;
      every tree extends the empty tree, so nothing else is proven.
    * ``first == second``: the proof must be empty and the roots equal (both
      :data:`EMPTY_ROOT` when the size is 0).

    Both roots and every proof hash must be 32 bytes in every case, so a
    malformed second root cannot slip through the size-0 shortcut.  Returns
    ``False`` when well-formed arguments do not match.  The tree sizes are not
    bound cryptographically by the proof; they must come from signed tree heads.

    Raises:
        ProofError: if a size is negative, ``first > second``, a root is not
            32 bytes, or ``path`` has the wrong length or holds non-32-byte
            entries.
    """
    _check_size("first", first)
    _check_size("second", second)
    if first > second:
        raise ProofError(f"first ({first}) must be <= second ({second})")
    _check_hash("first_root", first_root)
    _check_hash("second_root", second_root)
    items = _check_path(path)
    if first == 0 or first == second:
        if items:
            raise ProofError(f"consistency proof from size {first} to {second} must be empty")
        if first == 0 and first_root != EMPTY_ROOT:
            return False
        return first < second or first_root == second_root
    # RFC step 1: an empty path fails (it also has the wrong length).
    expected = _consistency_proof_length(first, second)
    if len(items) != expected:
        raise ProofError(f"wrong consistency proof length {len(items)}, want {expected}")

    # Step 2: a power-of-two first tree is itself the seed.
    if first & (first - 1) == 0:
        items = [first_root, *items]
    # Steps 3-4.
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # Steps 5-6.
    fr = sr = items[0]
    for c in items[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    # Step 7.
    return sn == 0 and fr == first_root and sr == second_root
