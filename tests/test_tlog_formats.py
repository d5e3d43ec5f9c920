"""The log's C2SP formats against independent implementations' vectors (tests/vectors,
sources in its README): golang.org/x/mod/sumdb/note and sumdb/tlog, transparency-dev's
serverless-log test log and transparency-dev/formats' cosignature/v1 signer."""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from trustseal.transparency import checkpoint, merkle, note, tiles

VECTORS = Path(__file__).parent / "vectors"


@cache
def vectors(name: str) -> Any:
    return json.loads((VECTORS / name).read_text())


def b64(text: str) -> bytes:
    return base64.b64decode(text)


# ---------------------------------------------------------------------------
# signed notes: golang.org/x/mod/sumdb/note (note_test.go) and the C2SP example


def sumdb_verifier(name: str) -> note.Verifier:
    return note.Verifier.from_vkey(vectors("sumdb_note.json")["keys"][name]["vkey"])


def test_signing_a_note_gives_go_s_exact_bytes():
    data = vectors("sumdb_note.json")
    signer = note.Signer.from_skey(data["keys"]["PeterNeumann"]["skey"])
    assert signer.verifier.vkey == data["keys"]["PeterNeumann"]["vkey"]
    assert signer.skey == data["keys"]["PeterNeumann"]["skey"]
    assert note.sign(data["note_text"]["text"], [signer]) == data["signed_note"]["text"]


@pytest.mark.parametrize("case", range(6))
def test_opening_notes_as_go_does(case):
    item = vectors("sumdb_note.json")["open_cases"][case]
    verifiers = [sumdb_verifier(name) for name in item["verifiers"]]
    if not item["ok"]:
        with pytest.raises(note.NoteError) as raised:
            note.open_note(item["note"], verifiers)
        assert str(raised.value) == item["go_error"]
        if "unverified" in item:
            assert isinstance(raised.value, note.UnverifiedNoteError)
            found = raised.value.note.unverified
            assert [s.name for s in found] == [s["name"] for s in item["unverified"]]
        return
    opened = note.open_note(item["note"], verifiers)

    def shown(signatures: list[note.Signature]) -> list[dict[str, str]]:
        return [
            {"name": s.name, "key_hash": f"{s.key_id:08x}", "base64": s.line().split()[-1]}
            for s in signatures
        ]

    assert shown(opened.signatures) == item["verified"]
    assert shown(opened.unverified) == item["unverified"]
    assert opened.text == vectors("sumdb_note.json")["note_text"]["text"]


def test_go_s_malformed_notes_are_malformed():
    items = vectors("sumdb_note.json")["bad_messages"]["items"]
    assert len(items) == 7
    for item in items:
        raw = b64(item["base64"])
        with pytest.raises(note.NoteError) as raised:
            note.open_note(raw, [sumdb_verifier("PeterNeumann")])
        assert str(raised.value) == "malformed note", item["go_expr"]


def test_go_s_bad_verifier_keys_are_refused():
    data = vectors("sumdb_note.json")
    bad = [item["vkey"] for item in data["bad_vkeys"]["items"]]
    bad += list(data["bad_vkeys_mangled"]["items"])
    vkey = data["keys"]["PeterNeumann"]["vkey"]
    bad += [vkey[i:j] for i in range(len(vkey)) for j in range(i + 1, len(vkey) + 1)]
    for text in bad:
        if text == vkey:
            continue
        with pytest.raises(note.NoteError):
            note.Verifier.from_vkey(text)


def test_the_signed_note_specification_example_verifies():
    example = vectors("sumdb_note.json")["c2sp_example"]
    verifier = note.Verifier.from_vkey(example["vkey"])
    opened = note.open_note(example["signed_note"], [verifier])
    assert opened.text == example["note_text"] and len(opened.signatures) == 1


def test_signature_lines_of_unknown_keys_are_ignored_not_trusted():
    data = vectors("sumdb_note.json")
    signed = data["signed_note"]["text"]
    impostor = note.Signer.generate("PeterNeumann")  # same name, another key and ID
    forged = note.sign(data["note_text"]["text"], [impostor])
    with pytest.raises(note.UnverifiedNoteError):
        note.open_note(forged, [sumdb_verifier("PeterNeumann")])
    assert note.open_note(signed, [sumdb_verifier("PeterNeumann")]).signatures


# ---------------------------------------------------------------------------
# checkpoints: transparency-dev/serverless-log's test log


