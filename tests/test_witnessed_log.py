"""The log served as C2SP checkpoints and tiles, cosigned by independent witnesses, and the
clients that use them (API.md "Witnessed log, served as tiles")."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, update
from werkzeug.serving import make_server
from werkzeug.test import Client

from tests.helpers import approve_seal, make_merchant, serve_in_background
from tests.reviewing import publish_review
from tests.test_transparency import fill
from trustseal import create_app
from trustseal.clock import utcnow
from trustseal.config import ConfigError
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.jobs.models import Job
from trustseal.transparency import checkpoint, merkle, note, tiles, witnessing
from trustseal.transparency import service as log
from trustseal.transparency.models import Cosignature, LogEntry, LogNode, TreeHead
from trustseal.witness.server import Witness, WitnessApp, origin_hash
from trustseal.witness.state import WitnessState

ORIGIN = "trustseal.test/log"  # tests/conftest.py: BASE_URL http://trustseal.test


def log_vkey(app: Flask) -> str:
    with app.app_context():
        vkey = witnessing.log_verifiers()[0].vkey
        db.session.commit()
    return vkey


@dataclass
class RunningWitness:
    url: str
    signer: note.Signer
    witness: Witness

    @property
    def vkey(self) -> str:
        return self.signer.verifier.vkey


@pytest.fixture
def witnesses(app: Flask, tmp_path: Path) -> Iterator[list[RunningWitness]]:
    """Two witnesses of the app's log on loopback, each with its own key and SQLite file;
    the log submits to both (a quorum of 1 unless a test sets more)."""
    vkey = log_vkey(app)
    running, servers = [], []
    for n in (1, 2):
        signer = note.Signer.generate(f"witness.test/w{n}", note.COSIGNATURE_V1)
        state = WitnessState(tmp_path / f"w{n}.sqlite3")
        witness = Witness.configure(signer, [f"{ORIGIN}={vkey}"], state)
        server = make_server("127.0.0.1", 0, WitnessApp(witness), threaded=True)
        serve_in_background(server)
        servers.append((server, state))
        running.append(RunningWitness(f"http://127.0.0.1:{server.server_port}", signer, witness))
    app.config["TRUSTSEAL_WITNESSES"] = ",".join(f"{w.url}={w.vkey}" for w in running)
    app.config["TRUSTSEAL_LOG_HEAD_INTERVAL_SECONDS"] = 0
    yield running
    for server, state in servers:
        server.shutdown()
        state.close()


def witness_now(app: Flask) -> None:
    """Sign a head of the current size and run the submission jobs it queued."""
    with app.app_context():
        log.publish_head(force=True)
        db.session.commit()
        jobs.run_due_jobs()
        db.session.remove()


def served_checkpoint(client) -> tuple[str, checkpoint.Checkpoint]:
    response = client.get("/log/checkpoint")
    assert response.status_code == 200
    assert response.content_type == "text/plain; charset=utf-8"
    signed = response.get_data(as_text=True)
    return signed, checkpoint.Checkpoint.parse(note.split(signed)[0])


def log_verifiers(client) -> list[note.Verifier]:
    lines = client.get("/log/vkey").get_data(as_text=True).split()
    return [note.Verifier.from_vkey(line) for line in lines]


def client_fetch(client, seen: list[str] | None = None) -> tiles.Fetch:
    def fetch(path: str) -> bytes:
        response = client.get(f"/log/{path}")
        assert response.status_code == 200, (path, response.get_json())
        if seen is not None:
            seen.append(path)
        return response.data

    return fetch


# ---------------------------------------------------------------------------
# checkpoints and tiles


def test_tiles_hash_up_to_the_checkpoint_root_for_every_size_from_1_to_600(app, client):
    fill(app, 600)
    verifiers = log_verifiers(client)
    assert [v.name for v in verifiers] == [ORIGIN]
    for size in range(1, 601):
        with app.app_context():
            signed = witnessing.signed_checkpoint(size)
        opened = note.open_note(signed, verifiers)
        expected = checkpoint.Checkpoint.parse(opened.text)
        assert (expected.origin, expected.size) == (ORIGIN, size)
        reader = tiles.TileReader(client_fetch(client), size)
        assert merkle.root_hash(size, reader.get_node) == expected.root_hash, size
    # the served checkpoint is the newest head's, signed by the key the JWKS publishes
    signed, served = served_checkpoint(client)
    assert served.size == 600 and note.open_note(signed, verifiers).signatures


def test_entry_bundles_hold_the_leaves_that_hash_to_level_0(app, client):
    fill(app, 300)
    leaves = [e["leaf"] for e in client.get("/api/v1/log/entries?start=0&end=299").get_json()]
    bundles = [("entries/000", 256), ("entries/001.p/44", 44)]
    found = []
    for path, width in bundles:
        entries = tiles.decode_bundle(client.get(f"/log/tile/{path}").data)
        hashes = tiles.split_hashes(
            client.get(f"/log/tile/{path.replace('entries', '0')}").data, width
        )
        assert [merkle.leaf_hash(e) for e in entries] == hashes
        found += [e.decode() for e in entries]
    assert found == leaves


def test_tiles_are_immutable_and_a_cache_never_needs_to_forget_one(app, client):
    cache: dict[str, bytes] = {}
    requests: list[str] = []
    fetch = client_fetch(client, requests)

    def cached(path: str) -> bytes:
        if path not in cache:
            cache[path] = fetch(path)
        return cache[path]

    current = 0
    for size in (1, 100, 256, 300, 600, 1000):
        fill(app, size - current)
        current = size
        with app.app_context():
            log.publish_head(force=True)
            db.session.commit()
        _, served = served_checkpoint(client)
        assert served.size == size
        reader = tiles.TileReader(cached, size)
        assert merkle.root_hash(size, reader.get_node) == served.root_hash
        proof = merkle.inclusion_proof(size - 1, size, reader.get_node)
        with app.app_context():
            leaf_hash = log.entries(size - 1, size - 1)[0].leaf_hash
        assert merkle.verify_inclusion(bytes(leaf_hash), size - 1, size, proof, served.root_hash)
    assert len(requests) == len(set(requests)), "a cached tile was fetched again"

    full = client.get("/log/tile/0/000")
    assert full.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert full.content_type == "application/octet-stream" and len(full.data) == 8192
    again = client.get("/log/tile/0/000", headers={"If-None-Match": full.headers["ETag"]})
    assert again.status_code == 304
    partial = client.get("/log/tile/0/003.p/232")
    assert partial.headers["Cache-Control"] == full.headers["Cache-Control"]
    assert len(partial.data) == 232 * 32
    assert client.get("/log/checkpoint").headers["Cache-Control"] == "public, max-age=5"


@pytest.mark.parametrize(
    "path",
    [
        "/log/tile/0/004",  # not full yet (1000 leaves: tile 3 holds 232)
        "/log/tile/0/003.p/233",
        "/log/tile/1/000",
        "/log/tile/entries/004",
        "/log/tile/0/x000/003",  # not canonical
        "/log/tile/0/3",
        "/log/tile/64/000",
        "/log/tile/data/000",
    ],
)
def test_tiles_the_log_does_not_hold_are_404(app, client, path):
    fill(app, 1000)
    response = client.get(path)
    assert response.status_code == 404
    assert response.get_json()["code"] == 404


def test_an_empty_log_has_a_checkpoint_of_the_empty_tree(client):
    signed, served = served_checkpoint(client)
    assert served.size == 0 and served.root_hash == merkle.EMPTY_ROOT
    assert note.open_note(signed, log_verifiers(client)).signatures


# ---------------------------------------------------------------------------
# the witness, on its own


class FakeLog:
    """A log outside the service: a key, a tree, checkpoints and proofs."""

    def __init__(self, origin: str = "example.com/log") -> None:
        self.origin = origin
        self.signer = note.Signer.generate(origin)
        self.tree = merkle.MemoryTree()

    def grow(self, count: int, tag: str = "") -> None:
        for _ in range(count):
            self.tree.append(f"{tag}leaf {self.tree.size}".encode())

    def note(self, size: int | None = None, root: bytes | None = None) -> str:
        size = self.tree.size if size is None else size
        text = checkpoint.Checkpoint(self.origin, size, root or self.tree.root(size)).body()
        return note.sign(text, [self.signer])

    def request(self, old: int, size: int | None = None, root: bytes | None = None) -> bytes:
        size = self.tree.size if size is None else size
        proof = self.tree.consistency_proof(old, size) if 0 < old < size else []
        return checkpoint.AddCheckpoint(old, tuple(proof), self.note(size, root)).encode()


@pytest.fixture
def lone_witness(tmp_path) -> Iterator[tuple[FakeLog, Witness, object]]:
    fake = FakeLog()
    signer = note.Signer.generate("witness.example/w", note.COSIGNATURE_V1)
    state = WitnessState(tmp_path / "witness.sqlite3")
    witness = Witness.configure(signer, [f"{fake.origin}={fake.signer.verifier.vkey}"], state)
    yield fake, witness, Client(WitnessApp(witness))
    state.close()


def post(http, body: bytes):
    return http.post("/add-checkpoint", data=body)


def test_the_witness_cosigns_a_log_that_grows_and_says_where_it_is(lone_witness):
    fake, witness, http = lone_witness
    fake.grow(5)
    first = post(http, fake.request(0))
    assert first.status_code == 200, first.data
    lines = first.get_data(as_text=True)
    opened = note.open_note(fake.note() + lines, [witness.signer.verifier])
    assert opened.signatures[0].timestamp > 1_700_000_000
    fake.grow(300)
    assert post(http, fake.request(5)).status_code == 200
    # A log that lost track of the witness's size learns it from the 409.
    stale = post(http, fake.request(5))
    assert stale.status_code == 409
    assert stale.content_type == "text/x.tlog.size" and stale.get_data(as_text=True) == "305\n"
    assert post(http, fake.request(305)).status_code == 200  # the same size again: fine
    served = http.get(f"/{origin_hash(fake.origin)}/checkpoint").get_data(as_text=True)
    both = note.open_note(served, [fake.signer.verifier, witness.signer.verifier])
    assert len(both.signatures) == 2 and checkpoint.Checkpoint.parse(both.text).size == 305
    assert http.get(f"/{'0' * 64}/checkpoint").status_code == 404


def test_the_witness_refuses_a_fork_and_a_rollback_and_keeps_the_evidence(lone_witness):
    fake, witness, http = lone_witness
    fake.grow(10)
    assert post(http, fake.request(0)).status_code == 200
    # A fork: the same size with another root, signed by the log.
    forked = FakeLog()
    forked.signer = fake.signer
    forked.grow(10, tag="other ")
    fork = post(http, forked.request(10))
    assert fork.status_code == 422 and b"fork" in fork.data
    # A rewritten history that claims to extend the witnessed one.
    forked.grow(5, tag="other ")
    rewrite = forked.request(10)
    assert post(http, rewrite).status_code == 422
    # A rollback: a smaller tree than the one cosigned.
    rollback = checkpoint.AddCheckpoint(10, (), fake.note(7)).encode()
    assert post(http, rollback).status_code == 400
    assert post(http, fake.request(0, 7)).status_code == 409
    kept = witness.state.evidence(fake.origin)
    assert [reason.split(":")[0] for reason, _ in kept][:2] == [
        "another root for size 10",
        "size 15 is not consistent with size 10",
    ]
    assert kept[1][1] == rewrite and len(kept) == 3
    latest = witness.state.latest(fake.origin)
    assert latest is not None and (latest.size, latest.root) == (10, fake.tree.root(10))


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (lambda f: b"not a request", 400),
        (lambda f: b"old 0\n\nexample.com/log\nten\nAAAA\n\n\xe2\x80\x94 x AAAAAAA=\n", 400),
        (lambda f: FakeLog("unknown.example/log").request(0), 404),
        (lambda f: FakeLog().request(0), 403),  # same origin, another key
        (
            lambda f: f.request(0).replace(f.note().split()[-1].encode(), b"A" * 88),
            403,
        ),  # the log's key, a bad signature
        (lambda f: f.request(3), 400),  # old size larger than the checkpoint's
        (lambda f: checkpoint.AddCheckpoint(0, (bytes(32),), f.note()).encode(), 422),
        (lambda f: checkpoint.AddCheckpoint(0, (), f.note(0, bytes(32))).encode(), 422),
    ],
)
def test_the_witness_answers_bad_requests_with_the_specified_codes(lone_witness, body, status):
    fake, witness, http = lone_witness
    fake.grow(2)
    response = post(http, body(fake))
    assert response.status_code == status, response.data
    assert witness.state.latest(fake.origin) is None


def test_the_witness_checks_proofs_and_sizes_limits(lone_witness):
    fake, _, http = lone_witness
    fake.grow(4)
    assert post(http, fake.request(0, 4)).status_code == 200
    fake.grow(4)
    bad = checkpoint.AddCheckpoint(4, (bytes(32),), fake.note()).encode()
    assert post(http, bad).status_code == 422
    assert http.get("/add-checkpoint").status_code == 405
    assert post(http, b"old 0\n" + b"A" * 70_000).status_code == 413
    assert http.get("/nowhere").status_code == 404


def test_two_submissions_from_the_same_size_cannot_roll_the_witness_back(lone_witness):
    import threading

    fake, witness, _ = lone_witness
    fake.grow(100)
    witness.add_checkpoint(fake.request(0, 10))
    results: list[str] = []

    def submit(size: int) -> None:
        try:
            witness.add_checkpoint(fake.request(10, size))
            results.append(f"ok {size}")
        except Exception as error:
            results.append(type(error).__name__)

    threads = [threading.Thread(target=submit, args=(size,)) for size in (50, 100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results)[0] == "Conflict" and len([r for r in results if "ok" in r]) == 1
    latest = witness.state.latest(fake.origin)
    assert latest is not None and f"ok {latest.size}" in results


# ---------------------------------------------------------------------------
# the log and its witnesses


def test_each_new_head_is_cosigned_and_the_log_serves_the_cosigned_checkpoint(
    app, client, witnesses
):
    fill(app, 20)
    witness_now(app)
    signed, served = served_checkpoint(client)
    assert served.size == 20
    cosigners = [w.signer.verifier for w in witnesses]
    opened = note.open_note(signed, [*log_verifiers(client), *cosigners])
    assert [s.name for s in opened.signatures] == [ORIGIN, "witness.test/w1", "witness.test/w2"]
    # The log grows: until a witness cosigns, the newest witnessed checkpoint is served.
    fill(app, 5)
    with app.app_context():
        log.publish_head(force=True)
        db.session.commit()
    assert served_checkpoint(client)[1].size == 20
    with app.app_context():
        jobs.run_due_jobs()
    assert served_checkpoint(client)[1].size == 25
    for witness in witnesses:  # each saw 20, then got the proof from 20 to 25
        latest = witness.witness.state.latest(ORIGIN)
        assert latest is not None and latest.size == 25
    with app.app_context():
        sizes = db.session.scalars(select(Cosignature.tree_size).order_by(Cosignature.id)).all()
    assert sizes == [20, 20, 25, 25]


def test_a_quorum_of_two_waits_for_both_witnesses(app, client, witnesses):
    app.config["TRUSTSEAL_WITNESS_QUORUM"] = 2
    fill(app, 3)
    witness_now(app)
    assert served_checkpoint(client)[1].size == 3
    app.config["TRUSTSEAL_WITNESSES"] = f"{witnesses[0].url}={witnesses[0].vkey}," + (
        f"http://127.0.0.1:9={witnesses[1].vkey}"  # the second witness is now unreachable
    )
    fill(app, 4)
    witness_now(app)
    assert served_checkpoint(client)[1].size == 3  # only one cosigned size 7


def test_a_witness_down_is_retried_and_a_lost_size_is_learned_from_its_409(app, client, witnesses):
    fill(app, 6)
    witness_now(app)
    # The log's database lost its cosignatures (a restore): it asks from size 0, the
    # witness answers 409 with its size, and the job proves from there.
    with app.app_context():
        db.session.execute(delete(Cosignature))
        db.session.commit()
    fill(app, 2)
    witness_now(app)
    assert served_checkpoint(client)[1].size == 8
    # A witness that cannot be reached: the job fails, is retried later, then succeeds.
    app.config["TRUSTSEAL_WITNESSES"] = f"http://127.0.0.1:9={witnesses[0].vkey}"
    fill(app, 1)
    witness_now(app)
    with app.app_context():
        job = db.session.scalars(
            select(Job).where(Job.kind == log.WITNESS_JOB).order_by(Job.id.desc())
        ).first()
        assert job is not None and job.status == "queued" and "Connection" in job.last_error
        app.config["TRUSTSEAL_WITNESSES"] = f"{witnesses[0].url}={witnesses[0].vkey}"
        db.session.execute(update(Job).values(run_at=utcnow()))
        db.session.commit()
        jobs.run_due_jobs()
    assert served_checkpoint(client)[1].size == 9


def test_witness_settings_are_checked_when_the_app_starts(tmp_path):
    vkey = note.Signer.generate("w.example/w", note.COSIGNATURE_V1).verifier.vkey
    plain = note.Signer.generate("w.example/w").verifier.vkey
    for witnesses, quorum in [
        ("http://w.example", 1),
        (f"ftp://w.example={vkey}", 1),
        (f"http://w.example={plain}", 1),
        (f"http://w.example={vkey} http://x.example={vkey}", 1),
        (f"http://w.example={vkey}", 2),
        (f"http://w.example={vkey}", 0),
    ]:
        with pytest.raises(ConfigError):
            create_app(
                {
                    "ENV": "testing",
                    "INSTANCE_PATH": str(tmp_path),
                    "WITNESSES": witnesses,
                    "WITNESS_QUORUM": quorum,
                }
            )


# ---------------------------------------------------------------------------
# clients: log watch and verify with --witness


def watch(runner, url: str, state: Path, *witness_keys: str, quorum: int | None = None):
    args = ["log", "watch", url, "--state", str(state), "--once"]
    for vkey in witness_keys:
        args += ["--witness", vkey]
    if quorum:
        args += ["--quorum", str(quorum)]
    return runner.invoke(args=args)


def rewrite_leaf(app: Flask, index: int) -> None:
    """The dishonest operator: rewrite one leaf, recompute every node, drop the witnesses'
    cosignatures that no longer match, and sign every head again with the service's key."""
    with app.app_context():
        rewritten = merkle.MemoryTree()
        for entry in db.session.scalars(select(LogEntry).order_by(LogEntry.index)):
            if entry.index == index:
                entry.leaf = entry.leaf.replace('"rating":', '"rating":1')
                entry.leaf_hash = merkle.leaf_hash(entry.leaf.encode())
            rewritten.append(entry.leaf.encode())
        for (level, node), value in rewritten.nodes.items():
            db.session.execute(
                update(LogNode)
                .where(LogNode.level == level, LogNode.index == node)
                .values(hash=value)
            )
        db.session.execute(delete(TreeHead))
        db.session.execute(delete(Cosignature))
        db.session.commit()
        log.publish_head(force=True)
        db.session.commit()


