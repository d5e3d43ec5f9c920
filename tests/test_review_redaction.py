"""Staff hide part of a review's text (redaction): the rating and the rest stay, the change
is a logged ``review.redacted`` leaf committing to the new text, the old text's salt is
forgotten, the reviewer is told the public reason, and ``log verify`` holds the database
to it."""

from __future__ import annotations

import email as email_lib
import hashlib
import json
from email import policy as email_policy
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from tests.helpers import bearer, make_staff, tamper
from tests.reviewing import post_review, review_link
from tests.signing_in import make_merchant_user, make_staff_user, post_form, sign_in
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.reviews.models import Review
from trustseal.transparency import service as log
from trustseal.transparency.models import LogEntry

ADDRESS = "Av. Los Olivos 123, dpto. 4"
BODY = f"Llegó tarde. Vengan a {ADDRESS} por el reembolso, no contestan."


@pytest.fixture
def key(app: Flask) -> str:
    return make_merchant_user(app)[0]


@pytest.fixture
def review_id(client: FlaskClient, key: str) -> int:
    # An address: personal data that the submission's masking (emails, phones, DNI) misses.
    answer = post_review(client, review_link(client, key, "R-1"), rating=2, body=BODY)
    assert answer.status_code == 201, answer.json
    assert ADDRESS in client.get(f"/api/v1/reviews/{answer.json['id']}").json["body"]
    return answer.json["id"]


def _redact(client: FlaskClient, token: str, review_id: int, **body: Any) -> Any:
    return client.post(
        f"/api/v1/reviews/{review_id}/moderation",
        json={"action": "redact", "reason": "personal_data", **body},
        headers=bearer(token),
    )


def _leaf(client: FlaskClient, index: int) -> dict[str, Any]:
    (entry,) = client.get(f"/api/v1/log/entries?start={index}&end={index}").json
    return json.loads(entry["leaf"])


def _commitment(salt_hex: str, text: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt_hex) + text.encode()).hexdigest()


def _log_size(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(LogEntry)) or 0


def test_a_redaction_hides_the_passage_keeps_the_rating_and_is_logged(
    app: Flask, client: FlaskClient, review_id: int, tmp_path: Path
):
    app.config["TRUSTSEAL_OUTBOX_DIR"] = str(tmp_path)
    before = client.get(f"/api/v1/reviews/{review_id}").json
    moderator = make_staff(app, "moderator")
    answer = _redact(client, moderator, review_id, passages=[ADDRESS])
    assert answer.status_code == 200, answer.json
    shown = answer.json
    assert shown["body"] == "Llegó tarde. Vengan a […] por el reembolso, no contestan."
    assert shown["title"] == before["title"] and shown["rating"] == 2
    assert shown["redaction_reason"] == "personal_data" and shown["status"] == "published"
    assert shown["log_index"] == before["log_index"]
    assert shown["text_log_index"] > before["log_index"]

    # The new leaf names the reason and the field, and commits to the text shown.
    leaf = _leaf(client, shown["text_log_index"])
    assert leaf["type"] == "review.redacted" and leaf["review_id"] == review_id
    assert leaf["reason"] == "personal_data" and leaf["fields"] == ["body"]
    assert ADDRESS not in str(leaf)
    assert leaf["text_sha256"]["body"] == _commitment(shown["salt"], shown["body"])
    assert leaf["text_sha256"]["title"] == _commitment(shown["salt"], shown["title"])
    # The first leaf's salt is gone: nobody can test a guess of the hidden address.
    with app.app_context():
        assert log.salts([before["log_index"]]) == {}

    # Searching for the hidden words finds nothing; the profile says what happened.
    profile = client.get("/m/bodega?q=olivos").get_data(as_text=True)
    assert ADDRESS not in profile and "Ninguna opinión coincide" in profile
    page = client.get("/m/bodega").get_data(as_text=True)
    assert "Parte de este texto fue ocultada por la certificadora" in page
    assert "contenía datos personales" in page and ADDRESS not in page

    with app.app_context():
        jobs.run_due_jobs()
    told = [
        email_lib.message_from_bytes(p.read_bytes(), policy=email_policy.default)
        for p in tmp_path.glob("*.eml")
    ]
    hidden = [m for m in told if "ocultó parte" in str(m["Subject"])]
    assert len(hidden) == 1, [str(m["Subject"]) for m in told]
    text = hidden[0].get_body(("plain",)).get_content()
    assert "contenía datos personales" in text and "[…]" in text and ADDRESS not in text


def _forget_redaction(review_id: int) -> Any:
    """The statement that makes a review look never redacted."""
    return (
        update(Review)
        .where(Review.id == review_id)
        .values(text_log_index=None, redaction_reason=None)
    )


def test_log_verify_holds_a_redacted_text_to_its_new_leaf(
    app: Flask, client: FlaskClient, runner: Any, review_id: int
):
    moderator = make_staff(app, "moderator")
    assert _redact(client, moderator, review_id, passages=[ADDRESS]).status_code == 200
    assert _redact(client, moderator, review_id, passages=["no contestan"]).status_code == 200
    result = runner.invoke(args=["log", "verify"])
    assert result.exit_code == 0, result.output

    # the operator puts the address back
    tamper(app, update(Review).where(Review.id == review_id).values(body=BODY))
    result = runner.invoke(args=["log", "verify"])
    assert result.exit_code == 1
    assert f"redaction of review {review_id} (the text shown): the stored body does not" in (
        result.output
    )


