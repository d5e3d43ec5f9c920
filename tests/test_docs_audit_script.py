"""docs/audit_badge.py, the standalone audit of docs/verify.md, agrees with
``trustseal log audit``: both match an honest badge, both name what a dishonest operator
signed (a review without a leaf, KPI counts the leaves do not give), and the script says
when the service cannot be reached. Its replay, written apart from
:mod:`trustseal.transparency.numbers`, gives the same numbers and refuses the same
contradictions on logs with every kind of leaf that moves a number."""

from __future__ import annotations

import base64
import importlib.util
import json
import random
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from tests.booking import entry_body
from tests.helpers import bearer
from tests.reviewing import post_review, review_link, shop
from trustseal.badging import service as badging
from trustseal.clock import utcnow
from trustseal.extensions import db
from trustseal.merchants import service as merchants
from trustseal.resolutions import service as resolutions
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


def signed_claims(client: FlaskClient, slug: str = SLUG) -> dict[str, Any]:
    """The claims of the badge's assertion (its payload, not checked: the service's own)."""
    token = client.get(f"/badges/{slug}/assertion").get_data(as_text=True).strip()
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


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
        "kpis",
        "seal_status",
        "valid_until",
        "criteria.digest",
    }
    assert ours == theirs
    assert ours["rating_count"][1] > 5 and ours["score"][1] is not None
    assert all(verdict == "OK" for verdict, _, _ in ours.values())


def kpi_shop(app: Flask, client: FlaskClient) -> str:
    """A shop whose leaves, written through the service, give KPIs: twelve reviews that
    answer the optional questions (declared purchases: the reviewer's ``on_time`` counts,
    there are no days to deliver), eleven answered by the shop, a complaint answered, and
    the author of a two-star review updating it to five through the resolution loop (a
    ``review.updated`` leaf that the score and the KPIs follow). Returns its slug."""
    key = shop(app)
    ids = []
    for n, rating in enumerate((5, 5, 4, 4, 4, 3, 2, 1, 5, 5, 4, 2)):
        recommend = min(10, 2 * rating + n % 3)
        posted = post_review(
            client,
            review_link(client, key, f"K-{n}"),
            rating=rating,
            on_time=n % 4 != 3,
            recommend=recommend,
        )
        assert posted.status_code == 201, posted.json
        ids.append(posted.json["id"])
    for review_id in ids[:11]:
        answer = client.put(
            f"/api/v1/reviews/{review_id}/response",
            json={"body": "Gracias por escribirnos."},
            headers=bearer(key),
        )
        assert answer.status_code == 200, answer.json
    filed = client.post("/api/v1/merchants/bodega/book", json=entry_body())
    assert filed.status_code == 201, filed.json
    answered = client.put(
        f"/api/v1/book/{filed.json['number']}/response",
        json={"body": "Le cambiamos la licuadora."},
        headers=bearer(key),
    )
    assert answered.status_code == 200, answered.json
    with app.app_context():
        merchant = merchants.get_by_slug("bodega")
        assert merchant is not None
        token = resolutions.offer("review", ids[6], merchant.id)  # what its email carries
        db.session.commit()
    done = client.post("/api/v1/resolutions", json={"token": token, "resolved": True, "rating": 5})
    assert done.status_code == 201, done.json
    badging.clear_cache()
    return "bodega"


def test_the_script_recomputes_the_signed_kpis(app, client, runner, live_server):
    slug = kpi_shop(app, client)
    claims = signed_claims(client, slug)
    signed = claims["kpis"]
    assert signed["min_sample"] == numbers.KPI_MIN_SAMPLE
    assert signed["satisfaction"]["csat"] is not None and signed["satisfaction"]["nps"] is not None
    assert signed["delivery"]["on_time_rate"] is not None
    assert signed["first_response"]["median_hours"] is not None
    assert signed["first_response"]["measured"] == 12  # eleven reviews and the complaint
    assert signed["resolution"]["measured"] == 1  # the update
    script = run_script(live_server, slug)
    assert script.returncode == 0, script.stdout + script.stderr
    cli = runner.invoke(args=["log", "audit", live_server, "--merchant", slug])
    assert cli.exit_code == 0, cli.output
    ours = comparisons(script.stdout)
    assert ours == comparisons(cli.output)
    assert ours["kpis"] == ("OK", signed, signed)
    assert ours["score"] == ("OK", claims["score"], claims["score"])
    assert all(verdict == "OK" for verdict, _, _ in ours.values())


