"""Certifier staff remove an imported review for a published reason, and restore it: the
public list and the shop's page show a tombstone (never the text), each decision is an
``imported.removed`` / ``imported.restored`` leaf with a record of who decided, the shop
cannot do it, and ``log verify`` catches a removal or restore done in the database
alone."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import delete, func, select, update

from tests.helpers import bearer, make_merchant, make_staff, tamper
from tests.signing_in import make_staff_user, post_form, sign_in
from tests.test_imports import JUDGEME, run_jobs, upload
from trustseal.extensions import db
from trustseal.imports import service as imports
from trustseal.imports.models import ImportedModeration, ImportedReview
from trustseal.staff.service import authenticate
from trustseal.transparency import service as log
from trustseal.transparency.models import LogEntry

LIST = "/api/v1/merchants/bodega/imported-reviews"


@pytest.fixture
def key(app: Flask) -> str:
    return make_merchant(app, slug="bodega")[1]


@pytest.fixture
def imported_ids(app: Flask, client: FlaskClient, key: str) -> list[int]:
    """The shop's two imported reviews, oldest first: Marco D.'s "Regular nomás" (3 stars),
    then Camila R.'s "Muy buena calidad, llegó rápido." (5 stars)."""
    upload(client, key, JUDGEME)
    run_jobs(app)
    return [item["id"] for item in reversed(client.get(LIST).json["items"])]


@pytest.fixture
def staff(app: Flask) -> str:
    return make_staff(app, "moderator")


def moderate(client: FlaskClient, token: str, review_id: int, action: str, reason: Any) -> Any:
    return client.post(
        f"/api/v1/imported-reviews/{review_id}/moderation",
        json={"action": action, "reason": reason},
        headers=bearer(token),
    )


def leaves(app: Flask) -> list[dict[str, Any]]:
    with app.app_context():
        entries = db.session.scalars(select(LogEntry).order_by(LogEntry.index))
        return [json.loads(e.leaf) for e in entries]


def test_staff_remove_and_restore_through_the_api(
    app: Flask, client: FlaskClient, imported_ids: list[int], staff: str
):
    removed, kept = imported_ids
    with app.app_context():
        replayed = log.replayed("bodega").numbers(datetime.now(UTC))
    answer = moderate(client, staff, removed, "remove", "offensive")
    assert answer.status_code == 200, answer.json
    tombstone = answer.json
    assert tombstone["id"] == removed and tombstone["status"] == "removed"
    assert tombstone["removal_reason"] == "offensive" and tombstone["removed_at"]
    for hidden in ("rating", "title", "body", "author", "salt"):
        assert tombstone[hidden] is None, hidden
    assert tombstone["verified"] is False and tombstone["log_index"] >= 0

    items = {i["id"]: i for i in client.get(LIST).json["items"]}
    assert items[removed] == tombstone  # the list shows what the answer said
    assert (
        items[kept]["status"] == "published"
        and items[kept]["body"] == "Muy buena calidad, llegó rápido."
    )
    assert items[kept]["removal_reason"] is None and items[kept]["salt"]
    assert "Regular nomás" not in json.dumps(client.get(LIST).json)

    last = leaves(app)[-1]
    assert last["type"] == "imported.removed" and last["merchant"] == "bodega"
    assert last["imported_review_id"] == removed and last["reason"] == "offensive"
    assert "text_sha256" not in last
    with app.app_context():
        assert imports.imported_count(1) == 1
        assert imports.imported_count(1, with_removed=True) == 2
        assert [i.id for i in imports.imported_reviews(1, None, 10)] == [kept]
        decision = db.session.scalars(select(ImportedModeration)).one()
        moderator = authenticate(staff)
        assert moderator is not None and decision.staff_id == moderator.id
        assert (decision.action, decision.reason) == ("remove", "offensive")
        assert decision.imported_review_id == removed
        assert decision.log_index == last_index(app)
        # they move no number
        assert log.replayed("bodega").numbers(datetime.now(UTC)) == replayed

    restored = moderate(client, staff, removed, "restore", "Revisada: no era ofensiva.")
    assert restored.status_code == 200, restored.json
    assert restored.json["status"] == "published" and restored.json["body"] == "Regular nomás"
    assert restored.json["removal_reason"] is None and restored.json["removed_at"] is None
    assert restored.json["rating"] == 3 and restored.json["salt"]
    last = leaves(app)[-1]
    assert last["type"] == "imported.restored" and last["imported_review_id"] == removed
    assert last["reason"] == "Revisada: no era ofensiva."
    with app.app_context():
        assert imports.imported_count(1) == 2
        assert [d.action for d in db.session.scalars(select(ImportedModeration))] == [
            "remove",
            "restore",
        ]


