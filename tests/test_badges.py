"""The signed badge: rendering, escaping, states, caching, assertions and verification."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from badges import assertion as assertion_mod
from badges import text
from badges.assertion import png_itxt
from tests.helpers import approve_seal, bearer, make_merchant, make_staff, pass_all_criteria
from tests.reviewing import post_review, publish_review, review_link
from trustseal.signing import jws

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = [
    "<script>alert(1)</script>",
    'Tom & Jerry\'s "Shop"',
    "]]><svg onload=alert(2)>",
    "\u202eesreveR\u200f RTL \u200e mark",
    "Café 🍰 Ñandú 😀",
    "x" * 500,
    "control\x07char\x1b",
]


@pytest.fixture
def shop(app, client):
    _, key = make_merchant(app, slug="bodega")
    for n in range(6):
        publish_review(client, key, f"B-{n}", rating=5 - n % 2)
    return key, approve_seal(app, client)


def strict_parse(body: bytes) -> ET.Element:
    return ET.fromstring(body)  # raises on anything that is not well-formed XML


def claims_of(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@pytest.mark.parametrize("style", ["compact", "seal", "card"])
@pytest.mark.parametrize("lang", ["es", "en", "pt"])
def test_every_style_is_valid_accessible_signed_svg(client, shop, style, lang):
    answer = client.get(f"/badges/bodega.svg?style={style}&lang={lang}")
    assert answer.status_code == 200 and answer.mimetype == "image/svg+xml"
    assert answer.headers["Cache-Control"] == "public, max-age=300, stale-while-revalidate=60"
    assert (
        answer.headers["Content-Security-Policy"] == "default-src 'none'; style-src 'unsafe-inline'"
    )
    assert re.fullmatch(r'"[0-9a-f]{32}"', answer.headers["ETag"])
    root = strict_parse(answer.data)
    assert root.get("role") == "img" and root.get("aria-label")
    assert root.find(f"{SVG}title").text == root.get("aria-label")
    start_tag_end = answer.data.index(b">") + 1
    assert answer.data[start_tag_end:].startswith(b'<openbadges:assertion verify="')
    token, stripped = assertion_mod.split_assertion(answer.data)
    keys = client.get("/.well-known/jwks.json").json
    header, claims = jws.verify(token, keys)
    assert header["alg"] == "EdDSA"
    assert claims["svg_sha256"] == assertion_mod.sha256_hex(stripped)
    assert claims["sub"] == "bodega" and claims["seal_status"] == "active"
    assert claims["rating_count"] == 6 and claims["score"] is not None
    assert set(claims) >= {
        "iss",
        "sub",
        "domain",
        "seal_status",
        "valid_until",
        "score",
        "rating_count",
        "history",
        "iat",
        "exp",
        "log",
        "svg_sha256",
    }
    assert claims["exp"] - claims["iat"] == 7 * 86400
    assert set(claims["log"]) == {"tree_size", "root_hash"}
    words = {"es": "opiniones", "en": "reviews", "pt": "avaliações"}[lang]
    if style != "seal":
        assert words.encode() in answer.data
    seal_words = {"es": "Sello de Confianza", "en": "Online Trust Seal", "pt": "Selo de Confiança"}
    assert root.get("aria-label").startswith(seal_words[lang])


def test_locale_number_formats():
    assert text.number(1234, "es") == "1.234" and text.number(1234, "en") == "1,234"
    assert text.number(4.6, "es", 1) == "4,6" and text.number(4.6, "en", 1) == "4.6"
    assert text.number(1234567, "pt") == "1.234.567" and text.number(4.6, "pt", 1) == "4,6"


def test_conditional_get_and_invalidation(app, client, shop):
    key, certifier = shop
    first = client.get("/badges/bodega.svg")
    etag = first.headers["ETag"]
    again = client.get("/badges/bodega.svg", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    post_review(client, review_link(client, key, "NEW"), rating=1)  # the aggregate changes
    changed = client.get("/badges/bodega.svg", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    etag = changed.headers["ETag"]
    client.post(
        "/api/v1/merchants/bodega/seal",
        json={"action": "suspend", "reason": "Revisión"},
        headers=bearer(certifier),
    )
    suspended = client.get("/badges/bodega.svg", headers={"If-None-Match": etag})
    assert suspended.status_code == 200 and b"SUSPENDIDO" in suspended.data
    etag = suspended.headers["ETag"]
    assert app.test_cli_runner().invoke(args=["keys", "rotate"]).exit_code == 0
    rotated = client.get("/badges/bodega.svg", headers={"If-None-Match": etag})
    assert rotated.status_code == 200
    token, _ = assertion_mod.split_assertion(rotated.data)
    assert (
        jws.header_of(token)["kid"] == client.get("/.well-known/jwks.json").json["keys"][0]["kid"]
    )


@pytest.mark.parametrize("action", ["suspend", "revoke"])
def test_bad_states_are_red_and_show_no_score(client, shop, action):
    _, certifier = shop
    client.post(
        "/api/v1/merchants/bodega/seal",
        json={"action": action, "reason": "Problemas graves"},
        headers=bearer(certifier),
    )
    for style in ("compact", "seal", "card"):
        body = client.get(f"/badges/bodega.svg?style={style}").data
        assert b"#b42318" in body
        assert b"\xe2\x98\x85" not in body  # no stars
        assert b"opiniones" not in body
        _, claims = jws.verify(
            assertion_mod.split_assertion(body)[0], client.get("/.well-known/jwks.json").json
        )
        assert claims["seal_status"] == {"suspend": "suspended", "revoke": "revoked"}[action]


def test_unknown_merchant_gets_a_neutral_badge_with_404(client):
    answer = client.get("/badges/nadie.svg?style=card")
    assert answer.status_code == 404 and answer.mimetype == "image/svg+xml"
    strict_parse(answer.data)
    assert b"NO CERTIFICADA" in answer.data and b"#b42318" not in answer.data
    assert client.get("/badges/nadie.png").status_code == 404


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("style=huge", "style"),
        ("lang=fr", "lang"),
        ("scale=3", "scale"),
        ("style=card&lang=xx", "lang"),
    ],
)
def test_unknown_options_are_422_listing_allowed_values(client, query, field):
    answer = client.get(f"/badges/bodega.svg?{query}")
    assert answer.status_code == 422
    assert field in answer.json["errors"]["query"]
    assert "One of" in answer.json["errors"]["query"][field][0]


def _hostile_shop(app, client, name: str) -> str:
    """A shop whose name and reviews hold ``name``. The API refuses control and
    text-direction characters, so the text is stored through the services (as rows
    written before that rule, or by an import, would be): the badge must still be safe."""
    from trustseal.extensions import db
    from trustseal.merchants import service as merchants
    from trustseal.reviews import service as reviews

    with app.app_context():
        created = merchants.create_merchant(
            name=name[:200], domain="hostil.pe", contact_email="a@hostil.pe", slug="hostil"
        )
        db.session.commit()
        key = created.api_key
    for n in range(2):
        token = review_link(client, key, f"H-{n}")
        with app.app_context():
            reviews.submit(
                token,
                rating=4,
                process_rating=5,
                body=name,
                title=name[:200],
                display_name=name[:80],
            )
            db.session.commit()
    pass_all_criteria(app, "hostil")
    client.post(
        "/api/v1/merchants/hostil/seal",
        json={"action": "approve", "reason": "ok ok"},
        headers=bearer(make_staff(app, "certifier", f"c{abs(hash(name))}@cert.pe")),
    )
    return key


@pytest.mark.parametrize("name", HOSTILE, ids=[f"name{n}" for n in range(len(HOSTILE))])
def test_hostile_text_renders_as_valid_xml_everywhere(app, client, name, tmp_path):
    _hostile_shop(app, client, name)
    rsvg = shutil.which("rsvg-convert")
    for style in ("compact", "seal", "card"):
        body = client.get(f"/badges/hostil.svg?style={style}").data
        root = strict_parse(body)
        assert not any(el.tag.endswith("script") for el in root.iter())
        assert not any(attr.startswith("on") for el in root.iter() for attr in el.attrib)
        for element in root.iter(f"{SVG}text"):
            length = float(element.get("textLength") or 0)
            shift = {None: 0, "middle": 0.5, "end": 1}[element.get("text-anchor")]
            left = float(element.get("x")) - shift * length
            assert left >= -1 and left + length <= float(root.get("width")) + 1, element.text
        if rsvg is None:
            import os

            assert os.environ.get("CI") != "true", "rsvg-convert is required under CI"
            continue
        path = tmp_path / f"{style}.svg"
        path.write_bytes(body)
        done = subprocess.run(
            [rsvg, str(path), "-o", str(tmp_path / f"{style}.png")], capture_output=True, timeout=30
        )
        assert done.returncode == 0, done.stderr
        assert (tmp_path / f"{style}.png").stat().st_size > 100


def test_truncation_is_by_measured_width():
    wide, narrow = "W" * 60, "i" * 60
    assert len(text.fit(wide, 100, 10)) < len(text.fit(narrow, 100, 10))
    assert text.width(text.fit(wide, 100, 10), 10) <= 100
    assert text.fit("corto", 100, 10) == "corto"
    assert text.clean("a\u202eb\u200fc\x07d") == "abcd"


def test_unique_ids_per_badge(client, shop):
    ids = set()
    for style in ("compact", "seal", "card"):
        for lang in ("es", "en", "pt"):
            root = strict_parse(client.get(f"/badges/bodega.svg?style={style}&lang={lang}").data)
            ids |= {el.get("id") for el in root.iter() if el.get("id")}
    assert len(ids) == 9


def test_png_carries_the_assertion_uncompressed(client, shop):
    import io

    from PIL import Image

    one = client.get("/badges/bodega.png?style=card")
    two = client.get("/badges/bodega.png?style=card&scale=2")
    assert one.mimetype == "image/png" and one.status_code == 200
    size1, size2 = Image.open(io.BytesIO(one.data)).size, Image.open(io.BytesIO(two.data)).size
    assert size2 == (size1[0] * 2, size1[1] * 2)
    token = png_itxt(one.data, "openbadges")
    assert b"iTXt" in one.data and token and token.encode() in one.data
    _, claims = jws.verify(token, client.get("/.well-known/jwks.json").json)
    assert claims["sub"] == "bodega"
    assert client.get("/badges/bodega.svg?scale=2").status_code == 422


def test_assertion_endpoint(client, shop):
    answer = client.get("/badges/bodega/assertion")
    assert answer.mimetype == "text/plain"
    jws.verify(answer.get_data(as_text=True), client.get("/.well-known/jwks.json").json)
    assert client.get("/badges/nadie/assertion").status_code == 404


def _cli_verify(runner, path: Path, *extra: str):
    return runner.invoke(args=["verify", str(path), *extra])


def test_verify_cli(app, client, shop, tmp_path, runner):
    svg_path, png_path, jws_path = tmp_path / "b.svg", tmp_path / "b.png", tmp_path / "b.jws"
    svg_path.write_bytes(client.get("/badges/bodega.svg?style=card").data)
    png_path.write_bytes(client.get("/badges/bodega.png").data)
    jws_path.write_text(client.get("/badges/bodega/assertion").get_data(as_text=True))
    for path in (svg_path, png_path, jws_path):
        result = _cli_verify(runner, path)
        assert result.exit_code == 0, result.output
        assert result.output.startswith("VALID") and "active when issued" in result.output
    forged = tmp_path / "forged.svg"
    forged.write_bytes(svg_path.read_bytes().replace(b"Bodega", b"Bodeg4"))
    result = _cli_verify(runner, forged)
    assert result.exit_code == 1 and "changed after signing" in result.output
    empty_keys = tmp_path / "keys.json"
    empty_keys.write_text('{"keys": []}')
    result = _cli_verify(runner, svg_path, "--jwks", str(empty_keys))
    assert result.exit_code == 1 and "unknown key" in result.output
    token = jws_path.read_text()
    none_alg = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    (tmp_path / "none.jws").write_text(f"{none_alg}.{token.split('.')[1]}.")
    assert _cli_verify(runner, tmp_path / "none.jws").exit_code == 1


def test_verify_cli_refuses_expired_and_revoked(app, client, shop, tmp_path, runner):
    from trustseal.signing import service as signing

    with app.app_context():
        claims = claims_of(client.get("/badges/bodega/assertion").get_data(as_text=True))
        claims["exp"] = int(time.time()) - 10
        token, _ = signing.sign(claims)
    (tmp_path / "old.jws").write_text(token)
    result = _cli_verify(runner, tmp_path / "old.jws")
    assert result.exit_code == 1 and "expired" in result.output
    client.post(
        "/api/v1/merchants/bodega/seal",
        json={"action": "revoke", "reason": "Fraude"},
        headers=bearer(shop[1]),
    )
    (tmp_path / "revoked.svg").write_bytes(client.get("/badges/bodega.svg").data)
    result = _cli_verify(runner, tmp_path / "revoked.svg")
    assert result.exit_code == 1 and "seal was revoked" in result.output


def test_verify_with_jwks_url(client, shop, live_server, tmp_path, runner):
    path = tmp_path / "b.svg"
    path.write_bytes(client.get("/badges/bodega.svg").data)
    result = _cli_verify(runner, path, "--jwks", f"{live_server}/.well-known/jwks.json")
    assert result.exit_code == 0, result.output


def test_verify_page_and_embed_snippet(client, shop):
    page = client.get("/verify/bodega").get_data(as_text=True)
    assert "VIGENTE" in page and "Cumple" in page
    assert client.get("/verify/nadie").status_code == 404
    embed = client.get("/api/v1/merchants/bodega/badge").json
    assert embed["verify_url"].endswith("/verify/bodega")
    snippet = embed["snippets"]["compact"]
    assert (
        snippet.startswith('<a href="http://trustseal.test/verify/bodega"')
        and "<img src=" in snippet
    )
    root = strict_parse(client.get("/badges/bodega.svg").data)
    link = root.find(f"{SVG}a")
    assert link is not None and link.get("href") == "http://trustseal.test/verify/bodega"
    assert client.get("/api/v1/merchants/nadie/badge").status_code == 404


def test_hostile_name_in_snippet_is_escaped(app, client):
    _hostile_shop(app, client, HOSTILE[0])
    snippet = client.get("/api/v1/merchants/hostil/badge").json["snippets"]["card"]
    assert "<script>" not in snippet and "&lt;script&gt;" in snippet


def test_the_hot_path_reuses_what_the_badge_shows_for_a_second(app, client, shop):
    from trustseal.badging import service

    app.config["TRUSTSEAL_BADGE_FINGERPRINT_SECONDS"] = 60
    first = client.get("/badges/bodega.svg").headers["ETag"]
    client.post(
        "/api/v1/merchants/bodega/seal",
        json={"action": "suspend", "reason": "Revisión"},
        headers=bearer(shop[1]),
    )
    assert client.get("/badges/bodega.svg").headers["ETag"] == first  # within the memo's time
    with app.app_context():
        service.clear_cache()
    assert client.get("/badges/bodega.svg").headers["ETag"] != first
