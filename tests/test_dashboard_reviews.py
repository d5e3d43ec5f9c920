"""The merchant's reviews: every review by tab with counts, searched, on numbered pages;
answering and editing the answer; reporting a review to the certifier; the CSV export."""

from __future__ import annotations

import csv
import io

from sqlalchemy import func, select

from tests.reviewing import post_review, review_link
from tests.signing_in import make_merchant_user, post_form, sign_in
from trustseal.dashboard import pages
from trustseal.extensions import db
from trustseal.reviews import service as reviews
from trustseal.reviews.models import ResponseRevision, ReviewFlag
from trustseal.staff import service as staff


def _desk(app):
    desk = app.test_client()
    assert sign_in(desk, "duena@bodega.pe", "clave-segura-123").status_code == 302
    desk.get("/lang/en")
    return desk


def _remove(app, review_id: int, reason: str = "spam") -> None:
    with app.app_context():
        moderator = staff.create_staff(
            "mod@cert.pe", staff.Role("moderator"), "clave-staff-1234"
        ).staff
        reviews.moderate(review_id, moderator, "remove", reason)
        db.session.commit()


def _three_reviews(app, client) -> tuple[dict[str, int], str]:
    """A 1-star unanswered, a 5-star answered and a 2-star removed review; the API key."""
    key = make_merchant_user(app)[0]
    broken = post_review(
        client, review_link(client, key, "A-1"), rating=1, title="Llegó roto", body="El café roto."
    ).json["id"]
    good = post_review(client, review_link(client, key, "A-2"), rating=5, body="Excelente.").json[
        "id"
    ]
    removed = post_review(
        client, review_link(client, key, "A-3"), rating=2, body="Compren en otra tienda."
    ).json["id"]
    with app.app_context():
        reviews.respond(good, reviews.get(good).merchant_id, "¡Gracias!")
        db.session.commit()
    _remove(app, removed)
    return {"broken": broken, "good": good, "removed": removed}, key


def test_the_list_has_every_review_by_tab_with_counts_and_search(app, client):
    ids = _three_reviews(app, client)[0]
    desk = _desk(app)

    every = desk.get("/dashboard/reviews").get_data(as_text=True)
    for name in ids.values():
        assert f'id="r{name}"' in every
    assert "All (3)" in every and "Unanswered (1)" in every
    assert "Negative (1-2 stars) (2)" in every and "Reported (0)" in every
    assert "Review removed by the certifier on" in every and "Published reason: spam" in every
    assert "¡Gracias!" in every and "Edit the answer" in every  # the answer, and its form
    assert "Purchase reported by the shop" in every and "purchase experience" in every

    unanswered = desk.get("/dashboard/reviews?tab=unanswered").get_data(as_text=True)
    assert f'id="r{ids["broken"]}"' in unanswered
    assert f'id="r{ids["good"]}"' not in unanswered and f'id="r{ids["removed"]}"' not in unanswered
    negative = desk.get("/dashboard/reviews?tab=negative").get_data(as_text=True)
    assert f'id="r{ids["removed"]}"' in negative and f'id="r{ids["good"]}"' not in negative

    # The shop's own search: folded words; the removed review is found too.
    found = desk.get("/dashboard/reviews?q=ROTO").get_data(as_text=True)
    assert f'id="r{ids["broken"]}"' in found and f'id="r{ids["good"]}"' not in found
    assert "1 review found" in found and "All (1)" in found
    assert f'id="r{ids["removed"]}"' in desk.get("/dashboard/reviews?q=otra+tienda").get_data(
        as_text=True
    )
    # An unknown tab is "all"; a removed review has neither an answer form nor "Report".
    odd = desk.get("/dashboard/reviews?tab=<b>&page=x").get_data(as_text=True)
    assert "All (3)" in odd and "<b>" not in odd
    removed_card = odd.split(f'id="r{ids["removed"]}"')[1].split("</article>")[0]
    assert "<form" not in removed_card


