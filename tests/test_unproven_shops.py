"""A shop that has not proved its domain cannot act in the name it claims: no review links,
no invitation emails in its name, no reviews published, no RUC held — and a shop's own
declared orders cannot get around the per-merchant link limit by email."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from tests.helpers import bearer, make_merchant, make_staff, order_body
from tests.reviewing import post_review, review_link
from tests.test_domains import VALID_RUC, pending_merchant
from trustseal.clock import utcnow
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.jobs.models import Job
from trustseal.mail.models import OutboxMessage
from trustseal.merchants import service as merchants
from trustseal.merchants.models import Merchant


def _due(app) -> None:
    with app.app_context():
        db.session.execute(update(Job).values(run_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()


def _run_due_jobs_and_list_held_invitations(app) -> list[Job]:
    """Make every job due, run them, and return the invitation emails still queued."""
    _due(app)
    jobs.run_due_jobs()
    return list(
        db.session.scalars(
            select(Job).where(Job.kind == "orders.invitation_email", Job.status == "queued")
        )
    )


def _invitations_sent(app) -> int:
    with app.app_context():
        return len(
            db.session.scalars(
                select(OutboxMessage).where(OutboxMessage.template == "review_invitation")
            ).all()
        )


def test_an_unproven_shop_gets_no_links_sends_no_invitations_publishes_no_review(app, client):
    _, key = pending_merchant(app, "falabella", "falabella.com.pe")
    order = client.post(
        "/api/v1/orders",
        json=order_body("F-1", status="delivered", customer={"email": "victima@example.com"}),
        headers=bearer(key),
    ).json
    refused = client.post(f"/api/v1/orders/{order['id']}/invitation", headers=bearer(key))
    assert refused.status_code == 409 and "domain" in refused.json["message"]
    with app.app_context():
        held = _run_due_jobs_and_list_held_invitations(app)
        assert len(held) == 1 and held[0].run_at > utcnow() + timedelta(hours=5)
    assert _invitations_sent(app) == 0  # nobody is emailed in the name of "Falabella"


def test_a_shop_that_loses_its_public_status_stops_collecting_and_showing_reviews(app, client):
    _, key = make_merchant(app)
    token = review_link(client, key, "A-1")
    published = post_review(client, review_link(client, key, "A-2")).json["id"]
    with app.app_context():
        db.session.execute(update(Merchant).values(domain_status="pending"))
        db.session.commit()
    assert client.get(f"/r/{token}").status_code == 404
    assert post_review(client, token).status_code == 404
    assert client.get(f"/api/v1/reviews/{published}").status_code == 404


def test_invitation_emails_of_declared_orders_count_against_the_link_limit(app, client):
    app.config["TRUSTSEAL_DECLARED_LINKS_PER_HOUR"] = 1
    _, key = make_merchant(app)
    for n in range(3):
        client.post(
            "/api/v1/orders",
            json=order_body(f"E-{n}", status="delivered", customer={"email": f"c{n}@mine.pe"}),
            headers=bearer(key),
        )
    with app.app_context():
        held = _run_due_jobs_and_list_held_invitations(app)
    assert _invitations_sent(app) == 1  # one this hour; two held for later, not lost
    assert len(held) == 2


def test_a_sign_up_claiming_a_ruc_does_not_keep_the_real_shop_out(app, client):
    with app.app_context():
        squatter = merchants.create_merchant(
            name="Impostora",
            domain="impostora.pe",
            contact_email="a@i.pe",
            slug="impostora",
            ruc=VALID_RUC,
            signed_up=True,
        ).merchant
        db.session.commit()
        squatter_id = squatter.id
    token = make_staff(app)
    real = {"name": "Real", "domain": "real.pe", "contact_email": "a@real.pe", "ruc": VALID_RUC}
    assert client.post("/api/v1/merchants", json=real, headers=bearer(token)).status_code == 201
    # the impostor proves a domain later: it still cannot take the RUC
    answer = client.post(
        "/api/v1/merchants/impostora/domain",
        json={"status": "verified", "reason": "llamada al dueño"},
        headers=bearer(token),
    )
    assert answer.status_code == 409 and "RUC" in answer.json["message"]
    with app.app_context():
        assert not merchants.is_public(merchants.get(squatter_id))