def test_a_fresh_monitor_with_a_witness_quorum_detects_the_rewritten_log(
    app, client, runner, live_server, witnesses, tmp_path, monkeypatch
):
    fill(app, 12)
    witness_now(app)
    with app.app_context():
        honest = witnessing.signed_checkpoint(12)
    keys = [w.vkey for w in witnesses]
    assert watch(runner, live_server, tmp_path / "a.json", *keys).exit_code == 0

    rewrite_leaf(app, 3)
    fill(app, 1)
    witness_now(app)  # the witnesses refuse the rewritten tree: no cosignature
    with app.app_context():
        refused = db.session.scalars(
            select(Job.last_error).where(Job.kind == log.WITNESS_JOB)
        ).all()
    assert any(error and "422" in error and "consistent" in error for error in refused)
    for witness in witnesses:
        assert witness.witness.state.evidence(ORIGIN), "the signed rewrite is kept as evidence"

    # The attack as it worked before witnesses: a monitor that starts fresh accepts it.
    plain = watch(runner, live_server, tmp_path / "fresh.json")
    assert plain.exit_code == 0, plain.output

    # With a witness quorum it does not: the rewritten checkpoint has no cosignature...
    alarm = watch(runner, live_server, tmp_path / "fresh-w.json", *keys, quorum=1)
    assert alarm.exit_code == 2
    assert "carries 0 of the 1 witness cosignatures required" in alarm.output

    # ...and the honest checkpoint the witnesses cosigned no longer matches the tiles.
    monkeypatch.setattr(witnessing, "signed_checkpoint", lambda size, **_: honest)
    monkeypatch.setattr(witnessing, "served_size", lambda: 12)
    alarm = watch(runner, live_server, tmp_path / "fresh-w2.json", *keys)
    assert alarm.exit_code == 2
    assert "tiles do not hash to the root its witnesses cosigned at size 12" in alarm.output