def serverless_checkpoint(size: int) -> str:
    return (VECTORS / "serverless_log" / f"checkpoint.{size}").read_text()


@pytest.mark.parametrize("size", range(16))
def test_serverless_log_checkpoints_verify_and_match_their_leaves(size):
    log = vectors("serverless_log/log.json")
    signed = serverless_checkpoint(size)
    opened = note.open_note(signed, [note.Verifier.from_vkey(log["vkey"])])
    parsed = checkpoint.Checkpoint.parse(opened.text)
    assert parsed.origin == log["origin"] and parsed.size == size and parsed.possible
    leaves = [merkle.leaf_hash(leaf.encode()) for leaf in log["leaves"][:size]]
    assert parsed.root_hash == merkle.root_from_leaf_hashes(leaves)
    assert parsed.body() == opened.text
    # Ed25519 is deterministic: the same key signs the same body to the same bytes.
    signer = note.Signer.from_skey(log["skey"])
    assert note.sign(parsed.body(), [signer]) == signed


def test_serverless_log_tiles_hash_to_each_checkpoint():
    log = vectors("serverless_log/log.json")
    tree = merkle.MemoryTree(leaf.encode() for leaf in log["leaves"])
    for size in range(1, 16):
        parsed = checkpoint.Checkpoint.parse(note.split(serverless_checkpoint(size))[0])
        reader = tiles.TileReader(tile_server(tree, size), size)
        assert merkle.root_hash(size, reader.get_node) == parsed.root_hash


@pytest.mark.parametrize(
    "text",
    [
        "origin\n1\n",  # two lines
        "origin\n01\n" + base64.b64encode(bytes(32)).decode() + "\n",  # leading zero
        "origin\n-1\n" + base64.b64encode(bytes(32)).decode() + "\n",
        "origin\n1\n" + base64.b64encode(bytes(31)).decode() + "\n",  # short hash
        "origin\n1\nnot base64!\n",
        "origin\n1\n" + base64.b64encode(bytes(32)).decode(),  # no final newline
        "origin\n1\n" + base64.b64encode(bytes(32)).decode() + "\n\nextension\n",  # empty line
        "\n1\n" + base64.b64encode(bytes(32)).decode() + "\n",  # empty origin
    ],
)
def test_malformed_checkpoints_are_refused(text):
    with pytest.raises(checkpoint.CheckpointError):
        checkpoint.Checkpoint.parse(text)


def test_checkpoint_extensions_and_the_empty_tree():
    root = base64.b64encode(bytes(32)).decode()
    parsed = checkpoint.Checkpoint.parse(f"example.com/log\n0\n{root}\next one\n")
    assert parsed.extensions == ("ext one",) and not parsed.possible
    assert parsed.body() == f"example.com/log\n0\n{root}\next one\n"
    empty = checkpoint.Checkpoint("o", 0, merkle.EMPTY_ROOT)
    assert checkpoint.Checkpoint.parse(empty.body()).possible


def test_origin_of_an_issuer():
    assert checkpoint.origin_of("https://trustseal.pe/") == "trustseal.pe/log"
    assert checkpoint.origin_of("http://127.0.0.1:5000") == "127.0.0.1:5000/log"
    assert checkpoint.origin_of("https://certifier.example/sello") == "certifier.example/sello/log"


def test_add_checkpoint_bodies_round_trip_and_refuse_nonsense():
    proof = (bytes(range(32)), bytes(32))
    request = checkpoint.AddCheckpoint(20852014, proof, "example.com/log\n5\nAAAA\n\n— x y\n")
    assert checkpoint.AddCheckpoint.parse(request.encode()) == request
    assert request.encode().startswith(b"old 20852014\nAAECAwQF")
    for body in [
        b"old 01\n\nx",
        b"new 1\n\nx",
        b"old 1\nnot-base64\n\nx",
        b"old 1\n" + b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n" * 64 + b"\nx",
        b"old 1\nx",
        b"\xff\xfe",
    ]:
        with pytest.raises(checkpoint.CheckpointError):
            checkpoint.AddCheckpoint.parse(body)


# ---------------------------------------------------------------------------
# cosignature/v1: transparency-dev/formats' signer and verifier


def cosigning_keys() -> dict[str, dict[str, str]]:
    return {key["name"]: key for key in vectors("cosignature_v1.json")["keys"]}