def last_index(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.max(LogEntry.index))) or 0)


def test_only_staff_and_only_a_valid_decision(
    app: Flask, client: FlaskClient, key: str, imported_ids: list[int], staff: str
):
    target = imported_ids[0]
    size = last_index(app)
    url = f"/api/v1/imported-reviews/{target}/moderation"
    body = {"action": "remove", "reason": "spam"}
    assert client.post(url, json=body).status_code == 401
    assert client.post(url, json=body, headers=bearer("tss_not-a-token")).status_code == 401
    by_shop = client.post(url, json=body, headers=bearer(key))
    assert by_shop.status_code == 403  # the shop never removes what it imported
    assert moderate(client, staff, 999_999, "remove", "spam").status_code == 404
    assert moderate(client, staff, target, "restore", "Ya estaba").status_code == 409
    for action, reason, field in [
        ("remove", "no me gusta", "reason"),
        ("remove", "other", "reason"),  # a flag's reason, not a removal's
        ("remove", "   ", "reason"),
        ("remove", "x" * 301, "reason"),
        ("hide", "spam", "action"),
    ]:
        refused = moderate(client, staff, target, action, reason)
        assert refused.status_code == 422, (action, reason)
        assert field in refused.json["errors"]["json"], refused.json
    missing = client.post(url, json={"action": "remove"}, headers=bearer(staff))
    assert missing.status_code == 422 and "reason" in missing.json["errors"]["json"]
    assert last_index(app) == size  # a refused request changes nothing
    assert {i["status"] for i in client.get(LIST).json["items"]} == {"published"}

    assert moderate(client, staff, target, "remove", "spam").status_code == 200
    again = moderate(client, staff, target, "remove", "spam")
    assert again.status_code == 409
    assert moderate(client, staff, target, "restore", " ").status_code == 422
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ImportedModeration)) == 1


@pytest.mark.parametrize(
    ("lang", "tombstone", "reason"),
    [
        ("es", "Opinión importada retirada por la certificadora el", "contenido ofensivo"),
        ("en", "Imported review removed by the certifier on", "offensive content"),
        ("pt", "Avaliação importada removida pela certificadora em", "conteúdo ofensivo"),
    ],
)
def test_the_shop_s_page_shows_a_tombstone_never_the_text(
    client: FlaskClient,
    imported_ids: list[int],
    staff: str,
    lang: str,
    tombstone: str,
    reason: str,
):
    removed, kept = imported_ids
    assert moderate(client, staff, removed, "remove", "offensive").status_code == 200
    page = client.get(f"/m/bodega?lang={lang}").get_data(as_text=True)
    _, _, apart = page.partition('id="imported"')
    assert tombstone in apart and reason in apart
    assert f'id="i{removed}"' in apart and f'id="i{kept}"' in apart  # staff point at these
    assert "Regular nomás" not in page and "Marco D." not in page
    assert "Muy buena calidad" in apart