def flatter_kpis(app: Flask, slug: str, extra: int = 5) -> None:
    """A dishonest operator who edits only the KPI counts of the kept replay state:
    ``extra`` more on-time deliveries and promoters. The review sums still agree with the
    database, so the service's check before signing finds nothing (the KPIs exist only as
    the replay) and the badge signs the flattered KPIs."""
    with app.app_context():
        row = db.session.scalars(select(ReplayState).where(ReplayState.merchant_slug == slug)).one()
        state = numbers.MerchantState.from_json(row.state)
        state.kpi.on_time_n += extra
        state.kpi.on_time_yes += extra
        state.kpi.recommend_n += extra
        state.kpi.promoters += extra
        row.state = state.to_json()
        db.session.commit()
        db.session.remove()
    badging.clear_cache()


def test_kpis_the_log_does_not_give_are_a_mismatch_for_both(app, client, runner, live_server):
    slug = kpi_shop(app, client)
    honest = signed_claims(client, slug)["kpis"]
    flatter_kpis(app, slug)
    flattered = signed_claims(client, slug)["kpis"]
    assert flattered["delivery"]["measured"] == honest["delivery"]["measured"] + 5
    assert flattered["satisfaction"]["nps_measured"] == honest["satisfaction"]["nps_measured"] + 5
    script = run_script(live_server, slug)
    assert script.returncode == 1, script.stdout + script.stderr
    cli = runner.invoke(args=["log", "audit", live_server, "--merchant", slug])
    assert cli.exit_code == 1, cli.output
    ours, theirs = comparisons(script.stdout), comparisons(cli.output)
    assert ours == theirs
    assert ours["kpis"] == ("MISMATCH", flattered, honest)
    assert [name for name, (verdict, _, _) in ours.items() if verdict != "OK"] == ["kpis"]
    assert "MISMATCH  kpis: signed" in script.stdout
    assert script.stdout.splitlines()[-1] == f"MISMATCH: the badge of {slug} at {live_server}"


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


# -- the script's replay against numbers.Replay, leaf by leaf ---------------------------


