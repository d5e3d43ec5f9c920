"""Reading a shop's reviews: order by publication time, sorts, text search, photo and
rating filters, numbered pages on the profile and keyset cursors in the API; "helpful"
votes (API and the profile's button without JavaScript or cookies); the 12-month chart
with its month names, counts and table; the profile's links; and migration 0014."""

from __future__ import annotations

import base64
import json
import re
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import flask_migrate
import pytest
from babel.dates import format_date
from sqlalchemy import func, select, text

from tests.conftest import fresh_pg_database, make_app
from tests.helpers import bearer, make_merchant, make_staff
from tests.reviewing import image_bytes, publish_review, shop
from trustseal.clock import utcnow
from trustseal.extensions import db
from trustseal.media import images
from trustseal.reviews import listing, service
from trustseal.reviews.models import HelpfulVote, Review
from trustseal.reviews.presenters import history_bars, page_numbers
from trustseal.transparency import numbers

API = "/api/v1/merchants/bodega/reviews"


def _review(
    app: Any,
    client: Any,
    key: str,
    external_id: str,
    *,
    at: datetime | None = None,
    rating: int = 4,
    title: str | None = None,
    body: str = "Llegó bien.",
    photo: bool = False,
) -> int:
    """A published review written through the service (``at`` backdates it, as an
    import does), from no known address; its id."""
    with app.app_context():
        photos = (images.process_photo(image_bytes()),) if photo else ()
    return publish_review(
        client,
        key,
        external_id,
        rating=rating,
        process_rating=5,
        title=title,
        body=body,
        at=at,
        photos=photos,
        client_address=None,
    )


def _ids(answer: Any) -> list[int]:
    assert answer.status_code == 200, answer.json
    return [item["id"] for item in answer.json["items"]]


def _page_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<article class="review" id="r(\d+)"', html)]


def _all_pages(client: Any, query: str, limit: int = 2) -> list[int]:
    seen: list[int] = []
    cursor = None
    while True:
        url = f"{API}?limit={limit}&{query}" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url)
        seen += _ids(page)
        cursor = page.json["next_cursor"]
        if not cursor:
            return seen


def _remove(client: Any, app: Any, review_id: int) -> None:
    answer = client.post(
        f"/api/v1/reviews/{review_id}/moderation",
        json={"action": "remove", "reason": "spam"},
        headers=bearer(make_staff(app, "moderator", f"mod{review_id}@cert.pe")),
    )
    assert answer.status_code == 200, answer.json


def _vote(client: Any, review_id: int, ip: str = "203.0.113.5", agent: str = "Firefox/1") -> Any:
    return client.post(
        f"/api/v1/reviews/{review_id}/helpful",
        headers={"User-Agent": agent},
        environ_base={"REMOTE_ADDR": ip},
    )


# --- order, sorts and cursors -----------------------------------------------------------


def test_newest_first_by_publication_time_ties_by_id(app, client):
    key = shop(app)
    now = utcnow().replace(microsecond=0)
    same = now - timedelta(days=2)
    # written in this order (ids 1..4), published at other times (an import backdates)
    old = _review(app, client, key, "A", at=now - timedelta(days=30))
    new = _review(app, client, key, "B", at=now - timedelta(hours=1))
    tie_low = _review(app, client, key, "C", at=same)
    tie_high = _review(app, client, key, "D", at=same)
    expected = [new, tie_high, tie_low, old]
    assert _ids(client.get(API)) == expected
    assert _ids(client.get(f"{API}?sort=recent")) == expected
    assert _all_pages(client, "sort=recent", limit=1) == expected
    assert _page_ids(client.get("/m/bodega").get_data(as_text=True)) == expected
    with app.app_context():  # testimonials (the badge's card) are the newest by date too
        assert [r.id for r in service.latest_published(1, 3)] == expected[:3]


