"""Builders for review tests: a delivered purchase with a review link, and images."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from tests.helpers import make_merchant, order_body
from trustseal.extensions import db
from trustseal.merchants import service as merchants
from trustseal.orders import api as orders_api
from trustseal.orders import service as orders
from trustseal.orders.schemas import OrderCreateSchema
from trustseal.reviews import service as reviews
from trustseal.reviews.schemas import ReviewCreateSchema

# The address Flask's test client sends from: what a review posted with it is kept under.
TEST_CLIENT_ADDRESS = "127.0.0.1"


def review_link(
    client: FlaskClient,
    key: str,
    external_id: str = "A-1",
    *,
    items: list[dict[str, Any]] | None = None,
    **customer: Any,
) -> str:
    """Record a delivered order for the merchant of API key ``key`` and return a fresh
    review token for it, as ``POST /api/v1/orders`` then ``POST .../invitation`` would.

    Through the service doors the two endpoints call, with the endpoint's own parsing of
    the same body (the orders API has its own tests; two HTTP round trips per review made
    a large part of the review tests' time). ``items``: the order's lines (default: one
    product, ``cafe-500``)."""
    body = order_body(external_id, status="delivered")
    if items is not None:
        body["items"] = items
    body["customer"].update(customer)
    with client.application.app_context():
        merchant_id = merchants.authenticate(key)
        assert merchant_id is not None, "not a live API key"
        event = orders_api._event(OrderCreateSchema().load(body))
        recorded = orders.record_purchase_event(merchant_id, orders_api.API_SOURCE, event)
        link = orders.issue_invitation_link(recorded.purchase)
        db.session.commit()
        db.session.remove()
    return link.token


def shop(app: Flask, slug: str = "bodega") -> str:
    """A merchant; returns its API key."""
    return make_merchant(app, slug=slug)[1]


def review_body(token: str, **changes: Any) -> dict[str, Any]:
    """A valid review submission."""
    return {
        "token": token,
        "rating": 4,
        "process_rating": 5,
        "title": "Buen café",
        "body": "Llegó a tiempo y bien empacado.",
        **changes,
    }


def post_review(client: FlaskClient, token: str, **changes: Any) -> Any:
    """Submit a review through the API."""
    return client.post("/api/v1/reviews", json=review_body(token, **changes))


def publish_review(
    client: FlaskClient,
    key: str,
    external_id: str = "A-1",
    *,
    at: datetime | None = None,
    photos: tuple[Any, ...] = (),
    client_address: str | None = TEST_CLIENT_ADDRESS,
    items: list[dict[str, Any]] | None = None,
    **changes: Any,
) -> int:
    """A published review of a new delivered order of the merchant of API key ``key``;
    its id. For tests of what reviews lead to (badges, scores, the log); tests of
    submitting one use :func:`post_review`.

    Through the reviews service door ``POST /api/v1/reviews`` calls, with the endpoint's
    parsing of :func:`review_body` and the test client's address, so the review is the one
    :func:`post_review` would publish; ``at`` backdates it (as an import does) and
    ``photos`` are processed ones (``images.process_photo``); ``items`` are the order's
    lines (:func:`review_link`) and ``products=[{product_id, rating, comment}]`` rates
    them."""
    token = review_link(client, key, external_id, items=items)
    with client.application.app_context():
        data = ReviewCreateSchema().load(review_body(token, **changes))
        del data["token"]
        submitted = reviews.submit(
            token, client_address=client_address, at=at, photos=photos, **data
        )
        db.session.commit()
        review_id = submitted.review.id
        db.session.remove()
    return review_id


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (64, 32), exif: bool = False) -> bytes:
    """A small image; with ``exif``, an orientation tag (rotate 90°) and GPS data."""
    image = Image.new("RGB", size, (200, 30, 30))
    out = io.BytesIO()
    if exif:
        data = Image.Exif()
        data[0x0112] = 6  # orientation: rotate 90° clockwise to display
        data[0x8825] = {1: "S", 2: (12.0, 7.0, 30.0), 3: "W", 4: (77.0, 2.0, 10.0)}  # GPS
        data[0x010F] = "SpyCam"
        image.save(out, fmt, exif=data)
    else:
        image.save(out, fmt)
    return out.getvalue()