def test_numbered_pages_keep_the_tab_and_the_search(app, client, monkeypatch):
    key = make_merchant_user(app)[0]
    for n in range(5):
        post_review(client, review_link(client, key, f"P-{n}"), rating=1, body=f"Malo {n}.")
    monkeypatch.setattr(pages, "REVIEWS_PER_PAGE", 2)
    desk = _desk(app)
    first = desk.get("/dashboard/reviews?tab=negative&q=malo").get_data(as_text=True)
    assert first.count('class="card" id="r') == 2
    assert 'href="/dashboard/reviews?tab=negative&amp;q=malo&amp;page=3"' in first
    last = desk.get("/dashboard/reviews?tab=negative&q=malo&page=99").get_data(as_text=True)
    assert last.count('class="card" id="r') == 1  # past the end: the last page
    assert 'aria-current="page">3<' in last


def test_answering_then_editing_keeps_every_version(app, client):
    key = make_merchant_user(app)[0]
    review_id = post_review(client, review_link(client, key), rating=2).json["id"]
    desk = _desk(app)
    answered = post_form(
        desk,
        f"/dashboard/reviews/{review_id}/answer",
        {"body": "Lo sentimos.", "tab": "negative", "q": "", "page": "1"},
        token_from="/dashboard/reviews",
    )
    assert answered.status_code == 302
    assert answered.headers["Location"].endswith(f"/dashboard/reviews?tab=negative#r{review_id}")
    page = desk.get("/dashboard/reviews").get_data(as_text=True)
    assert "Your answer is public." in page
    assert 'name="body" required maxlength="5000">Lo sentimos.</textarea>' in page  # prefilled

    post_form(
        desk,
        f"/dashboard/reviews/{review_id}/answer",
        {"body": "Lo sentimos: le enviamos otro."},
        token_from="/dashboard/reviews",
    )
    assert "Every version is kept." in desk.get("/dashboard/reviews").get_data(as_text=True)
    assert client.get(f"/api/v1/reviews/{review_id}").json["response"]["body"] == (
        "Lo sentimos: le enviamos otro."
    )
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ResponseRevision)) == 2


def test_reporting_a_review_asks_the_certifier_once(app, client):
    key = make_merchant_user(app)[0]
    review_id = post_review(client, review_link(client, key), rating=1).json["id"]
    desk = _desk(app)
    page = desk.get("/dashboard/reviews").get_data(as_text=True)
    # The reasons in words, not codes.
    assert ">offensive content</option>" in page and ">not a genuine review</option>" in page
    assert ">not_genuine<" not in page

    refused = post_form(
        desk, f"/dashboard/reviews/{review_id}/flag", {"reason": "rude"}, "/dashboard/reviews"
    )
    assert refused.status_code == 302
    assert "Choose why you report this review." in desk.get("/dashboard/reviews").get_data(
        as_text=True
    )

    sent = post_form(
        desk,
        f"/dashboard/reviews/{review_id}/flag",
        {"reason": "not_genuine", "detail": "No tenemos ese pedido.", "tab": "flagged"},
        "/dashboard/reviews",
    )
    assert sent.headers["Location"].endswith(f"/dashboard/reviews?tab=flagged#r{review_id}")
    flagged = desk.get("/dashboard/reviews?tab=flagged").get_data(as_text=True)
    assert "Review reported: the certifier will look at it." in flagged
    assert "Reported (1)" in flagged and f'id="r{review_id}"' in flagged
    assert "You reported this review; the certifier is looking at it." in flagged
    assert f'action="/dashboard/reviews/{review_id}/flag"' not in flagged

    again = post_form(
        desk, f"/dashboard/reviews/{review_id}/flag", {"reason": "spam"}, "/dashboard/reviews"
    )
    assert again.status_code == 302
    assert "You reported this review already" in desk.get("/dashboard/reviews").get_data(
        as_text=True
    )
    with app.app_context():
        flags = db.session.scalars(select(ReviewFlag)).all()
        assert [(f.reason, f.detail) for f in flags] == [("not_genuine", "No tenemos ese pedido.")]
        assert [r.id for r in reviews.flagged()] == [review_id]  # in the moderation queue
    # Still public while staff look.
    assert client.get(f"/api/v1/reviews/{review_id}").status_code == 200