def test_each_sort_order_and_its_cursor(app, client):
    key = shop(app)
    now = utcnow()
    ratings = [3, 5, 1, 5, 4, 2, 3]
    ids = [
        _review(app, client, key, f"S-{n}", rating=r, at=now - timedelta(hours=10 - n))
        for n, r in enumerate(ratings)
    ]
    by_id = dict(zip(ids, ratings, strict=True))
    newest = ids[::-1]
    highest = sorted(newest, key=lambda i: -by_id[i])  # stable: newest first among ties
    lowest = sorted(newest, key=lambda i: by_id[i])
    for voter in range(3):
        assert _vote(client, ids[2], ip=f"198.51.100.{voter}").status_code == 201
    assert _vote(client, ids[5], ip="198.51.100.9").status_code == 201
    helpful = [ids[2], ids[5]] + [i for i in newest if i not in (ids[2], ids[5])]
    for sort, expected in (
        ("recent", newest),
        ("highest", highest),
        ("lowest", lowest),
        ("helpful", helpful),
    ):
        assert _ids(client.get(f"{API}?sort={sort}&limit=100")) == expected, sort
        assert _all_pages(client, f"sort={sort}", limit=2) == expected, sort
        assert _all_pages(client, f"sort={sort}", limit=3) == expected, sort
        page = client.get(f"/m/bodega?sort={sort}").get_data(as_text=True)
        assert _page_ids(page) == expected, sort
    # a cursor names its order: another order's cursor is refused, not misread
    cursor = client.get(f"{API}?sort=highest&limit=2").json["next_cursor"]
    refused = client.get(f"{API}?sort=recent&cursor={cursor}")
    assert refused.status_code == 422 and "cursor" in refused.json["errors"]["query"]
    assert client.get(f"{API}?cursor={cursor}").status_code == 422  # recent by default


def test_a_removed_review_comes_last_in_rating_and_vote_orders(app, client):
    key = shop(app)
    now = utcnow()
    five = _review(app, client, key, "R-1", rating=5, at=now - timedelta(hours=3))
    one = _review(app, client, key, "R-2", rating=1, at=now - timedelta(hours=2))
    removed = _review(app, client, key, "R-3", rating=5, at=now - timedelta(hours=1))
    _vote(client, removed)
    _remove(client, app, removed)
    assert _ids(client.get(API)) == [removed, one, five]  # the tombstone keeps its date
    assert _ids(client.get(f"{API}?sort=highest")) == [five, one, removed]
    assert _ids(client.get(f"{API}?sort=lowest")) == [one, five, removed]
    assert _ids(client.get(f"{API}?sort=helpful")) == [one, five, removed]
    tombstone = client.get(f"{API}?sort=highest").json["items"][-1]
    assert tombstone["status"] == "removed" and tombstone["rating"] is None
    assert _all_pages(client, "sort=lowest", limit=1) == [one, five, removed]


# --- search and filters ------------------------------------------------------------------


def test_text_search_ignores_case_and_accents_on_title_and_body(app, client):
    key = shop(app)
    cafe = _review(app, client, key, "Q-1", title="El CAFÉ de Ñandú", body="Muy rico.")
    late = _review(app, client, key, "Q-2", body="La entrega llegó tarde, pero el café bien.")
    other = _review(app, client, key, "Q-3", body="Todo perfecto: 100% recomendado")
    assert set(_ids(client.get(f"{API}?q=cafe"))) == {cafe, late}
    assert _ids(client.get(f"{API}?q=%C3%B1AND%C3%9A")) == [cafe]  # "ñANDÚ"
    assert _ids(client.get(f"{API}?q=Llego%20CAFE")) == [late]  # every word, any order
    assert _ids(client.get(f"{API}?q=tarde%20perfecto")) == []
    assert _ids(client.get(f"{API}?q=100%25")) == [other]  # "%" is no wildcard
    everything = _ids(client.get(API))
    for blank in ("%20%20", "_", "%25", "%C2%BF%3F"):  # no words: no search
        assert _ids(client.get(f"{API}?q={blank}")) == everything, blank
    page = client.get("/m/bodega?q=CAF%C3%89&lang=en").get_data(as_text=True)
    assert set(_page_ids(page)) == {cafe, late} and "2 reviews found" in page
    assert 'value="CAFÉ"' in page  # the box keeps what was typed
    none = client.get("/m/bodega?q=zzz&lang=en").get_data(as_text=True)
    assert _page_ids(none) == [] and "No review matches this search." in none


