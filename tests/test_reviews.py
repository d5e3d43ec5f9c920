"""Verified-purchase reviews: submission, responses, flags, moderation, listing, trust rules."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from tests.helpers import bearer, make_merchant, make_staff
from tests.reviewing import post_review, review_link, shop
from trustseal.extensions import db
from trustseal.jobs.models import Job
from trustseal.reviews.models import ResponseRevision, Review
from trustseal.signing import jws
from trustseal.transparency import merkle


@pytest.fixture
def key(app):
    return shop(app)


def test_submit_publishes_with_a_verifiable_receipt(app, client, key):
    token = review_link(client, key)
    answer = post_review(client, token)
    assert answer.status_code == 201, answer.json
    created = answer.json
    assert created["status"] == "published"
    receipt = created["receipt"]
    path = [bytes.fromhex(h) for h in receipt["inclusion_proof"]]
    leaf = client.get(
        f"/api/v1/log/entries?start={receipt['leaf_index']}&end={receipt['leaf_index']}"
    ).json[0]
    assert merkle.verify_inclusion(
        bytes.fromhex(leaf["leaf_hash"]),
        receipt["leaf_index"],
        receipt["tree_size"],
        path,
        bytes.fromhex(receipt["root_hash"]),
    )
    _, signed = jws.verify(receipt["signature"], client.get("/.well-known/jwks.json").json)
    assert signed["root_hash"] == receipt["root_hash"]
    assert '"rating":4' in leaf["leaf"] and "Llegó" not in leaf["leaf"]
    review = client.get(f"/api/v1/reviews/{created['id']}").json
    assert review["display_name"] == "Lucía Q."
    assert review["verified_purchase"] is True and review["response"] is None
    assert "lucia" not in str(review).lower().replace("lucía q.", "")
    assert "suggestion" not in review


def test_one_review_per_purchase_and_link_states(app, client, key):
    token = review_link(client, key)
    assert post_review(client, token).status_code == 201
    again = post_review(client, token)
    assert again.status_code == 409 and again.json["message"]
    assert post_review(client, "x" * 32).status_code == 404
    order = client.get("/api/v1/orders?external_id=A-1", headers=bearer(key)).json["items"][0]
    assert order["invitation"]["status"] == "used"
    assert (
        client.post(f"/api/v1/orders/{order['id']}/invitation", headers=bearer(key)).status_code
        == 409
    )


def test_expired_and_refunded_links_are_410(app, client, key):
    from datetime import timedelta

    from trustseal.clock import utcnow
    from trustseal.orders.models import ReviewInvitation

    expired = review_link(client, key, "E-1")
    with app.app_context():
        for inv in db.session.scalars(select(ReviewInvitation)):
            inv.expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    assert post_review(client, expired).status_code == 410
    refunded = review_link(client, key, "R-1")
    from tests.helpers import order_body

    client.post("/api/v1/orders", json=order_body("R-1", status="refunded"), headers=bearer(key))
    assert post_review(client, refunded).status_code == 410
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Review)) == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"rating": 0}, "rating"),
        ({"rating": 6}, "rating"),
        ({"rating": "5"}, "rating"),
        ({"process_rating": None}, "process_rating"),
        ({"body": ""}, "body"),
        ({"body": "   "}, "body"),
        ({"body": "x" * 5001}, "body"),
        ({"title": "t" * 201}, "title"),
        ({"display_name": "n" * 81}, "display_name"),
        ({"email": "a@b.pe"}, "email"),
    ],
)
def test_invalid_reviews_are_422_and_keep_the_link(app, client, key, change, field):
    token = review_link(client, key)
    answer = post_review(client, token, **change)
    assert answer.status_code == 422
    assert field in answer.json["errors"]["json"]
    assert post_review(client, token).status_code == 201  # the failed try used nothing


def test_missing_body_is_named(client, key):
    token = review_link(client, key)
    answer = client.post("/api/v1/reviews", json={"token": token, "rating": 3, "process_rating": 3})
    assert answer.status_code == 422 and "body" in answer.json["errors"]["json"]


def test_concurrent_submissions_with_one_token_make_one_review(app, client, key):
    token = review_link(client, key)
    codes: list[int] = []
    barrier = threading.Barrier(6)

    def submit() -> None:
        local = app.test_client()
        barrier.wait()
        codes.append(post_review(local, token).status_code)

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [201] + [409] * 5, codes
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Review)) == 1


def test_merchant_answers_in_public_with_history(app, client, key):
    token = review_link(client, key)
    review_id = post_review(client, token, rating=1).json["id"]
    shown = client.get(f"/api/v1/reviews/{review_id}").json
    assert shown["awaiting_response"] is True
    first = client.put(
        f"/api/v1/reviews/{review_id}/response",
        json={"body": "Lo sentimos, le escribimos."},
        headers=bearer(key),
    )
    assert first.status_code == 200
    assert first.json["created_at"] == first.json["updated_at"]
    edited = client.put(
        f"/api/v1/reviews/{review_id}/response",
        json={"body": "Ya enviamos el reemplazo."},
        headers=bearer(key),
    ).json
    shown = client.get(f"/api/v1/reviews/{review_id}").json
    assert (
        shown["response"]["body"] == "Ya enviamos el reemplazo."
        and shown["awaiting_response"] is False
    )
    assert edited["created_at"] == first.json["created_at"]
    with app.app_context():
        assert [
            r.body
            for r in db.session.scalars(select(ResponseRevision).order_by(ResponseRevision.id))
        ] == ["Lo sentimos, le escribimos.", "Ya enviamos el reemplazo."]
        assert (
            db.session.scalar(
                select(func.count()).select_from(Job).where(Job.kind == "reviews.response_notice")
            )
            == 1
        )
    types = [e["leaf"] for e in client.get("/api/v1/log/entries?start=0&end=10").json]
    assert any('"type":"response.created"' in t for t in types)
    assert any('"type":"response.edited"' in t for t in types)
    _, other = make_merchant(app, slug="otra")
    assert (
        client.put(
            f"/api/v1/reviews/{review_id}/response", json={"body": "x"}, headers=bearer(other)
        ).status_code
        == 404
    )
    assert (
        client.put(
            f"/api/v1/reviews/{review_id}/response", json={"body": " "}, headers=bearer(key)
        ).status_code
        == 422
    )


def test_response_notice_email(app, client, key, tmp_path):
    from pathlib import Path

    from trustseal.jobs import service as jobs

    app.config["TRUSTSEAL_OUTBOX_DIR"] = str(tmp_path)
    token = review_link(client, key)
    review_id = post_review(client, token, rating=2).json["id"]
    client.put(
        f"/api/v1/reviews/{review_id}/response",
        json={"body": "Gracias por avisar."},
        headers=bearer(key),
    )
    with app.app_context():
        assert jobs.run_due_jobs().done >= 1
    texts = [p.read_text() for p in Path(tmp_path).glob("*.eml")]
    assert any("Bodega" in t and "Gracias por avisar." in t for t in texts)


def test_flags_keep_the_review_visible(client, key, app):
    token = review_link(client, key)
    review_id = post_review(client, token, rating=1).json["id"]
    answer = client.post(
        f"/api/v1/reviews/{review_id}/flags",
        json={"reason": "not_genuine", "detail": "No es cliente"},
        headers=bearer(key),
    )
    assert answer.status_code == 202 and answer.json["status"] == "open"
    assert client.get(f"/api/v1/reviews/{review_id}").json["status"] == "published"
    assert (
        client.post(
            f"/api/v1/reviews/{review_id}/flags", json={"reason": "because"}, headers=bearer(key)
        ).status_code
        == 422
    )
    assert (
        client.post(f"/api/v1/reviews/{review_id}/flags", json={"reason": "spam"}).status_code
        == 401
    )


def test_moderation_removes_for_a_published_reason_and_restores(app, client, key):
    token = review_link(client, key)
    review_id = post_review(client, token, rating=1).json["id"]
    moderator = make_staff(app, "moderator")
    url = f"/api/v1/reviews/{review_id}/moderation"
    assert (
        client.post(
            url, json={"action": "remove", "reason": "I dislike it"}, headers=bearer(moderator)
        ).status_code
        == 422
    )
    assert (
        client.post(
            url, json={"action": "remove", "reason": "spam"}, headers=bearer(key)
        ).status_code
        == 403
    )
    removed = client.post(
        url, json={"action": "remove", "reason": "personal_data"}, headers=bearer(moderator)
    )
    assert removed.status_code == 200
    tomb = removed.json
    assert tomb["status"] == "removed" and tomb["removal_reason"] == "personal_data"
    assert tomb["body"] is None and tomb["title"] is None and tomb["removed_at"]
    listed = client.get("/api/v1/merchants/bodega/reviews").json["items"]
    assert [r["status"] for r in listed] == ["removed"]
    score = client.get("/api/v1/merchants/bodega/score").json
    assert score["rating_count"] == 0 and score["removed_count"] == 1
    assert (
        client.post(
            url, json={"action": "remove", "reason": "spam"}, headers=bearer(moderator)
        ).status_code
        == 409
    )
    restored = client.post(
        url,
        json={"action": "restore", "reason": "Reviewed: the data was not personal."},
        headers=bearer(make_staff(app, "certifier")),
    )
    assert restored.status_code == 200 and restored.json["body"]
    score = client.get("/api/v1/merchants/bodega/score").json
    assert score["rating_count"] == 1 and score["removed_count"] == 0
    leaves = [e["leaf"] for e in client.get("/api/v1/log/entries?start=0&end=20").json]
    assert any('"reason":"personal_data"' in leaf and "review.removed" in leaf for leaf in leaves)
    assert any("review.restored" in leaf for leaf in leaves)


@pytest.mark.parametrize("method", ["DELETE", "PATCH", "PUT"])
def test_merchant_has_no_route_to_edit_or_delete_a_review(app, client, key, method):
    token = review_link(client, key)
    review_id = post_review(client, token, rating=1).json["id"]
    before = client.get(f"/api/v1/reviews/{review_id}").json
    for url in (
        f"/api/v1/reviews/{review_id}",
        "/api/v1/merchants/bodega/reviews",
        f"/api/v1/reviews/{review_id}/moderation",
    ):
        answer = client.open(
            url, method=method, json={"rating": 5, "body": "Excelente"}, headers=bearer(key)
        )
        assert answer.status_code in (401, 403, 404, 405), (url, answer.status_code)
    assert (
        client.open(
            f"/api/v1/reviews/{review_id}/response", method="DELETE", headers=bearer(key)
        ).status_code
        == 405
    )
    assert client.get(f"/api/v1/reviews/{review_id}").json == before


def test_listing_pages_filters_and_stability(app, client, key):
    ids = []
    for n in range(9):
        token = review_link(client, key, f"L-{n}")
        ids.append(post_review(client, token, rating=1 + n % 5).json["id"])
    seen, cursor = [], None
    while True:
        page = client.get(
            "/api/v1/merchants/bodega/reviews?limit=4" + (f"&cursor={cursor}" if cursor else "")
        ).json
        seen += [r["id"] for r in page["items"]]
        if len(seen) == 4:
            post_review(client, review_link(client, key, "NEW"))
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids[::-1]
    fives = client.get("/api/v1/merchants/bodega/reviews?rating=5").json["items"]
    assert {r["rating"] for r in fives} == {5} and len(fives) == 1
    assert client.get("/api/v1/merchants/bodega/reviews?rating=6").status_code == 422
    assert client.get("/api/v1/merchants/nadie/reviews").status_code == 404
    assert client.get("/api/v1/merchants/bodega/reviews?with_photos=true").json["items"] == []
