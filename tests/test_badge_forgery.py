"""Badges that cannot be redrawn or outlive their key (#15): attacks a forger would try —
redraw a PNG and put the signed chunk back, mint with a retired key, stretch an assertion's
life, show a genuine badge on another site — each refused or made visible."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from badges import assertion
from badges import verify as badge_verify
from tests.helpers import bearer, make_merchant, make_staff, pass_all_criteria
from tests.reviewing import publish_review
from trustseal.extensions import db
from trustseal.signing import jws
from trustseal.signing import service as signing
from trustseal.signing.models import SigningKey

DAY = 86400


@pytest.fixture
def shop(app, client):
    _, key = make_merchant(app, slug="bodega")
    for n in range(6):
        publish_review(client, key, f"F-{n}", rating=5 - n % 2)
    pass_all_criteria(app)
    client.post(
        "/api/v1/merchants/bodega/seal",
        json={"action": "approve", "reason": "Cumple"},
        headers=bearer(make_staff(app, "certifier")),
    )
    return key


def claims_of(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def verify_file(runner, tmp_path: Path, name: str, data: bytes, *extra: str):
    path = tmp_path / name
    path.write_bytes(data)
    return runner.invoke(args=["verify", str(path), *extra])


def redraw(png: bytes) -> bytes:
    """The picture with its right half painted over and a better score written in."""
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        picture = image.convert("RGBA")
    draw = ImageDraw.Draw(picture)
    width, height = picture.size
    draw.rectangle((width // 2, 0, width - 1, height - 1), fill=(11, 110, 79, 255))
    draw.text((width // 2 + 4, height // 4), "5,0", fill=(255, 255, 255, 255))
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


def idat_flipped(png: bytes) -> bytes:
    """The same file with one byte of the first IDAT's data changed (CRC left stale)."""
    start = next(s for s, _e, kind, _d in assertion.png_chunks(png) if kind == b"IDAT")
    at = start + 8 + 10
    return png[:at] + bytes([png[at] ^ 0xFF]) + png[at + 1 :]


# --- the PNG picture is bound by png_sha256 ---------------------------------------------


def test_png_assertion_binds_the_png_picture(client, shop):
    png = client.get("/badges/bodega.png?style=card").data
    texts, stripped = assertion.split_png_assertion(png)
    assert len(texts) == 1 and texts[0] == assertion.png_itxt(png)
    claims = claims_of(texts[0])
    assert "svg_sha256" not in claims
    assert claims["png_sha256"] == hashlib.sha256(stripped).hexdigest()
    assert assertion.embed_png_assertion(stripped, texts[0]) == png  # only the chunk differs
    with Image.open(io.BytesIO(png)) as image:  # an ordinary PNG reader sees the chunk
        image.load()
        assert image.text["openbadges"] == texts[0]
    svg_claims = claims_of(client.get("/badges/bodega/assertion").get_data(as_text=True))
    assert "svg_sha256" in svg_claims and "png_sha256" not in svg_claims


def test_chunk_removal_touches_no_other_byte():
    png = Image.new("RGBA", (4, 3), (1, 2, 3, 255))
    out = io.BytesIO()
    png.save(out, "PNG")
    plain = out.getvalue() + b"trailing bytes stay"
    signed = assertion.embed_png_assertion(plain, "a.b.c")
    assert len(signed) == len(plain) + 12 + len(b"openbadges") + 5 + len(b"a.b.c")
    assert assertion.split_png_assertion(signed) == (["a.b.c"], plain)
    assert assertion.split_png_assertion(plain) == ([], plain)
    with pytest.raises(ValueError):
        assertion.embed_png_assertion(b"GIF89a", "a.b.c")


# The worked example of docs/verify.md step 5: a 1x1 PNG carrying the JWS "a.b.c".
GOLDEN_CHUNK = (
    "00 00 00 14 69 54 58 74 6f 70 65 6e 62 61 64 67 65 73 00 00 00 00 00 61 2e 62 2e 63 "
    "d2 d8 da 05"
)
GOLDEN_PLAIN = (
    "89 50 4e 47 0d 0a 1a 0a 00 00 00 0d 49 48 44 52 00 00 00 01 00 00 00 01 08 06 00 00 "
    "00 1f 15 c4 89 00 00 00 0d 49 44 41 54 78 9c 63 e0 ce f3 ff 0f 00 03 18 01 c8 db a4 "
    "c6 b5 00 00 00 00 49 45 4e 44 ae 42 60 82"
)
GOLDEN_SHA256 = "b61c3b9748b2385c0885c8a0bf239d6fe2db6c4bc483bf20b21559d1d0fe2f72"


def test_png_sha256_golden_vector_of_the_docs():
    plain = bytes.fromhex(GOLDEN_PLAIN)
    signed = assertion.embed_png_assertion(plain, "a.b.c")
    assert signed == plain[:33] + bytes.fromhex(GOLDEN_CHUNK) + plain[33:]
    texts, stripped = assertion.split_png_assertion(signed)
    assert texts == ["a.b.c"] and assertion.sha256_hex(stripped) == GOLDEN_SHA256
    docs = " ".join((Path(__file__).resolve().parent.parent / "docs/verify.md").read_text().split())
    assert GOLDEN_SHA256 in docs and GOLDEN_CHUNK in docs


