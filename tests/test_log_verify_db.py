"""``trustseal log verify`` checks the database against the log: every record that
claims a leaf has it, and every stored text matches its leaf's commitment. The attacks
are an operator's: edit or delete rows, and see ``log verify`` exit 1 naming the record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import delete, select, update

from tests.helpers import bearer, make_staff, pass_all_criteria, tamper
from tests.reviewing import post_review, publish_review, review_link, shop
from trustseal.extensions import db
from trustseal.reviews import service as reviews
from trustseal.reviews.models import Review, ReviewResponse
from trustseal.seals.models import SealDecision
from trustseal.transparency import verify


@dataclass(frozen=True)
class Shop:
    """The ids of a shop's reviews: answered (and edited), removed and restored, removed,
    erased on request, and a plain one."""

    answered: int
    restored: int
    removed: int
    erased: int
    plain: int


def _moderate(client: FlaskClient, token: str, review_id: int, action: str) -> None:
    reason = "spam" if action == "remove" else "Revisada: es genuina"
    answer = client.post(
        f"/api/v1/reviews/{review_id}/moderation",
        json={"action": action, "reason": reason},
        headers=bearer(token),
    )
    assert answer.status_code == 200, answer.json


def _answer(client: FlaskClient, key: str, review_id: int, body: str) -> None:
    answer = client.put(
        f"/api/v1/reviews/{review_id}/response", json={"body": body}, headers=bearer(key)
    )
    assert answer.status_code == 200, answer.json


@pytest.fixture
def busy_shop(app: Flask, client: FlaskClient) -> Shop:
    """Reviews, an answer edited once, a removal, a removal undone, an erased review and
    an approved then suspended seal: everything through the service's doors."""
    key = shop(app)
    ids = [publish_review(client, key, f"A-{n}", rating=1 + n % 5) for n in range(5)]
    answered, restored, removed, erased, plain = ids
    _answer(client, key, answered, "Lo sentimos, le escribimos.")
    _answer(client, key, answered, "Ya enviamos el reemplazo.")
    moderator = make_staff(app, "moderator")
    _moderate(client, moderator, restored, "remove")
    _moderate(client, moderator, restored, "restore")
    _moderate(client, moderator, removed, "remove")
    with app.app_context():
        purchase_id = db.session.get(Review, erased).purchase_id
        assert reviews.erase_personal_data([purchase_id]) == 1
        db.session.commit()
    pass_all_criteria(app)
    certifier = make_staff(app, "certifier")
    for action in ("approve", "suspend"):
        decided = client.post(
            "/api/v1/merchants/bodega/seal",
            json={"action": action, "reason": "Cumple los criterios"},
            headers=bearer(certifier),
        )
        assert decided.status_code == 200, decided.json
    return Shop(answered, restored, removed, erased, plain)


def test_a_sound_shop_matches_its_log(app: Flask, runner: FlaskCliRunner, busy_shop: Shop):
    result = runner.invoke(args=["log", "verify"])
    assert result.exit_code == 0, result.output
    # 5 reviews, 2 answer versions, 3 moderation actions, 2 seal decisions; 1 merchant's numbers
    assert "13 database records match it" in result.output


def _log_index(app: Flask, review_id: int) -> int:
    with app.app_context():
        index = db.session.scalar(select(Review.log_index).where(Review.id == review_id))
        assert index is not None
        return index


Attack = Callable[[Flask, Shop], tuple[list[Any], str]]

ATTACKS: dict[str, Attack] = {
    "deleted-review": lambda app, s: (
        [delete(Review).where(Review.id == s.plain)],
        f"review {s.plain}: the review.published leaf at index {_log_index(app, s.plain)} "
        "names a record that is not in the database",
    ),
    "edited-body": lambda app, s: (
        [update(Review).where(Review.id == s.plain).values(body="Excelente, lo recomiendo.")],
        f"review {s.plain}: the stored body does not match its commitment",
    ),
    "edited-title": lambda app, s: (
        [update(Review).where(Review.id == s.restored).values(title="Perfecto")],
        f"review {s.restored}: the stored title does not match",
    ),
    "blanked-body": lambda app, s: (
        [update(Review).where(Review.id == s.removed).values(body=None)],
        f"review {s.removed}: the stored body is missing",
    ),
    "edited-rating": lambda app, s: (
        [update(Review).where(Review.id == s.plain).values(rating=2)],
        f"review {s.plain}: the review.published leaf at index {_log_index(app, s.plain)} "
        "has rating 5, not 2",
    ),
    "edited-response": lambda app, s: (
        [
            update(ReviewResponse)
            .where(ReviewResponse.review_id == s.answered)
            .values(body="Gracias por su compra.")
        ],
        f"response to review {s.answered}: the stored body does not match",
    ),
    "log-index-of-another-leaf": lambda app, s: (
        [update(Review).where(Review.id == s.plain).values(log_index=_log_index(app, s.answered))],
        f"review {s.plain}: the review.published leaf at index {_log_index(app, s.answered)} "
        f"has review_id {s.answered}, not {s.plain}",
    ),
    "log-index-beyond-the-log": lambda app, s: (
        [update(Review).where(Review.id == s.plain).values(log_index=10_000)],
        f"review {s.plain}: no review.published leaf at index 10000",
    ),
    "edited-seal-decision": lambda app, s: (
        [
            update(SealDecision)
            .where(SealDecision.action == "suspend")
            .values(reason="Suspensión temporal")
        ],
        "seal decision",
    ),
}