def cosignature_verifiers() -> list[note.Verifier]:
    keys = cosigning_keys()
    return [
        note.Verifier.from_vkey(keys[name]["cosignature_vkey"])
        for name in ("witness.example/w1", "witness.example/w2")
    ]


@pytest.mark.parametrize("item", range(6))
def test_formats_cosignatures_verify(item):
    entry = vectors("cosignature_v1.json")["checkpoints"][item]
    keys = cosigning_keys()
    log = note.Verifier.from_vkey(keys["example.com/log"]["vkey"])
    opened = note.open_note(entry["cosigned_note"], [log, *cosignature_verifiers()])
    assert [s.name for s in opened.signatures] == [
        "example.com/log",
        "witness.example/w1",
        "witness.example/w2",
    ]
    lines = entry["signature_lines"]
    assert [s.timestamp for s in opened.signatures[1:]] == [line["timestamp"] for line in lines[1:]]
    assert checkpoint.Checkpoint.parse(opened.text).body() == entry["body"]
    # The key IDs are those of the cosignature type (0x04), not of the plain key (0x01).
    for verifier in cosignature_verifiers():
        assert verifier.sig_type == note.COSIGNATURE_V1
        assert f"{verifier.key_id:08x}" == keys[verifier.name]["cosignature_key_hash"]


def test_our_cosigner_reproduces_the_fixed_timestamp_vectors_byte_for_byte():
    data = vectors("cosignature_v1.json")
    keys = cosigning_keys()
    log_signer = note.Signer.from_skey(keys["example.com/log"]["skey"])
    witnesses = [
        note.Signer.from_skey(keys[name]["skey"], note.COSIGNATURE_V1)
        for name in ("witness.example/w1", "witness.example/w2")
    ]
    fixed = [entry for entry in data["checkpoints"] if entry["fixed_timestamp"]]
    assert len(fixed) == 3
    for entry in fixed:
        body = entry["body"]
        log_line = log_signer.sign(body).line()
        cosignatures = [w.sign(body, data["fixed_timestamp"]).line() for w in witnesses]
        assert body + "\n" + log_line + "".join(cosignatures) == entry["cosigned_note"]


def test_formats_negative_vectors_fail_as_in_go():
    keys = cosigning_keys()
    named = {
        "log": note.Verifier.from_vkey(keys["example.com/log"]["vkey"]),
        "w1": cosignature_verifiers()[0],
        "w2": cosignature_verifiers()[1],
    }
    for negative in vectors("cosignature_v1.json")["negative"]:
        for combination, error in negative["expect"].items():
            verifiers = [named[name] for name in combination.split("+")]
            if error == "ok":
                assert note.open_note(negative["note"], verifiers).signatures
                continue
            with pytest.raises(note.NoteError) as raised:
                note.open_note(negative["note"], verifiers)
            assert str(raised.value) == error, combination


def test_a_cosignature_needs_a_timestamp_and_commits_to_it():
    signer = note.Signer.generate("witness.example/t", note.COSIGNATURE_V1)
    text = "example.com/log\n1\n" + base64.b64encode(bytes(32)).decode() + "\n"
    with pytest.raises(note.NoteError):
        signer.sign(text)
    signature = signer.sign(text, 1_700_000_000)
    assert signature.timestamp == 1_700_000_000
    shifted = note.Signature(
        signature.name,
        signature.key_id,
        (1_700_000_001).to_bytes(8, "big") + signature.data[8:],
    )
    assert not signer.verifier.verify(text, shifted.data)
    assert signer.verifier.verify(text, signature.data)


# ---------------------------------------------------------------------------
# tiles: golang.org/x/mod/sumdb/tlog with tile height 8


@cache
def go_tree() -> merkle.MemoryTree:
    return merkle.MemoryTree(f"leaf-{i}".encode() for i in range(70000))


def tile_server(tree: merkle.MemoryTree, size: int) -> tiles.Fetch:
    """Tiles of the first ``size`` leaves of ``tree`` as this log serves them: stored
    node rows of one level (the server reads the same rows from the database)."""

    def fetch(path: str) -> bytes:
        tile = tiles.parse_tile_path(path.removeprefix("tile/"))
        assert tile.level is not None
        assert tiles.tile_width(tile.level, tile.index, size) >= tile.width, path
        first = tile.index * tiles.TILE_WIDTH
        level = tiles.TILE_HEIGHT * tile.level
        return b"".join(tree.nodes[(level, first + i)] for i in range(tile.width))

    return fetch