def test_log_watch_with_witnesses_reports_who_cosigned_and_refuses_forged_ones(
    app, client, runner, live_server, witnesses, tmp_path, monkeypatch
):
    fill(app, 5)
    witness_now(app)
    keys = [w.vkey for w in witnesses]
    result = watch(runner, live_server, tmp_path / "s.json", *keys)
    assert result.exit_code == 0, result.output
    assert "witnessed at size 5 by 2 of 2" in result.output
    # a cosignature line that fails to verify under a trusted witness key
    with app.app_context():
        row = db.session.scalars(select(Cosignature)).first()
        assert row is not None
        row.line = row.line[:-8] + ("AAAAAAA=" if not row.line.endswith("AAAAAAA=") else "BBBBBBB=")
        db.session.commit()
    forged = watch(runner, live_server, tmp_path / "t.json", *keys)
    assert forged.exit_code == 2 and "forged" in forged.output
    # bad options
    assert watch(runner, live_server, tmp_path / "u.json", keys[0], quorum=2).exit_code == 2
    assert watch(runner, live_server, tmp_path / "u.json", log_vkey(app)).exit_code == 2


def test_a_badge_names_its_witnessed_head_and_verify_checks_the_quorum(
    app, client, runner, witnesses, tmp_path
):
    _, key = make_merchant(app, slug="bodega")
    for n in range(3):
        publish_review(client, key, f"B-{n}", rating=5)
    approve_seal(app, client)
    witness_now(app)
    badge = tmp_path / "badge.svg"
    badge.write_bytes(client.get("/badges/bodega.svg").data)
    keys = [w.vkey for w in witnesses]
    args = ["verify", str(badge)]
    result = runner.invoke(args=[*args, "--witness", keys[0], "--witness", keys[1]])
    assert result.exit_code == 0, result.output
    assert "cosigned by witness.test/w1+" in result.output
    stranger = note.Signer.generate("witness.test/w1", note.COSIGNATURE_V1).verifier.vkey
    refused = runner.invoke(args=[*args, "--witness", stranger])
    assert refused.exit_code == 1 and "carries 0 of the 1" in refused.output
    assert runner.invoke(args=args).exit_code == 0  # without --witness, as before