@pytest.mark.parametrize("attack", list(ATTACKS), ids=list(ATTACKS))
def test_an_edited_database_is_caught(
    app: Flask, runner: FlaskCliRunner, busy_shop: Shop, attack: str
):
    statements, expected = ATTACKS[attack](app, busy_shop)
    tamper(app, *statements)
    result = runner.invoke(args=["log", "verify"])
    assert result.exit_code == 1, result.output
    assert expected in result.output, result.output


def test_a_removal_without_its_leaf_is_caught(app: Flask, runner: FlaskCliRunner, client):
    """A removal recorded in the database but never logged: one leaf short."""
    key = shop(app)
    review_id = post_review(client, review_link(client, key)).json["id"]
    moderator = make_staff(app, "moderator")
    _moderate(client, moderator, review_id, "remove")
    with app.app_context():
        from trustseal.reviews.models import ModerationAction

        action = db.session.scalars(select(ModerationAction)).one()
        db.session.add(
            ModerationAction(
                review_id=review_id, staff_id=action.staff_id, action="restore", reason="x"
            )
        )
        db.session.commit()
    result = runner.invoke(args=["log", "verify"])
    assert result.exit_code == 1, result.output
    assert f"restore of review {review_id}: no review.removed/review.restored leaf" in (
        result.output
    )


# --- the pure checks ---------------------------------------------------------------------

SALT = bytes(range(32))


def _claim(**changes: Any) -> verify.LoggedClaim:
    fields: dict[str, Any] = {
        "name": "review 3",
        "kind": "review.published",
        "index": 7,
        "merchant_slug": "bodega",
        "ids": {"review_id": 3},
        "fields": {"rating": 4},
        "texts": {"body": "Bien", "title": None},
    }
    return verify.LoggedClaim(**(fields | changes))


def _leaf(**changes: Any) -> dict[str, Any]:
    return {
        "type": "review.published",
        "merchant": "bodega",
        "review_id": 3,
        "rating": 4,
        "text_sha256": {"body": verify.text_commitment(SALT, "Bien")},
    } | changes


@pytest.mark.parametrize(
    ("claim", "leaf", "salt", "expected"),
    [
        (_claim(), _leaf(), SALT, None),
        (_claim(texts={"body": "Mal"}), _leaf(), None, None),  # salt erased: skipped
        (_claim(texts={}), _leaf(), SALT, None),  # texts erased on request: skipped
        (_claim(), None, SALT, "review 3: no review.published leaf at index 7"),
        (_claim(), _leaf(type="review.removed"), SALT, "(it is a review.removed leaf)"),
        (_claim(), _leaf(merchant="otra"), SALT, "is for merchant 'otra', not 'bodega'"),
        (_claim(), _leaf(review_id=4), SALT, "has review_id 4, not 3"),
        (_claim(extra={"purchase_id": 9}), _leaf(), SALT, None),  # an older leaf lacks it
        (_claim(extra={"purchase_id": 9}), _leaf(purchase_id=8), SALT, "purchase_id 8, not 9"),
        (_claim(texts={"body": "Mal"}), _leaf(), SALT, "stored body does not match"),
        (_claim(texts={"body": "Bien", "title": "T"}), _leaf(), SALT, "title is not committed"),
        (_claim(texts={"body": None}), _leaf(), SALT, "stored body is missing"),
    ],
)
def test_claim_problem(claim, leaf, salt, expected):
    problem = verify.claim_problem(claim, 7, leaf, salt)
    assert problem == expected if expected is None else expected in (problem or "")


def test_sequence_problem_pairs_claims_and_leaves_in_order():
    family = frozenset({"response.created", "response.edited"})
    first = _claim(name="r", kind="response.created", index=None, fields={}, family=family)
    second = _claim(name="r", kind="response.edited", index=None, fields={}, family=family)
    created = _leaf(type="response.created")
    edited = _leaf(type="response.edited")
    assert verify.sequence_problem([first, second], [(1, created, SALT), (5, edited, SALT)]) is None
    assert "no response.created/response.edited leaf left" in (
        verify.sequence_problem([first, second], [(1, created, SALT)]) or ""
    )
    assert "entry 5: the response.edited leaf has no record" in (
        verify.sequence_problem([first], [(1, created, SALT), (5, edited, SALT)]) or ""
    )
    assert "(it is a response.edited leaf)" in (
        verify.sequence_problem([first], [(1, edited, SALT)]) or ""
    )


def test_anyone_checks_a_review_text_against_its_leaf_with_the_published_salt(
    client, busy_shop
):
    import hashlib
    import json

    ids = busy_shop
    page = client.get("/api/v1/merchants/bodega/reviews?limit=50").json["items"]
    by_id = {item["id"]: item for item in page}
    for review_id in (ids.plain, ids.answered, ids.restored):
        item = client.get(f"/api/v1/reviews/{review_id}").json
        assert item == by_id[review_id]  # the page and the single review say the same
        index = item["log_index"]
        (entry,) = client.get(f"/api/v1/log/entries?start={index}&end={index}").json
        leaf = json.loads(entry["leaf"])
        assert leaf["type"] == "review.published" and leaf["review_id"] == review_id
        salt = bytes.fromhex(item["salt"])
        body = hashlib.sha256(salt + item["body"].encode()).hexdigest()
        assert leaf["text_sha256"]["body"] == body
    for review_id in (ids.removed, ids.erased):  # no salt once removed or erased
        item = by_id.get(review_id) or client.get(f"/api/v1/reviews/{review_id}").json
        assert item["salt"] is None and item["log_index"] is not None