def test_removed_and_erased_texts_never_match(app, client):
    key = shop(app)
    kept = _review(app, client, key, "E-1", body="secreto compartido")
    removed = _review(app, client, key, "E-2", body="secreto retirado")
    erased = _review(app, client, key, "E-3", body="secreto borrado")
    _remove(client, app, removed)
    with app.app_context():
        purchase = db.session.get(Review, erased).purchase_id
        assert service.erase_personal_data([purchase]) == 1
        db.session.commit()
        assert db.session.get(Review, erased).search_text is None
    assert _ids(client.get(f"{API}?q=secreto")) == [kept]
    assert (
        _ids(client.get(f"{API}?q=retirado")) == [] and _ids(client.get(f"{API}?q=borrado")) == []
    )
    page = client.get("/m/bodega?q=secreto").get_data(as_text=True)
    assert _page_ids(page) == [kept]


def test_photos_rating_search_and_sort_combine(app, client):
    key = shop(app)
    now = utcnow()
    a = _review(app, client, key, "C-1", rating=5, body="buen envío", photo=True, at=now)
    b = _review(app, client, key, "C-2", rating=5, body="buen envío", at=now - timedelta(1))
    c = _review(app, client, key, "C-3", rating=2, body="mal envío", photo=True)
    d = _review(
        app, client, key, "C-4", rating=5, body="buen envío", photo=True, at=now - timedelta(2)
    )
    assert set(_ids(client.get(f"{API}?with_photos=1"))) == {a, c, d}
    assert _ids(client.get(f"{API}?with_photos=1&rating=5&q=envio")) == [a, d]
    assert _ids(client.get(f"{API}?rating=5&q=buen&sort=recent")) == [a, b, d]
    assert _ids(client.get(f"{API}?q=envio&sort=lowest&limit=1")) == [c]
    page = client.get("/m/bodega?with_photos=1&rating=5&q=envio").get_data(as_text=True)
    assert _page_ids(page) == [a, d]
    # the rating links keep the search, the photo filter and the order
    sorted_page = client.get("/m/bodega?with_photos=1&q=envio&sort=lowest").get_data(as_text=True)
    assert 'href="/m/bodega?rating=5&amp;sort=lowest&amp;q=envio&amp;with_photos=1#reviews"' in (
        sorted_page
    )
    assert 'name="with_photos" value="1" checked' in sorted_page
    assert '<option value="lowest" selected>' in sorted_page


@pytest.mark.parametrize(
    "query",
    [
        "sort=best",
        "sort=",
        "q=" + "x" * 101,
        "q=%E2%80%AEgnp",  # a text-direction override
        "cursor=broken!",
        "cursor=eyJrIjoxfQ",  # a generic list cursor, not one of this list
        "cursor=eyJzIjoicmVjZW50IiwiayI6WyJub3QgYSB0aW1lIiwxXX0",  # a time that is none
        "limit=0",
        "rating=6",
        "with_photos=perhaps",
    ],
)
def test_invalid_list_arguments_are_422_in_the_api_and_ignored_by_the_page(app, client, query):
    make_merchant(app)
    answer = client.get(f"{API}?{query}")
    assert answer.status_code == 422 and answer.json["code"] == 422
    assert answer.json["errors"]["query"]
    page = client.get(f"/m/bodega?{query}")
    assert page.status_code == 200


