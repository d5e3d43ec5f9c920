"""A review's optional answers: on time, 1-5 for product, delivery and service, and 0-10
"would you recommend this shop?" — stored, shown, and in the review's log leaf (so the
numbers built on them can be recomputed from the log), held to it by ``log verify``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from tests.helpers import make_merchant, tamper
from tests.reviewing import post_review, review_link
from tests.signing_in import csrf
from trustseal.reviews.models import Review

ANSWERS = {"on_time": False, "dimensions": {"product": 5, "delivery": 2}, "recommend": 7}


@pytest.fixture
def key(app: Flask) -> str:
    return make_merchant(app)[1]


def _leaf(client: FlaskClient, index: int) -> dict[str, Any]:
    (entry,) = client.get(f"/api/v1/log/entries?start={index}&end={index}").json
    return json.loads(entry["leaf"])


def test_the_answers_are_kept_shown_and_logged(
    app: Flask, client: FlaskClient, runner: Any, key: str
):
    created = post_review(client, review_link(client, key, "A-1"), **ANSWERS)
    assert created.status_code == 201, created.json
    shown = client.get(f"/api/v1/reviews/{created.json['id']}").json
    assert shown["on_time"] is False and shown["recommend"] == 7
    assert shown["dimensions"] == {"product": 5, "delivery": 2}
    leaf = _leaf(client, shown["log_index"])
    assert leaf["on_time"] is False and leaf["recommend"] == 7
    assert leaf["dimensions"] == {"product": 5, "delivery": 2}
    page = client.get("/m/bodega").get_data(as_text=True)
    assert "no llegó a tiempo · producto 5/5 · entrega 2/5 · la recomendaría: 7/10" in page
    assert runner.invoke(args=["log", "verify"]).exit_code == 0

    tamper(app, update(Review).values(recommend=10))  # a detractor made a promoter
    result = runner.invoke(args=["log", "verify"])
    assert result.exit_code == 1 and "has recommend 7, not 10" in result.output

    tamper(app, update(Review).values(recommend=None, on_time=None))  # or the answer dropped
    result = runner.invoke(args=["log", "verify"])
    assert result.exit_code == 1 and "has on_time False, not None" in result.output


def test_a_review_without_answers_keeps_the_leaf_as_it_was(client: FlaskClient, key: str):
    created = post_review(client, review_link(client, key, "A-1"))
    shown = client.get(f"/api/v1/reviews/{created.json['id']}").json
    assert shown["on_time"] is None and shown["dimensions"] is None and shown["recommend"] is None
    leaf = _leaf(client, shown["log_index"])
    assert not {"on_time", "dimensions", "recommend"} & set(leaf)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"recommend": 11}, "recommend"),
        ({"recommend": -1}, "recommend"),
        ({"recommend": "9"}, "recommend"),
        ({"on_time": "yes"}, "on_time"),
        ({"dimensions": {"product": 0}}, "dimensions"),
        ({"dimensions": {"price": 5}}, "dimensions"),
        ({"dimensions": {"service": 6}}, "dimensions"),
    ],
)
def test_a_wrong_answer_is_422_and_the_link_still_works(
    client: FlaskClient, key: str, change: dict[str, Any], field: str
):
    token = review_link(client, key, "A-1")
    refused = post_review(client, token, **change)
    assert refused.status_code == 422 and field in refused.json["errors"]["json"]
    assert post_review(client, token).status_code == 201


def _post_form(client: FlaskClient, key: str, **fields: str) -> Any:
    """Fill the review form of a new delivered order (4 and 3 stars) and send it."""
    token = review_link(client, key, "A-1")
    form = {"rating": "4", "process_rating": "3", "csrf_token": csrf(client, f"/r/{token}")}
    return client.post(f"/r/{token}", data={**form, **fields})


def test_the_form_takes_the_answers(client: FlaskClient, key: str):
    page = _post_form(
        client,
        key,
        body="Bien, pero tarde.",
        on_time="no",
        dimension_service="4",
        recommend="8",
    )
    assert page.status_code == 201, page.get_data(as_text=True)[:500]
    shown = client.get("/api/v1/merchants/bodega/reviews").json["items"][0]
    assert shown["on_time"] is False and shown["recommend"] == 8
    assert shown["dimensions"] == {"service": 4}


@pytest.mark.parametrize("typed", ["²", "9" * 5000, "-1", "8.5", "diez"])
def test_a_strange_number_in_the_form_is_refused_not_a_500(
    client: FlaskClient, key: str, typed: str
):
    page = _post_form(client, key, body="Bien.", recommend=typed, dimension_product=typed)
    assert page.status_code == 422


def test_the_form_keeps_the_answers_when_a_field_is_wrong(client: FlaskClient, key: str):
    page = _post_form(client, key, body="", on_time="yes", recommend="10")
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert 'name="on_time" value="yes" checked' in html
    assert 'name="recommend" value="10" checked' in html