@cache
def script_module() -> ModuleType:
    """docs/audit_badge.py as a module (it imports nothing of trustseal)."""
    spec = importlib.util.spec_from_file_location("audit_badge", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def synthetic_log(seed: int) -> list[dict[str, Any]]:
    """One merchant's leaves with every kind that moves a number: reviews with and without
    the optional answers and delivery dates, first answers, removals and restores, updates
    (no new rating, the same, another), book entries filed, answered and confirmed, seal
    decisions. Later leaves repeat their effect fields or, as older leaves, omit them."""
    rng = random.Random(seed)
    moment = datetime(2025, 12, 1, 9, tzinfo=UTC)
    leaves: list[dict[str, Any]] = []
    reviews: dict[int, dict[str, Any]] = {}  # id → effect, removed, answered, updated
    book: dict[str, dict[str, Any]] = {}  # number → filed_at, kind, answered, confirmed

    def add(event_type: str, /, **data: Any) -> dict[str, Any]:
        leaf = {"v": 1, "type": event_type, "merchant": "m", "time": _time(moment), **data}
        leaves.append(leaf)
        return leaf

    def repeated(review: dict[str, Any], answered: bool = True) -> dict[str, Any]:
        if rng.random() < 0.3:
            return {}  # an older leaf, without them
        fields = dict(review["effect"])
        if answered:
            fields["answered"] = review["answered"]
        return fields

    def publish() -> None:
        review_id = len(reviews) + 1
        data: dict[str, Any] = {
            "review_id": review_id,
            "rating": rng.choice([1, 2, 3, 4, 5, 5]),
            "process_rating": rng.randint(1, 5),
            "purchase_id": review_id,
        }
        if rng.random() < 0.9:  # else an older leaf: declared
            level = rng.choice(["platform", "platform", "declared"])
            data["verification"] = {"level": level, "source": "shopify"}
        if rng.random() < 0.7:
            data["on_time"] = rng.random() < 0.7
        if rng.random() < 0.7:
            data["recommend"] = rng.randint(0, 10)
        if rng.random() < 0.3:
            data["dimensions"] = {"product": rng.randint(1, 5)}
        if rng.random() < 0.7:
            placed = (moment - timedelta(days=rng.randint(2, 120))).date()
            dates = {
                "placed_on": placed,
                "delivered_on": placed + timedelta(days=rng.choice([0, 2, 95, rng.randint(0, 99)])),
                "promised_by": placed + timedelta(days=rng.randint(1, 10)),
            }
            data["delivery"] = {k: d.isoformat() for k, d in dates.items() if rng.random() < 0.85}
        leaf = add("review.published", **data)
        reviews[review_id] = {
            "effect": numbers.review_effect(len(leaves) - 1, leaf),
            "removed": False,
            "answered": False,
            "updated": False,
        }

    def review_event() -> None:
        # mostly one of the latest reviews, so that answer times run from hours to months
        review_id = rng.choice(list(reviews)[-4:] if rng.random() < 0.6 else list(reviews))
        review = reviews[review_id]
        choice = rng.random()
        if choice < 0.4 and not review["answered"]:
            add("response.created", review_id=review_id, **repeated(review, answered=False))
            review["answered"] = True
        elif choice < 0.6:
            kind = "review.restored" if review["removed"] else "review.removed"
            add(kind, review_id=review_id, reason="spam", **repeated(review))
            review["removed"] = not review["removed"]
        elif not review["updated"] and not review["removed"]:
            new_rating = rng.choice([None, review["effect"]["rating"], 1, 3, 5])
            resolved = rng.random() < 0.6
            fields = {"new_rating": new_rating, "resolved": resolved, **repeated(review)}
            add("review.updated", review_id=review_id, **fields)
            review["updated"] = True
            if new_rating is not None:
                review["effect"]["rating"] = new_rating

    def book_event() -> None:
        if rng.random() < 0.4 or not book:
            number = f"{len(book) + 1:06d}-2026"
            kind = rng.choice(["reclamo", "queja", "felicitacion"])
            add("book.filed", number=number, kind=kind, filed_on=moment.date().isoformat())
            book[number] = {"filed_at": _time(moment), "kind": kind}
            return
        number = rng.choice(list(book))
        entry = book[number]
        if entry["kind"] == "felicitacion" or entry.get("confirmed"):
            return
        filed = {"filed_at": entry["filed_at"]} if rng.random() < 0.8 else {}
        if not entry.get("answered"):
            today = moment.date().isoformat()
            add("book.answered", number=number, kind=entry["kind"], answered_on=today, **filed)
            entry["answered"] = True
        else:
            resolved = rng.random() < 0.7
            add("book.confirmed", number=number, kind=entry["kind"], resolved=resolved, **filed)
            entry["confirmed"] = True

    def seal_decision() -> None:
        kind, status = rng.choice(
            [
                ("seal.applied", "pending"),
                ("seal.approved", "active"),
                ("seal.suspended", "suspended"),
            ]
        )
        until = _time(moment + timedelta(days=rng.randint(-5, 365)))
        add(kind, status=status, reason="", valid_until=until)

    publish()
    for _ in range(rng.randint(250, 350)):
        moment += timedelta(hours=rng.uniform(0.5, 40))
        rng.choices([publish, review_event, book_event, seal_decision], [35, 35, 27, 3])[0]()
    return leaves


@pytest.mark.parametrize("seed", range(12))
def test_the_scripts_replay_gives_what_numbers_gives(seed):
    leaves = synthetic_log(seed)
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    replay = numbers.Replay()
    for index, leaf in enumerate(leaves):
        assert replay.feed(index, leaf) is None
    expected = replay.states["m"].numbers(now)
    merchant = script_module().Replay()
    for index, leaf in enumerate(leaves):
        merchant.feed({**leaf, "index": index})
    found = merchant.numbers(now)
    assert found["kpis"] == expected["kpis"]
    assert found["score"] == expected["score"]
    assert found["rating_count"] == expected["rating_count"]
    assert found["provenance"] == expected["provenance"]
    assert found["history"] == [month["count"] for month in expected["history"]]
    assert found["seal_status"] == expected["seal"]["status"]
    assert found["valid_until"] == expected["seal"]["valid_until"]
    # the log is long enough that every KPI has its minimum sample
    for group in ("delivery", "satisfaction", "first_response", "resolution"):
        assert None not in expected["kpis"][group].values(), (group, expected["kpis"][group])
    assert any(leaf["type"] == "review.updated" and leaf["new_rating"] for leaf in leaves)


def test_the_scripts_pieces_round_as_numbers_does():
    script = script_module()
    for total in range(numbers.KPI_MIN_SAMPLE - 1, 41):
        for hits in range(total + 1):
            assert script.share(hits, total) == numbers.measured_share(hits, total)
            for detractors in range(total - hits + 1):  # every tie of the NPS too
                found = script.net_promoter(hits, detractors, total)
                assert found == numbers.net_promoter(hits, detractors, total)
    for tenths in range(-20, 24 * 100 * 10, 7):  # hours, up to 100 days
        hours = tenths / 10
        assert script.answer_bucket(hours) == numbers.response_bucket(hours)
    for bucket in range(137):
        assert script.bucket_middle(bucket) == numbers.bucket_hours(bucket)
    published = [leaf for leaf in synthetic_log(0) if leaf["type"] == "review.published"]
    for leaf in published:
        assert script.delivery(leaf) == numbers.delivery_facts(leaf)
    days = {script.delivery(leaf)[1] for leaf in published}
    assert {0, 95, None} <= days  # the same day, past the 90 days cap, unknown


PUBLISHED = {
    "type": "review.published",
    "merchant": "m",
    "time": "2026-01-02T03:04:05Z",
    "review_id": 7,
    "rating": 2,
    "process_rating": 4,
}
FILED = {
    "type": "book.filed",
    "merchant": "m",
    "time": "2026-01-03T10:00:00Z",
    "number": "000001-2026",
    "kind": "reclamo",
}
PRAISE = {**FILED, "number": "000002-2026", "kind": "felicitacion"}
UPDATED = {
    "type": "review.updated",
    "merchant": "m",
    "time": "2026-01-09T10:00:00Z",
    "review_id": 7,
    "new_rating": 4,
    "resolved": True,
}
REMOVED = {
    "type": "review.removed",
    "merchant": "m",
    "time": "2026-01-05T00:00:00Z",
    "review_id": 7,
}
ANSWERED = {"type": "book.answered", "merchant": "m", "time": "2026-01-04T10:00:00Z"}
CONFIRMED = {"type": "book.confirmed", "merchant": "m", "time": "2026-01-06T10:00:00Z"}


@pytest.mark.parametrize(
    "leaves",
    [
        [{**ANSWERED, "number": "000009-2026"}],  # no book.filed
        [FILED, {**CONFIRMED, "number": FILED["number"], "resolved": True}],  # not answered
        [PRAISE, {**ANSWERED, "number": PRAISE["number"]}],  # a felicitación
        [FILED, {**ANSWERED, "number": FILED["number"], "filed_at": "2026-01-03T11:00:00Z"}],
        [FILED, {**ANSWERED, "number": FILED["number"]}, {**ANSWERED, "number": FILED["number"]}],
        [{**FILED, "time": "2026-01-01T00:00:00Z"}, FILED],  # filed twice
        [UPDATED, UPDATED],  # one update per review
        [REMOVED, UPDATED],  # not on a removed review
        [UPDATED, {**REMOVED, "rating": 2}],  # a removal repeats the updated rating
        [{**UPDATED, "rating": 5}],  # an update repeats the review's rating
        [{**UPDATED, "review_id": 8}],  # no review.published
    ],
)
def test_the_script_refuses_what_numbers_refuses(leaves):
    """Each log's last leaf contradicts an earlier one: both replays take every leaf before
    it and refuse it."""
    log_leaves = [PUBLISHED, *leaves]
    replay, merchant = numbers.Replay(), script_module().Replay()
    for index, leaf in enumerate(log_leaves[:-1]):
        assert replay.feed(index, leaf) is None
        merchant.feed({**leaf, "index": index})
    last = len(log_leaves) - 1
    assert replay.feed(last, log_leaves[-1]) is not None
    with pytest.raises(ValueError):
        merchant.feed({**log_leaves[-1], "index": last})


def test_an_updated_rating_counts_in_the_scripts_score_and_kpis():
    """Ten two-star reviews, five of them updated to five stars by their authors."""
    published = [{**PUBLISHED, "review_id": n, "rating": 2, "recommend": 9} for n in range(1, 11)]
    updated = [{**UPDATED, "review_id": n, "new_rating": 5} for n in range(1, 6)]
    merchant = script_module().Replay()
    for index, leaf in enumerate([*published, *updated]):
        merchant.feed({**leaf, "index": index})
    now = datetime(2026, 2, 1, tzinfo=UTC)
    found = merchant.numbers(now)
    assert found["rating_count"] == 10
    assert found["kpis"]["satisfaction"]["csat"] == 0.5  # five of ten now 4 or 5
    assert found["kpis"]["satisfaction"]["nps"] == 100
    assert found["kpis"]["resolution"] == {"rate": None, "median_days": None, "measured": 5}
    as_published = script_module().Replay()
    for index, leaf in enumerate(published):
        as_published.feed({**leaf, "index": index})
    assert as_published.numbers(now)["score"] < found["score"]