def _cursor(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_crafted_cursors_are_422_or_a_page_never_a_500(app, client):
    key = shop(app)
    _review(app, client, key, "K-1")
    refused = [
        {"s": "recent", "k": ["0001-01-01T00:00:00+14:00", 1]},  # year 0 in UTC
        {"s": "recent", "k": ["9999-12-31T23:59:59-14:00", 1]},  # year 10000 in UTC
        {"s": "recent", "k": ["2026-01-01T00:00:00", 1]},  # no time zone
        {"s": "recent", "k": ["2026-01-01T00:00:00+00:00", True]},
        {"s": "recent", "k": ["2026-01-01T00:00:00+00:00", 2**31]},  # ids are 32-bit
        {"s": "helpful", "k": [-(2**31) - 1, "2026-01-01T00:00:00+00:00", 1]},
        {"s": "recent", "k": [1]},
        {"s": "best", "k": [1, 2]},
        {"k": 5},
    ]
    for data in refused:
        answer = client.get(f"{API}?sort={data.get('s', 'recent')}&cursor={_cursor(data)}")
        assert answer.status_code == 422, data
    far = "2999-01-01T00:00:00+00:00"
    accepted = [
        {"s": "recent", "k": [far, 2**31 - 1]},
        {"s": "helpful", "k": [2**31 - 1, far, 2**31 - 1]},
        {"s": "lowest", "k": [-(2**31), far, -5]},
        {"s": "highest", "k": [9, "2026-01-01T05:00:00-05:00", 1]},
    ]
    for data in accepted:
        answer = client.get(f"{API}?sort={data['s']}&cursor={_cursor(data)}")
        assert answer.status_code == 200, (data, answer.json)


@pytest.mark.parametrize(
    "query",
    ["page=0", "page=-3", "page=x", "page=99999999999999999999", "page=1.5", "sort=BEST"],
)
def test_the_page_falls_back_sanely(app, client, query):
    key = shop(app)
    _review(app, client, key, "F-1")
    answer = client.get(f"/m/bodega?{query}")
    assert answer.status_code == 200
    assert len(_page_ids(answer.get_data(as_text=True))) == 1
    assert client.get("/m/bodega?q=%FF&sort=%FF").status_code == 200  # not UTF-8
    assert client.get("/m/bodega?q=%00").status_code == 400  # NUL: refused before any view


# --- numbered pages ----------------------------------------------------------------------


def test_page_numbers_leave_gaps():
    assert page_numbers(1, 1) == [1]
    assert page_numbers(1, 3) == [1, 2, 3]
    assert page_numbers(6, 20) == [1, None, 4, 5, 6, 7, 8, None, 20]
    assert page_numbers(1, 20) == [1, 2, 3, None, 20]
    assert page_numbers(20, 20) == [1, None, 18, 19, 20]
    assert page_numbers(4, 7) == [1, 2, 3, 4, 5, 6, 7]


def test_the_profile_has_numbered_pages_with_previous_and_next(app, client):
    key = shop(app)
    now = utcnow()
    ids = [_review(app, client, key, f"N-{n}", at=now - timedelta(minutes=n)) for n in range(45)]
    first = client.get("/m/bodega?lang=en").get_data(as_text=True)
    assert _page_ids(first) == ids[:20]
    assert 'rel="prev"' not in first and 'href="/m/bodega?page=2#reviews" rel="next"' in first
    assert 'href="/m/bodega#reviews" aria-current="page">1<' in first
    assert 'href="/m/bodega?page=3#reviews">3<' in first
    second = client.get("/m/bodega?page=2&lang=en").get_data(as_text=True)
    assert _page_ids(second) == ids[20:40]
    assert 'href="/m/bodega#reviews" rel="prev">Previous<' in second
    assert 'href="/m/bodega?page=3#reviews" rel="next">Next<' in second
    assert 'aria-current="page">2<' in second
    last = client.get("/m/bodega?page=3").get_data(as_text=True)
    assert _page_ids(last) == ids[40:] and 'rel="next"' not in last
    assert _page_ids(client.get("/m/bodega?page=99").get_data(as_text=True)) == ids[40:]
    # the links keep the order and the search
    sorted_second = client.get("/m/bodega?sort=lowest&q=llego&page=2").get_data(as_text=True)
    assert 'href="/m/bodega?sort=lowest&amp;q=llego&amp;page=3#reviews" rel="next"' in (
        sorted_second
    )
    single = client.get("/m/bodega?rating=1").get_data(as_text=True)
    assert 'class="pager"' not in single


# --- helpful votes -----------------------------------------------------------------------


def test_a_helpful_vote_counts_once_per_visitor(app, client):
    key = shop(app)
    review_id = _review(app, client, key, "H-1")
    first = _vote(client, review_id)
    assert first.status_code == 201 and first.json == {"helpful_count": 1}
    again = _vote(client, review_id)
    assert again.status_code == 200 and again.json == {"helpful_count": 1}
    assert _vote(client, review_id, agent="Chrome/2").json == {"helpful_count": 2}
    assert _vote(client, review_id, ip="198.51.100.7").json == {"helpful_count": 3}
    # an IPv6 subscriber is one visitor across its /64
    assert _vote(client, review_id, ip="2001:db8:1:2::1").status_code == 201
    assert _vote(client, review_id, ip="2001:db8:1:2::ffff").status_code == 200
    assert _vote(client, review_id, ip="::ffff:198.51.100.7").status_code == 200
    shown = client.get(f"/api/v1/reviews/{review_id}").json
    assert shown["helpful_count"] == 4
    assert client.get(API).json["items"][0]["helpful_count"] == 4
    with app.app_context():
        votes = db.session.scalars(select(HelpfulVote)).all()
        assert len(votes) == 4 == db.session.get(Review, review_id).helpful_count
        for vote in votes:  # keyed hashes only: no address, no User-Agent
            assert re.fullmatch(r"[0-9a-f]{64}", vote.voter_hash)
        dump = " ".join(v.voter_hash for v in votes)
        assert "203.0.113.5" not in dump and "Firefox" not in dump
        # one visitor's hash differs from review to review: not followed across reviews
        assert service.voter_key(1, "203.0.113.5", "F") != service.voter_key(2, "203.0.113.5", "F")


def test_a_vote_on_an_unknown_removed_or_unpublished_review_is_404(app, client):
    from trustseal.merchants import service as merchants

    key = shop(app)
    review_id = _review(app, client, key, "U-1")
    assert _vote(client, 999).status_code == 404
    _remove(client, app, review_id)
    refused = _vote(client, review_id)
    assert refused.status_code == 404 and refused.json["code"] == 404
    other_key = make_merchant(app, slug="sombra", domain="sombra.pe")[1]
    hidden = _review(app, client, other_key, "U-2")
    with app.app_context():
        merchant = merchants.get_by_slug("sombra")
        merchant.domain_status = "pending"  # a shop that is not public (yet)
        db.session.commit()
    assert _vote(client, hidden).status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(HelpfulVote)) == 0


