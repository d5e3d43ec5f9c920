"""docs/audit_badge.py, the standalone audit of docs/verify.md, agrees with
``trustseal log audit``: both match an honest badge, both name what a dishonest operator
signed, and the script says when the service cannot be reached."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from tests.reviewing import post_review, review_link
from trustseal.badging import service as badging
from trustseal.clock import utcnow
from trustseal.extensions import db
from trustseal.merchants import service as merchants
from trustseal.reviews.models import ScoreAggregate
from trustseal.transparency import numbers
from trustseal.transparency import service as log
from trustseal.transparency.models import ReplayState

SCRIPT = Path(__file__).resolve().parent.parent / "docs" / "audit_badge.py"
SLUG = "tienda-demo"
LINE = re.compile(r"^(OK|MISMATCH)\s+(\S+): signed (.*), recomputed (.*)$")


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    """The script in its own interpreter, as a reader of the docs would run it."""
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def comparisons(output: str) -> dict[str, tuple[str, Any, Any]]:
    """``name → (OK|MISMATCH, signed, recomputed)`` of the lines comparing a signed number."""
    found = {}
    for line in output.splitlines():
        match = LINE.match(line)
        if match:
            verdict, name, signed, recomputed = match.groups()
            found[name] = (verdict, json.loads(signed), json.loads(recomputed))
    return found


def load_demo(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["demo", "--purchases", "60"])
    assert result.exit_code == 0, result.output


def test_the_script_matches_an_honest_badge_as_log_audit_does(runner, live_server):
    load_demo(runner)
    script = run_script(live_server, SLUG)
    assert script.returncode == 0, script.stdout + script.stderr
    assert script.stdout.splitlines()[-1] == f"MATCH: the badge of {SLUG} at {live_server}"
    cli = runner.invoke(args=["log", "audit", live_server, "--merchant", SLUG])
    assert cli.exit_code == 0, cli.output
    ours, theirs = comparisons(script.stdout), comparisons(cli.output)
    assert set(ours) == {
        "score",
        "rating_count",
        "provenance",
        "history",
        "seal_status",
        "valid_until",
        "criteria.digest",
    }
    assert ours == theirs
    assert ours["rating_count"][1] > 5 and ours["score"][1] is not None
    assert all(verdict == "OK" for verdict, _, _ in ours.values())


def test_the_script_says_unreachable_with_status_2():
    script = run_script("http://127.0.0.1:9", SLUG)
    assert script.returncode == 2, script.stdout + script.stderr
    assert script.stderr.startswith("UNREACHABLE:")


def test_the_script_rejects_a_wrong_argument_count():
    assert run_script("http://127.0.0.1:9").returncode == 2


def inflate(app: Flask, slug: str, extra: int = 3) -> None:
    """A dishonest operator with full control of the database: ``extra`` five-star
    reviews that have no leaf, added the same way to the running sums and to the kept
    replay state, so that the service's own check before signing finds nothing."""
    with app.app_context():
        merchant = merchants.get_by_slug(slug)
        assert merchant is not None
        state = log.replayed(slug)
        g = numbers.growth(utcnow().replace(microsecond=0))
        sums = state.sums
        sums.published += extra
        sums.dist_5 += extra
        sums.rating_sum += 5 * extra
        sums.process_sum += 5 * extra
        sums.decay_weight += extra * g
        sums.decay_rating += 5 * extra * g
        aggregate = db.session.get(ScoreAggregate, merchant.id)
        assert aggregate is not None
        for name in (
            "published",
            "dist_5",
            "rating_sum",
            "process_sum",
            "decay_weight",
            "decay_rating",
        ):
            setattr(aggregate, name, getattr(sums, name))
        row = db.session.scalars(select(ReplayState).where(ReplayState.merchant_slug == slug)).one()
        row.state = state.to_json()
        db.session.commit()
        db.session.remove()
    badging.clear_cache()


def test_a_number_the_log_does_not_give_is_a_mismatch_for_both(app, client, runner, live_server):
    load_demo(runner)
    honest = client.get(f"/api/v1/merchants/{SLUG}/score").json
    inflate(app, SLUG)
    assert client.get(f"/api/v1/merchants/{SLUG}/score").json["rating_count"] == (
        honest["rating_count"] + 3
    )
    script = run_script(live_server, SLUG)
    assert script.returncode == 1, script.stdout + script.stderr
    cli = runner.invoke(args=["log", "audit", live_server, "--merchant", SLUG])
    assert cli.exit_code == 1, cli.output
    ours, theirs = comparisons(script.stdout), comparisons(cli.output)
    assert ours == theirs
    assert ours["rating_count"] == ("MISMATCH", honest["rating_count"] + 3, honest["rating_count"])
    assert "MISMATCH  rating_count: signed" in script.stdout
    assert "MISMATCH  rating_count: signed" in cli.output
    assert script.stdout.splitlines()[-1] == f"MISMATCH: the badge of {SLUG} at {live_server}"


def test_a_badge_newer_than_the_latest_signed_head_audits(client, runner, live_server):
    """Heads are signed at intervals: right after a new leaf the badge's head is the larger
    one, and the consistency proof goes from the signed head to the badge's."""
    loaded = runner.invoke(args=["demo", "--purchases", "60"])
    key = re.search(r"api key: (tsk_\S+)", loaded.output)
    assert key is not None, loaded.output
    signed = client.get("/api/v1/log/tree-head").json["tree_size"]
    token = review_link(client, key.group(1), "AUDIT-NEW-1")
    assert post_review(client, token).status_code == 201
    badging.clear_cache()
    assert client.get("/api/v1/log/tree-head").json["tree_size"] == signed  # not yet signed
    cli = runner.invoke(args=["log", "audit", live_server, "--merchant", SLUG])
    assert cli.exit_code == 0, cli.output
    assert f"the badge's head ({signed + 1}) and the signed head ({signed}) are one log" in (
        cli.output
    )
    assert run_script(live_server, SLUG).returncode == 0