def test_another_shops_review_cannot_be_reported_or_answered(app, client):
    other_key = make_merchant_user(app, "otra", "dueno@otra.pe")[0]
    theirs = post_review(client, review_link(client, other_key)).json["id"]
    make_merchant_user(app)
    desk = _desk(app)
    flag = post_form(
        desk, f"/dashboard/reviews/{theirs}/flag", {"reason": "spam"}, "/dashboard/reviews"
    )
    answer = post_form(
        desk, f"/dashboard/reviews/{theirs}/answer", {"body": "Hola"}, "/dashboard/reviews"
    )
    assert flag.status_code == 404 and answer.status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ReviewFlag)) == 0


def test_the_csv_has_every_review_in_lima_time_and_no_formulas(app, client):
    ids, key = _three_reviews(app, client)
    desk = _desk(app)
    formula = post_review(
        client,
        review_link(client, key, "F-1"),
        title="=HYPERLINK(1)",
        body="@SUM(1) y +2",
    ).json["id"]

    answer = desk.get("/dashboard/reviews.csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="resenas-bodega.csv"'
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    assert list(rows[0]) == list(pages.REVIEW_CSV_COLUMNS)
    by_id = {int(row["id"]): row for row in rows}
    assert set(by_id) == {*ids.values(), formula}
    good = by_id[ids["good"]]
    assert good["rating"] == "5" and good["answer"] == "¡Gracias!"
    assert good["date"].endswith("-05:00") and good["answer_date"].endswith("-05:00")
    assert good["verification_level"] == "declared" and good["log_index"].isdigit()
    assert by_id[ids["removed"]]["status"] == "removed"
    assert by_id[ids["broken"]]["answer"] == "" and by_id[ids["broken"]]["answer_date"] == ""
    assert by_id[formula]["title"] == "'=HYPERLINK(1)"
    assert by_id[formula]["body"] == "'@SUM(1) y +2"


def test_the_list_and_the_csv_are_for_signed_in_merchants_only(app, client):
    make_merchant_user(app)
    for path in ("/dashboard/reviews", "/dashboard/reviews.csv"):
        assert client.get(path).status_code in (302, 401, 403)


def test_a_review_removed_for_personal_data_keeps_its_text_even_from_the_merchant(app, client):
    key = make_merchant_user(app)[0]
    leaked = post_review(
        client,
        review_link(client, key, "P-1"),
        rating=1,
        body="Mi vecina Ana vive en Jr. Lampa 123.",
    ).json["id"]
    _remove(app, leaked, "personal_data")
    desk = _desk(app)
    page = desk.get("/dashboard/reviews?tab=all").get_data(as_text=True)
    assert "Jr. Lampa 123" not in page and "not even to you" in page
    exported = desk.get("/dashboard/reviews.csv").get_data(as_text=True)
    assert "Jr. Lampa 123" not in exported


def test_the_fraud_detectors_flags_are_never_shown_to_the_shop(app, client):
    """A confirmed fraud signal sends reviews to moderation; the shop must not learn which
    of its reviews look bought: no "reported" tab entry, no note, and it can still report
    the review itself."""
    ids, _ = _three_reviews(app, client)
    suspect = ids["broken"]
    with app.app_context():
        assert reviews.flag_for_moderation([suspect], "burst: 12 reviews in an hour") == [suspect]
        db.session.commit()
        assert [r.id for r in reviews.flagged()] == [suspect]  # staff see it
    desk = _desk(app)
    page = desk.get("/dashboard/reviews").get_data(as_text=True)
    assert "Reported (0)" in page
    assert "certifier is looking" not in page and "burst" not in page
    assert f'action="/dashboard/reviews/{suspect}/flag"' in page
    assert f'id="r{suspect}"' not in desk.get("/dashboard/reviews?tab=flagged").get_data(
        as_text=True
    )
    post_form(
        desk, f"/dashboard/reviews/{suspect}/flag", {"reason": "spam"}, "/dashboard/reviews"
    )
    flagged = desk.get("/dashboard/reviews?tab=flagged").get_data(as_text=True)
    assert "Reported (1)" in flagged and f'id="r{suspect}"' in flagged
