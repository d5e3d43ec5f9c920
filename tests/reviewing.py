"""Builders for review tests: a delivered purchase with a review link, and images."""

from __future__ import annotations

import io
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from tests.helpers import bearer, make_merchant, order_body


def review_link(client: FlaskClient, key: str, external_id: str = "A-1", **customer: Any) -> str:
    """Record a delivered order and return a fresh review token for it."""
    body = order_body(external_id, status="delivered")
    body["customer"].update(customer)
    order = client.post("/api/v1/orders", json=body, headers=bearer(key)).json
    link = client.post(f"/api/v1/orders/{order['id']}/invitation", headers=bearer(key))
    assert link.status_code == 201, link.json
    return link.json["token"]


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