def test_log_verify_follows_removals_and_restores_and_catches_them_done_in_the_database(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, imported_ids: list[int], staff: str
):
    target, other = imported_ids
    assert moderate(client, staff, target, "remove", "spam").status_code == 200
    assert runner.invoke(args=["log", "verify"]).exit_code == 0
    assert moderate(client, staff, target, "restore", "No era spam").status_code == 200
    assert moderate(client, staff, target, "remove", "personal_data").status_code == 200
    result = runner.invoke(args=["log", "verify"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        decisions = list(db.session.scalars(select(ImportedModeration)))
        restore_index = decisions[1].log_index

    # (a) an operator removes a review in the database, without a leaf
    tamper(
        app,
        update(ImportedReview)
        .where(ImportedReview.id == other)
        .values(status="removed", removal_reason="spam", removed_at=datetime.now(UTC)),
    )
    result = runner.invoke(args=["log", "verify"])
    assert result.exit_code == 1
    assert f"imported review {other}: its status is 'removed'" in result.output
    assert "but no removal is recorded" in result.output
    tamper(
        app,
        update(ImportedReview)
        .where(ImportedReview.id == other)
        .values(status="published", removal_reason=None, removed_at=None),
    )
    assert runner.invoke(args=["log", "verify"]).exit_code == 0

    # an edited public reason, or a status restored in the database alone
    tamper(
        app, update(ImportedReview).where(ImportedReview.id == target).values(removal_reason="spam")
    )
    result = runner.invoke(args=["log", "verify"])
    assert result.exit_code == 1 and f"imported review {target}: its status" in result.output
    tamper(
        app,
        update(ImportedReview)
        .where(ImportedReview.id == target)
        .values(status="published", removal_reason=None, removed_at=None),
    )
    result = runner.invoke(args=["log", "verify"])
    assert result.exit_code == 1
    assert "its last recorded decision" in result.output and "removed it" in result.output

    # (b) a restore whose record is gone: its leaf has no record any more
    tamper(
        app,
        update(ImportedReview)
        .where(ImportedReview.id == target)
        .values(
            status="removed", removal_reason="personal_data", removed_at=decisions[2].created_at
        ),
        delete(ImportedModeration).where(ImportedModeration.log_index == restore_index),
    )
    result = runner.invoke(args=["log", "verify"])
    assert result.exit_code == 1
    assert (
        f"imported_review {target}: the imported.restored leaf at index {restore_index} names "
        "a record that is not in the database"
    ) in result.output

    # a decision recorded with another reason than its leaf's
    tamper(
        app,
        update(ImportedModeration)
        .where(ImportedModeration.id == decisions[0].id)
        .values(reason="offensive"),
    )
    result = runner.invoke(args=["log", "verify"])
    assert result.exit_code == 1
    assert f"removal of imported review {target}: the imported.removed leaf at index" in (
        result.output
    )
    assert "has reason 'spam', not 'offensive'" in result.output


def test_the_console_form_removes_and_restores_by_number_or_link(
    app: Flask, client: FlaskClient, imported_ids: list[int]
):
    removed, kept = imported_ids
    email, password = make_staff_user(app, "moderator")
    sign_in(client, email, password)
    page = client.get("/console/moderation").get_data(as_text=True)
    assert 'id="imported"' in page and "Opiniones importadas" in page
    assert 'action="/console/imported-reviews/decision"' in page

    def decide(**form: str) -> str:
        answer = post_form(
            client, "/console/imported-reviews/decision", form, token_from="/console/moderation"
        )
        assert answer.status_code == 302 and answer.location.endswith(
            "/console/moderation#imported"
        )
        return client.get("/console/moderation").get_data(as_text=True)

    def status(review_id: int) -> str:
        items = client.get(LIST).json["items"]
        return str(next(i["status"] for i in items if i["id"] == review_id))

    link = f"https://trustseal.pe/m/bodega#i{removed}"
    shown = decide(imported_review=link, action="remove", reason="personal_data")
    assert "Marca la confirmación" in shown and status(removed) == "published"
    shown = decide(imported_review="la primera", action="remove", reason="spam", confirm="yes")
    assert "Escribe el número de la opinión importada" in shown
    shown = decide(imported_review="999999", action="remove", reason="spam", confirm="yes")
    assert "Ninguna opinión importada tiene este número" in shown
    shown = decide(imported_review=link, action="remove", reason="nope", confirm="yes")
    assert "Elige el motivo publicado." in shown and status(removed) == "published"

    shown = decide(imported_review=link, action="remove", reason="personal_data", confirm="yes")
    assert "Decisión registrada." in shown and status(removed) == "removed"
    shown = decide(imported_review=f"#i{removed}", action="remove", reason="spam", confirm="yes")
    assert "ya está retirada" in shown
    shown = decide(imported_review=f"i{removed}", action="restore", note="", confirm="yes")
    assert "Para restaurarla, di por qué" in shown and status(removed) == "removed"
    shown = decide(
        imported_review=str(removed), action="restore", note="Dato ya enmascarado", confirm="yes"
    )
    assert "Decisión registrada." in shown and status(removed) == "published"
    shown = decide(imported_review=str(kept), action="restore", note="?", confirm="yes")
    assert "ya está publicada" in shown
    with app.app_context():
        reasons = [d.reason for d in db.session.scalars(select(ImportedModeration))]
    assert reasons == ["personal_data", "Dato ya enmascarado"]

    no_token = client.post(
        "/console/imported-reviews/decision",
        data={"imported_review": str(kept), "action": "remove", "reason": "spam", "confirm": "yes"},
    )
    assert no_token.status_code in (400, 403) and status(kept) == "published"


def test_a_removed_imported_review_leaves_the_framed_product_page_at_once(
    client: FlaskClient, key: str, staff: str
) -> None:
    upload(client, key, JUDGEME)
    page = "/widgets/bodega/reviews?product_id=crema"
    assert "Regular nomás" not in client.get(page).get_data(as_text=True)  # not imported yet
    run_jobs(client.application)
    assert "Regular nomás" in client.get(page).get_data(as_text=True)  # shown once imported
    (target,) = [i["id"] for i in client.get(LIST).json["items"] if i["body"] == "Regular nomás"]
    assert moderate(client, staff, target, "remove", "offensive").status_code == 200
    assert "Regular nomás" not in client.get(page).get_data(as_text=True)
