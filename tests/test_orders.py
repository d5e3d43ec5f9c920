"""Orders: ingestion, idempotency, monotonic status, invitations, listing, isolation."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, inspect, select

from tests.helpers import bearer, make_merchant, order_body
from trustseal.clock import utcnow
from trustseal.extensions import db
from trustseal.jobs.models import Job
from trustseal.orders.models import InvitationToken, Purchase, PurchaseItem, ReviewInvitation


@pytest.fixture
def key(app):
    return make_merchant(app)[1]


def post(client, key, body):
    return client.post("/api/v1/orders", json=body, headers=bearer(key))


def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_create_then_same_external_id_is_200(app, client, key):
    first = post(client, key, order_body())
    assert first.status_code == 201
    order = first.json
    assert order["status"] == "placed" and order["source"] == "api"
    assert order["customer"]["email"] == "lucia.quispe@example.com"
    assert order["items"][0]["quantity"] == 2
    assert order["invitation"] is None
    assert order["placed_at"] == "2026-11-01T15:00:00Z"
    again = post(client, key, order_body())
    assert again.status_code == 200 and again.json["id"] == order["id"]
    assert count(app, Purchase) == 1 and count(app, PurchaseItem) == 1


def test_status_only_moves_forward(client, key):
    post(client, key, order_body(status="paid"))
    assert post(client, key, order_body(status="placed")).json["status"] == "paid"
    assert post(client, key, order_body(status="fulfilled")).json["status"] == "fulfilled"
    assert post(client, key, order_body(status="paid")).json["status"] == "fulfilled"
    delivered = post(client, key, order_body(status="delivered"))
    assert delivered.status_code == 200 and delivered.json["status"] == "delivered"
    assert delivered.json["delivered_at"] is not None
    assert post(client, key, order_body(status="fulfilled")).json["status"] == "delivered"


@pytest.mark.parametrize("final", ["cancelled", "refunded"])
def test_cancelled_and_refunded_are_final(client, key, final):
    post(client, key, order_body(status="paid"))
    assert post(client, key, order_body(status=final)).json["status"] == final
    for later in ("delivered", "placed", "refunded" if final == "cancelled" else "cancelled"):
        answer = post(client, key, order_body(status=later))
        assert answer.status_code == 200 and answer.json["status"] == final


def test_delivered_opens_invitation_and_queues_email(app, client, key):
    order = post(
        client, key, order_body(status="delivered", delivered_at="2026-11-03T10:00:00Z")
    ).json
    assert order["delivered_at"] == "2026-11-03T10:00:00Z"
    assert order["invitation"]["status"] == "pending"
    with app.app_context():
        job = db.session.scalars(select(Job)).one()
        invitation = db.session.scalars(select(ReviewInvitation)).one()
        assert job.kind == "orders.invitation_email"
        assert job.payload == {"invitation_id": invitation.id}
        # Delivered a month ago: the 72 hours after the delivery are over, so at once.
        assert abs((job.run_at - invitation.created_at).total_seconds()) < 5
        ttl = (invitation.expires_at - invitation.created_at).days
        assert ttl == 60
    # a repeated delivered event opens nothing new
    post(client, key, order_body(status="delivered"))
    assert count(app, Job) == 1 and count(app, ReviewInvitation) == 1


@pytest.mark.parametrize("hours_ago", [0, 24, 71])
def test_the_invitation_email_waits_from_the_delivery_not_the_report(app, client, key, hours_ago):
    delivered_at = utcnow().replace(microsecond=0) - timedelta(hours=hours_ago)
    body = order_body(status="delivered", delivered_at=delivered_at.isoformat())
    post(client, key, body)
    with app.app_context():
        job = db.session.scalars(select(Job)).one()
        assert abs((job.run_at - (delivered_at + timedelta(hours=72))).total_seconds()) < 5


def test_invitation_delay_and_ttl_are_configurable(app, client, key):
    app.config["TRUSTSEAL_INVITATION_EMAIL_DELAY_HOURS"] = 0
    app.config["TRUSTSEAL_INVITATION_TTL_DAYS"] = 10
    post(client, key, order_body(status="delivered"))
    with app.app_context():
        job = db.session.scalars(select(Job)).one()
        invitation = db.session.scalars(select(ReviewInvitation)).one()
        assert abs((job.run_at - invitation.created_at).total_seconds()) < 5
        assert (invitation.expires_at - invitation.created_at).days == 10


def test_refund_cancels_pending_invitation(client, key):
    post(client, key, order_body(status="delivered"))
    refunded = post(client, key, order_body(status="refunded")).json
    assert refunded["invitation"]["status"] == "cancelled"


def test_merchant_issues_invitation_link(app, client, key):
    order = post(client, key, order_body(status="delivered")).json
    answer = client.post(f"/api/v1/orders/{order['id']}/invitation", headers=bearer(key))
    assert answer.status_code == 201
    link = answer.json
    assert link["url"] == f"http://trustseal.test/r/{link['token']}"
    assert len(link["token"]) >= 22  # at least 128 bits, URL-safe base64
    from trustseal.orders import service

    with app.app_context():
        stored = db.session.scalars(select(InvitationToken)).one()
        assert stored.token_hash != link["token"]
        assert service.invitation_for_token(link["token"]).purchase_id == order["id"]
        assert service.invitation_for_token(link["token"] + "x") is None
    second = client.post(f"/api/v1/orders/{order['id']}/invitation", headers=bearer(key)).json
    assert second["token"] != link["token"]
    shown = client.get(f"/api/v1/orders/{order['id']}", headers=bearer(key)).json
    assert shown["invitation"]["status"] == "sent"


@pytest.mark.parametrize("status", ["placed", "paid", "fulfilled", "cancelled"])
def test_invitation_refused_unless_delivered(client, key, status):
    order = post(client, key, order_body(status=status)).json
    answer = client.post(f"/api/v1/orders/{order['id']}/invitation", headers=bearer(key))
    assert answer.status_code == 409
    assert answer.json["message"]


def test_invitation_refused_when_used_or_expired(app, client, key):
    order = post(client, key, order_body(status="delivered")).json
    url = f"/api/v1/orders/{order['id']}/invitation"
    with app.app_context():
        invitation = db.session.scalars(select(ReviewInvitation)).one()
        from datetime import timedelta

        from trustseal.clock import utcnow

        invitation.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert client.post(url, headers=bearer(key)).status_code == 410
    assert (
        client.get(f"/api/v1/orders/{order['id']}", headers=bearer(key)).json["invitation"][
            "status"
        ]
        == "expired"
    )
    with app.app_context():
        invitation = db.session.scalars(select(ReviewInvitation)).one()
        invitation.state = "used"
        db.session.commit()
    assert client.post(url, headers=bearer(key)).status_code == 409


def test_other_merchants_orders_are_404(app, client, key):
    order = post(client, key, order_body()).json
    _, other = make_merchant(app, slug="otra")
    assert client.get(f"/api/v1/orders/{order['id']}", headers=bearer(other)).status_code == 404
    assert (
        client.post(f"/api/v1/orders/{order['id']}/invitation", headers=bearer(other)).status_code
        == 404
    )
    assert client.get("/api/v1/orders", headers=bearer(other)).json["items"] == []
    # the same external id at another merchant is another purchase
    assert post(client, other, order_body()).status_code == 201


def test_list_filters_and_keyset_pagination(client, key):
    for n in range(7):
        post(client, key, order_body(f"N-{n}", status="delivered" if n % 2 else "paid"))
    seen, cursor = [], None
    while True:
        url = "/api/v1/orders?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=bearer(key)).json
        seen += [o["external_id"] for o in page["items"]]
        if len(seen) == 3:
            post(client, key, order_body("NEW"))  # inserts do not shift later pages
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"N-{n}" for n in range(6, -1, -1)]
    delivered = client.get("/api/v1/orders?status=delivered", headers=bearer(key)).json["items"]
    assert {o["external_id"] for o in delivered} == {"N-1", "N-3", "N-5"}
    one = client.get("/api/v1/orders?external_id=N-4", headers=bearer(key)).json["items"]
    assert [o["external_id"] for o in one] == ["N-4"]


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=101", "limit=abc", "cursor=%%%", "cursor=eyJrIjotMX0", "status=lost"],
)
def test_bad_list_arguments_are_422(client, key, query):
    answer = client.get(f"/api/v1/orders?{query}", headers=bearer(key))
    assert answer.status_code == 422, answer.json
    assert answer.json["errors"]


def test_big_integer_ids_stay_exact(client, key):
    big = 2**63 + 12345
    answer = post(
        client, key, order_body(external_id=big, items=[{"product_id": big, "title": "x"}])
    )
    assert answer.status_code == 201
    assert answer.json["external_id"] == str(big)
    assert answer.json["items"][0]["product_id"] == str(big)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"external_id": ""}, "external_id"),
        ({"external_id": 1.5}, "external_id"),
        ({"customer": {"email": "nope"}}, "customer"),
        ({"customer": None}, "customer"),
        ({"placed_at": "yesterday"}, "placed_at"),
        ({"items": []}, "items"),
        ({"items": [{"product_id": "p", "title": "t", "quantity": 0}]}, "items"),
        ({"items": [{"product_id": "p", "title": "t", "quantity": "2"}]}, "items"),
        ({"items": [{"title": "t"}]}, "items"),
        ({"items": [{"product_id": "p", "title": "t", "url": "javascript:alert(1)"}]}, "items"),
        ({"extra": True}, "extra"),
        ({"external_id": "a\x00b"}, "external_id"),
        ({"customer": {"email": "a@b.pe", "name": "nul\x00"}}, "customer"),
    ],
)
def test_invalid_order_fields_are_422_and_store_nothing(app, client, key, change, field):
    answer = post(client, key, order_body() | change)
    assert answer.status_code == 422, answer.json
    assert field in answer.json["errors"]["json"]
    assert count(app, Purchase) == 0


def test_missing_fields_are_each_named(client, key):
    answer = post(client, key, {})
    assert answer.status_code == 422
    assert set(answer.json["errors"]["json"]) == {
        "external_id",
        "status",
        "customer",
        "placed_at",
        "items",
    }


def test_malformed_json_unsupported_type_and_too_large(app, client, key):
    headers = bearer(key) | {"Content-Type": "application/json"}
    bad = client.post("/api/v1/orders", data=b'{"external_id": ', headers=headers)
    assert bad.status_code == 400 and bad.json["code"] == 400
    not_utf8 = client.post("/api/v1/orders", data=b'{"a": "\xff"}', headers=headers)
    assert not_utf8.status_code == 400
    form = client.post("/api/v1/orders", data={"external_id": "x"}, headers=bearer(key))
    assert form.status_code == 415
    huge = client.post(
        "/api/v1/orders", data=b"{" + b" " * (2 * 1024 * 1024) + b"}", headers=headers
    )
    assert huge.status_code == 413 and huge.json["code"] == 413
    assert client.post("/api/v1/orders", json=[1, 2], headers=bearer(key)).status_code == 422
    assert count(app, Purchase) == 0


def test_auth_errors(client, key):
    assert client.get("/api/v1/orders").status_code == 401
    answer = client.get("/api/v1/orders", headers={"Authorization": "Bearer tsk_wrong"})
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert answer.json["message"]
    assert client.get("/api/v1/orders", headers={"Authorization": "Basic abc"}).status_code == 401


def test_failed_request_changes_nothing(app, client, key, monkeypatch):
    from trustseal.orders import service

    def explode(*args, **kwargs):
        raise RuntimeError("mail server on fire")

    monkeypatch.setattr(service, "_open_invitation", explode)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer as production does
    answer = post(client, key, order_body(status="delivered"))
    assert answer.status_code == 500
    assert answer.json["message"] == "Internal server error."
    assert count(app, Purchase) == 0 and count(app, PurchaseItem) == 0


def test_concurrent_identical_posts_make_one_purchase(app, key, dialect):
    threads, statuses = [], []
    barrier = threading.Barrier(8)

    def send(n: int) -> None:
        client = app.test_client()
        barrier.wait()
        status = ["paid", "delivered", "fulfilled", "placed"][n % 4]
        statuses.append(
            client.post(
                "/api/v1/orders", json=order_body("RACE", status=status), headers=bearer(key)
            ).status_code
        )

    for n in range(8):
        threads.append(threading.Thread(target=send, args=(n,)))
        threads[-1].start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 7 + [201], statuses
    assert count(app, Purchase) == 1 and count(app, ReviewInvitation) == 1 and count(app, Job) == 1
    with app.app_context():
        assert db.session.scalars(select(Purchase)).one().status == "delivered"


def test_batch_records_many_orders_in_one_transaction(app, client, key):
    orders = [order_body(f"B-{n}", status="delivered" if n % 3 == 0 else "paid") for n in range(30)]
    orders.append(order_body("B-1", status="fulfilled"))  # the same order again, moved forward
    answer = client.post("/api/v1/orders/batch", json={"orders": orders}, headers=bearer(key))
    assert answer.status_code == 200, answer.json
    results = answer.json["results"]
    assert len(results) == 31 and results[1]["created"] and not results[30]["created"]
    assert results[30]["status"] == "fulfilled" and results[30]["id"] == results[1]["id"]
    assert count(app, Purchase) == 30 and count(app, ReviewInvitation) == 10
    bad = [order_body("C-1"), order_body("C-2", status="lost")]
    refused = client.post("/api/v1/orders/batch", json={"orders": bad}, headers=bearer(key))
    assert refused.status_code == 422
    assert "status" in refused.json["errors"]["json"]["orders"]["1"]
    assert count(app, Purchase) == 30  # all or none
    too_many = client.post(
        "/api/v1/orders/batch", json={"orders": [order_body()] * 501}, headers=bearer(key)
    )
    assert too_many.status_code == 422


def test_a_rolled_back_purchase_does_not_clash_with_the_next_row(app, ctx):
    """Rows come back from INSERT … RETURNING as session objects: after a rollback they
    are expired like any loaded object, and a new row given the same id (SQLite may)
    refreshes the object of that identity instead of clashing with it."""
    from trustseal.clock import utcnow
    from trustseal.orders import service

    merchant_id, _ = make_merchant(app)

    def record(external_id: str) -> Purchase:
        event = service.PurchaseEvent(
            external_id=external_id,
            status=service.Status.DELIVERED,
            customer_email="ana@example.pe",
            placed_at=utcnow(),
            items=(service.ItemData(product_id="1", title="Café"),),
        )
        return service.record_purchase_event(merchant_id, "api", event).purchase

    gone = record("R-1")
    db.session.rollback()
    assert inspect(gone).expired
    kept = record("R-2")  # on SQLite it may get the rolled-back id: no clash in the session
    db.session.commit()
    assert kept in db.session and kept.external_id == "R-2"
    assert db.session.scalar(select(func.count()).select_from(Purchase)) == 1
