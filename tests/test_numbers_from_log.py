"""Every public number comes from the log: leaves carry what the numbers need, the
appender keeps each merchant's replay state, and the badge and the score are signed or
served only when the database says what the log says. The attacks are an operator's:
edit the running sums or the seal in the database, and see the service refuse (503),
alert staff, and ``trustseal log verify`` exit 1 naming the number."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select, update

from tests.helpers import bearer, make_staff, pass_all_criteria
from tests.reviewing import post_review, publish_review, review_link, shop
from tests.signing_in import make_staff_user, sign_in
from trustseal.badging import service as badging
from trustseal.extensions import db
from trustseal.mail.models import OutboxMessage
from trustseal.reviews.models import ScoreAggregate, ScoreMonth
from trustseal.seals.models import Seal
from trustseal.signing import jws
from trustseal.transparency import merkle, numbers
from trustseal.transparency import service as log
from trustseal.transparency.models import NumbersAlert, ReplayState

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def _entries(client: FlaskClient) -> list[dict[str, Any]]:
    size = client.get("/api/v1/log/tree-head").json["tree_size"]
    page = client.get(f"/api/v1/log/entries?start=0&end={size - 1}").json
    return [{"index": e["index"], **json.loads(e["leaf"])} for e in page]


def _moderate(client: FlaskClient, token: str, review_id: int, action: str) -> None:
    answer = client.post(
        f"/api/v1/reviews/{review_id}/moderation",
        json={"action": action, "reason": "spam" if action == "remove" else "Es genuina"},
        headers=bearer(token),
    )
    assert answer.status_code == 200, answer.json


def _approve(app: Flask, client: FlaskClient, slug: str = "bodega") -> None:
    pass_all_criteria(app, slug)
    answer = client.post(
        f"/api/v1/merchants/{slug}/seal",
        json={"action": "approve", "reason": "Cumple los criterios"},
        headers=bearer(make_staff(app, "certifier", f"cert-{slug}@sello.pe")),
    )
    assert answer.status_code == 200, answer.json


@pytest.fixture
def certified(app: Flask, client: FlaskClient) -> str:
    """A certified shop with six reviews (two negative, one answered, one removed)."""
    key = shop(app)
    ids = [
        publish_review(client, key, f"N-{n}", rating=r) for n, r in enumerate((1, 2, 4, 5, 5, 3))
    ]
    answered = client.put(
        f"/api/v1/reviews/{ids[0]}/response",
        json={"body": "Le escribimos para resolverlo."},
        headers=bearer(key),
    )
    assert answered.status_code == 200, answered.json
    _moderate(client, make_staff(app, "moderator"), ids[5], "remove")
    _approve(app, client)
    badging.clear_cache()
    return key


# -- the leaves ----------------------------------------------------------------------


def test_later_leaves_repeat_what_their_review_adds_to_the_numbers(app, client, certified):
    leaves = _entries(client)
    published = {leaf["review_id"]: leaf for leaf in leaves if leaf["type"] == "review.published"}
    for leaf in leaves:
        if leaf["type"] not in ("review.removed", "response.created"):
            continue
        review = published[leaf["review_id"]]
        assert leaf["published_index"] == review["index"]
        assert leaf["rating"] == review["rating"]
        assert leaf["process_rating"] == review["process_rating"]
        assert leaf["reviewed_at"] == review["time"]
        assert leaf["level"] == review["verification"]["level"]
        if leaf["type"] == "review.removed":
            assert leaf["answered"] is False
    kinds = [leaf["type"] for leaf in leaves]
    assert kinds.count("review.removed") == 1 and kinds.count("response.created") == 1
    assert kinds.count("seal.approved") == 1


def test_an_application_is_a_leaf_and_pending_comes_from_the_log(app, client):
    key = shop(app)
    applied = client.post(
        "/api/v1/seal/application", json={"note": "Queremos el sello"}, headers=bearer(key)
    )
    assert applied.status_code == 201, applied.json
    (leaf,) = [e for e in _entries(client) if e["type"] == "seal.applied"]
    assert leaf["status"] == "pending" and leaf["reason"] == "Queremos el sello"
    with app.app_context():
        assert log.replayed("bodega").seal(NOW)["status"] == "pending"


# -- the kept replay state -------------------------------------------------------------


def test_the_kept_state_equals_the_database_and_a_full_replay(app, client, certified):
    with app.app_context():
        from trustseal.merchants import service as merchants

        merchant = merchants.get_by_slug("bodega")
        now = datetime.now(UTC)
        logged, state = badging.checked_numbers(merchant, now)  # no NumbersDisagree
        assert logged["rating_count"] == 5 and logged["removed_count"] == 1
        assert logged["seal"]["status"] == "active" and len(logged["criteria_passed"]) == 16
        assert logged["response_rate"] == 0.5  # one of two negative reviews answered
        assert log.replay("bodega") == (state, None)
        assert state.last_index == log.size() - 1  # the approval was the last leaf


def test_the_appender_refuses_a_leaf_without_its_numbers(app):
    with app.app_context(), pytest.raises(KeyError):
        log.append(log.Event("review.published", merchant="bodega", data={"review_id": 1}))
    with app.app_context():
        db.session.rollback()
        assert log.size() == 0


# -- the service refuses numbers the log does not give --------------------------------

TAMPERING: dict[str, tuple[Any, str]] = {
    "inflated-aggregate": (
        update(ScoreAggregate).values(
            decay_rating=ScoreAggregate.decay_rating * 1.2,
            dist_1=0,
            dist_5=ScoreAggregate.dist_5 + 1,
        ),
        "distribution.1: the log says 1, the database 0",
    ),
    "inflated-decay": (
        update(ScoreAggregate).values(decay_rating=ScoreAggregate.decay_rating * 1.2),
        "score: the log says",
    ),
    "rewritten-history": (
        update(ScoreMonth).values(count=ScoreMonth.count + 4),
        "history",
    ),
    "seal-reactivated": (
        update(Seal).values(status="active", valid_until=datetime(2030, 1, 1, tzinfo=UTC)),
        "seal.",
    ),
}


def _suspend(app: Flask, client: FlaskClient) -> None:
    answer = client.post(
        "/api/v1/merchants/bodega/seal",
        json={"action": "suspend", "reason": "Reclamos sin responder"},
        headers=bearer(make_staff(app, "certifier", "cert-2@sello.pe")),
    )
    assert answer.status_code == 200, answer.json


@pytest.mark.parametrize("attack", list(TAMPERING))
def test_numbers_edited_in_the_database_are_refused_alerted_and_caught(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, certified: str, attack: str
):
    statement, problem = TAMPERING[attack]
    if attack == "seal-reactivated":
        _suspend(app, client)
    assert client.get("/badges/bodega.svg").status_code == 200
    staff_before = _alert_mails(app)
    with app.app_context():
        db.session.execute(statement)
        db.session.commit()
    badging.clear_cache()

    told = None
    for url in ("/badges/bodega.svg", "/badges/bodega.png", "/badges/bodega/assertion"):
        refused = client.get(url)
        told = told or _alert_mails(app)  # staff are emailed at the first refusal
        assert refused.status_code == 503, (url, refused.data[:200])
        assert "transparency log" in refused.json["message"]
        assert refused.headers["Retry-After"]
    score = client.get("/api/v1/merchants/bodega/score")
    assert score.status_code == 503 and "transparency log" in score.json["message"]

    with app.app_context():
        (alert,) = db.session.scalars(select(NumbersAlert)).all()
        assert alert.merchant_slug == "bodega" and problem in alert.problem, alert.problem
        assert alert.times == 4  # seen by each refused request, staff told once
    assert told > staff_before and _alert_mails(app) == told  # and only then

    verified = runner.invoke(args=["log", "verify"])
    assert verified.exit_code == 1, verified.output
    assert "bodega: " in verified.output and "in the replay of the log" in verified.output

    console = app.test_client()
    sign_in(console, *make_staff_user(app, "certifier", "console@sello.pe"))
    page = console.get("/console").get_data(as_text=True)
    assert "Números que no coinciden con el registro" in page and "bodega" in page


def _alert_mails(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.template == "numbers_alert")
        )


def test_an_edited_replay_state_is_caught_by_log_verify(app, runner, client, certified):
    """An operator who edits the kept state and the running sums alike gets the badge
    signed — but ``log verify`` replays the leaves themselves (``log audit`` too, from
    outside: tests/test_docs_audit_script.py)."""
    with app.app_context():
        row = db.session.get(ReplayState, "bodega")
        state = numbers.MerchantState.from_json(row.state)
        state.sums.dist_5 += 1
        row.state = state.to_json()
        db.session.execute(update(ScoreAggregate).values(dist_5=ScoreAggregate.dist_5 + 1))
        db.session.commit()
    badging.clear_cache()
    assert client.get("/badges/bodega.svg").status_code == 200  # the two copies agree
    verified = runner.invoke(args=["log", "verify"])
    assert verified.exit_code == 1
    assert "bodega: distribution.5 is 3 in the database, 2 in the replay" in verified.output


# -- the assertion ---------------------------------------------------------------------


def _claims(client: FlaskClient) -> dict[str, Any]:
    token = client.get("/badges/bodega/assertion").get_data(as_text=True)
    return jws.verify(token, client.get("/.well-known/jwks.json").json)[1]


def test_the_assertion_names_the_head_right_after_its_last_event(app, client, certified):
    claims = _claims(client)
    leaves = _entries(client)
    last = max(e["index"] for e in leaves if e["merchant"] == "bodega")
    assert leaves[last]["type"] == "seal.approved"
    assert claims["log"]["tree_size"] == last + 1
    hashes = [merkle.leaf_hash(merkle.canonical_json(_leaf(e))) for e in leaves[: last + 1]]
    assert claims["log"]["root_hash"] == merkle.root_from_leaf_hashes(hashes).hex()
    assert claims["formula_version"] == numbers.FORMULA_VERSION
    assert claims["provenance"] == {"platform": 0, "declared": 5}
    assert claims["seal_status"] == "active" and claims["rating_count"] == 5

    # another shop's event does not move this badge's head
    other = shop(app, "otra")
    post_review(client, review_link(client, other, "O-1"))
    badging.clear_cache()
    assert _claims(client)["log"]["tree_size"] == last + 1


def _leaf(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k != "index"}


def test_the_score_is_computed_at_the_assertions_iat(app, client, certified):
    claims = _claims(client)
    with app.app_context():
        state = log.replayed("bodega")
    at = datetime.fromtimestamp(claims["iat"], UTC)
    again = state.numbers(at)
    assert claims["score"] == again["score"]
    assert claims["history"] == [m["count"] for m in again["history"]]


# -- the pure replay ---------------------------------------------------------------------


def _published(index: int, review_id: int, rating: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "review.published",
        "merchant": "m",
        "time": "2026-01-02T03:04:05Z",
        "review_id": review_id,
        "rating": rating,
        "process_rating": 4,
        **extra,
    }


def test_replay_fills_the_effect_of_leaves_written_before_it_was_logged():
    replay = numbers.Replay()
    assert replay.feed(0, _published(0, 7, 2)) is None
    old_removal = {"type": "review.removed", "merchant": "m", "time": "x", "review_id": 7}
    assert replay.feed(1, old_removal) is None
    state = replay.states["m"]
    assert state.sums.published == 0 and state.sums.removed == 1 and state.sums.declared == 0
    assert state.sums.negative == 0 and state.months == {"2026-01": [0, 0]}


ANSWER = {
    "type": "response.created",
    "merchant": "m",
    "review_id": 7,
    "time": "2026-01-03T03:04:05Z",
}


@pytest.mark.parametrize(
    ("leaves", "problem"),
    [
        (
            [{"type": "review.removed", "merchant": "m", "review_id": 9}],
            "leaf 1 (review.removed): review 9 has no review.published leaf",
        ),
        (
            [{"type": "review.removed", "merchant": "m", "review_id": 7, "rating": 5}],
            "leaf 1 (review.removed): rating is 5, but its review's leaf says 2",
        ),
        (
            [{"type": "review.restored", "merchant": "m", "review_id": 7}],
            "review 7 is not removed, it cannot be restored",
        ),
        (
            [
                {
                    "type": "response.created",
                    "merchant": "m",
                    "review_id": 7,
                    "time": "2026-01-03T03:04:05Z",
                },
                {
                    "type": "response.created",
                    "merchant": "m",
                    "review_id": 7,
                    "time": "2026-01-03T03:04:05Z",
                },
            ],
            "leaf 2: review 7 was answered before",
        ),
        ([_published(1, 7, 3)], "leaf 1: review 7 was published before"),
        (
            [{"type": "seal.approved", "merchant": "m"}],
            "leaf 1 (seal.approved) lacks or garbles 'status'",
        ),
    ],
)
def test_replay_names_the_first_contradiction(leaves, problem):
    replay = numbers.Replay()
    assert replay.feed(0, _published(0, 7, 2)) is None
    found = [replay.feed(n, leaf) for n, leaf in enumerate(leaves, start=1)]
    assert problem in next(p for p in found if p)


def test_a_first_answer_counts_its_hours_from_the_reviews_leaf_time():
    state = numbers.MerchantState()
    state.apply(0, _published(0, 1, 1))
    state.apply(
        1,
        {
            "type": "response.created",
            "time": "2026-01-02T05:04:04Z",  # 1 h 59 min 59 s later
            "rating": 1,
            "reviewed_at": "2026-01-02T03:04:05Z",
        },
    )
    assert state.buckets == {1: 1} and state.sums.negative_answered == 1
    assert state.numbers(NOW)["median_response_hours"] == 1.5


def test_an_active_seal_past_its_date_reads_expired():
    state = numbers.MerchantState()
    state.apply(
        0, {"type": "seal.approved", "status": "active", "valid_until": "2026-11-20T12:00:00Z"}
    )
    assert state.seal(NOW - timedelta(seconds=1))["status"] == "active"
    assert state.seal(NOW)["status"] == "expired"


def test_state_round_trips_through_json():
    state = numbers.MerchantState()
    state.apply(0, _published(0, 1, 5, verification={"level": "platform", "source": "shopify"}))
    state.apply(1, {"type": "seal.criterion", "criterion": "https", "verdict": "pass"})
    assert numbers.MerchantState.from_json(state.to_json()) == state
    assert state.numbers(NOW)["provenance"] == {"platform": 1, "declared": 0}
    assert state.passed_criteria() == ["https"]