def test_tiles_match_go_s_for_every_size_up_to_600_and_past_a_full_level_1_tile():
    tree = go_tree()
    sizes = vectors("go_tlog_tiles.json")["sizes"]
    assert [s["size"] for s in sizes] == [*range(1, 601), 65535, 65536, 65537, 70000]
    for expected in sizes:
        size = expected["size"]
        fetch = tile_server(tree, size)
        for tile in expected["tiles"]:
            ours = tiles.Tile(tile["level"], tile["n"], tile["width"])
            assert ours.path == tile["path"]
            assert tiles.parse_tile_path(tile["path"].removeprefix("tile/")) == ours
            assert hashlib.sha256(fetch(ours.path)).hexdigest() == tile["sha256"], tile["path"]
        reader = tiles.TileReader(fetch, size)
        assert merkle.root_hash(size, reader.get_node) == b64(expected["root"])


def test_proofs_from_tiles_equal_go_s():
    data = vectors("go_tlog_tiles.json")
    tree = go_tree()
    for item in data["inclusion"]:
        reader = tiles.TileReader(tile_server(tree, item["size"]), item["size"])
        proof = merkle.inclusion_proof(item["index"], item["size"], reader.get_node)
        assert proof == [b64(h) for h in item["proof"]]
        assert merkle.leaf_hash(item["leaf"].encode()) == b64(item["leaf_hash"])
    for item in data["consistency"]:
        reader = tiles.TileReader(tile_server(tree, item["new"]), item["new"])
        proof = merkle.consistency_proof(item["old"], item["new"], reader.get_node)
        assert proof == [b64(h) for h in item["proof"]]
        assert merkle.verify_consistency(
            item["old"], item["new"], b64(item["old_root"]), b64(item["new_root"]), proof
        )


@pytest.mark.parametrize(
    ("path", "tile"),
    [
        ("0/000", tiles.Tile(0, 0)),
        ("0/x001/x234/067", tiles.Tile(0, 1234067)),
        ("0/x001/x234/067.p/8", tiles.Tile(0, 1234067, 8)),
        ("entries/x001/234.p/255", tiles.Tile(None, 1234, 255)),
        ("63/001", tiles.Tile(63, 1)),
    ],
)
def test_tile_paths(path, tile):
    assert tiles.parse_tile_path(path) == tile
    assert tile.path == f"tile/{path}"


@pytest.mark.parametrize(
    "path",
    [
        "00/000",  # leading zero in the level
        "64/000",
        "-1/000",
        "0/1",  # not three digits
        "0/x000/001",  # a leading zero group
        "0/001/002",  # missing x
        "0/x001",  # the last group has no x
        "0/000.p/0",
        "0/000.p/256",
        "0/000.p/08",
        "data/000",
        "0/000/",
        "",
    ],
)
def test_non_canonical_tile_paths_are_refused(path):
    with pytest.raises(tiles.TileError):
        tiles.parse_tile_path(path)


def test_tile_widths_as_the_specification_counts_them():
    # tlog-tiles: a tree of 70,000 leaves has 273 full level-0 tiles, a partial one of
    # width 112, one full level-1 tile, a partial one of width 17, and one of width 1.
    assert [tiles.tile_width(0, n, 70000) for n in (272, 273, 274)] == [256, 112, 0]
    assert [tiles.tile_width(1, n, 70000) for n in (0, 1, 2)] == [256, 17, 0]
    assert [tiles.tile_width(2, n, 70000) for n in (0, 1)] == [1, 0]
    assert [tiles.tile_width(0, 0, 256), tiles.tile_width(1, 0, 256)] == [256, 1]


def test_entry_bundles_round_trip_and_refuse_cut_data():
    entries = [b"", b"one", bytes(300), "ñandú".encode()]
    bundle = tiles.encode_bundle(entries)
    assert bundle.startswith(b"\x00\x00\x00\x03one")
    assert tiles.decode_bundle(bundle) == entries
    for cut in (bundle[:1], bundle[:-1]):
        with pytest.raises(tiles.TileError):
            tiles.decode_bundle(cut)
    with pytest.raises(tiles.TileError):
        tiles.encode_bundle([bytes(tiles.MAX_ENTRY_SIZE + 1)])


def test_a_tile_of_the_wrong_size_is_refused():
    reader = tiles.TileReader(lambda path: bytes(31), 1)
    with pytest.raises(tiles.TileError):
        reader.get_node(0, 0)