def test_witness_keygen_makes_a_private_key_file_and_prints_the_verifier_key(runner, tmp_path):
    key_file = tmp_path / "w.key"
    result = runner.invoke(args=["witness", "keygen", "witness.example/w9", str(key_file)])
    assert result.exit_code == 0, result.output
    verifier = note.Verifier.from_vkey(result.output.strip())
    assert verifier.sig_type == note.COSIGNATURE_V1 and verifier.name == "witness.example/w9"
    assert key_file.stat().st_mode & 0o777 == 0o600
    signer = note.Signer.from_skey(key_file.read_text(), note.COSIGNATURE_V1)
    assert signer.verifier == verifier
    again = runner.invoke(args=["witness", "keygen", "witness.example/w9", str(key_file)])
    assert again.exit_code != 0 and "never overwritten" in again.output
    bad = runner.invoke(
        args=["witness", "serve", "--key", str(key_file), "--log", "example.com/log=nonsense"]
    )
    assert bad.exit_code != 0 and "--log" in bad.output
    assert not Path("witness.sqlite3").exists(), "a refused start leaves no state file behind"
    assert hashlib.sha256(b"x").hexdigest() == origin_hash("x")


def test_the_transparency_page_names_the_witnesses_in_both_languages(app, client, witnesses):
    page = client.get("/transparency?lang=en").get_data(as_text=True)
    assert "Independent witnesses" in page and "not yet" in page
    assert witnesses[0].vkey in page and "GET /log/checkpoint" in page
    fill(app, 3)
    witness_now(app)
    page = client.get("/transparency?lang=es").get_data(as_text=True)
    assert "Testigos independientes" in page and "3 entradas" in page
    assert "--witness VKEY" in page
    app.config["TRUSTSEAL_WITNESSES"] = ""
    page = client.get("/transparency?lang=en").get_data(as_text=True)
    assert "No witness cosigns this log yet" in page


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(path=st.text(alphabet="0123456789x/.pentris-", max_size=24))
def test_no_tile_path_is_a_server_error(app, client, path):
    if client.get("/log/tile/entries/000.p/1").status_code != 200:
        fill(app, 1)
    status = client.get(f"/log/tile/{path}").status_code
    assert status in (200, 308, 404), path  # 308: Flask merges doubled slashes


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.binary(max_size=300) | st.text(max_size=200).map(lambda t: ("old 0\n" + t).encode()))
def test_no_witness_request_is_a_server_error(lone_witness, body):
    _, _, http = lone_witness
    assert post(http, body).status_code in (400, 403, 404, 409, 422)


