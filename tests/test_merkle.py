"""Tests for the RFC 9162 Merkle tree module (pure, no app or database needed)."""

import base64
import hashlib
import json
import math
import random
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trustseal.transparency.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    MemoryTree,
    ProofError,
    canonical_json,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    nodes_after_append,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    root_hash,
    subtree_hash,
    verify_consistency,
    verify_inclusion,
)

# ---------------------------------------------------------------------------
# Golden vectors: the RFC 6962 / Certificate Transparency 8-leaf test tree
# (google/certificate-transparency merkle tests, transparency-dev/merkle testonly).

LEAF_INPUTS = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]

ROOTS = {
    0: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}

# Complete-subtree hashes by level (transparency-dev/merkle testonly.NodeHashes).
NODE_HASHES = [
    [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    [
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    [
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
]

# (0-based index, tree size, audit path) from certificate-transparency merkle_test.py.
GOLDEN_INCLUSION = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]

# (first, second, proof) from certificate-transparency merkle_test.py.
GOLDEN_CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]


def unhex(items: Sequence[str]) -> list[bytes]:
    return [bytes.fromhex(h) for h in items]


@pytest.fixture(scope="module")
def golden_tree() -> MemoryTree:
    return MemoryTree(LEAF_INPUTS)


# ---------------------------------------------------------------------------
# Naive reference: RFC 9162 MTH / PATH / PROOF written straight from the text,
# over half-open ranges of a leaf-hash list.


class Naive:
    def __init__(self, hashes: Sequence[bytes]) -> None:
        self.hashes = list(hashes)
        self.mth = cache(self._mth)

    def _mth(self, lo: int, hi: int) -> bytes:
        n = hi - lo
        if n == 0:
            return hashlib.sha256(b"").digest()
        if n == 1:
            return self.hashes[lo]
        k = 1
        while k * 2 < n:
            k *= 2
        return node_hash(self.mth(lo, lo + k), self.mth(lo + k, hi))

    def path(self, m: int, lo: int, hi: int) -> list[bytes]:
        n = hi - lo
        if n == 1:
            return []
        k = 1
        while k * 2 < n:
            k *= 2
        if m < k:
            return [*self.path(m, lo, lo + k), self.mth(lo + k, hi)]
        return [*self.path(m - k, lo + k, hi), self.mth(lo, lo + k)]

    def subproof(self, m: int, lo: int, hi: int, b: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if b else [self.mth(lo, hi)]
        k = 1
        while k * 2 < n:
            k *= 2
        if m <= k:
            return [*self.subproof(m, lo, lo + k, b), self.mth(lo + k, hi)]
        return [*self.subproof(m - k, lo + k, hi, False), self.mth(lo, lo + k)]

    def inclusion(self, index: int, size: int) -> list[bytes]:
        return self.path(index, 0, size)

    def consistency(self, first: int, second: int) -> list[bytes]:
        return self.subproof(first, 0, second, True)


MAX_N = 64


@pytest.fixture(scope="module")
def big_tree() -> MemoryTree:
    return MemoryTree(f"leaf-{i}".encode() for i in range(MAX_N))


@pytest.fixture(scope="module")
def naive(big_tree: MemoryTree) -> Naive:
    return Naive(big_tree.leaf_hashes)


def flip(h: bytes, bit: int = 0) -> bytes:
    return bytes([h[0] ^ (1 << bit)]) + h[1:]


def rejects(fn, *args) -> bool:
    """True when a verifier returns False or raises ProofError."""
    try:
        return fn(*args) is False
    except ProofError:
        return True


# ---------------------------------------------------------------------------
# Hashing and golden vectors


def test_hash_primitives() -> None:
    assert EMPTY_ROOT.hex() == ROOTS[0]
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert (
        node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    )
    assert leaf_hash(b"").hex() == NODE_HASHES[0][0]


def test_golden_roots(golden_tree: MemoryTree) -> None:
    for size, expected in ROOTS.items():
        assert golden_tree.root(size).hex() == expected
        assert root_from_leaf_hashes(golden_tree.leaf_hashes[:size]).hex() == expected
        assert Naive(golden_tree.leaf_hashes).mth(0, size).hex() == expected


def test_golden_stored_nodes(golden_tree: MemoryTree) -> None:
    expected = {
        (level, index): h for level, row in enumerate(NODE_HASHES) for index, h in enumerate(row)
    }
    assert {key: value.hex() for key, value in golden_tree.nodes.items()} == expected


def test_incremental_roots() -> None:
    tree = MemoryTree()
    assert tree.root() == EMPTY_ROOT
    for i, leaf in enumerate(LEAF_INPUTS):
        assert tree.append(leaf) == i
        assert tree.root().hex() == ROOTS[i + 1]
        assert len(tree) == tree.size == i + 1


@pytest.mark.parametrize(("index", "size", "path"), GOLDEN_INCLUSION)
def test_golden_inclusion(golden_tree: MemoryTree, index: int, size: int, path: list[str]) -> None:
    proof = golden_tree.inclusion_proof(index, size)
    assert proof == unhex(path)
    root = bytes.fromhex(ROOTS[size])
    assert verify_inclusion(leaf_hash(LEAF_INPUTS[index]), index, size, proof, root)


@pytest.mark.parametrize(("first", "second", "path"), GOLDEN_CONSISTENCY)
def test_golden_consistency(
    golden_tree: MemoryTree, first: int, second: int, path: list[str]
) -> None:
    proof = golden_tree.consistency_proof(first, second)
    assert proof == unhex(path)
    first_root, second_root = bytes.fromhex(ROOTS[first]), bytes.fromhex(ROOTS[second])
    assert verify_consistency(first, second, first_root, second_root, proof)


# ---------------------------------------------------------------------------
# Exhaustive comparison with the naive reference, n <= 64


def test_roots_match_naive(big_tree: MemoryTree, naive: Naive) -> None:
    for size in range(MAX_N + 1):
        expected = naive.mth(0, size)
        assert big_tree.root(size) == expected
        assert root_from_leaf_hashes(big_tree.leaf_hashes[:size]) == expected


def test_inclusion_exhaustive(big_tree: MemoryTree, naive: Naive) -> None:
    rng = random.Random(9162)
    hashes = big_tree.leaf_hashes
    for size in range(1, MAX_N + 1):
        root = big_tree.root(size)
        other_root = big_tree.root(size - 1) if size > 1 else flip(root)
        for index in range(size):
            proof = big_tree.inclusion_proof(index, size)
            assert proof == naive.inclusion(index, size), (index, size)
            leaf = hashes[index]
            assert verify_inclusion(leaf, index, size, proof, root)
            assert root_from_inclusion_proof(leaf, index, size, proof) == root

            # Wrong root, wrong leaf.
            assert not verify_inclusion(leaf, index, size, proof, other_root)
            assert not verify_inclusion(flip(leaf), index, size, proof, root)
            # Tamper with one path element (every element for small trees).
            positions = (
                range(len(proof))
                if size <= 16
                else rng.sample(range(len(proof)), min(2, len(proof)))
            )
            for pos in positions:
                bad = list(proof)
                bad[pos] = flip(bad[pos], rng.randrange(8))
                assert not verify_inclusion(leaf, index, size, bad, root)
            # Wrong index: False when the path length still fits, else ProofError.
            for wrong in {(index + 1) % size, rng.randrange(size)} - {index}:
                if len(naive.inclusion(wrong, size)) == len(proof):
                    assert not verify_inclusion(leaf, wrong, size, proof, root)
                else:
                    with pytest.raises(ProofError):
                        verify_inclusion(leaf, wrong, size, proof, root)
            # Wrong size, paired with that size's root.  (With the original root
            # the size is not bound by the proof: e.g. the path of leaf 0 in a
            # tree of 3 also "verifies" as size 4.  The signed tree head binds it.)
            for wrong_size in {size - 1, size + 1, rng.randrange(1, MAX_N + 1)} - {size}:
                if index < wrong_size <= MAX_N:
                    wrong_root = big_tree.root(wrong_size)
                    assert rejects(verify_inclusion, leaf, index, wrong_size, proof, wrong_root)
            # Truncated / extended paths are structurally impossible.
            if proof:
                with pytest.raises(ProofError):
                    verify_inclusion(leaf, index, size, proof[:-1], root)
            with pytest.raises(ProofError):
                verify_inclusion(leaf, index, size, [*proof, root], root)


def test_consistency_exhaustive(big_tree: MemoryTree, naive: Naive) -> None:
    rng = random.Random(6962)
    roots = [big_tree.root(size) for size in range(MAX_N + 1)]
    for second in range(1, MAX_N + 1):
        for first in range(1, second + 1):
            proof = big_tree.consistency_proof(first, second)
            assert proof == naive.consistency(first, second), (first, second)
            r1, r2 = roots[first], roots[second]
            assert verify_consistency(first, second, r1, r2, proof)
            if first == second:
                assert proof == []
                assert not verify_consistency(first, second, r1, flip(r2), proof)
                continue

            # Wrong roots.
            assert not verify_consistency(first, second, flip(r1), r2, proof)
            assert not verify_consistency(first, second, r1, flip(r2), proof)
            assert not verify_consistency(first, second, roots[first - 1], r2, proof)
            # Tamper with path elements (all of them for small trees).
            positions = (
                range(len(proof))
                if second <= 16
                else rng.sample(range(len(proof)), min(2, len(proof)))
            )
            for pos in positions:
                bad = list(proof)
                bad[pos] = flip(bad[pos], rng.randrange(8))
                assert not verify_consistency(first, second, r1, r2, bad)
            # Wrong sizes, paired with the roots of those sizes: a proof for
            # (first, second) must not prove anything about other sizes.
            # (With the *original* roots the sizes are not bound by the proof:
            # e.g. the 4 -> 8 proof also "verifies" as 4 -> 5.  Sizes are bound
            # by the signed tree head, not by the proof.)
            for f2, s2 in {
                (first - 1, second),
                (first + 1, second),
                (first, second - 1),
                (first, second + 1),
                (rng.randrange(1, second + 1), second),
            }:
                if 0 < f2 <= s2 <= MAX_N and (f2, s2) != (first, second):
                    assert rejects(verify_consistency, f2, s2, roots[f2], roots[s2], proof), (
                        first,
                        second,
                        f2,
                        s2,
                    )
            # Structurally impossible proofs.
            with pytest.raises(ProofError):
                verify_consistency(first, second, r1, r2, proof[:-1])
            with pytest.raises(ProofError):
                verify_consistency(first, second, r1, r2, [*proof, r1])


# ---------------------------------------------------------------------------
# Edge cases and argument validation


def test_consistency_edge_cases(big_tree: MemoryTree) -> None:
    r5 = big_tree.root(5)
    assert consistency_proof(0, 5, big_tree.get_node) == []
    assert consistency_proof(5, 5, big_tree.get_node) == []
    assert consistency_proof(0, 0, big_tree.get_node) == []
    # first == 0: empty proof, the empty tree is a prefix of every tree.
    assert verify_consistency(0, 5, EMPTY_ROOT, r5, [])
    assert not verify_consistency(0, 5, r5, r5, [])
    with pytest.raises(ProofError):
        verify_consistency(0, 5, EMPTY_ROOT, r5, [r5])
    # first == second: empty proof and equal roots.
    assert verify_consistency(5, 5, r5, r5, [])
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert not verify_consistency(5, 5, r5, big_tree.root(4), [])
    with pytest.raises(ProofError):
        verify_consistency(5, 5, r5, r5, [r5])
    # first < second with an empty path (RFC step 1).
    with pytest.raises(ProofError):
        verify_consistency(3, 5, big_tree.root(3), r5, [])


def test_invalid_arguments(big_tree: MemoryTree) -> None:
    get = big_tree.get_node
    h = big_tree.leaf_hashes[0]
    with pytest.raises(ValueError):
        inclusion_proof(5, 5, get)
    with pytest.raises(ValueError):
        inclusion_proof(-1, 5, get)
    with pytest.raises(ValueError):
        inclusion_proof(0, 0, get)
    with pytest.raises(ValueError):
        consistency_proof(6, 5, get)
    with pytest.raises(ValueError):
        consistency_proof(-1, 5, get)
    with pytest.raises(ValueError):
        root_hash(-1, get)
    with pytest.raises(ValueError):
        big_tree.root(MAX_N + 1)
    with pytest.raises(ProofError):
        verify_inclusion(h, 5, 5, [], h)
    with pytest.raises(ProofError):
        verify_inclusion(h, -1, 5, [], h)
    with pytest.raises(ProofError):
        verify_inclusion(h, 0, -1, [], h)
    with pytest.raises(ProofError):
        verify_consistency(6, 5, h, h, [])
    with pytest.raises(ProofError):
        verify_consistency(-1, 5, h, h, [])
    # Path entries and leaf hashes must be 32-byte hashes.
    proof = big_tree.inclusion_proof(0, 2)
    with pytest.raises(ProofError):
        verify_inclusion(h, 0, 2, [proof[0][:31]], big_tree.root(2))
    with pytest.raises(ProofError):
        verify_inclusion(b"raw leaf", 0, 2, proof, big_tree.root(2))
    assert issubclass(ProofError, ValueError)


def test_subtree_hash(big_tree: MemoryTree, naive: Naive) -> None:
    get = big_tree.get_node
    assert subtree_hash(8, 8, get) == EMPTY_ROOT
    assert subtree_hash(8, 16, get) == naive.mth(8, 16)
    assert subtree_hash(32, 45, get) == naive.mth(32, 45)
    assert subtree_hash(0, 63, get) == naive.mth(0, 63)
    with pytest.raises(ValueError):
        subtree_hash(3, 7, get)  # not aligned to complete subtrees
    with pytest.raises(ValueError):
        subtree_hash(5, 4, get)


def test_nodes_after_append() -> None:
    stored: dict[tuple[int, int], bytes] = {}
    for i, leaf in enumerate(LEAF_INPUTS):
        rows = nodes_after_append(i, leaf_hash(leaf), lambda lv, ix: stored[(lv, ix)])
        # leaf at level 0 plus one row per trailing 1-bit of the index
        assert [(lv, ix) for lv, ix, _ in rows] == [(lv, i >> lv) for lv in range(len(rows))]
        assert len(rows) == 1 + ((i ^ (i + 1)).bit_length() - 1)
        for lv, ix, value in rows:
            assert (lv, ix) not in stored
            stored[(lv, ix)] = value
    assert stored[(3, 0)].hex() == ROOTS[8]


# ---------------------------------------------------------------------------
# Node reads are O(log n)


class CountingStore:
    """Fake storage for a huge tree: deterministic per-node hashes, counted reads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.reads = 0

    def get_node(self, level: int, index: int) -> bytes:
        # Only complete subtrees inside the tree may be read.
        assert level >= 0 and index >= 0
        assert (index + 1) << level <= self.size, (level, index, self.size)
        self.reads += 1
        return hashlib.sha256(f"{level}:{index}".encode()).digest()


@pytest.mark.parametrize("size", [2**20, 2**20 - 1, 2**20 + 1, 1_000_003, 1_234_567])
def test_read_counts(size: int) -> None:
    rng = random.Random(size)
    bound = 2 * math.ceil(math.log2(size)) + 2
    store = CountingStore(size)

    store.reads = 0
    root_hash(size, store.get_node)
    assert store.reads == size.bit_count()

    for index in {0, 1, size // 2, size - 2, size - 1, *(rng.randrange(size) for _ in range(20))}:
        store.reads = 0
        proof = inclusion_proof(index, size, store.get_node)
        assert store.reads <= bound, (index, store.reads)
        assert len(proof) <= math.ceil(math.log2(size))

    firsts = {
        1,
        2,
        3,
        size // 2,
        size - 1,
        size,
        2**19 + 3,
        *(rng.randrange(1, size) for _ in range(20)),
    }
    for first in firsts:
        store.reads = 0
        consistency_proof(first, size, store.get_node)
        assert store.reads <= bound, (first, store.reads)

    for leaf_index in (size - 1, 2**20 - 1):
        store.size = leaf_index  # the nodes before this leaf
        store.reads = 0
        rows = nodes_after_append(leaf_index, b"\x00" * 32, store.get_node)
        assert store.reads == len(rows) - 1 <= math.log2(leaf_index + 1)


# ---------------------------------------------------------------------------
# Property tests


leaf_lists = st.lists(st.binary(max_size=8), min_size=1, max_size=200)


@settings(max_examples=60, deadline=None)
@given(leaves=leaf_lists, data=st.data())
def test_property_proofs_verify(leaves: list[bytes], data: st.DataObject) -> None:
    tree = MemoryTree(leaves)
    n = len(leaves)
    size = data.draw(st.integers(1, n), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    first = data.draw(st.integers(0, size), label="first")

    root = tree.root(size)
    assert root == root_from_leaf_hashes([leaf_hash(x) for x in leaves[:size]])
    proof = tree.inclusion_proof(index, size)
    assert verify_inclusion(leaf_hash(leaves[index]), index, size, proof, root)

    cproof = tree.consistency_proof(first, size)
    assert verify_consistency(first, size, tree.root(first), root, cproof)


@settings(max_examples=60, deadline=None)
@given(leaves=st.lists(st.binary(max_size=8), max_size=200))
def test_property_roots_of_all_prefixes(leaves: list[bytes]) -> None:
    tree = MemoryTree(leaves)
    hashes = [leaf_hash(x) for x in leaves]
    assert tree.leaf_hashes == hashes
    for size in range(len(leaves) + 1):
        assert root_hash(size, tree.get_node) == root_from_leaf_hashes(hashes[:size])


# ---------------------------------------------------------------------------
# canonical_json


def test_canonical_json_basic() -> None:
    obj = {"b": 1, "a": [1, 2, {"d": None, "c": True}], "e": False, "f": -7}
    assert canonical_json(obj) == b'{"a":[1,2,{"c":true,"d":null}],"b":1,"e":false,"f":-7}'
    assert canonical_json([]) == b"[]"
    assert canonical_json({}) == b"{}"
    assert canonical_json("x") == b'"x"'
    assert canonical_json(0) == b"0"


def test_canonical_json_unicode() -> None:
    out = canonical_json({"k": "é€😀"})
    assert out == '{"k":"é€😀"}'.encode()
    assert b"\\u" not in out
    # Control characters use JSON short escapes or lower-case \u00xx, as RFC 8785 requires.
    assert canonical_json('a\n\t"\\\x01\x7f') == b'"a\\n\\t\\"\\\\\\u0001\x7f"'


def test_canonical_json_sorts_by_utf16_code_units() -> None:
    # U+1F600 is D83D DE00 in UTF-16, which sorts before U+E000 (code-point order differs).
    out = canonical_json({"\ue000": 1, "\U0001f600": 2, "a": 3})
    assert out == '{"a":3,"\U0001f600":2,"\ue000":1}'.encode()


@pytest.mark.parametrize(
    "bad",
    [
        1.5,
        1.0,
        float("nan"),
        float("inf"),
        {"a": 0.5},
        [1, [2.0]],
        {1: "x"},
        {("t",): 1},
        (1, 2),
        b"bytes",
        {"x": {1, 2}},
        2**53,
        -(2**53),
        "\ud800",
    ],
)
def test_canonical_json_rejects(bad: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        canonical_json(bad)


def test_sizes_are_not_bound_by_proofs(big_tree: MemoryTree) -> None:
    """Documented RFC 9162 property: only a signed tree head binds (size, root)."""
    leaf, r3 = big_tree.leaf_hashes[0], big_tree.root(3)
    assert verify_inclusion(leaf, 0, 4, big_tree.inclusion_proof(0, 3), r3)
    r4, r8 = big_tree.root(4), big_tree.root(8)
    assert verify_consistency(4, 5, r4, r8, big_tree.consistency_proof(4, 8))


# ---------------------------------------------------------------------------
# transparency-dev/merkle verification probes (golden vectors)
#
# tests/data/transparency_dev_merkle_probes.json holds every probe of
# github.com/transparency-dev/merkle testdata/consistency and testdata/inclusion
# (98 + 98 files, Apache-2.0), copied verbatim with the commit they come from;
# its proof/verify_test.go runs them against VerifyConsistency / VerifyInclusion.
# "wantErr": true means the reference refuses the probe; here refusing is
# returning False or raising ProofError.

PROBES: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "transparency_dev_merkle_probes.json").read_text()
)

# Where trustseal is deliberately stricter than the reference: it accepts equal
# sizes with equal roots whatever their length; trustseal requires 32-byte roots.
STRICTER_THAN_REFERENCE = {
    "consistency/additional/sizes-are-equal-one-and-proof-is-empty.json",
}


def b64(value: str) -> bytes:
    """Decode a Go ``[]byte`` JSON field (standard base64)."""
    return base64.b64decode(value, validate=True)


def verdict(fn: Callable[..., bool], *args: Any) -> str:
    """``accept``, ``reject`` (returned False) or ``error`` (raised ProofError)."""
    try:
        return "accept" if fn(*args) else "reject"
    except ProofError:
        return "error"


def consistency_args(probe: dict[str, Any]) -> tuple[int, int, bytes, bytes, list[bytes]]:
    return (
        probe["size1"],
        probe["size2"],
        b64(probe["root1"]),
        b64(probe["root2"]),
        [b64(h) for h in probe["proof"] or []],
    )


def inclusion_args(probe: dict[str, Any]) -> tuple[bytes, int, int, list[bytes], bytes]:
    return (
        b64(probe["leafHash"]),
        probe["leafIdx"],
        probe["treeSize"],
        [b64(h) for h in probe["proof"] or []],
        b64(probe["root"]),
    )


def test_probes_source() -> None:
    source = PROBES["source"]
    assert source["repository"] == "https://github.com/transparency-dev/merkle"
    assert len(source["commit"]) == 40
    assert len(PROBES["consistency"]) == 98
    assert len(PROBES["inclusion"]) == 98
    files = {p["file"] for p in PROBES["consistency"]} | {p["file"] for p in PROBES["inclusion"]}
    assert len(files) == 196 and files >= STRICTER_THAN_REFERENCE


@pytest.mark.parametrize("probe", PROBES["consistency"], ids=lambda p: p["file"])
def test_transparency_dev_consistency_probe(probe: dict[str, Any]) -> None:
    args = consistency_args(probe)
    got = verdict(verify_consistency, *args)
    if probe["file"] in STRICTER_THAN_REFERENCE:
        assert not probe["wantErr"] and got == "error"
        with pytest.raises(ProofError, match="root"):
            verify_consistency(*args)
        # The probe's point (equal sizes, empty proof, equal roots) still holds.
        root = hashlib.sha256(args[2]).digest()
        assert verify_consistency(args[0], args[1], root, root, args[4])
        return
    expected = "reject" if probe["wantErr"] else "accept"
    assert got == expected or (expected == "reject" and got == "error"), (probe["desc"], got)


@pytest.mark.parametrize("probe", PROBES["inclusion"], ids=lambda p: p["file"])
def test_transparency_dev_inclusion_probe(probe: dict[str, Any]) -> None:
    got = verdict(verify_inclusion, *inclusion_args(probe))
    assert (got == "accept") is not probe["wantErr"], (probe["desc"], got)


def test_probes_that_needed_the_size_zero_fixes() -> None:
    """The two probes an earlier version accepted: 0 -> 1 with a junk second root,
    and 0 -> 0 with two equal roots that are not the empty-tree hash."""
    by_file = {p["file"]: p for p in PROBES["consistency"]}
    junk_second = consistency_args(
        by_file["consistency/additional/size1-is-zero-and-size2-is-not-zero.json"]
    )
    with pytest.raises(ProofError, match="second_root"):
        verify_consistency(*junk_second)
    zero_zero = consistency_args(
        by_file["consistency/additional/sizes-are-equal-zero-and-proof-is-empty.json"]
    )
    assert verdict(verify_consistency, *zero_zero) == "error"  # 12-byte placeholder roots
    padded = hashlib.sha256(zero_zero[2]).digest()
    assert not verify_consistency(0, 0, padded, padded, [])  # well formed, but not empty


# ---------------------------------------------------------------------------
# Attacks on the edges: size 0, equal sizes, hash lengths

MALFORMED_HASHES = [
    b"",
    b"\x00" * (HASH_SIZE - 1),
    b"\x00" * (HASH_SIZE + 1),
    b"don't care 2",
    EMPTY_ROOT.hex().encode(),  # hex text instead of bytes
]


def test_consistency_from_empty_tree_refuses_junk(big_tree: MemoryTree) -> None:
    r5 = big_tree.root(5)
    # The honest case: every tree extends the empty tree, with an empty proof.
    assert verify_consistency(0, 5, EMPTY_ROOT, r5, [])
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    # A proof from size 0 must be empty, whatever it holds.
    for junk in ([r5], [EMPTY_ROOT], [b"junk"], [r5, r5], [b""]):
        with pytest.raises(ProofError):
            verify_consistency(0, 5, EMPTY_ROOT, r5, junk)
        with pytest.raises(ProofError):
            verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, junk)
    # The second root is checked too, although nothing is recomputed from it.
    for bad in MALFORMED_HASHES:
        with pytest.raises(ProofError, match="second_root"):
            verify_consistency(0, 5, EMPTY_ROOT, bad, [])
        with pytest.raises(ProofError, match="first_root"):
            verify_consistency(0, 5, bad, r5, [])
        with pytest.raises(ProofError):
            verify_consistency(0, 0, bad, bad, [])
    with pytest.raises(ProofError):
        verify_consistency(0, 5, EMPTY_ROOT, r5.hex(), [])  # type: ignore[arg-type]
    # The first root of the empty tree is the empty-tree hash, for both sizes 0.
    assert not verify_consistency(0, 5, r5, r5, [])
    assert not verify_consistency(0, 0, r5, r5, [])
    assert not verify_consistency(0, 0, EMPTY_ROOT, r5, [])
    assert not verify_consistency(0, 0, r5, EMPTY_ROOT, [])


def test_consistency_refuses_wrong_length_hashes(big_tree: MemoryTree) -> None:
    for first, second in [(1, 1), (5, 5), (1, 2), (3, 5), (4, 8), (6, 8), (7, 64)]:
        r1, r2 = big_tree.root(first), big_tree.root(second)
        proof = big_tree.consistency_proof(first, second)
        assert verify_consistency(first, second, r1, r2, proof)
        for bad in MALFORMED_HASHES:
            with pytest.raises(ProofError, match="first_root"):
                verify_consistency(first, second, bad, r2, proof)
            with pytest.raises(ProofError, match="second_root"):
                verify_consistency(first, second, r1, bad, proof)
            if first == second:
                with pytest.raises(ProofError):
                    verify_consistency(first, second, bad, bad, proof)
            for position in range(len(proof)):
                tampered = [*proof[:position], bad, *proof[position + 1 :]]
                with pytest.raises(ProofError, match=rf"path\[{position}\]"):
                    verify_consistency(first, second, r1, r2, tampered)


def test_consistency_sizes_in_order_and_equal_sizes(big_tree: MemoryTree) -> None:
    r4, r5 = big_tree.root(4), big_tree.root(5)
    with pytest.raises(ProofError, match="must be <="):
        verify_consistency(5, 4, r5, r4, big_tree.consistency_proof(4, 5))
    with pytest.raises(ProofError, match="must be <="):
        verify_consistency(1, 0, big_tree.root(1), EMPTY_ROOT, [])
    with pytest.raises(ProofError):
        verify_consistency(True, 5, r4, r5, [])  # type: ignore[arg-type]
    # Equal sizes: an empty proof and equal roots, nothing else.
    assert verify_consistency(5, 5, r5, r5, [])
    assert not verify_consistency(5, 5, r5, flip(r5), [])
    with pytest.raises(ProofError, match="must be empty"):
        verify_consistency(5, 5, r5, r5, [r5])
    with pytest.raises(ProofError):
        verify_consistency(5, 5, r5, r5, [b"junk"])


def test_inclusion_refuses_wrong_lengths_and_sizes(big_tree: MemoryTree) -> None:
    for index, size in [(0, 1), (0, 2), (5, 8), (6, 7), (63, 64)]:
        leaf, root = big_tree.leaf_hashes[index], big_tree.root(size)
        proof = big_tree.inclusion_proof(index, size)
        assert verify_inclusion(leaf, index, size, proof, root)
        for bad in MALFORMED_HASHES:
            with pytest.raises(ProofError, match="root"):
                verify_inclusion(leaf, index, size, proof, bad)
            with pytest.raises(ProofError, match="leaf_hash"):
                verify_inclusion(bad, index, size, proof, root)
            for position in range(len(proof)):
                tampered = [*proof[:position], bad, *proof[position + 1 :]]
                with pytest.raises(ProofError, match=rf"path\[{position}\]"):
                    verify_inclusion(leaf, index, size, tampered, root)
        # Index beyond the tree, and the empty tree that holds no leaf at all.
        with pytest.raises(ProofError, match="must be <"):
            verify_inclusion(leaf, size, size, proof, root)
    with pytest.raises(ProofError):
        verify_inclusion(EMPTY_ROOT, 0, 0, [], EMPTY_ROOT)
    with pytest.raises(ProofError):
        root_from_inclusion_proof(EMPTY_ROOT, 0, 0, [])