def test_votes_from_other_sites_pages_are_refused_and_limited(app, client):
    key = shop(app)
    review_id = _review(app, client, key, "X-1")
    for headers in (
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "https://competidor.example"},
        {"Origin": "null"},
    ):
        answer = client.post(f"/api/v1/reviews/{review_id}/helpful", headers=headers)
        assert answer.status_code == 403 and answer.json["code"] == 403, headers
    own = client.post(
        f"/api/v1/reviews/{review_id}/helpful",
        headers={"Sec-Fetch-Site": "same-origin", "Origin": "http://trustseal.test"},
    )
    assert own.status_code == 201
    app.config["TRUSTSEAL_RATELIMIT_PUBLIC_WRITE"] = "2 per minute"
    codes = [_vote(client, review_id, agent=f"Bot/{n}").status_code for n in range(3)]
    assert codes[-1] == 429
    operation = client.get("/api/v1/openapi.json").json["paths"][
        "/api/v1/reviews/{review_id}/helpful"
    ]["post"]
    assert {"200", "201", "403", "404"} <= set(operation["responses"])
    assert "security" not in operation


@pytest.mark.postgres_only
def test_concurrent_votes_count_each_visitor_once(app, client, dialect):
    key = shop(app)
    review_id = _review(app, client, key, "P-1")
    start = threading.Barrier(16)
    codes: list[int] = []

    def vote(agent: str) -> None:
        local = app.test_client()
        start.wait()
        codes.append(_vote(local, review_id, agent=agent).status_code)

    threads = [threading.Thread(target=vote, args=(f"Same/{n % 2}",)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes).count(201) == 2 and len(codes) == 16
    assert client.get(f"/api/v1/reviews/{review_id}").json["helpful_count"] == 2


def test_the_helpful_button_works_without_javascript_or_cookies(app, client):
    key = shop(app)
    now = utcnow()
    first = _review(app, client, key, "B-1", at=now - timedelta(hours=2))
    second = _review(app, client, key, "B-2", at=now - timedelta(hours=1))
    profile = client.get("/m/bodega?sort=helpful&q=llego&lang=en")
    assert "Set-Cookie" not in profile.headers
    html = profile.get_data(as_text=True)
    action = f"/m/bodega/r/{first}/helpful?sort=helpful&amp;q=llego"
    assert f'<form method="post" action="{action}" class="helpful">' in html
    assert "csrf_token" not in html  # the profile carries no token and sets no session
    assert "Helpful (0)" in html
    voted = client.post(
        action.replace("&amp;", "&"),
        headers={"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"},
    )
    assert voted.status_code == 303 and "Set-Cookie" not in voted.headers
    assert voted.headers["Location"] == (f"/m/bodega?voted={first}&sort=helpful&q=llego#r{first}")
    after = client.get(f"/m/bodega?voted={first}&sort=helpful&q=llego&lang=en")
    page = after.get_data(as_text=True)
    assert _page_ids(page) == [first, second]  # now the most helpful
    assert "Helpful (1)" in page and "Thank you: your vote counts once." in page
    assert client.post(f"/m/bodega/r/{first}/helpful").status_code == 303  # same visitor
    assert client.get(f"/api/v1/reviews/{first}").json["helpful_count"] == 1
    assert client.post("/m/bodega/r/999/helpful").status_code == 404
    assert client.post(f"/m/nadie/r/{first}/helpful").status_code == 404
    make_merchant(app, slug="otra", domain="otra.pe")
    assert client.post(f"/m/otra/r/{first}/helpful").status_code == 404  # not its review
    assert client.get(f"/m/bodega/r/{first}/helpful").status_code == 405
    _remove(client, app, second)
    tombstone = client.get("/m/bodega").get_data(as_text=True)
    assert f"/m/bodega/r/{second}/helpful" not in tombstone
    assert client.post(f"/m/bodega/r/{second}/helpful").status_code == 404


def test_the_helpful_button_in_a_real_browser(app, client, live_server, page):
    """Chromium sends its own Sec-Fetch-Site and Origin: the button works from the
    profile, and the same form on another origin's page is refused."""
    key = shop(app)
    review_id = _review(app, client, key, "W-1")
    page.goto(f"{live_server}/m/bodega?sort=helpful")
    page.click(f"#r{review_id} form.helpful button")
    page.wait_for_url(re.compile(rf"voted={review_id}"))
    assert page.url.endswith(f"#r{review_id}") and "sort=helpful" in page.url
    assert "(1)" in page.locator(f"#r{review_id} form.helpful button").inner_text()
    assert page.context.cookies() == []  # no cookie, none needed
    forged = (
        f'<form method="post" action="{live_server}/m/bodega/r/{review_id}/helpful">'
        "<button>vote</button></form>"
    )
    page.route(
        "http://competidor.example/",
        lambda route: route.fulfill(body=forged, content_type="text/html"),
    )
    page.goto("http://competidor.example/")  # another site's page, as Chromium sees it
    with page.expect_response(re.compile(r"/helpful")) as posted:
        page.click("button")
    assert posted.value.status == 403
    assert client.get(f"/api/v1/reviews/{review_id}").json["helpful_count"] == 1


# --- the chart and the rest of the profile -------------------------------------------------


def _month_start(month: str) -> date:
    return date(int(month[:4]), int(month[5:]), 1)


def test_the_chart_names_months_with_their_year_shows_counts_and_a_table(app, client):
    key = shop(app)
    months = numbers.last_months(utcnow())
    assert len(months) == 12
    quiet = months[0]
    for n, rating in enumerate((5, 4, 3)):
        _review(app, client, key, f"M-{n}", rating=rating)
    first_day = _month_start(quiet)
    _review(
        app,
        client,
        key,
        "M-old",
        rating=2,
        at=datetime(first_day.year, first_day.month, 2, 12, tzinfo=UTC),
    )
    spanish = client.get("/m/bodega").get_data(as_text=True)
    english = client.get("/m/bodega?lang=en").get_data(as_text=True)
    for html, locale in ((spanish, "es"), (english, "en")):
        chart = html[html.index('<svg class="chart"') : html.index("</svg>", html.index("chart"))]
        names = [format_date(_month_start(m), "MMM y", locale=locale) for m in months]
        # a label under each bar: its month and its year
        shown = re.findall(
            r'<tspan x="[^"]+">([^<]+)</tspan><tspan x="[^"]+" dy="11">(\d{4})<', chart
        )
        assert [f"{m} {y}" for m, y in shown] == names
        # the count above each bar, as text (not only a hover title)
        counts = re.findall(r'<text class="count"[^>]*>(\d+)</text>', chart)
        assert counts == ["1"] + ["0"] * 10 + ["3"]
        # the same figures as a table: month, reviews, average
        table = html[html.index('<details class="history-table">') :]
        table = table[: table.index("</details>")]
        rows = re.findall(r'<th scope="row">([^<]+)</th><td>(\d+)</td><td>([^<]+)</td>', table)
        assert [name for name, _, _ in rows] == names
        assert rows[0][1:] == ("1", "2,0 / 5" if locale == "es" else "2.0 / 5")
        assert rows[-1][1:] == ("3", "4,0 / 5" if locale == "es" else "4.0 / 5")
        assert all(row[1:] == ("0", "—") for row in rows[1:-1])


@pytest.mark.parametrize(
    ("lang", "names", "average"),
    [
        ("es", ["dic 2025", "ene 2026"], "4,5"),
        ("en", ["Dec 2025", "Jan 2026"], "4.5"),
        ("pt", ["dez. 2025", "jan. 2026"], "4,5"),
    ],
)
def test_chart_months_are_named_by_babel_in_the_page_language(app, lang, names, average):
    history = [
        {"month": "2025-12", "count": 0, "average": None},
        {"month": "2026-01", "count": 4, "average": 4.5},
    ]
    with app.test_request_context(f"/?lang={lang}"):
        chart = history_bars(history, width=100, height=100, top=10, bottom=20)
    bars = chart["bars"]
    assert [b["month_name"] for b in bars] == names
    assert [(b["month_label"], b["year_label"]) for b in bars] == [
        tuple(name.split()) for name in names
    ]
    assert [b["average_text"] for b in bars] == [None, average]
    tall = bars[1]
    assert tall["y"] == 10 and tall["h"] == 70 and tall["count_y"] == 7  # count above it
    assert bars[0]["h"] == 0 and chart["base"] == 80
    with app.test_request_context("/"):  # the dashboard's default geometry is unchanged
        default = history_bars(history)["bars"][1]
    assert (default["y"], default["h"], default["label"]) == (6, 100, "01")


def test_the_profile_links_to_the_book_in_words_and_no_longer_embeds_the_badge(app, client):
    shop(app)
    html = client.get("/m/bodega?lang=en").get_data(as_text=True)
    link = re.search(r'<a class="file-complaint" href="([^"]+)">([^<]+)</a>', html)
    assert link and link.group(1) == "/m/bodega/libro" and link.group(2) == "File a complaint"
    assert '<img src="/badges/bodega/libro.svg"' in html  # the button stays beside it
    assert 'id="embed"' not in html and "/badges/bodega.svg" not in html
    assert "&lt;a href=" not in html  # no snippet to copy
    assert client.get("/m/bodega/libro").status_code == 200


# --- migration 0014 ------------------------------------------------------------------------


@pytest.fixture
def empty_database(dialect: str, tmp_path: Path):
    """A new, empty database of the test's backend (its URL)."""
    if dialect == "sqlite":
        yield f"sqlite:///{tmp_path / 'upgrade.db'}"
        return
    with fresh_pg_database("trustseal_helpful") as (url, _name):
        yield url


def test_migration_0014_fills_the_search_text_and_goes_back(empty_database, tmp_path):
    app = make_app(empty_database, tmp_path / "inst")
    at = "2026-01-01 00:00:00"
    try:
        with app.app_context():
            flask_migrate.upgrade(revision="0013_public_version")
            with db.engine.begin() as conn:
                conn.execute(
                    text(
                        "INSERT INTO merchants (id, slug, name, domain, contact_email, country, "
                        f"created_at) VALUES (1, 'bodega', 'B', 'b.pe', 'h@b.pe', 'PE', '{at}')"
                    )
                )
                for n in (1, 2):
                    conn.execute(
                        text(
                            "INSERT INTO purchases (id, merchant_id, source, external_id, status,"
                            " customer_locale, placed_at, created_at, updated_at) VALUES "
                            f"({n}, 1, 'api', 'E-{n}', 'delivered', 'es', '{at}', '{at}', '{at}')"
                        )
                    )
                conn.execute(
                    text(
                        "INSERT INTO reviews (id, merchant_id, purchase_id, rating, "
                        "process_rating, title, body, display_name, locale, status, has_photos,"
                        " open_flags, created_at, erased_at) VALUES "
                        f"(1, 1, 1, 5, 5, 'Café ÑANDÚ', 'Llegó bien', 'Ana', 'es', 'published',"
                        f" false, 0, '{at}', NULL), "
                        f"(2, 1, 2, 3, 3, NULL, NULL, 'Cliente', 'es', 'published', false, 0,"
                        f" '{at}', '{at}')"
                    )
                )
            flask_migrate.upgrade(revision="0014_helpful_votes")
            with db.engine.connect() as conn:
                rows = conn.execute(
                    text("SELECT id, search_text, helpful_count FROM reviews ORDER BY id")
                ).all()
            assert [tuple(r) for r in rows] == [(1, "cafe nandu llego bien", 0), (2, None, 0)]
            flask_migrate.downgrade(revision="0013_public_version")
            with db.engine.connect() as conn:
                columns = conn.execute(text("SELECT * FROM reviews")).keys()
            assert "search_text" not in columns and "helpful_count" not in columns
            flask_migrate.upgrade()
    finally:
        with app.app_context():
            db.engine.dispose()


def test_the_search_folding_is_the_listing_s(app):
    """The API's query and the stored text are folded by one function."""
    wanted = listing.ReviewFilter(query="  ¡CAFÉ,   Ñandú!  ")
    assert wanted.terms == ["cafe", "nandu"]
    assert listing.ReviewFilter(query="x" * 500).terms == ["x" * 100]
