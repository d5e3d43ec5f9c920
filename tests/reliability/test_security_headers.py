"""Security headers on every HTML route: every page of the URL map is visited with real data
(a merchant, a book entry, review links, a photo, a signed-in merchant and staff user) and
the full header set is asserted on each; the badge routes keep their own headers and stay
embeddable; no template needs 'unsafe-inline'.

The walk is complete by construction: every GET route it did not visit is requested with
the same real data, and any that answers with a page makes the test fail.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask, Response
from flask.testing import FlaskClient

from tests.booking import entry_body
from tests.helpers import make_merchant
from tests.reviewing import image_bytes, review_link
from tests.signing_in import make_merchant_user, make_staff_user, post_form, sign_in

TEMPLATES = Path(__file__).resolve().parents[2] / "trustseal" / "templates"
BADGE_SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'"
BADGE_ENDPOINTS = {
    "badging.badge_svg",
    "badging.badge_png",
    "badging.badge_assertion",
    "badging.book_link_svg",
}
# Exact sources for the directives that make the policy strict.
CSP_EXACT = {
    "default-src": {"'self'"},
    "script-src": {"'self'"},
    "style-src": {"'self'"},
    "object-src": {"'none'"},
    "base-uri": {"'none'"},
    "form-action": {"'self'"},
    "frame-ancestors": {"'none'"},
}
# A page other sites frame (the product reviews widget) has its own, stricter policy: no
# script at all, nothing but its style sheet and pictures, no form, and framed only by the
# shop's verified domain (and its subdomains), over HTTPS. So it sends no X-Frame-Options,
# which cannot name a site. Every other page header is as on any page.
FRAMED_CSP_EXACT = {
    "default-src": {"'none'"},
    "script-src": {"'none'"},
    "style-src": {"'self'"},
    "img-src": {"'self'"},
    "base-uri": {"'none'"},
    "form-action": {"'none'"},
    "frame-ancestors": {"https://bodega.pe", "https://*.bodega.pe"},
}
PAGE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
DENIED_FEATURES = ("camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()")
PUBLIC_REFERRER = "strict-origin-when-cross-origin"
PRIVATE_REFERRERS = {"same-origin", "no-referrer", "strict-origin"}
# Headers the hook adds to pages; none of them may appear on a badge.
PAGE_ONLY = (
    "X-Frame-Options",
    "Referrer-Policy",
    "Permissions-Policy",
    "Cross-Origin-Opener-Policy",
    "Cross-Origin-Resource-Policy",
    "Strict-Transport-Security",
)


@dataclass
class World:
    """Real data to fill every URL argument, and a client per kind of visitor."""

    anonymous: FlaskClient
    merchant: FlaskClient
    staff: FlaskClient
    args: dict[str, Any]
    review_done: Response
    photo_path: str


@pytest.fixture
def world(app: Flask, client: FlaskClient) -> World:
    """A merchant with an owner user, a book entry, review links, a photo, an admin."""
    _, key = make_merchant(
        app,
        legal_name="Bodega Ñandú S.A.C.",
        ruc="20100070970",
        address="Av. Arequipa 100, Lima",
    )
    _, merchant_password = make_merchant_user(app)
    staff_email, staff_password = make_staff_user(app, "admin")
    token = review_link(client, key, "W-1")
    photo_token = review_link(client, key, "W-2")
    done = post_form(
        client,
        f"/r/{photo_token}",
        {
            "rating": "2",
            "process_rating": "3",
            "title": "Llegó tarde",
            "body": "Tres días de retraso.",
            "photos": [(io.BytesIO(image_bytes()), "entrega.jpg")],
        },
    )
    assert done.status_code == 201, done.get_data(as_text=True)[:300]
    review = client.get("/api/v1/merchants/bodega/reviews").json["items"][0]
    photo_path = urlsplit(review["photos"][0]["url"]).path
    filed = client.post("/api/v1/merchants/bodega/book", json=entry_body())
    assert filed.status_code == 201, filed.json

    merchant = app.test_client()
    assert sign_in(merchant, "duena@bodega.pe", merchant_password).status_code == 302
    staff = app.test_client()
    assert sign_in(staff, staff_email, staff_password).status_code == 302
    return World(
        anonymous=app.test_client(),
        merchant=merchant,
        staff=staff,
        args={
            "slug": "bodega",
            "code": filed.json["code"],
            "number": filed.json["number"],
            "token": token,
            "review_id": review["id"],
            "order_id": 1,
            "endpoint_id": 1,  # none exists: the API answers 401 or 404 in JSON
            "import_id": 1,  # likewise
            "key": photo_path.removeprefix("/media/"),
            "filename": "site.css",
            "entry_id": _entry_id(app, filed.json["number"]),
        },
        review_done=done,
        photo_path=photo_path,
    )


def _entry_id(app: Flask, number: str) -> int:
    """The id of the book entry of this number (the console's complaint page names it)."""
    from trustseal.book import service as book
    from trustseal.merchants import service as merchants

    with app.app_context():
        merchant = merchants.get_by_slug("bodega")
        assert merchant is not None
        entry = book.by_number(merchant, number)
        assert entry is not None
        return entry.id


def _unsubscribe_path(w: World) -> str:
    """The path of the unsubscribe link a consumer's email carries."""
    from trustseal.mail import service as mail

    with w.anonymous.application.test_request_context():
        return urlsplit(mail.unsubscribe_url("rosa@example.pe")).path


def _pages(w: World) -> list[tuple[str, FlaskClient, int, bool]]:
    """Every HTML GET page: (URL, who asks, expected status, private?)."""
    a, m, s = w.anonymous, w.merchant, w.staff
    code, token, slug = w.args["code"], w.args["token"], w.args["slug"]
    return [
        ("/", a, 200, False),
        ("/buscar", a, 200, False),
        (f"/buscar?q={slug}", a, 200, False),  # the shop search: no form token, public
        ("/api/v1/docs", a, 200, False),
        ("/score", a, 200, False),
        ("/sello/reglas", a, 200, False),
        ("/transparency", a, 200, False),
        ("/sello/criterios", a, 200, False),
        (f"/m/{slug}", a, 200, False),
        (f"/m/{slug}/libro", a, 200, True),  # its form carries the visitor's CSRF token
        (f"/verify/{slug}", a, 200, False),
        ("/verify/nadie", a, 404, False),
        ("/libro", a, 200, False),  # type a follow-up code (a GET form, no token)
        ("/libro?code=AAAA-BBBB-CCCC-DDDD", a, 404, True),  # a code in its URL
        (f"/libro/{code}", a, 200, True),
        ("/libro/no-such-code", a, 404, True),
        (f"/r/{token}", a, 200, True),
        ("/r/no-such-token", a, 404, True),
        (_unsubscribe_path(w), a, 200, True),  # the link names the address: private
        ("/unsubscribe/not-ours", a, 404, True),
        ("/resolve/not-ours", a, 404, True),  # a resolution link names the consumer's case
        ("/login", a, 200, True),
        ("/login/reset", a, 200, True),
        ("/login/reset/not-a-real-token", a, 200, True),
        ("/signup", a, 200, True),
        ("/signup/confirm/not-a-real-token", a, 200, True),  # a GET never uses the link
        ("/console", a, 302, True),  # the redirect to /login is a page too
        ("/dashboard", m, 200, True),
        ("/dashboard/analytics", m, 200, True),
        ("/dashboard/badge", m, 200, True),
        ("/dashboard/complaints", m, 200, True),
        ("/dashboard/domain", m, 200, True),
        ("/dashboard/keys", m, 200, True),
        ("/dashboard/webhooks", m, 200, True),
        ("/dashboard/imports", m, 200, True),
        ("/dashboard/orders", m, 200, True),
        ("/dashboard/reviews", m, 200, True),
        ("/dashboard/seal", m, 200, True),
        ("/dashboard/stores", m, 200, True),
        (f"/m/{slug}", m, 200, True),  # a public page naming the signed-in person
        ("/console", s, 200, True),
        ("/console/audit", s, 200, True),
        ("/console/complaints", s, 200, True),
        (f"/console/complaints/{w.args['entry_id']}", s, 200, True),
        ("/console/complaints/999999", s, 404, True),
        (f"/console/m/{slug}", s, 200, True),
        ("/console/moderation", s, 200, True),
        ("/console", m, 403, True),
        ("/lang/es?next=/", a, 302, False),
    ]


def _framed_pages(w: World) -> list[tuple[str, FlaskClient, int, bool]]:
    """Every page other sites frame: (URL, who asks, expected status, private?). Public
    and cacheable even when a signed-in person asks: they never read the session."""
    slug = w.args["slug"]
    return [
        (f"/widgets/{slug}/reviews?product_id=cafe-500", w.anonymous, 200, False),
        (f"/widgets/{slug}/reviews?product_id=cafe-500&theme=dark&lang=pt", w.merchant, 200, False),
    ]


def _csp(header: str) -> dict[str, set[str]]:
    directives: dict[str, set[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = set(words[1:])
    return directives


def page_problems(
    response: Any, private: bool, base_origin: str, framed: bool = False
) -> list[str]:
    """What is wrong with the security headers of one page (empty: nothing); ``framed``:
    a page other sites frame (:data:`FRAMED_CSP_EXACT`, no X-Frame-Options)."""
    headers = response.headers
    problems: list[str] = []
    if not (response.content_type or "").startswith("text/html"):
        problems.append(f"not a page: {response.content_type}")
    csp = _csp(headers.get("Content-Security-Policy", ""))
    if framed:
        if csp != FRAMED_CSP_EXACT:
            problems.append(f"CSP {headers.get('Content-Security-Policy')!r}")
        if "X-Frame-Options" in headers:
            problems.append(f"X-Frame-Options: {headers['X-Frame-Options']!r} on a framed page")
    else:
        for directive, sources in CSP_EXACT.items():
            if csp.get(directive) != sources:
                problems.append(f"CSP {directive} {sorted(csp.get(directive, []))}")
        images = csp.get("img-src", set())
        if not {"'self'", "data:"} <= images or images - {"'self'", "data:", base_origin}:
            problems.append(f"CSP img-src {sorted(images)}")
    if "unsafe" in headers.get("Content-Security-Policy", ""):
        problems.append("CSP allows unsafe sources")
    for name, value in PAGE_HEADERS.items():
        if framed and name == "X-Frame-Options":
            continue
        if headers.get(name) != value:
            problems.append(f"{name}: {headers.get(name)!r}")
    permissions = headers.get("Permissions-Policy", "")
    problems += [f"Permissions-Policy lacks {f}" for f in DENIED_FEATURES if f not in permissions]
    referrer = headers.get("Referrer-Policy")
    if (private and referrer not in PRIVATE_REFERRERS) or (
        not private and referrer != PUBLIC_REFERRER
    ):
        problems.append(f"Referrer-Policy: {referrer!r}")
    if "Strict-Transport-Security" in headers:
        problems.append("HSTS on a plain-HTTP service")
    cache = headers.get("Cache-Control", "")
    if private and "no-store" not in cache:
        problems.append(f"Cache-Control: {cache!r} (personal or signed-in page)")
    return problems


DOWNLOADS = [("/dashboard/reviews.csv", "dashboard.reviews_csv", "text/csv")]


def test_security_headers_on_every_html_route(app: Flask, world: World) -> None:
    """Every HTML GET route of the URL map answers with the full header set."""
    adapter = app.url_map.bind("trustseal.test")
    base_origin = "http://trustseal.test"
    failures: dict[str, list[str]] = {}
    visited: set[str] = set()
    pages = _pages(world)
    framed = _framed_pages(world)
    for url, who, status, private in pages + framed:
        response = who.get(url)
        visited.add(adapter.match(url.split("?")[0], method="GET")[0])
        problems = page_problems(
            response, private, base_origin, (url, who, status, private) in framed
        )
        if response.status_code != status:
            problems.append(f"status {response.status_code}, expected {status}")
        if problems:
            failures[url] = problems

    # Downloads behind a sign-in are no pages: asked as their owner, each is its file,
    # never sniffed as something else.
    for url, endpoint, content_type in DOWNLOADS:
        response = world.merchant.get(url)
        visited.add(endpoint)
        if not (response.content_type or "").startswith(content_type):
            failures[url] = [f"not {content_type}"]
        elif response.headers.get("X-Content-Type-Options") != "nosniff":
            failures[url] = ["X-Content-Type-Options missing on a download"]

    # Completeness: every GET route not walked above is asked with the same real data;
    # one that answers with a page (even an error page) is a page the walk forgot.
    unvisited_pages: list[str] = []
    probed = 0
    for rule in app.url_map.iter_rules():
        endpoint = rule.endpoint
        if "GET" not in (rule.methods or ()) or endpoint in visited | BADGE_ENDPOINTS:
            continue
        values = {arg: world.args.get(arg, "x") for arg in rule.arguments}
        url = adapter.build(endpoint, values, method="GET")
        response = world.anonymous.get(url)
        probed += 1
        if (response.content_type or "").startswith("text/html"):
            unvisited_pages.append(f"{rule.rule} ({endpoint})")
        elif response.headers.get("X-Content-Type-Options") != "nosniff":
            failures[url] = ["X-Content-Type-Options missing on a non-page answer"]

    assert unvisited_pages == [], f"HTML GET routes the walk does not visit: {unvisited_pages}"
    assert failures == {}, failures
    # The figures: every HTML page of the map visited (the walk above fails on any it
    # missed), 0 failures.
    assert len(visited) >= 30 and len(pages) >= len(visited) and not failures
    assert probed >= 20


def test_pages_answering_form_posts_are_private(app: Flask, world: World) -> None:
    """Answers to form posts echo what was typed (or a secret): never stored."""
    staff = world.staff
    answers = {
        "review done": world.review_done,
        "review refused": post_form(world.anonymous, f"/r/{world.args['token']}", {"rating": "9"}),
        "book filed": post_form(
            world.anonymous,
            "/m/bodega/libro",
            {
                "kind": "felicitacion",
                "consumer.name": "Rosa Mendoza",
                "consumer.document_type": "DNI",
                "consumer.document_number": "45678912",
                "consumer.email": "rosa@example.pe",
                "item.type": "producto",
                "item.description": "Café",
                "detail": "Muy buena atención.",
            },
        ),
        "login refused": post_form(
            world.anonymous, "/login", {"email": "x@example.pe", "password": "nope"}
        ),
        "totp secret": post_form(staff, "/console/totp", {}, token_from="/console"),
    }
    failures = {}
    for name, response in answers.items():
        problems = page_problems(response, True, "http://trustseal.test")
        if problems:
            failures[name] = (response.status_code, problems)
    assert failures == {}
    assert answers["book filed"].status_code == 201
    assert answers["login refused"].status_code == 401
    assert answers["totp secret"].status_code == 200


def test_private_files_and_api_answers(app: Flask, world: World) -> None:
    """The book copy as PDF and the book's API are never stored; JSON and static files
    are not sniffed."""
    pdf = world.anonymous.get(f"/libro/{world.args['code']}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert "no-store" in pdf.headers["Cache-Control"]
    assert pdf.headers["X-Content-Type-Options"] == "nosniff"
    follow_up = world.anonymous.get(f"/api/v1/book/{world.args['code']}")
    assert follow_up.status_code == 200 and "no-store" in follow_up.headers["Cache-Control"]
    for url in ("/api/v1/merchants/bodega", "/api/v1/merchants/nadie", "/healthz"):
        answer = world.anonymous.get(url)
        assert answer.is_json and answer.headers["X-Content-Type-Options"] == "nosniff", url
        assert "X-Frame-Options" not in answer.headers, url
    for url, types in (
        ("/static/site.css", {"text/css"}),
        ("/static/copy.js", {"text/javascript", "application/javascript"}),
    ):
        static = world.anonymous.get(url)
        assert static.mimetype in types and static.headers["X-Content-Type-Options"] == "nosniff"
    photo = world.anonymous.get(world.photo_path)
    assert photo.status_code == 200
    assert photo.headers["Cache-Control"] == "public, max-age=31536000, immutable"


@pytest.mark.parametrize("base_url", ["http://trustseal.test", "https://trustseal.test"])
def test_badges_keep_their_own_headers_and_stay_embeddable(
    app: Flask, world: World, base_url: str
) -> None:
    """No frame protection, no page CSP, no HSTS: the badge answers as its view built it."""
    app.config["TRUSTSEAL_BASE_URL"] = base_url
    client = world.anonymous
    answers = {
        "svg": client.get("/badges/bodega.svg?style=card"),
        "png": client.get("/badges/bodega.png"),
        "assertion": client.get("/badges/bodega/assertion"),
        "libro": client.get("/badges/bodega/libro.svg"),
        "unknown": client.get("/badges/nadie.svg"),
        "stars": client.get("/widgets/bodega/product/cafe-500.svg"),
        "no stars": client.get("/widgets/nadie/product/cafe-500.svg"),
    }
    for name, answer in answers.items():
        # (a page's Cross-Origin-Resource-Policy is same-origin; a product's stars say
        # cross-origin, so that a shop whose pages require it (COEP) may embed them)
        present = [
            h for h in PAGE_ONLY if h in answer.headers and answer.headers[h] != "cross-origin"
        ]
        assert present == [], (name, present)
        assert "frame-ancestors" not in answer.headers.get("Content-Security-Policy", ""), name
    for name in ("svg", "libro", "unknown", "stars", "no stars"):
        assert answers[name].headers["Content-Security-Policy"] == BADGE_SVG_CSP, name
    for name in ("png", "assertion"):
        assert "Content-Security-Policy" not in answers[name].headers, name
    assert answers["svg"].headers["Cache-Control"].startswith("public")
    assert answers["assertion"].headers["Access-Control-Allow-Origin"] == "*"
    etag = answers["svg"].headers["ETag"]
    revalidated = client.get("/badges/bodega.svg?style=card", headers={"If-None-Match": etag})
    assert revalidated.status_code == 304
    assert [h for h in PAGE_ONLY if h in revalidated.headers] == []


def test_hsts_only_on_an_https_service(app: Flask, client: FlaskClient) -> None:
    """Strict-Transport-Security is sent when the public base URL is https, on pages and
    API answers alike; never over a plain-HTTP deployment."""
    assert "Strict-Transport-Security" not in client.get("/").headers
    app.config["TRUSTSEAL_BASE_URL"] = "https://trustseal.test"
    for url in ("/", "/healthz", "/login"):
        hsts = client.get(url).headers.get("Strict-Transport-Security", "")
        assert hsts.startswith("max-age=") and int(hsts.split("=")[1].split(";")[0]) >= 15552000


def test_a_header_set_by_the_view_is_kept(app: Flask) -> None:
    """The hook fills in; it never replaces what a view decided."""
    own = {
        "Content-Security-Policy": "default-src 'none'",
        "X-Frame-Options": "SAMEORIGIN",
        "Cache-Control": "private, max-age=60",
        "Referrer-Policy": "no-referrer",
    }
    with app.test_request_context("/libro/abc"):
        response = app.process_response(Response("<p>hi</p>", mimetype="text/html", headers=own))
    for name, value in own.items():
        assert response.headers[name] == value
    assert response.headers["Permissions-Policy"]  # the rest is still added


def template_problems(text: str) -> list[str]:
    """What in a template's text would need 'unsafe-inline' (empty: nothing)."""
    problems = []
    for tag in re.findall(r"<[a-zA-Z][^<>]*>", text):
        name = re.split(r"[\s>]", tag[1:], maxsplit=1)[0].lower()
        if name == "script" and "src=" not in tag and 'type="application/ld+json"' not in tag:
            problems.append(f"inline script: {tag}")
        if name == "style":
            problems.append(f"style element: {tag}")
        if re.search(r"\sstyle\s*=", tag):
            problems.append(f"style attribute: {tag}")
        if re.search(r"\son[a-z]+\s*=", tag, re.IGNORECASE):
            problems.append(f"event handler: {tag}")
    if re.search(r"javascript:", text, re.IGNORECASE):
        problems.append("javascript: URL")
    return problems


@pytest.mark.parametrize(
    "template",
    sorted(
        str(p.relative_to(TEMPLATES))
        for p in TEMPLATES.rglob("*.html")
        if p.relative_to(TEMPLATES).parts[0] != "email"
    ),
)
def test_templates_need_no_unsafe_inline(template: str) -> None:
    """No inline script (JSON-LD data blocks aside), no style attribute or element, no
    event-handler attribute: the pages work under the strict CSP."""
    assert template_problems((TEMPLATES / template).read_text()) == []


def test_the_template_check_catches_what_it_should() -> None:
    """The checker flags each forbidden form, and only those (so a pass means something)."""
    bad = (
        '<script>alert(1)</script><p style="color:red">x</p><img src=x onerror="f()">'
        '<style>p{}</style><a href="javascript:f()">x</a>'
    )
    assert [p.split(":")[0] for p in template_problems(bad)] == [
        "inline script",
        "style attribute",
        "event handler",
        "style element",
        "javascript",
    ]
    fine = (
        '<script type="application/ld+json">{}</script><script src="/static/copy.js" defer>'
        '</script><img src="/badges/x.svg?style=card" data-style="x"><p>one=two</p>'
    )
    assert template_problems(fine) == []