def test_log_verify_notices_a_redaction_leaf_without_its_record(
    app: Flask, client: FlaskClient, runner: Any, review_id: int
):
    moderator = make_staff(app, "moderator")
    assert _redact(client, moderator, review_id, passages=[ADDRESS]).status_code == 200
    tamper(app, _forget_redaction(review_id))  # the operator hides that it happened
    result = runner.invoke(args=["log", "verify"])
    assert result.exit_code == 1
    assert (
        f"redaction of review {review_id} (the text shown): its text_log_index is None, not "
        "its last redaction's leaf" in result.output
    )


def test_log_verify_notices_a_redaction_undone_or_pointed_back(
    app: Flask, client: FlaskClient, runner: Any, review_id: int
):
    """The operator's other ways out: point the text at an earlier redaction (whose salt is
    gone) and write what it likes, or delete the redactions' records altogether."""
    from sqlalchemy import delete

    from trustseal.reviews.models import ModerationAction

    moderator = make_staff(app, "moderator")
    first = _redact(client, moderator, review_id, passages=[ADDRESS]).json["text_log_index"]
    assert _redact(client, moderator, review_id, passages=["no contestan"]).status_code == 200
    tamper(
        app,
        update(Review)
        .where(Review.id == review_id)
        .values(text_log_index=first, body="Todo perfecto."),
    )
    result = runner.invoke(args=["log", "verify"])
    assert result.exit_code == 1
    assert f"its text_log_index is {first}, not its last redaction's leaf" in result.output

    tamper(
        app,
        delete(ModerationAction).where(ModerationAction.action == "redact"),
        _forget_redaction(review_id),
    )
    result = runner.invoke(args=["log", "verify"])
    assert result.exit_code == 1
    assert f"review {review_id}: the review.redacted leaf at index" in result.output
    assert "names a record that is not in the database" in result.output


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"passages": ["no está en el texto"]}, 422, "passages"),
        ({"passages": ["   "]}, 422, "passages"),
        ({"passages": [BODY]}, 422, "passages"),  # all of it: remove the review instead
        ({"passages": ["[…]"]}, 422, "passages"),  # nothing would change
        ({"passages": [ADDRESS], "reason": "no me gusta"}, 422, "reason"),
        ({}, 422, "passages"),
        ({"action": "remove", "passages": [ADDRESS]}, 422, "passages"),
    ],
)
def test_a_refused_redaction_changes_nothing(
    app: Flask, client: FlaskClient, review_id: int, body: dict[str, Any], status: int, field: str
):
    moderator = make_staff(app, "moderator")
    size = _log_size(app)
    answer = _redact(client, moderator, review_id, **body)
    assert answer.status_code == status, answer.json
    assert field in answer.json["errors"]["json"]
    shown = client.get(f"/api/v1/reviews/{review_id}").json
    assert shown["body"] == BODY and shown["redaction_reason"] is None
    assert _log_size(app) == size


def test_only_staff_redact_and_not_a_removed_review(
    app: Flask, client: FlaskClient, key: str, review_id: int
):
    assert _redact(client, key, review_id, passages=[ADDRESS]).status_code in (401, 403)
    moderator = make_staff(app, "moderator")
    removed = client.post(
        f"/api/v1/reviews/{review_id}/moderation",
        json={"action": "remove", "reason": "personal_data"},
        headers=bearer(moderator),
    )
    assert removed.status_code == 200
    assert _redact(client, moderator, review_id, passages=[ADDRESS]).status_code == 409


def test_erasing_a_redacted_review_forgets_every_salt(
    app: Flask, client: FlaskClient, review_id: int
):
    from trustseal.reviews import service as reviews

    moderator = make_staff(app, "moderator")
    shown = _redact(client, moderator, review_id, passages=[ADDRESS]).json
    with app.app_context():
        purchase_id = db.session.get(Review, review_id).purchase_id
        assert reviews.erase_personal_data([purchase_id]) == 1
        db.session.commit()
        assert log.salts([shown["log_index"], shown["text_log_index"]]) == {}
    assert client.get(f"/api/v1/reviews/{review_id}").json["salt"] is None


def test_the_console_hides_a_flagged_passage_after_a_confirmation(
    app: Flask, client: FlaskClient, key: str, review_id: int
):
    client.post(
        f"/api/v1/reviews/{review_id}/flags",
        json={"reason": "personal_data", "detail": "Publica una dirección"},
        headers=bearer(key),
    )
    email, password = make_staff_user(app, "moderator")
    sign_in(client, email, password)
    queue = client.get("/console/moderation").get_data(as_text=True)
    assert "Ocultar solo parte del texto" in queue
    assert '<details class="redact" open>' in queue  # the flag's reason: personal data
    decision = f"/console/reviews/{review_id}/decision"
    wanted = {"decision": "redact", "reason": "personal_data", "passages": ADDRESS}
    post_form(client, decision, wanted, token_from="/console/moderation")  # not confirmed
    assert client.get(f"/api/v1/reviews/{review_id}").json["body"] == BODY
    refused = post_form(
        client,
        decision,
        {**wanted, "passages": "otro texto", "confirm": "yes"},
        token_from="/console/moderation",
    )
    assert refused.status_code == 302
    assert "Copia cada pasaje" in client.get("/console/moderation").get_data(as_text=True)
    post_form(client, decision, {**wanted, "confirm": "yes"}, token_from="/console/moderation")
    shown = client.get(f"/api/v1/reviews/{review_id}").json
    assert ADDRESS not in shown["body"] and shown["redaction_reason"] == "personal_data"
    assert "No hay opiniones marcadas" in client.get("/console/moderation").get_data(as_text=True)
