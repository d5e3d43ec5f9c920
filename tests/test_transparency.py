"""The transparency log: appends, proofs over the API, signed heads, audits, monitoring."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import delete, func, select, text, update

from tests.helpers import tamper
from trustseal.clock import rfc3339, utcnow
from trustseal.extensions import db
from trustseal.signing import jws
from trustseal.signing import service as signing
from trustseal.transparency import merkle, monitor
from trustseal.transparency import service as log
from trustseal.transparency.models import LogEntry, LogNode, TreeHead


def event(n: int, kind: str = "review.published", **extra) -> log.Event:
    return log.Event(
        kind,
        merchant="bodega",
        data={"review_id": n, "rating": 1 + n % 5, "process_rating": 5, **extra},
        texts={"body": f"Texto de la opinión {n} <b>ñ</b>"},
    )


def fill(app, count: int) -> list[log.Appended]:
    """Leaves of a type no database record claims, so ``log verify`` checks the log alone
    (tests/test_log_verify_db.py checks the database against the log)."""
    with app.app_context():
        appended = log.append_many(event(n, "key.rotated") for n in range(count))
        db.session.commit()
        return appended


def test_append_writes_canonical_leaves_without_text(app, ctx):
    appended = log.append(event(0))
    db.session.commit()
    assert appended.index == 0 and log.size() == 1
    leaf = json.loads(appended.leaf)
    assert leaf["type"] == "review.published" and leaf["merchant"] == "bodega"
    assert leaf["rating"] == 1 and leaf["v"] == 1 and leaf["time"].endswith("Z")
    assert "Texto" not in appended.leaf.decode()
    assert merkle.canonical_json(leaf) == appended.leaf
    assert appended.leaf_hash == merkle.leaf_hash(appended.leaf)
    assert log.text_matches(0, "body", "Texto de la opinión 0 <b>ñ</b>") is True
    assert log.text_matches(0, "body", "otro texto") is False
    assert log.forget_text(0) is True
    db.session.commit()
    assert log.text_matches(0, "body", "Texto de la opinión 0 <b>ñ</b>") is None
    assert log.audit().ok  # erasing text does not break the log


def test_refuses_unknown_event_types_and_reserved_fields(ctx):
    with pytest.raises(ValueError):
        log.append(log.Event("review.deleted_silently"))
    with pytest.raises(ValueError):
        log.append(log.Event("review.published", data={"type": "x"}))


def test_rolled_back_append_leaves_no_gap(ctx):
    log.append(event(0))
    db.session.rollback()
    assert log.append(event(1)).index == 0
    db.session.commit()
    assert log.size() == 1


def test_stored_tree_matches_reference_for_every_size(app, ctx):
    appended = fill(app, 33)
    reference = merkle.MemoryTree()
    for item in appended:
        reference.append(item.leaf)
    for size in range(1, 34):
        assert log.root_at(size) == reference.root(size)
    assert log.root_at(0) == merkle.EMPTY_ROOT


def test_proofs_over_the_api_for_every_pair(app, client):
    appended = fill(app, 17)
    reference = merkle.MemoryTree([a.leaf for a in appended])
    for n in range(1, 18):
        root = reference.root(n)
        for m in range(n):
            proof = client.get(f"/api/v1/log/proof/inclusion?index={m}&tree_size={n}").json
            path = [bytes.fromhex(h) for h in proof["path"]]
            assert merkle.verify_inclusion(appended[m].leaf_hash, m, n, path, root)
        for m in range(1, n + 1):
            proof = client.get(f"/api/v1/log/proof/consistency?first={m}&second={n}").json
            path = [bytes.fromhex(h) for h in proof["path"]]
            assert merkle.verify_consistency(m, n, reference.root(m), root, path)


def test_entries_api(app, client):
    fill(app, 5)
    entries = client.get("/api/v1/log/entries?start=1&end=3").json
    assert [e["index"] for e in entries] == [1, 2, 3]
    for entry in entries:
        assert merkle.leaf_hash(entry["leaf"].encode()).hex() == entry["leaf_hash"]
    assert len(client.get("/api/v1/log/entries?start=3&end=999").json) == 2


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("/api/v1/log/entries?start=5&end=6", 404),
        ("/api/v1/log/entries?start=3&end=1", 422),
        ("/api/v1/log/entries?start=-1&end=1", 422),
        ("/api/v1/log/entries?start=a&end=1", 422),
        ("/api/v1/log/entries?start=1", 422),
        ("/api/v1/log/proof/inclusion?index=5&tree_size=5", 422),
        ("/api/v1/log/proof/inclusion?index=0&tree_size=6", 404),
        ("/api/v1/log/proof/inclusion?index=0&tree_size=0", 422),
        ("/api/v1/log/proof/inclusion?index=-1&tree_size=2", 422),
        ("/api/v1/log/proof/inclusion?index=1.5&tree_size=2", 422),
        ("/api/v1/log/proof/consistency?first=3&second=2", 422),
        ("/api/v1/log/proof/consistency?first=0&second=2", 422),
        ("/api/v1/log/proof/consistency?first=1&second=9", 404),
        ("/api/v1/log/proof/consistency?first=1&second=99999999999999999999", 422),
    ],
)
def test_bad_log_queries(app, client, url, code):
    fill(app, 5)
    answer = client.get(url)
    assert answer.status_code == code, answer.json
    assert answer.json["message"]


def test_empty_log_has_a_signed_head(client):
    empty = client.get("/api/v1/log/tree-head").json
    assert empty["tree_size"] == 0 and empty["root_hash"] == merkle.EMPTY_ROOT.hex()
    jws.verify(empty["signature"], client.get("/.well-known/jwks.json").json)


def test_tree_head_is_signed_and_rate_limited(app, client):
    fill(app, 3)
    head = client.get("/api/v1/log/tree-head").json
    assert head["tree_size"] == 3
    keys = client.get("/.well-known/jwks.json").json
    header, payload = jws.verify(head["signature"], keys)
    assert header["kid"] == head["kid"]
    assert payload == {k: head[k] for k in ("tree_size", "root_hash", "timestamp")}
    fill(app, 2)
    assert client.get("/api/v1/log/tree-head").json["tree_size"] == 3  # within the interval
    app.config["TRUSTSEAL_LOG_HEAD_INTERVAL_SECONDS"] = 0
    assert client.get("/api/v1/log/tree-head").json["tree_size"] == 5


def test_receipt_proves_inclusion_with_a_signed_head(app, ctx, client):
    log.append_many(event(n) for n in range(6))
    appended = log.append(event(6))
    receipt = log.receipt(appended)
    db.session.commit()
    assert receipt["leaf_index"] == 6 and receipt["tree_size"] == 7
    path = [bytes.fromhex(h) for h in receipt["inclusion_proof"]]
    assert merkle.verify_inclusion(
        appended.leaf_hash, 6, 7, path, bytes.fromhex(receipt["root_hash"])
    )
    _, payload = jws.verify(receipt["signature"], client.get("/.well-known/jwks.json").json)
    assert payload["root_hash"] == receipt["root_hash"] and payload["tree_size"] == 7


def test_jwks_shape(client):
    keys = client.get("/.well-known/jwks.json")
    assert keys.headers["Cache-Control"] == "public, max-age=300"
    (key,) = keys.json["keys"]
    assert key["kty"] == "OKP" and key["crv"] == "Ed25519" and key["use"] == "sig"
    assert key["kid"] == jws.thumbprint(key)


def test_key_rotation_keeps_old_signatures_valid(app, client, runner):
    fill(app, 2)
    old_head = client.get("/api/v1/log/tree-head").json
    result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    keys = client.get("/.well-known/jwks.json").json["keys"]
    assert len(keys) == 2 and keys[1]["kid"] == old_head["kid"]
    jws.verify(old_head["signature"], {"keys": keys})
    app.config["TRUSTSEAL_LOG_HEAD_INTERVAL_SECONDS"] = 0
    new_head = client.get("/api/v1/log/tree-head").json
    assert new_head["kid"] == keys[0]["kid"] != old_head["kid"]
    last = client.get("/api/v1/log/entries?start=2&end=2").json[0]
    assert json.loads(last["leaf"])["type"] == "key.rotated"
    assert runner.invoke(args=["log", "verify"]).exit_code == 0


def test_jws_refusals(ctx):
    token, kid = signing.sign({"a": 1})
    keys = signing.jwks()
    head, body, sig = token.split(".")
    none_header = jws.b64url_encode(json.dumps({"alg": "none", "kid": kid}).encode())
    with pytest.raises(jws.JWSError, match="refused"):
        jws.verify(f"{none_header}.{body}.", keys)
    with pytest.raises(jws.JWSError, match="unknown key"):
        jws.verify(token, {"keys": []})
    forged = jws.b64url_encode(b'{"a":2}')
    with pytest.raises(jws.JWSError, match="bad signature"):
        jws.verify(f"{head}.{forged}.{sig}", keys)
    # a key embedded in the header is never trusted
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    attacker = Ed25519PrivateKey.generate()
    evil_jwk = jws.public_jwk(attacker.public_key())
    evil = jws.sign({"a": 1}, attacker, jws.thumbprint(evil_jwk))
    with pytest.raises(jws.JWSError, match="unknown key"):
        jws.verify(evil, keys)
    with pytest.raises(jws.JWSError):
        jws.verify("not.a.token!", keys)


def _publish(app):
    with app.app_context():
        app.config["TRUSTSEAL_LOG_HEAD_INTERVAL_SECONDS"] = 0
        log.publish_head()
        db.session.commit()


def test_log_verify_passes_on_a_sound_log(app, runner):
    fill(app, 10)
    _publish(app)
    fill(app, 7)
    _publish(app)
    result = runner.invoke(args=["log", "verify"])
    assert result.exit_code == 0, result.output
    assert "log OK: 17 entries" in result.output
    assert runner.invoke(args=["log", "verify", "--from", "12"]).exit_code == 0


def _tamper(app, statements):
    tamper(app, *(statements if isinstance(statements, list) else [statements]))


@pytest.mark.parametrize(
    ("tampering", "expected"),
    [
        (
            lambda: (
                update(LogEntry)
                .where(LogEntry.index == 4)
                .values(leaf=func.replace(LogEntry.leaf, '"rating":5', '"rating":1'))
            ),
            "entry 4",
        ),
        (
            lambda: [
                text('DELETE FROM log_salts WHERE "index" = 6'),
                delete(LogEntry).where(LogEntry.index == 6),
            ],
            "entries 6..6 are missing",
        ),
        (
            lambda: (
                update(LogNode)
                .where(LogNode.level == 1, LogNode.index == 2)
                .values(hash=b"\x00" * 32)
            ),
            "node (1, 2)",
        ),
        (lambda: update(TreeHead).values(root_hash=b"\x11" * 32), "head at size 10"),
        (lambda: update(TreeHead).values(signature=text("signature || 'x'")), "signature"),
    ],
    ids=["leaf", "missing-row", "node", "head-root", "head-signature"],
)
def test_log_verify_names_what_was_tampered(app, runner, tampering, expected):
    fill(app, 10)
    _publish(app)
    _tamper(app, tampering())
    result = runner.invoke(args=["log", "verify"])
    assert result.exit_code != 0
    assert expected in result.output, result.output


def test_log_verify_detects_a_rewritten_history(app, runner):
    """Rewrite a leaf and every hash above it: only the signed heads can tell."""
    fill(app, 8)
    _publish(app)
    with app.app_context():
        rewritten = merkle.MemoryTree()
        for entry in db.session.scalars(select(LogEntry).order_by(LogEntry.index)):
            leaf = (
                entry.leaf.replace('"rating":4', '"rating":5') if entry.index == 3 else entry.leaf
            )
            entry.leaf = leaf
            entry.leaf_hash = merkle.leaf_hash(leaf.encode())
            rewritten.append(leaf.encode())
        for (level, index), value in rewritten.nodes.items():
            db.session.execute(
                update(LogNode)
                .where(LogNode.level == level, LogNode.index == index)
                .values(hash=value)
            )
        db.session.commit()
    result = runner.invoke(args=["log", "verify"])
    assert result.exit_code != 0
    assert "head at size 8: the root hash does not match" in result.output


@pytest.mark.postgres_only
def test_concurrent_appends_are_strictly_ordered(app):
    def writer(worker: int) -> None:
        with app.app_context():
            for n in range(25):
                log.append(event(worker * 100 + n))
                db.session.commit()
            db.session.remove()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with app.app_context():
        indices = list(db.session.scalars(select(LogEntry.index).order_by(LogEntry.index)))
        assert indices == list(range(150))
        assert log.audit().ok


def test_log_watch_accepts_growth_and_raises_alarm_on_rewrite(app, runner, live_server, tmp_path):
    state = tmp_path / "head.json"
    app.config["TRUSTSEAL_LOG_HEAD_INTERVAL_SECONDS"] = 0
    fill(app, 4)
    args = ["log", "watch", live_server, "--state", str(state), "--once"]
    first = runner.invoke(args=args)
    assert first.exit_code == 0 and "OK - -> 4" in first.output, first.output
    fill(app, 3)
    second = runner.invoke(args=args)
    assert second.exit_code == 0 and "OK 4 -> 7" in second.output, second.output
    # The operator rewrites history: drop everything and append different events.
    with app.app_context():
        for model in (TreeHead, LogNode):
            db.session.execute(delete(model))
        db.session.execute(text("DELETE FROM log_salts"))
        db.session.execute(delete(LogEntry))
        db.session.execute(text("UPDATE log_state SET size = 0"))
        log.append_many(event(n, forged=True) for n in range(9))
        db.session.commit()
    alarm = runner.invoke(args=args)
    assert alarm.exit_code == 2
    assert "ALARM" in alarm.output and "not consistent" in alarm.output


# ---------------------------------------------------------------------------
# log watch: head time only moves forward, and the latest head is fresh


def operator_signs_head(app: Flask, tree_size: int, at: datetime) -> None:
    """The operator (who holds the signing key) signs and serves a head dated ``at``."""
    with app.app_context():
        root = log.root_at(tree_size)
        stamp = at.replace(microsecond=0)
        signature, kid = signing.sign(
            {"tree_size": tree_size, "root_hash": root.hex(), "timestamp": rfc3339(stamp)}
        )
        db.session.add(
            TreeHead(
                tree_size=tree_size, root_hash=root, timestamp=stamp, signature=signature, kid=kid
            )
        )
        db.session.commit()


def watch(runner: FlaskCliRunner, url: str, state: Path) -> Result:
    return runner.invoke(args=["log", "watch", url, "--state", str(state), "--once"])


def test_log_watch_starts_from_an_empty_log(app, runner, live_server, tmp_path):
    state = tmp_path / "head.json"
    app.config["TRUSTSEAL_LOG_HEAD_INTERVAL_SECONDS"] = 0
    first = watch(runner, live_server, state)
    assert first.exit_code == 0 and "OK - -> 0" in first.output, first.output
    assert json.loads(state.read_text())["root_hash"] == merkle.EMPTY_ROOT.hex()
    fill(app, 4)
    second = watch(runner, live_server, state)
    assert second.exit_code == 0 and "OK 0 -> 4" in second.output, second.output


def test_log_watch_alarms_when_a_head_goes_back_in_time(app, runner, live_server, tmp_path):
    state = tmp_path / "head.json"
    app.config["TRUSTSEAL_LOG_HEAD_INTERVAL_SECONDS"] = 0
    fill(app, 4)
    assert watch(runner, live_server, state).exit_code == 0
    seen = json.loads(state.read_text())
    # The log grows honestly, but its new head is signed with a back-dated clock (and kept).
    app.config["TRUSTSEAL_LOG_HEAD_REFRESH_SECONDS"] = 10**9
    fill(app, 3)
    operator_signs_head(app, 7, monitor.parse_timestamp(seen["timestamp"]) - timedelta(hours=1))
    alarm = watch(runner, live_server, state)
    assert alarm.exit_code == 2, alarm.output
    assert "ALARM" in alarm.output and "went back in time" in alarm.output
    assert json.loads(state.read_text()) == seen  # the back-dated head is not accepted


def test_log_watch_alarms_on_a_stale_head(app, runner, live_server, tmp_path):
    state = tmp_path / "head.json"
    app.config["TRUSTSEAL_LOG_HEAD_INTERVAL_SECONDS"] = 0
    app.config["TRUSTSEAL_LOG_HEAD_REFRESH_SECONDS"] = 10**9  # the operator stopped signing
    fill(app, 4)
    # A frozen log: the head served is a validly signed, consistent one of 26 hours ago.
    operator_signs_head(app, 4, utcnow() - timedelta(hours=26))
    alarm = watch(runner, live_server, state)
    assert alarm.exit_code == 2, alarm.output
    assert "ALARM" in alarm.output and "stale" in alarm.output and "26.0 hours" in alarm.output
    assert not state.exists()
    # A fresh head ends the alarm.
    fill(app, 1)
    again = watch(runner, live_server, state)
    assert again.exit_code == 0 and "OK - -> 5" in again.output, again.output


def test_a_quiet_log_signs_its_head_again_so_watchers_see_it_fresh(
    app, runner, live_server, tmp_path
):
    state = tmp_path / "head.json"
    fill(app, 3)
    operator_signs_head(app, 3, utcnow() - timedelta(hours=30))  # nothing new for 30 hours
    quiet = watch(runner, live_server, state)
    assert quiet.exit_code == 0 and "OK - -> 3" in quiet.output, quiet.output
    first = json.loads(state.read_text())
    assert utcnow() - monitor.parse_timestamp(first["timestamp"]) < timedelta(minutes=1)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TreeHead)) == 1  # one size
        head = log.latest_head()
        claims = jws.verify(head.signature, signing.jwks())[1]
        assert claims["tree_size"] == 3 and claims["timestamp"] == rfc3339(head.timestamp)
        # the periodic task signs again only once the head is older than the refresh time
        assert log.refresh_head().timestamp == head.timestamp
    again = watch(runner, live_server, state)
    assert again.exit_code == 0 and "OK 3 -> 3" in again.output, again.output


def test_log_watch_alarms_on_a_head_dated_in_the_future(app, runner, live_server, tmp_path):
    state = tmp_path / "head.json"
    app.config["TRUSTSEAL_LOG_HEAD_INTERVAL_SECONDS"] = 0
    fill(app, 2)
    operator_signs_head(app, 2, utcnow() + timedelta(days=1))
    alarm = watch(runner, live_server, state)
    assert alarm.exit_code == 2 and "in the future" in alarm.output, alarm.output
    assert not state.exists()


NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ROOT = merkle.leaf_hash(b"x").hex()


def seen(size: int, at: datetime | str, root: str = ROOT) -> monitor.Seen:
    stamp = at if isinstance(at, str) else rfc3339(at)
    return monitor.Seen(size, root, stamp)


def test_monitor_time_checks() -> None:
    assert monitor.parse_timestamp("2025-03-01T12:00:00Z") == NOW
    assert monitor.parse_timestamp("2025-03-01T07:00:00-05:00") == NOW
    for bad in ("2025-03-01T12:00:00", "2025-03-01", "yesterday", "", None, 1740830400):
        with pytest.raises(monitor.Alarm):
            monitor.parse_timestamp(bad)  # type: ignore[arg-type]
    # Forward only; the same second is fine (heads are dated to the second).
    monitor.check_forward(seen(4, NOW), seen(7, NOW))
    monitor.check_forward(seen(4, NOW), seen(7, NOW + timedelta(seconds=1)))
    with pytest.raises(monitor.Alarm, match="went back in time"):
        monitor.check_forward(seen(4, NOW), seen(7, NOW - timedelta(seconds=1)))
    with pytest.raises(monitor.Alarm, match="went back in time"):
        monitor.check_forward(seen(7, NOW), seen(7, NOW - timedelta(days=3)))
    # Fresh: up to max_age old, and not more than the clock skew in the future.
    limit = monitor.DEFAULT_MAX_AGE
    assert limit == timedelta(hours=25)
    monitor.check_fresh(seen(4, NOW - limit), NOW)
    monitor.check_fresh(seen(4, NOW + monitor.MAX_CLOCK_SKEW), NOW)
    with pytest.raises(monitor.Alarm, match="stale"):
        monitor.check_fresh(seen(4, NOW - limit - timedelta(seconds=1)), NOW)
    with pytest.raises(monitor.Alarm, match="stale"):
        monitor.check_fresh(seen(4, NOW - timedelta(hours=2)), NOW, max_age=timedelta(hours=1))
    with pytest.raises(monitor.Alarm, match="future"):
        monitor.check_fresh(seen(4, NOW + monitor.MAX_CLOCK_SKEW + timedelta(seconds=1)), NOW)
    with pytest.raises(ValueError):
        monitor.check_fresh(seen(4, NOW), NOW.replace(tzinfo=None))


def test_monitor_refuses_malformed_heads() -> None:
    empty = merkle.EMPTY_ROOT.hex()
    monitor.check_well_formed(seen(0, NOW, empty))
    monitor.check_well_formed(seen(3, NOW))
    for bad in (
        seen(-1, NOW),
        seen(True, NOW),  # type: ignore[arg-type]
        seen("3", NOW),  # type: ignore[arg-type]
        seen(3, NOW, ROOT[:-2]),  # 31 bytes
        seen(3, NOW, ROOT + "00"),  # 33 bytes
        seen(3, NOW, "zz" * 32),
        seen(0, NOW, ROOT),  # size 0 with a root other than the empty tree's
        seen(3, "not a time"),
    ):
        with pytest.raises(monitor.Alarm):
            monitor.check_well_formed(bad)
    # From size 0 nothing is fetched (the proof is empty), but both roots are checked.
    unreachable = "http://127.0.0.1:9"
    monitor.check_consistent(unreachable, seen(0, NOW, empty), seen(3, NOW))
    with pytest.raises(monitor.Alarm, match="empty-tree root"):
        monitor.check_consistent(unreachable, seen(0, NOW, ROOT), seen(3, NOW))
    with pytest.raises(monitor.Alarm, match="32"):
        monitor.check_consistent(unreachable, seen(0, NOW, empty), seen(3, NOW, ROOT[:-2]))


def test_transparency_page_in_both_languages(app, client):
    fill(app, 2)
    spanish = client.get("/transparency").get_data(as_text=True)
    assert "Registro de transparencia" in spanish and "RFC 9162" in spanish
    english = client.get("/transparency?lang=en").get_data(as_text=True)
    assert "Transparency log" in english and "What the log proves" in english


# ---------------------------------------------------------------------------
# logged_at: the log's own clock, never back


def test_an_event_keeps_its_own_time_and_the_log_stamps_when_it_appended_it(app):
    long_ago = datetime(2023, 5, 1, 9, 30, tzinfo=UTC)
    fill(app, 2)
    with app.app_context():
        imported = log.append(log.Event("key.rotated", merchant="bodega", data={}, at=long_ago))
        db.session.commit()
        leaves = [json.loads(e.leaf) for e in log.entries(0, 2)]
    assert json.loads(imported.leaf)["time"] == "2023-05-01T09:30:00Z"  # the event's own time
    stamps = [leaf["logged_at"] for leaf in leaves]
    assert stamps == sorted(stamps) and stamps[-1] >= rfc3339(utcnow() - timedelta(minutes=1))


def test_a_back_dated_append_is_caught_by_log_verify(app, runner, monkeypatch):
    fill(app, 3)
    assert runner.invoke(args=["log", "verify"]).exit_code == 0
    # An operator appends with its clock set back (and the log's guard bypassed): the
    # hashes are all consistent, but the leaf says it was logged before the one before it.
    past = utcnow() - timedelta(days=400)
    monkeypatch.setattr(log, "utcnow", lambda: past)
    monkeypatch.setattr(log, "_last_logged_at", lambda size: past)
    fill(app, 1)
    monkeypatch.undo()
    result = runner.invoke(args=["log", "verify"])
    assert result.exit_code != 0
    assert "entry 3: logged_at" in result.output and "back-dated" in result.output


def test_the_log_clock_never_goes_back_even_if_the_machine_clock_does(app, monkeypatch):
    fill(app, 1)
    with app.app_context():
        first = json.loads(log.entries(0, 0)[0].leaf)["logged_at"]
    monkeypatch.setattr(log, "utcnow", lambda: utcnow() - timedelta(hours=3))
    fill(app, 1)
    with app.app_context():
        second = json.loads(log.entries(1, 1)[0].leaf)["logged_at"]
    assert second >= first
