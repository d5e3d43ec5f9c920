"""Review photos: only real images, re-encoded without metadata, bounded in size and count."""

from __future__ import annotations

import io
import struct
import zlib
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import update

from tests.reviewing import image_bytes, post_review, review_link, shop
from trustseal.extensions import db
from trustseal.reviews.models import Review


@pytest.fixture
def posted(app, client):
    key = shop(app)
    token = review_link(client, key)
    review_id = post_review(client, token).json["id"]
    return review_id, token


def upload(client, review_id, token, data, name="photo.jpg"):
    return client.post(
        f"/api/v1/reviews/{review_id}/photos",
        data={"photo": (io.BytesIO(data), name)},
        headers={"X-Review-Token": token},
        content_type="multipart/form-data",
    )


def media_files(app) -> list[Path]:
    root = Path(app.instance_path) / "media"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def fetch(client, url: str) -> bytes:
    path = url.replace("http://trustseal.test", "")
    answer = client.get(path)
    assert answer.status_code == 200
    return answer.data


def test_jpeg_is_reencoded_upright_without_metadata(app, client, posted):
    review_id, token = posted
    answer = upload(client, review_id, token, image_bytes(exif=True, size=(64, 32)))
    assert answer.status_code == 201, answer.json
    shown = answer.json
    assert (shown["width"], shown["height"]) == (32, 64)  # the EXIF rotation was applied
    stored = Image.open(io.BytesIO(fetch(client, shown["url"])))
    assert stored.format == "JPEG" and stored.size == (32, 64)
    assert dict(stored.getexif()) == {}
    raw = fetch(client, shown["url"])
    assert b"SpyCam" not in raw and b"Exif" not in raw
    thumb = Image.open(io.BytesIO(fetch(client, shown["thumbnail_url"])))
    assert max(thumb.size) <= 400
    assert client.get(f"/api/v1/reviews/{review_id}").json["photos"] == [shown]


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_png_and_webp_are_accepted(client, posted, fmt):
    review_id, token = posted
    assert upload(client, review_id, token, image_bytes(fmt), f"p.{fmt.lower()}").status_code == 201


def test_large_photo_is_capped_at_2048(client, posted):
    review_id, token = posted
    shown = upload(client, review_id, token, image_bytes("PNG", size=(3000, 1500))).json
    assert (shown["width"], shown["height"]) == (2048, 1024)


def _png_bomb() -> bytes:
    """A tiny PNG whose header claims 50,000 by 50,000 pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 50_000, 50_000, 8, 2, 0, 0, 0)
    body = zlib.compress(b"\x00" * 1000)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"GIF89a" + b"\x00" * 100, 415),
        (b"<html><script>alert(1)</script></html>", 415),
        (b"%PDF-1.4 not an image", 415),
        (image_bytes()[:200], 422),  # truncated
        (_png_bomb(), 422),
        (image_bytes() + b"PK\x03\x04" + b"zipped payload" * 10, 422),  # polyglot
        (image_bytes() + image_bytes() + b"PK\x03\x04" + b"zipped payload", 422),
        (image_bytes("PNG") + b"<script>alert(1)</script>", 422),
    ],
    ids=[
        "gif",
        "html",
        "pdf",
        "truncated",
        "bomb",
        "jpeg-zip-polyglot",
        "jpeg-zip-after-a-second-jpeg",
        "png-trailing-script",
    ],
)
def test_bad_files_are_refused_and_nothing_is_stored(app, client, posted, data, code):
    review_id, token = posted
    answer = upload(client, review_id, token, data)
    assert answer.status_code == code, answer.json
    assert answer.json["message"]
    assert media_files(app) == []
    assert client.get(f"/api/v1/reviews/{review_id}").json["photos"] == []


# What phones write after a JPEG's end marker (FF D9).
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00\x00\x00\x10mdatMOTION!!"
SAMSUNG = b"\x00\x00\x30\x0a\x10\x00\x00\x00MotionPhoto_Data" + MP4 + b"SEFH\x6b\x00\x00\x00SEFT"


def _multi_picture() -> bytes:
    """A JPEG followed by a second picture, as a multi-picture (MPF) file stores a depth map."""
    out = io.BytesIO()
    Image.new("RGB", (64, 32), "red").save(
        out, "MPO", save_all=True, append_images=[Image.new("L", (32, 16), 90)]
    )
    return out.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        image_bytes(exif=True) + MP4,  # a Google motion photo: the video after the picture
        image_bytes(exif=True) + b"\x00" * 8 + MP4,  # ... after some padding
        image_bytes(exif=True) + SAMSUNG,
        image_bytes(exif=True) + image_bytes("JPEG", (16, 8)) + MP4,  # gain map, then video
        _multi_picture(),
    ],
    ids=["motion-photo", "padded-motion-photo", "samsung", "gain-map-and-video", "mpf"],
)
def test_phone_trailers_are_accepted_and_dropped(app, client, posted, data):
    review_id, token = posted
    answer = upload(client, review_id, token, data)
    assert answer.status_code == 201, answer.json
    stored = fetch(client, answer.json["url"])
    assert stored.endswith(b"\xff\xd9") and stored.count(b"\xff\xd8") == 1  # one image
    picture = Image.open(io.BytesIO(stored))
    assert picture.format == "JPEG" and getattr(picture, "n_frames", 1) == 1
    assert max(picture.size) == 64
    for path in media_files(app):  # the photo and its thumbnail
        kept = path.read_bytes()
        assert not any(mark in kept for mark in (b"ftyp", b"mdat", b"SEF", b"Motion", b"MPF"))


def test_more_than_10_mb_is_413(app, client, posted):
    review_id, token = posted
    answer = upload(client, review_id, token, b"\xff\xd8\xff" + b"\x00" * (10 * 1024 * 1024 + 10))
    assert answer.status_code == 413
    assert media_files(app) == []


def test_at_most_five_photos_within_24_hours(app, client, posted):
    review_id, token = posted
    for _ in range(5):
        assert upload(client, review_id, token, image_bytes()).status_code == 201
    assert upload(client, review_id, token, image_bytes()).status_code == 409
    with app.app_context():
        from trustseal.clock import utcnow

        db.session.execute(update(Review).values(created_at=utcnow() - timedelta(hours=25)))
        db.session.commit()
    assert (
        client.get("/api/v1/merchants/bodega/reviews?with_photos=true").json["items"][0]["id"]
        == review_id
    )


def test_photo_window_closes_after_24_hours(app, client, posted):
    review_id, token = posted
    with app.app_context():
        from trustseal.clock import utcnow

        db.session.execute(update(Review).values(created_at=utcnow() - timedelta(hours=25)))
        db.session.commit()
    assert upload(client, review_id, token, image_bytes()).status_code == 409


def test_photo_needs_the_reviews_own_token(app, client, posted):
    review_id, _ = posted
    key = shop(app, "otra")
    other_token = review_link(client, key, "B-1")
    assert upload(client, review_id, other_token, image_bytes()).status_code == 401
    assert upload(client, review_id, "", image_bytes()).status_code == 401
    missing = client.post(
        f"/api/v1/reviews/{review_id}/photos",
        data={},
        headers={"X-Review-Token": posted[1]},
        content_type="multipart/form-data",
    )
    assert missing.status_code == 422
    assert upload(client, 999999, posted[1], image_bytes()).status_code == 404
