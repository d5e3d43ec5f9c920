"""``/libro``: a consumer types a follow-up code and goes to the entry's follow-up page —
however the code was typed; an unknown or malformed one is a clear 404 on the page,
never a 500; lookups are rate-limited like every use of a code."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from tests.booking import BOOK_FORM, entry_body, spy_on_emails
from tests.helpers import bearer, make_merchant
from tests.signing_in import post_form
from trustseal.book import service as book
from trustseal.extensions import db
from trustseal.jobs import service as jobs
from trustseal.jobs.models import Job

BASE = "http://trustseal.test"  # TRUSTSEAL_BASE_URL of the tests
LOOKUP_LINK = re.compile(re.escape(BASE) + r"/libro(?![/\w])")
UNKNOWN = "AAAA-BBBB-CCCC-DDDD"  # well formed, filed by nobody
EN_UNKNOWN = "No entry has this follow-up code."
EN_MALFORMED = "This is not a follow-up code."


@pytest.fixture
def key(app: Flask) -> str:
    return make_merchant(app, slug="bodega")[1]


@pytest.fixture
def filed(client: FlaskClient, key: str) -> dict[str, Any]:
    answer = client.post("/api/v1/merchants/bodega/book", json=entry_body())
    assert answer.status_code == 201
    return dict(answer.json)


def test_the_lookup_page_is_a_get_form(client):
    answer = client.get("/libro")
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    html = answer.get_data(as_text=True)
    assert '<form method="get" action="/libro"' in html
    assert 'name="code"' in html and 'id="code"' in html and 'for="code"' in html
    assert 'role="alert"' not in html  # nothing typed, nothing wrong
    assert client.get("/libro?code=").status_code == 200
    assert client.get("/libro?code=%20%20").status_code == 200
    english = client.get("/libro?lang=en").get_data(as_text=True)
    assert "Follow-up code" in english and "K7QM-4XPA-92HD-MW3R" in english


@pytest.mark.parametrize(
    "typed",
    [
        "{code}",
        "{lower}",
        "  {code}  ",
        "{spaced}",
        "{bare}",
        "{bare_lower}",
        "{dashes}",
        "{base}/libro/{code}",
        "{base}/libro/{code}.pdf",
    ],
)
def test_a_typed_code_goes_to_its_follow_up_page(client, filed, typed):
    code = filed["code"]
    text = typed.format(
        code=code,
        lower=code.lower(),
        spaced=code.replace("-", " "),
        bare=code.replace("-", ""),
        bare_lower=code.replace("-", "").lower(),
        dashes=code.replace("-", "\u2013"),  # what a word processor makes of a hyphen
        base=BASE,
    )
    answer = client.get("/libro", query_string={"code": text})
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"/libro/{code}"
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    page = client.get(answer.headers["Location"])
    assert page.status_code == 200 and filed["number"] in page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        (UNKNOWN, EN_UNKNOWN),
        (UNKNOWN.lower().replace("-", " "), EN_UNKNOWN),
        ("hola", EN_MALFORMED),
        ("AAAA-BBBB-CCCC", EN_MALFORMED),
        ("AAAA-BBBB-CCCC-DDDD-EEEE", EN_MALFORMED),
        ("0000-1111-OOOO-IIII", EN_MALFORMED),  # not in the alphabet of codes
        ("ÑAAA-BBBB-CCCC-DDDD", EN_MALFORMED),
        ("x" * 5000, EN_MALFORMED),
        ('<script>alert("x")</script>', EN_MALFORMED),
        ("AAAA\u202eBBBB-CCCC-DDDD", EN_MALFORMED),
        ("../../etc/passwd", EN_MALFORMED),
        ("/", EN_MALFORMED),
    ],
)
def test_an_unknown_or_malformed_code_is_a_clear_404(client, filed, typed, message):
    answer = client.get("/libro", query_string={"code": typed, "lang": "en"})
    assert answer.status_code == 404 and answer.mimetype == "text/html"
    html = answer.get_data(as_text=True)
    assert re.search(rf'role="alert" id="code-error">{re.escape(message)}', html)
    assert 'aria-invalid="true"' in html
    assert "<script>alert" not in html
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    if len(typed) < 100 and "<" not in typed:
        assert f'value="{typed}"' in html  # what was typed, to correct it


def test_the_unknown_code_message_is_spanish_by_default(client, filed):
    spanish = client.get("/libro", query_string={"code": UNKNOWN})
    english = client.get("/libro", query_string={"code": UNKNOWN, "lang": "en"})
    assert spanish.status_code == english.status_code == 404
    assert spanish.get_data(as_text=True).startswith('<!doctype html>\n<html lang="es">')
    assert english.get_data(as_text=True).startswith('<!doctype html>\n<html lang="en">')


def test_a_nul_in_the_code_is_refused_not_a_500(client, filed):
    assert client.get("/libro?code=AAAA%00BBBB").status_code == 400


def test_an_unknown_follow_up_url_shows_the_lookup_page(client, filed):
    answer = client.get(f"/libro/{UNKNOWN}?lang=en")
    assert answer.status_code == 404
    html = answer.get_data(as_text=True)
    assert EN_UNKNOWN in html and '<form method="get" action="/libro"' in html
    assert EN_MALFORMED in client.get("/libro/hola?lang=en").get_data(as_text=True)
    # the follow-up page itself still takes the code however it is written
    assert client.get(f"/libro/{filed['code'].lower()}").status_code == 200


def test_lookups_are_rate_limited(app, client, filed):
    app.config["TRUSTSEAL_RATELIMIT_PUBLIC_WRITE"] = "3 per minute"
    codes = [client.get("/libro", query_string={"code": UNKNOWN}).status_code for _ in range(4)]
    assert codes == [404, 404, 404, 429]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("k7qm-4xpa-92hd-mw3r", "K7QM-4XPA-92HD-MW3R"),
        (" K7QM 4XPA 92HD MW3R ", "K7QM-4XPA-92HD-MW3R"),
        ("K7QM\u00a04XPA\u201192HD\u2014MW3R", "K7QM-4XPA-92HD-MW3R"),
        ("k7qm4xpa92hdmw3r", "K7QM-4XPA-92HD-MW3R"),
        ("https://sello.pe/libro/K7QM-4XPA-92HD-MW3R/", "K7QM-4XPA-92HD-MW3R"),
        ("K7QM-4XPA-92HD-MW3", None),
        ("K7QM-4XPA-92HD-MW30", None),  # 0 is never in a code
        ("", None),
    ],
)
def test_codes_are_normalised_as_the_lookup_stores_them(text, code):
    assert book.normalize_code(text) == code


def test_the_confirmation_page_and_the_emails_link_the_lookup(
    app, client, key, monkeypatch, tmp_path
):
    rendered = spy_on_emails(monkeypatch)
    done = post_form(
        client,
        "/m/bodega/libro",
        BOOK_FORM,
    )
    assert done.status_code == 201
    assert re.search(r'<a href="/libro" id="lookup-link">', done.get_data(as_text=True))
    number = re.search(r"\d{6}-\d{4}", done.get_data(as_text=True)).group()
    client.put(f"/api/v1/book/{number}/response", json={"body": "Listo."}, headers=bearer(key))
    with app.app_context():
        db.session.execute(update(Job).values(run_at=datetime.now(UTC) - timedelta(seconds=1)))
        db.session.commit()
        jobs.run_due_jobs()
    for template in ("book_copy", "book_answer"):
        (message,) = rendered[template]
        assert LOOKUP_LINK.search(message.text), template
        assert LOOKUP_LINK.search(message.html), template
    follow = client.get(re.search(r'href="(/libro/[A-Z0-9-]+)"', done.get_data(as_text=True))[1])
    assert '<a href="/libro">' in follow.get_data(as_text=True)
