"""Outgoing webhooks (API.md "Merchant growth"): subscriptions, signed deliveries to a test
receiver on loopback, retries with backoff for a day, the delivery log, the SSRF guard and
the dashboard page."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from tests.booking import entry_body
from tests.helpers import approve_seal, bearer, make_merchant, serve_in_background
from tests.reviewing import post_review, review_link
from tests.signing_in import make_merchant_user, post_form, sign_in
from trustseal.book.models import BookEntry
from trustseal.clock import utcnow
from trustseal.extensions import db
from trustseal.hooks import service as hooks
from trustseal.hooks.models import WebhookDelivery, WebhookEndpoint
from trustseal.jobs import service as jobs
from trustseal.jobs.models import Job


@dataclass
class Receiver:
    """A merchant's server on loopback: records each request, answers from ``answers``
    (then 200)."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)

    def events(self) -> list[str]:
        return [r["headers"]["X-Trustseal-Event"] for r in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            status = state.answers.pop(0) if state.answers else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    serve_in_background(server)
    state.url = f"http://127.0.0.1:{server.server_port}/trustseal"
    yield state
    server.shutdown()


@pytest.fixture
def shop(app: Flask) -> str:
    app.config["TRUSTSEAL_WEBHOOK_ALLOW_PRIVATE"] = True
    _, key = make_merchant(app, slug="bodega")
    return key


def subscribe(client: FlaskClient, key: str, url: str, events: list[str] | None = None) -> Any:
    return client.post(
        "/api/v1/webhooks",
        json={"url": url, "events": events or list(hooks.EVENTS)},
        headers=bearer(key),
    )


def run_jobs(app: Flask) -> None:
    with app.app_context():
        jobs.run_due_jobs()
        db.session.remove()


def due_now(app: Flask) -> None:
    """Let the clock pass: every queued job is due."""
    with app.app_context():
        db.session.execute(update(Job).where(Job.status == "queued").values(run_at=utcnow()))
        db.session.commit()


def test_a_subscribed_url_gets_signed_events_and_the_log_shows_them(app, client, shop, receiver):
    created = subscribe(client, shop, receiver.url)
    assert created.status_code == 201, created.json
    secret = created.json["secret"]
    assert secret.startswith("whsec_") and created.json["events"] == list(hooks.EVENTS)
    listed = client.get("/api/v1/webhooks", headers=bearer(shop)).json
    assert [e["url"] for e in listed] == [receiver.url] and "secret" not in listed[0]

    token = review_link(client, shop, "A-1")
    review_id = post_review(client, token, rating=2).json["id"]
    run_jobs(app)
    assert receiver.events() == ["review.published"]
    sent = receiver.requests[0]
    assert hooks.verify_signature(
        secret, sent["headers"]["X-Trustseal-Signature"], sent["body"], time.time()
    )
    assert not hooks.verify_signature(
        "whsec_other", sent["headers"]["X-Trustseal-Signature"], sent["body"], time.time()
    )
    event = json.loads(sent["body"])
    assert event["type"] == "review.published" and event["merchant"] == "bodega"
    assert event["data"]["review_id"] == review_id and event["data"]["rating"] == 2
    assert event["id"] == sent["headers"]["X-Trustseal-Delivery"]

    log = client.get(f"/api/v1/webhooks/{created.json['id']}/deliveries", headers=bearer(shop)).json
    assert [(d["event"], d["status"]) for d in log] == [("review.published", "delivered")]
    assert [a["status_code"] for a in log[0]["attempts"]] == [200]
    # the secret is sealed at rest, and no job payload carries it
    with app.app_context():
        stored = db.session.scalars(select(WebhookEndpoint)).one()
        assert secret not in stored.secret_sealed
        payloads = db.session.scalars(
            select(Job.payload).where(Job.kind == hooks.DELIVER_JOB)
        ).all()
        assert all(set(p) == {"delivery_id"} for p in payloads)


def test_every_event_reaches_the_endpoints_subscribed_to_it(app, client, shop, receiver):
    from trustseal.resolutions import service as resolutions

    everything = subscribe(client, shop, receiver.url).json
    only_book = subscribe(client, shop, receiver.url + "/book", ["book.filed", "book.overdue"]).json
    token = review_link(client, shop, "A-1")
    review_id = post_review(client, token, rating=1).json["id"]
    flagged = client.post(
        f"/api/v1/reviews/{review_id}/flags", json={"reason": "not_genuine"}, headers=bearer(shop)
    )
    assert flagged.status_code == 202
    with app.app_context():
        merchant_id = db.session.scalar(select(WebhookEndpoint.merchant_id))
        link = resolutions.offer("review", review_id, merchant_id)
        db.session.commit()
    answered = client.post(
        "/api/v1/resolutions", json={"token": link, "resolved": True, "rating": 4}
    )
    assert answered.status_code == 201, answered.json
    filed = client.post("/api/v1/merchants/bodega/book", json=entry_body())
    assert filed.status_code == 201, filed.json
    approve_seal(app, client)
    run_jobs(app)
    # the complaint's deadline passes unanswered: the day after, book.overdue
    with app.app_context():
        db.session.execute(update(BookEntry).values(due_at=utcnow().date() - timedelta(days=1)))
        db.session.commit()
    due_now(app)
    run_jobs(app)

    def events_to(path: str) -> list[str]:
        return [r["headers"]["X-Trustseal-Event"] for r in receiver.requests if r["path"] == path]

    assert events_to("/trustseal") == [
        "review.published",
        "review.flagged",
        "review.updated",
        "book.filed",
        "seal.changed",
        "book.overdue",
    ]
    assert events_to("/trustseal/book") == ["book.filed", "book.overdue"]
    bodies = {
        json.loads(r["body"])["type"]: json.loads(r["body"])["data"] for r in receiver.requests
    }
    assert bodies["review.updated"] == {
        "review_id": review_id, "rating": 1, "new_rating": 4, "resolved": True,
        "log_index": bodies["review.updated"]["log_index"],
    }  # fmt: skip
    assert bodies["book.filed"]["number"] == filed.json["number"]
    assert "consumer" not in json.dumps(bodies["book.filed"])  # no personal data
    assert bodies["seal.changed"]["status"] == "active"
    assert everything["id"] != only_book["id"]


def test_a_failing_receiver_is_retried_with_backoff_and_the_log_keeps_each_answer(
    app, client, shop, receiver
):
    endpoint = subscribe(client, shop, receiver.url).json
    receiver.answers = [500, 503]
    sent = client.post(f"/api/v1/webhooks/{endpoint['id']}/test", headers=bearer(shop))
    assert sent.status_code == 202
    run_jobs(app)
    log = client.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries", headers=bearer(shop)).json
    assert log[0]["status"] == "pending" and [a["status_code"] for a in log[0]["attempts"]] == [500]
    with app.app_context():
        delivery = db.session.scalars(select(WebhookDelivery)).one()
        waited = delivery.next_attempt_at - delivery.created_at
        assert timedelta(seconds=55) < waited < timedelta(seconds=70)  # 1 minute, then 2, 4...
        assert hooks.retry_delay(2) == timedelta(minutes=2)
        assert hooks.retry_delay(5) == timedelta(minutes=16)
    run_jobs(app)
    assert len(receiver.requests) == 1  # not due yet
    due_now(app)
    run_jobs(app)
    due_now(app)
    run_jobs(app)
    log = client.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries", headers=bearer(shop)).json
    assert log[0]["status"] == "delivered" and log[0]["event"] == "webhook.test"
    assert [a["status_code"] for a in log[0]["attempts"]] == [500, 503, 200]
    assert len({r["headers"]["X-Trustseal-Delivery"] for r in receiver.requests}) == 1


def test_after_a_day_of_failures_a_delivery_fails(app, client, shop, receiver):
    endpoint = subscribe(client, shop, receiver.url).json
    receiver.answers = [500] * 20
    client.post(f"/api/v1/webhooks/{endpoint['id']}/test", headers=bearer(shop))
    run_jobs(app)
    with app.app_context():  # a day later
        db.session.execute(
            update(WebhookDelivery).values(created_at=utcnow() - timedelta(hours=23, minutes=59))
        )
        db.session.commit()
    due_now(app)
    run_jobs(app)
    log = client.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries", headers=bearer(shop)).json
    assert log[0]["status"] == "failed" and log[0]["next_attempt_at"] is None
    assert [a["status_code"] for a in log[0]["attempts"]] == [500, 500]


def test_the_ssrf_guard_keeps_deliveries_off_private_addresses(app, client, shop, receiver):
    app.config["TRUSTSEAL_WEBHOOK_ALLOW_PRIVATE"] = False
    plain = subscribe(client, shop, receiver.url)
    assert plain.status_code == 422 and "https" in plain.json["message"]
    private = subscribe(client, shop, "https://127.0.0.1:1/hook")
    assert private.status_code == 201  # the address is checked when it is resolved, each time
    client.post(f"/api/v1/webhooks/{private.json['id']}/test", headers=bearer(shop))
    run_jobs(app)
    log = client.get(f"/api/v1/webhooks/{private.json['id']}/deliveries", headers=bearer(shop)).json
    attempt = log[0]["attempts"][0]
    assert attempt["status_code"] is None and "not a public address" in attempt["error"]
    assert receiver.requests == []


def test_bad_subscriptions_are_refused_and_endpoints_are_the_merchant_s_own(
    app, client, shop, receiver
):
    for body in [
        {"url": receiver.url, "events": []},
        {"url": receiver.url, "events": ["review.deleted"]},
        {"url": "ftp://example.com/x", "events": ["book.filed"]},
        {"url": receiver.url},
    ]:
        assert client.post("/api/v1/webhooks", json=body, headers=bearer(shop)).status_code == 422
    for n in range(hooks.MAX_ENDPOINTS):
        assert subscribe(client, shop, f"{receiver.url}/{n}").status_code == 201
    assert subscribe(client, shop, receiver.url).status_code == 409
    _, other = make_merchant(app, slug="otra", domain="otra.pe", contact_email="a@otra.pe")
    first = client.get("/api/v1/webhooks", headers=bearer(shop)).json[0]["id"]
    assert client.delete(f"/api/v1/webhooks/{first}", headers=bearer(other)).status_code == 404
    assert client.post(f"/api/v1/webhooks/{first}/test", headers=bearer(other)).status_code == 404
    assert (
        client.get(f"/api/v1/webhooks/{first}/deliveries", headers=bearer(other)).status_code == 404
    )
    assert client.get("/api/v1/webhooks").status_code == 401
    # a deleted endpoint gets nothing more; its log stays
    assert client.delete(f"/api/v1/webhooks/{first}", headers=bearer(shop)).status_code == 204
    assert client.post(f"/api/v1/webhooks/{first}/test", headers=bearer(shop)).status_code == 404
    assert (
        client.get(f"/api/v1/webhooks/{first}/deliveries", headers=bearer(shop)).status_code == 200
    )
    assert subscribe(client, shop, receiver.url).status_code == 201  # room again


def test_signatures_as_a_receiver_checks_them():
    body = b'{"id":"evt_1"}'
    header = hooks.signature("whsec_x", 1_700_000_000, body)
    assert header.startswith("t=1700000000,v1=")
    assert hooks.verify_signature("whsec_x", header, body, 1_700_000_100)
    assert not hooks.verify_signature("whsec_x", header, body + b" ", 1_700_000_100)
    assert not hooks.verify_signature("whsec_x", header, body, 1_700_000_000 + 301)  # replayed
    assert not hooks.verify_signature("whsec_x", "v1=abc", body, 1_700_000_000)
    rotated = header + ",v1=" + "0" * 64
    assert hooks.verify_signature("whsec_x", rotated, body, 1_700_000_000)


def test_the_dashboard_page_adds_tests_and_deletes_endpoints(app, client, receiver):
    app.config["TRUSTSEAL_WEBHOOK_ALLOW_PRIVATE"] = True
    _, password = make_merchant_user(app)
    sign_in(client, "duena@bodega.pe", password)
    page = client.get("/dashboard/webhooks?lang=es").get_data(as_text=True)
    assert "Agregar una dirección" in page and "book.overdue" in page
    added = post_form(
        client, "/dashboard/webhooks", {"url": receiver.url, "events": ["book.filed"]}
    )
    shown = added.get_data(as_text=True)
    assert "whsec_" in shown and receiver.url in shown
    assert "whsec_" not in client.get("/dashboard/webhooks").get_data(as_text=True)
    with app.app_context():
        endpoint_id = db.session.scalar(select(WebhookEndpoint.id))
    tested = post_form(client, "/dashboard/webhooks", {"test": str(endpoint_id)})
    assert "prueba firmado" in tested.get_data(as_text=True)
    run_jobs(app)
    page = client.get("/dashboard/webhooks?lang=en").get_data(as_text=True)
    assert "webhook.test" in page and "delivered" in page and "200" in page
    refused = post_form(
        client, "/dashboard/webhooks", {"url": "http://example.com", "events": ["book.filed"]}
    )
    assert "https://" in refused.get_data(as_text=True)
    post_form(client, "/dashboard/webhooks", {"delete": str(endpoint_id)})
    with app.app_context():
        assert db.session.get(WebhookEndpoint, endpoint_id).deleted_at is not None
    assert threading.active_count() >= 1


def test_the_receiver_snippet_in_the_docs_checks_a_real_delivery(app, client, shop, receiver):
    """docs/webhooks.md shows a receiver how to check the signature: that code works."""
    from pathlib import Path

    text = (Path(__file__).parent.parent / "docs" / "webhooks.md").read_text()
    snippet = text.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)  # the documentation's own code
    created = subscribe(client, shop, receiver.url).json
    secret = created["secret"]
    client.post(f"/api/v1/webhooks/{created['id']}/test", headers=bearer(shop))
    run_jobs(app)
    sent = receiver.requests[0]
    header = sent["headers"]["X-Trustseal-Signature"]
    assert namespace["genuine"](secret, header, sent["body"])
    assert not namespace["genuine"](secret, header, sent["body"].replace(b"test", b"tost"))


def test_old_finished_deliveries_are_pruned_pending_ones_kept(app, client, shop, receiver):
    endpoint = subscribe(client, shop, receiver.url).json
    receiver.answers = [200, 500]
    for _ in range(2):
        client.post(f"/api/v1/webhooks/{endpoint['id']}/test", headers=bearer(shop))
    run_jobs(app)
    with app.app_context():
        statuses = sorted(db.session.scalars(select(WebhookDelivery.status)))
        assert statuses == ["delivered", "pending"]
        later = utcnow() + timedelta(days=31)
        assert hooks.prune(later) == 1
        assert db.session.scalars(select(WebhookDelivery.status)).all() == ["pending"]
        assert hooks.prune(utcnow()) == 0
