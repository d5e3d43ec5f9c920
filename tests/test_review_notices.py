"""The merchant hears of new reviews: a negative one at once, the others in a daily digest."""

from __future__ import annotations

import email
from datetime import UTC, date, datetime
from email import policy

from sqlalchemy import update

from tests.reviewing import post_review, review_link, shop
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.reviews import notices
from trustseal.reviews.models import Review


def sent(app, folder):
    """(recipient, subject) of every email sent so far (due jobs run first)."""
    with app.app_context():
        jobs.run_due_jobs()
    messages = [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in sorted(folder.glob("*.eml"))
    ]
    return sorted((str(m["To"]), str(m["Subject"])) for m in messages)


def reviewed(client, key, external_id, rating):
    token = review_link(client, key, external_id)
    answer = post_review(client, token, rating=rating)
    assert answer.status_code == 201, answer.json
    return answer.json["id"]


def test_a_negative_review_is_emailed_to_the_merchant_at_once(app, client, tmp_path):
    app.config["TRUSTSEAL_OUTBOX_DIR"] = str(tmp_path)
    key = shop(app)
    reviewed(client, key, "A-1", 4)
    reviewed(client, key, "A-2", 2)
    to_merchant = [s for to, s in sent(app, tmp_path) if to == "hola@bodega.pe"]
    assert to_merchant == ["Nueva reseña de 2 estrellas: Bodega Ñandú"]


def test_the_others_come_in_one_digest_per_lima_day_sent_once(app, client, tmp_path):
    app.config["TRUSTSEAL_OUTBOX_DIR"] = str(tmp_path)
    key = shop(app)
    late_on_the_first = datetime(2026, 3, 2, 3, 30, tzinfo=UTC)  # 1 March, 22:30 in Lima
    ids = [reviewed(client, key, f"A-{n}", rating) for n, rating in enumerate([5, 4, 3, 1])]
    with app.app_context():
        db.session.execute(
            update(Review).where(Review.id.in_(ids)).values(created_at=late_on_the_first)
        )
        db.session.commit()
        assert notices.send_digests(datetime(2026, 3, 2, 14, 0, tzinfo=UTC)) == 1
        db.session.commit()
        assert notices.send_digests(datetime(2026, 3, 2, 15, 0, tzinfo=UTC)) == 0  # once
        assert notices.send_digests(datetime(2026, 3, 3, 14, 0, tzinfo=UTC)) == 0  # none on 2/3
        db.session.commit()
    to_merchant = [s for to, s in sent(app, tmp_path) if to == "hola@bodega.pe"]
    assert "3 reseñas nuevas de Bodega Ñandú" in to_merchant
    texts = [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)
        .get_body(("plain",))
        .get_content()
        for p in tmp_path.glob("*.eml")
    ]
    digest = next(text for text in texts if "1 de marzo de 2026" in text)
    assert "3 reseñas verificadas" in digest and "promedio 4,0 / 5" in digest


def test_lima_day_bounds():
    start, end = notices.lima_day_bounds(date(2026, 3, 1))
    assert start == datetime(2026, 3, 1, 5, 0, tzinfo=UTC)
    assert end == datetime(2026, 3, 2, 5, 0, tzinfo=UTC)