@pytest.mark.parametrize("forge", [redraw, idat_flipped], ids=["redrawn", "idat-bytes"])
def test_redrawn_png_with_the_original_chunk_is_invalid(client, shop, runner, tmp_path, forge):
    png = client.get("/badges/bodega.png").data
    (token,), stripped = assertion.split_png_assertion(png)
    assert verify_file(runner, tmp_path, "real.png", png).exit_code == 0
    forged = assertion.embed_png_assertion(forge(stripped), token)
    assert assertion.png_itxt(forged) == token  # the genuine signed chunk, put back
    result = verify_file(runner, tmp_path, "forged.png", forged)
    assert result.exit_code == 1, result.output
    assert result.output.startswith("INVALID") and "the PNG was changed after signing" in (
        result.output
    )


def test_png_carrying_an_svg_assertion_or_two_chunks_is_invalid(client, shop, runner, tmp_path):
    png = client.get("/badges/bodega.png").data
    _, stripped = assertion.split_png_assertion(png)
    svg_token = client.get("/badges/bodega/assertion").get_data(as_text=True)
    borrowed = assertion.embed_png_assertion(redraw(stripped), svg_token)
    result = verify_file(runner, tmp_path, "borrowed.png", borrowed)
    assert result.exit_code == 1 and "binds no PNG picture (no png_sha256)" in result.output
    twice = assertion.embed_png_assertion(png, svg_token)
    result = verify_file(runner, tmp_path, "twice.png", twice)
    assert result.exit_code == 1 and "2 openbadges chunks" in result.output


# --- keys with dates; assertions that cannot outlive their key --------------------------


def test_jwks_keys_carry_iat_and_retired_at(app, client, shop, runner):
    before = int(time.time())
    first = client.get("/.well-known/jwks.json").json["keys"]
    assert len(first) == 1 and first[0]["iat"] <= before + 1 and "retired_at" not in first[0]
    assert runner.invoke(args=["keys", "rotate"]).exit_code == 0
    current, retired = client.get("/.well-known/jwks.json").json["keys"]
    assert retired["kid"] == first[0]["kid"] and retired["iat"] == first[0]["iat"]
    assert retired["iat"] <= retired["retired_at"] <= int(time.time())
    assert "retired_at" not in current and current["iat"] >= retired["iat"]
    spec = client.get("/api/v1/openapi.json").json["components"]["schemas"]["Jwk"]
    assert {"iat", "retired_at"} <= set(spec["properties"])


def test_retired_key_assertion_is_invalid_after_retirement_valid_before(
    app, client, shop, runner, tmp_path
):
    claims = claims_of(client.get("/badges/bodega/assertion").get_data(as_text=True))
    with app.app_context():
        old_id = signing.current_key().id
        before, _ = signing.sign(claims)
    assert runner.invoke(args=["keys", "rotate"]).exit_code == 0
    keys = tmp_path / "jwks.json"
    keys.write_text(json.dumps(client.get("/.well-known/jwks.json").json))
    retired_at = next(k for k in json.loads(keys.read_text())["keys"] if "retired_at" in k)[
        "retired_at"
    ]
    iat = retired_at + 60  # a minute after the key was retired, within the 7-day cap
    late_claims = {**claims, "score": 5.0, "rating_count": 999, "iat": iat, "exp": iat + 7 * DAY}
    forever = {**late_claims, "exp": iat + 3 * 365 * DAY}  # the three-year assertion
    with app.app_context():
        old = db.session.get(SigningKey, old_id)
        late, kid = signing.sign(late_claims, old)
        lasting, _ = signing.sign(forever, old)
    assert jws.header_of(late)["kid"] == kid and jws.verify(late, json.loads(keys.read_text()))
    ok = verify_file(runner, tmp_path, "before.jws", before.encode(), "--jwks", str(keys))
    assert ok.exit_code == 0, ok.output
    assert "signed before its key was retired" in ok.output
    result = verify_file(runner, tmp_path, "late.jws", late.encode(), "--jwks", str(keys))
    assert result.exit_code == 1 and "after its key was retired" in result.output
    result = verify_file(runner, tmp_path, "forever.jws", lasting.encode(), "--jwks", str(keys))
    assert result.exit_code == 1
    assert "after its key was retired" in result.output and "exceeds 7 days" in result.output


@pytest.mark.parametrize(
    ("lifetime", "valid"), [(7 * DAY, True), (7 * DAY + 1, False), (3 * 365 * DAY, False)]
)
def test_assertions_live_at_most_seven_days(app, client, shop, runner, tmp_path, lifetime, valid):
    claims = claims_of(client.get("/badges/bodega/assertion").get_data(as_text=True))
    with app.app_context():
        token, _ = signing.sign({**claims, "exp": claims["iat"] + lifetime})
    result = verify_file(runner, tmp_path, "a.jws", token.encode())
    assert (result.exit_code == 0) is valid, result.output
    assert ("exceeds 7 days" in result.output) is not valid