def test_witness_serve_runs_as_its_own_process(app, tmp_path):
    """The command an operator runs: a separate process, its own key and SQLite file."""
    fake = FakeLog()
    signer = note.Signer.generate("witness.example/cli", note.COSIGNATURE_V1)
    (tmp_path / "w.key").write_text(signer.skey + "\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        str(Path(sys.executable).parent / "trustseal"),
        "witness",
        "serve",
        "--key",
        str(tmp_path / "w.key"),
        "--log",
        f"{fake.origin}={fake.signer.verifier.vkey}",
        "--bind",
        f"127.0.0.1:{port}",
        "--state",
        str(tmp_path / "w.sqlite3"),
    ]
    environment = {**os.environ, "TRUSTSEAL_INSTANCE_PATH": str(tmp_path / "instance")}
    process = subprocess.Popen(
        command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        fake.grow(3)
        url = f"http://127.0.0.1:{port}/add-checkpoint"
        for _ in range(200):
            try:
                answer = requests.post(url, data=fake.request(0), timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        else:
            pytest.fail("the witness did not start")
        assert answer.status_code == 200, answer.text
        note.open_note(fake.note() + answer.text, [signer.verifier])
        assert requests.post(url, data=fake.request(0), timeout=5).status_code == 409
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0].decode()
    assert signer.verifier.vkey in output
    assert (tmp_path / "w.sqlite3").exists()
