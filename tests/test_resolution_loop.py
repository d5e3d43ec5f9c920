"""The resolution loop, end to end: after a merchant answers a review of three stars or
fewer, or a complaint, the consumer's email carries a single-use link; their answer
(resolved or not, and for a review an updated rating and text) is logged, shown beside
the original, counted by the score under formula 2026-12 and by the resolution KPI."""

from __future__ import annotations

import email as email_lib
import json
import re
from datetime import timedelta
from email import policy as email_policy
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from tests.booking import entry_body
from tests.helpers import bearer, tamper
from tests.reviewing import post_review, review_link, shop
from tests.signing_in import post_form
from trustseal.book.models import BookEntry
from trustseal.clock import utcnow
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.jobs.models import Job
from trustseal.resolutions.models import ResolutionRequest
from trustseal.reviews.models import Review
from trustseal.transparency import numbers

LINK = re.compile(r"http://trustseal\.test(/resolve/(rs_[A-Za-z0-9_-]+))")


@pytest.fixture
def outbox(app: Flask, tmp_path: Path) -> Path:
    app.config["TRUSTSEAL_OUTBOX_DIR"] = str(tmp_path)
    return tmp_path


def _run_jobs(app: Flask) -> None:
    with app.app_context():
        db.session.execute(update(Job).values(run_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        jobs.run_due_jobs()


def _texts(outbox: Path, subject_part: str) -> list[str]:
    found = []
    for path in sorted(outbox.glob("*.eml")):
        message = email_lib.message_from_bytes(path.read_bytes(), policy=email_policy.default)
        if subject_part in str(message["Subject"]):
            body = message.get_body(("plain",))
            assert body is not None
            found.append(body.get_content())
    return found


def _links(text: str) -> list[str]:
    return [match.group(2) for match in LINK.finditer(text)]


def _answered_review(
    app: Flask, client: FlaskClient, outbox: Path, rating: int
) -> tuple[str, int, list[str]]:
    """A shop, a review of ``rating`` stars answered by the shop, and the tokens in the
    answer's email to the reviewer."""
    key = shop(app)
    review = post_review(client, review_link(client, key), rating=rating, recommend=3)
    assert review.status_code == 201, review.json
    review_id = review.json["id"]
    answer = client.put(
        f"/api/v1/reviews/{review_id}/response",
        json={"body": "Lo sentimos, le enviamos otro."},
        headers=bearer(key),
    )
    assert answer.status_code == 200, answer.json
    _run_jobs(app)
    texts = _texts(outbox, "respond")
    return key, review_id, [t for text in texts for t in _links(text)]


def _entries(client: FlaskClient) -> list[dict[str, Any]]:
    size = client.get("/api/v1/log/tree-head").json["tree_size"]
    page = client.get(f"/api/v1/log/entries?start=0&end={size - 1}").json
    return [{"index": e["index"], **json.loads(e["leaf"])} for e in page]


def test_a_low_review_answered_gets_one_link_its_update_is_logged_shown_and_scored(
    app: Flask, client: FlaskClient, outbox: Path, runner: Any
) -> None:
    _, review_id, tokens = _answered_review(app, client, outbox, rating=2)
    assert len(tokens) == 1
    token = tokens[0]
    page = client.get(f"/resolve/{token}")
    assert page.status_code == 200 and "Lo sentimos, le enviamos otro." in page.text
    before = client.get("/api/v1/merchants/bodega/score").json
    assert before["distribution"]["2"] == 1 and before["resolution"]["measured"] == 0

    done = client.post(
        "/api/v1/resolutions",
        json={
            "token": token,
            "resolved": True,
            "rating": 5,
            "comment": "Me cambiaron el producto.",
        },
    )
    assert done.status_code == 201, done.json
    assert done.json["subject"] == "review" and done.json["resolved"] is True

    shown = client.get(f"/api/v1/reviews/{review_id}").json
    assert shown["rating"] == 2  # the original stays
    update_shown = shown["update"]
    assert update_shown["rating"] == 5 and update_shown["body"] == "Me cambiaron el producto."
    assert update_shown["resolved"] is True and update_shown["log_index"] == done.json["log_index"]
    after = client.get("/api/v1/merchants/bodega/score").json
    assert after["formula_version"] == "2026-12"
    assert after["distribution"]["2"] == 0 and after["distribution"]["5"] == 1
    assert after["average"] == 5.0
    assert after["resolution"] == {"rate": None, "median_days": None, "measured": 1}
    assert after["kpi_min_sample"] == numbers.KPI_MIN_SAMPLE

    leaf = _entries(client)[done.json["log_index"]]
    assert leaf["type"] == "review.updated" and leaf["new_rating"] == 5 and leaf["resolved"]
    assert leaf["rating"] == 2 and leaf["answered"] is True and leaf["recommend"] == 3
    salt = bytes.fromhex(update_shown["salt"])
    with app.app_context():
        from trustseal.transparency.service import text_commitment

        assert leaf["text_sha256"]["body"] == text_commitment(salt, "Me cambiaron el producto.")

    profile = client.get("/m/bodega")
    assert "Me cambiaron el producto." in profile.text

    again = client.post("/api/v1/resolutions", json={"token": token, "resolved": False})
    assert again.status_code == 409
    assert client.get(f"/resolve/{token}").status_code == 409
    verify = runner.invoke(args=["log", "verify"])
    assert verify.exit_code == 0, verify.output


def test_a_good_review_answered_gets_no_link(app: Flask, client: FlaskClient, outbox: Path) -> None:
    assert _answered_review(app, client, outbox, rating=4)[2] == []


def test_the_page_form_records_a_not_resolved_without_a_new_rating(
    app: Flask, client: FlaskClient, outbox: Path
) -> None:
    _, review_id, (token,) = _answered_review(app, client, outbox, rating=3)
    refused = post_form(client, f"/resolve/{token}", {"resolved": "", "rating": "9"})
    assert refused.status_code == 422
    done = post_form(client, f"/resolve/{token}", {"resolved": "no", "comment": ""})
    assert done.status_code == 201, done.text
    shown = client.get(f"/api/v1/reviews/{review_id}").json["update"]
    assert shown["resolved"] is False and shown["rating"] is None and shown["body"] is None
    score = client.get("/api/v1/merchants/bodega/score").json
    assert score["distribution"]["3"] == 1 and score["resolution"]["measured"] == 1


def test_unknown_expired_and_removed_links_are_refused_and_change_nothing(
    app: Flask, client: FlaskClient, outbox: Path
) -> None:
    _, review_id, (token,) = _answered_review(app, client, outbox, rating=1)
    unknown = client.post("/api/v1/resolutions", json={"token": "rs_" + "x" * 40, "resolved": True})
    assert unknown.status_code == 404
    bad = client.post("/api/v1/resolutions", json={"token": token, "resolved": True, "rating": 6})
    assert bad.status_code == 422
    with app.app_context():
        db.session.execute(update(ResolutionRequest).values(expires_at=utcnow()))
        db.session.commit()
    expired = client.post("/api/v1/resolutions", json={"token": token, "resolved": True})
    assert expired.status_code == 410
    assert client.get(f"/resolve/{token}").status_code == 410
    shown = client.get(f"/api/v1/reviews/{review_id}").json
    assert shown["update"] is None
    assert client.get("/api/v1/merchants/bodega/score").json["resolution"]["measured"] == 0


def _answered_complaint(
    app: Flask, client: FlaskClient, outbox: Path
) -> tuple[dict[str, Any], str]:
    """A shop's reclamo answered by the shop, and the one resolution token its answer's
    email carries."""
    key = shop(app)
    filed = client.post("/api/v1/merchants/bodega/book", json=entry_body())
    assert filed.status_code == 201, filed.json
    number = filed.json["number"]
    answered = client.put(
        f"/api/v1/book/{number}/response",
        json={"body": "Le cambiamos la licuadora."},
        headers=bearer(key),
    )
    assert answered.status_code == 200
    _run_jobs(app)
    tokens = [t for text in _texts(outbox, number) for t in _links(text)]
    assert len(tokens) == 1
    return filed.json, tokens[0]


def test_a_complaint_answered_gets_a_link_and_its_confirmation_is_logged(
    app: Flask, client: FlaskClient, outbox: Path
) -> None:
    filed, token = _answered_complaint(app, client, outbox)
    assert "Le cambiamos la licuadora." in client.get(f"/resolve/{token}").text
    rated = client.post("/api/v1/resolutions", json={"token": token, "resolved": True, "rating": 5})
    assert rated.status_code == 422 and "rating" in rated.json["errors"]["json"]
    done = client.post(
        "/api/v1/resolutions",
        json={"token": token, "resolved": True, "comment": "Gracias, todo bien."},
    )
    assert done.status_code == 201, done.json
    follow = client.get(f"/api/v1/book/{filed['code']}").json
    assert follow["consumer_confirmation"] == "resolved"
    leaves = _entries(client)
    confirmed = leaves[done.json["log_index"]]
    assert confirmed["type"] == "book.confirmed" and confirmed["resolved"] is True
    assert confirmed["filed_at"] == leaves[0]["time"]
    assert "Gracias" not in json.dumps(leaves)  # the comment is private
    score = client.get("/api/v1/merchants/bodega/score").json
    assert score["resolution"]["measured"] == 1
    assert score["first_response"]["measured"] == 1


def test_log_verify_notices_an_update_edited_in_the_database(
    app: Flask, client: FlaskClient, outbox: Path, runner: Any
) -> None:
    _, review_id, (token,) = _answered_review(app, client, outbox, rating=2)
    body = {"token": token, "resolved": True, "rating": 3, "comment": "Bien."}
    assert client.post("/api/v1/resolutions", json=body).status_code == 201
    assert runner.invoke(args=["log", "verify"]).exit_code == 0
    tamper(app, update(Review).where(Review.id == review_id).values(update_rating=5))
    edited = runner.invoke(args=["log", "verify"])
    assert edited.exit_code == 1 and f"update of review {review_id}" in edited.output


def test_log_verify_notices_a_confirmation_edited_in_the_database(
    app: Flask, client: FlaskClient, outbox: Path, runner: Any
) -> None:
    filed, token = _answered_complaint(app, client, outbox)
    body = {"token": token, "resolved": False}
    assert client.post("/api/v1/resolutions", json=body).status_code == 201
    assert runner.invoke(args=["log", "verify"]).exit_code == 0
    tamper(app, update(BookEntry).values(consumer_confirmation="resolved"))
    edited = runner.invoke(args=["log", "verify"])
    assert edited.exit_code == 1
    assert f"confirmation of book entry {filed['number']}" in edited.output