def test_time_checks_are_pure_and_fail_closed():
    now = 1_800_000_000
    key = {"retired_at": now - DAY}

    def failures(claims, jwk=None):
        return [m for ok, m in badge_verify.check_time(claims, jwk, now) if not ok]

    assert failures({"iat": now - 10, "exp": now + DAY}) == []
    assert failures({"iat": now - 2 * DAY, "exp": now + DAY}, key) == []
    assert failures({"iat": now - DAY, "exp": now + DAY}, key) == []  # the very second
    assert failures({"iat": now - DAY + 1, "exp": now + DAY}, key)
    assert failures({"iat": now - 10, "exp": now + DAY}, {"retired_at": "soon"})
    assert failures({"iat": now + 3600, "exp": now + DAY})  # issued in the future
    assert failures({"iat": "yesterday", "exp": now + DAY})
    assert failures({"exp": now + DAY})
    assert failures({"iat": True, "exp": now + DAY})


# --- what the VALID line says, and --domain ---------------------------------------------


@pytest.mark.parametrize(
    "path", ["/badges/bodega.svg", "/badges/bodega.png", "/badges/bodega/assertion"]
)
def test_valid_line_prints_the_signed_domain_status_score_and_count(
    client, shop, runner, tmp_path, path
):
    data = client.get(path).data
    claims = claims_of(badge_verify.extract(data).token)
    result = verify_file(runner, tmp_path, "badge", data)
    assert result.exit_code == 0, result.output
    line = result.output.strip()
    assert line.startswith("VALID: ") and "\n" not in line
    assert (
        f"for bodega: domain=bodega.pe seal_status=active score={json.dumps(claims['score'])} "
        "rating_count=6;" in line
    )


@pytest.mark.parametrize(
    ("domain", "ok"),
    [
        ("bodega.pe", True),
        ("BODEGA.pe.", True),
        ("www.bodega.pe", True),
        ("otra-tienda.pe", False),
        ("evilbodega.pe", False),
        ("bodega.pe.evil.com", False),
        ("pe", False),
    ],
)
def test_domain_option_fails_when_the_badge_names_another_domain(
    client, shop, runner, tmp_path, domain, ok
):
    data = client.get("/badges/bodega.png").data
    result = verify_file(runner, tmp_path, "b.png", data, "--domain", domain)
    assert (result.exit_code == 0) is ok, result.output
    if not ok:
        assert result.output.startswith("INVALID")
        assert f"the badge names the domain bodega.pe, not {domain}" in result.output


def test_host_within():
    assert badge_verify.host_within("WWW.Bodega.PE.", "bodega.pe")
    assert badge_verify.host_within("ñandú.pe", "xn--and-6ma2c.pe")
    assert not badge_verify.host_within("evilbodega.pe", "bodega.pe")
    assert not badge_verify.host_within("bodega.pe", "")


# --- /verify warns when the badge is shown on another site ------------------------------


@pytest.mark.parametrize(
    ("referer", "warned"),
    [
        ("https://otra-tienda.pe/checkout?x=1", "otra-tienda.pe"),
        ("https://bodega.pe.evil.com/", "bodega.pe.evil.com"),
        ("https://evilbodega.pe/", "evilbodega.pe"),
        ("https://bodega.pe/producto/1", None),
        ("https://www.bodega.pe:8443/", None),
        ("http://trustseal.test/m/bodega", None),
        (None, None),
        ("not a url", None),
        ("javascript:alert(1)", None),
    ],
)
def test_verify_page_warns_when_opened_from_another_site(client, shop, referer, warned):
    headers = {"Referer": referer} if referer else {}
    answer = client.get("/verify/bodega", headers=headers)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "Referer" in answer.headers.get("Vary", "")
    if warned is None:
        assert 'id="shown-elsewhere"' not in page
        return
    start = page.index('id="shown-elsewhere"')
    warning = page[start : page.index("</section>", start)]
    assert 'role="alert"' in page[start - 80 : start + 40]
    assert 'class="shown-elsewhere-title"' in warning
    assert warned in warning and "bodega.pe" in warning


def test_verify_page_warning_escapes_the_host(client, shop):
    page = client.get(
        "/verify/bodega", headers={"Referer": "https://x<img src=y onerror=alert(1)>.pe/"}
    ).get_data(as_text=True)
    assert 'id="shown-elsewhere"' in page
    assert "<img src=y" not in page and "&lt;img src=y onerror=alert(1)&gt;" in page


@pytest.mark.parametrize("days", [0, 8, 365])
def test_the_service_cannot_be_configured_to_sign_longer_assertions(tmp_path, days):
    from trustseal import create_app
    from trustseal.config import ConfigError

    with pytest.raises(ConfigError, match="BADGE_ASSERTION_DAYS"):
        create_app({"INSTANCE_PATH": str(tmp_path), "BADGE_ASSERTION_DAYS": days})
