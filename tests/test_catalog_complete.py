"""Spanish first, for real — and Brazilian Portuguese as well: every page and every email
rendered in Spanish (or in Portuguese) asks the catalog only for message ids it translates,
and no page shows English words that slipped past ``_()`` — nor, in Portuguese, Spanish
words that a translation left Spanish.

- Pages: every GET route of the app's url_map that is not an API route is requested in
  Spanish (no ``lang``, no ``Accept-Language``), its path parameters filled from real seeded
  objects (the demo shop, a review link, a complaint's follow-up code...), signed in as the
  shop's owner for ``/dashboard``, as staff for ``/console``; then a few more states of
  some pages (an unknown seal, a used review link, the error pages...). A route that is
  neither visited nor set aside in :data:`NOT_PAGES` fails the test.
- Emails: every template in ``templates/email/`` is rendered in Spanish through the mail
  domain's own renderer, with real objects.
- The hook: Flask-Babel's translations object (what every ``gettext``, ``ngettext``,
  ``pgettext``, lazy string and template ``_()`` goes through) is wrapped so that each
  message id the compiled Spanish catalog lacks is recorded with the page or email and
  the template line (or module line) that asked for it.
- English words: the visible text of each page (attribute values dropped except ``alt``,
  ``title``, ``aria-label`` and ``placeholder``; ``<script>``, ``<style>``, ``<pre>``,
  ``<code>``, ``<textarea>`` dropped; addresses, paths and emails dropped) is searched for
  a short list of English words that are never Spanish (dotted and snake_case identifiers
  left out), and for snake_case machine codes shown as they are (``not_genuine``).

- Portuguese: the same pages and emails again with the ``lang`` cookie set to ``pt``
  (``<html lang="pt-BR">``, the ``pt_BR`` catalog), and also in English: a word of
  :data:`SPANISH_WORDS` that the Portuguese page shows and the English one does not came
  from a translation, not from the shops' own (Spanish) data — a Spanish gap. Peru's legal
  names (Libro de Reclamaciones, reclamo, queja, INDECOPI) are in the English message ids
  too, so they are never counted.

Gaps owned by other parts of the code are listed in :data:`KNOWN_GAPS_TO_FIX`, each with
its page: the test fails on any other gap, and on a listed one that no longer occurs (so
the list only shrinks). SQLite only: the strings do not depend on the database.
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import flask_babel
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.booking import entry_body
from tests.helpers import bearer, make_staff, order_body, pass_all_criteria
from tests.reviewing import post_review
from tests.signing_in import make_merchant_user, make_staff_user, post_form, sign_in
from trustseal.api.errors import JSON_PREFIXES
from trustseal.extensions import db, limiter

# The strings do not depend on the database: SQLite alone (the `database_url` fixture of
# tests/conftest.py, given its one parameter here).
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

PACKAGE = Path(__file__).resolve().parent.parent / "trustseal"
EMAILS = PACKAGE / "templates" / "email"
DEMO = "tienda-demo"
BRAZIL = "loja-brasil"  # a shop in Brazil: reviews and seal, no Libro de Reclamaciones
OWNER = ("duena@tienda-demo.pe", "clave-segura-123")

# GET routes that are not pages, with the reason.
NOT_PAGES: dict[str, str] = {
    "static": "style sheet and scripts",
    "media.media": "review photos (images)",
    "web.set_language": "a redirect that stores the language choice",
    "public_book.copy_pdf": "the complaint's copy as a PDF, not HTML",
    "dashboard.reviews_csv": "the merchant's reviews as CSV, not HTML",
}
# In a visit's path, the language being checked (a page whose language is in its address).
LANG = "{lang}"
# Pages under an API prefix that are HTML for people.
PAGES_UNDER_API = {"web.docs"}
# Pages whose text is English by design, exempt from the English-word check (their message
# ids are still checked).
ENGLISH_BY_DESIGN: dict[str, str] = {
    "/api/v1/docs": "the API reference prints the OpenAPI document (summaries and "
    "descriptions from the code's docstrings), written in English for developers",
}

# English words that are never Spanish, as whole words, case-sensitive. ("Error" is left
# out on purpose: it is a Spanish word too.)
ENGLISH_WORDS = (
    "the",
    "The",
    "and",
    "of",
    "your",
    "Your",
    "with",
    "Submit",
    "Save",
    "Cancel",
    "Pending",
    "pending",
    "Active",
    "active",
    "Approved",
    "approved",
    "Suspended",
    "suspended",
    "Revoked",
    "revoked",
    "Expired",
    "expired",
    # order, invitation and complaint states
    "paid",
    "fulfilled",
    "delivered",
    "cancelled",
    "refunded",
    "sent",
    "used",
    "answered",
    "overdue",
    "Not found",
    "Not Found",
    "Forbidden",
    "Bad Request",
    "Internal Server Error",
    "Sign in",
    "Sign out",
    "None",
    "True",
    "False",
)
_ENGLISH = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, ENGLISH_WORDS)) + r")(?![\w-])")
# Spanish words that are never Portuguese, as whole words, case-sensitive; and any word with
# an ñ. Looked for on Portuguese pages only, and counted only when the English page of the
# same visit lacks them (the shops' data is Spanish in every language).
SPANISH_WORDS = (
    "el",
    "El",
    "los",
    "Los",
    "las",
    "Las",
    "del",
    "y",
    "una",
    "Una",
    "pero",
    "también",
    "usted",
    "tu",
    "Tu",
    "tus",
    "su",
    "Su",
    "sus",
    "tienda",
    "Tienda",
    "tiendas",
    "opinión",
    "opiniones",
    "Opiniones",
    "correo",
    "sesión",
    "cuenta",
    "puntuación",
    "calificación",
    "Guardar",
    "aún",
    "todavía",
)
_SPANISH = re.compile(
    r"(?<![\w-])(" + "|".join(map(re.escape, SPANISH_WORDS)) + r"|\w*ñ\w*)(?![\w-])"
)
# The languages whose every page and email is checked: code → (Babel locale, html tag).
CHECKED = {"es": ("es", "es"), "pt": ("pt_BR", "pt-BR")}
# Addresses, paths and emails are not prose; nor are dotted or snake_case identifiers
# (review.published, S.A.C.) for the word check.
_ADDRESSES = re.compile(r"\S*[/@]\S*")
_IDENTIFIERS = re.compile(r"\b\w+(?:[._]\w+)+\b")
# A machine code shown to a person as it is (not_genuine, client_secret): it needs words.
_SNAKE_CASE = re.compile(r"(?<![\w.-])([a-z][a-z0-9]*(?:_[a-z0-9]+)+)(?![\w-])")

# Gaps that belong to other parts of the code, each with its page (the route's rule, a
# label of extra_visits, or "email/<template>"), its kind and its text: "msgid" (asked of
# the catalog, which lacks it), "english" (an English word on the page) or "identifier" (a
# snake_case code shown as it is). Fix one, then delete its line.
KNOWN_GAPS_TO_FIX: list[tuple[str, str, str]] = []


# --- the hook ---------------------------------------------------------------------------


@dataclass
class Recorder:
    """Message ids asked of the catalog of ``locale`` (Spanish unless told) that it lacks,
    by page, with where."""

    page: str | None = None
    misses: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    locale: str = "es"

    def check(self, translations: Any, key: Any, msgid: str) -> None:
        if self.page is None or str(flask_babel.get_locale()) != self.locale:
            return
        if key not in getattr(translations, "_catalog", {}):
            self.misses[(self.page, msgid)].add(_asker())


ROOT = PACKAGE.parent
PROJECT_CODE = tuple(
    str(ROOT / folder) + "/" for folder in ("trustseal", "plugins", "badges", "tests")
)
HOOK_FRAMES = frozenset({"_asker", "check", "ugettext", "ungettext", "upgettext", "unpgettext"})


def _asker() -> str:
    """The template line, else the line of the project's code, that asked for a message."""
    frame = sys._getframe(1)
    while frame is not None:
        template = frame.f_globals.get("__jinja_template__")
        if template is not None:
            line = template.get_corresponding_lineno(frame.f_lineno)
            return f"templates/{template.name or '<string>'}:{line}"
        code = frame.f_code
        if code.co_filename.startswith(PROJECT_CODE) and not (
            code.co_filename == __file__ and code.co_name in HOOK_FRAMES
        ):
            return f"{Path(code.co_filename).relative_to(ROOT)}:{frame.f_lineno}"
        frame = frame.f_back
    return "?"


class RecordingTranslations:
    """Flask-Babel's translations object, telling the recorder of every lookup."""

    def __init__(self, inner: Any, recorder: Recorder) -> None:
        self._inner = inner
        self._recorder = recorder

    def ugettext(self, message: str) -> str:
        self._recorder.check(self._inner, message, message)
        return self._inner.ugettext(message)

    def ungettext(self, singular: str, plural: str, num: int) -> str:
        self._recorder.check(self._inner, (singular, 0), singular)
        return self._inner.ungettext(singular, plural, num)

    def upgettext(self, context: str, message: str) -> str:
        self._recorder.check(self._inner, f"{context}\x04{message}", message)
        return self._inner.upgettext(context, message)

    def unpgettext(self, context: str, singular: str, plural: str, num: int) -> str:
        self._recorder.check(self._inner, (f"{context}\x04{singular}", 0), singular)
        return self._inner.unpgettext(context, singular, plural, num)

    gettext = ugettext
    ngettext = ungettext
    pgettext = upgettext
    npgettext = unpgettext

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    """Record, while ``recorder.page`` is set, the message ids the Spanish catalog lacks."""
    found = Recorder()
    original = flask_babel.Domain.get_translations

    def recording(self: flask_babel.Domain) -> Any:
        return RecordingTranslations(original(self), found)

    monkeypatch.setattr(flask_babel.Domain, "get_translations", recording)
    yield found


# --- visible text -----------------------------------------------------------------------


class VisibleText(HTMLParser):
    """The text a person sees or hears: data outside code-like elements, and the
    attributes read aloud or shown (alt, title, aria-label, placeholder, a button's value)."""

    SKIP = frozenset({"script", "style", "pre", "code", "textarea", "template"})
    READ = frozenset({"alt", "title", "aria-label", "placeholder"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skipping += 1
        values = dict(attrs)
        self.parts += [value for name, value in attrs if name in self.READ and value]
        if tag == "input" and values.get("type") in ("submit", "button") and values.get("value"):
            self.parts.append(values["value"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def english_words(html: str) -> dict[tuple[str, str], str]:
    """English found in the page's visible text: ``("english", word)`` for a word of
    :data:`ENGLISH_WORDS`, ``("identifier", code)`` for a snake_case machine code; each
    with the text around it."""
    return _words(html, (("english", _ENGLISH, True), ("identifier", _SNAKE_CASE, False)))


def spanish_words(html: str) -> dict[tuple[str, str], str]:
    """Spanish found in the page's visible text: ``("spanish", word)`` for a word of
    :data:`SPANISH_WORDS` or one with an ñ, with the text around it."""
    return _words(html, (("spanish", _SPANISH, True),))


def _words(
    html: str, searches: tuple[tuple[str, re.Pattern[str], bool], ...]
) -> dict[tuple[str, str], str]:
    """``(kind, match)`` → context for each search ``(kind, pattern, in prose only)`` over
    the page's visible text (addresses dropped; dotted and snake_case identifiers dropped
    too from the prose)."""
    parser = VisibleText()
    parser.feed(html)
    found: dict[tuple[str, str], str] = {}
    for part in parser.parts:
        text = " ".join(_ADDRESSES.sub(" ", part).split())
        prose = " ".join(_IDENTIFIERS.sub(" ", text).split())
        for kind, pattern, in_prose in searches:
            source = prose if in_prose else text
            for match in pattern.finditer(source):
                start = max(0, match.start() - 40)
                found.setdefault((kind, match.group(1)), f"…{source[start : match.end() + 40]}…")
    return found


# --- seeded objects ---------------------------------------------------------------------


@dataclass
class Seeded:
    """What the pages' path parameters and the emails' contexts are filled with."""

    key: str
    review_token: str
    used_token: str
    open_code: str
    answered_code: str
    entry_id: int
    reset_token: str
    signup_token: str
    review_id: int
    signal_id: int
    unsubscribe_token: str
    resolution_token: str


def _tokens_from(rendered: list[dict[str, Any]], marker: str) -> str:
    for context in rendered:
        url = str(context.get("url", ""))
        if marker in url:
            return url.rsplit("/", 1)[1]
    raise AssertionError(f"no email carried a {marker} link")


def seed(app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> Seeded:
    """The demo shop with reviews and answers, its owner, staff, complaints (one answered),
    an active seal, a fraud signal, a flagged review, a shop that has not proved its
    domain, and live review, reset and sign-up links."""
    from trustseal import demo
    from trustseal.book import service as book
    from trustseal.mail import service as mail
    from trustseal.merchants import service as merchants
    from trustseal.signals import service as signals

    rendered: list[dict[str, Any]] = []
    original_render = mail.render

    def remembering(template: str, locale: str, **context: Any) -> Any:
        rendered.append(context)
        return original_render(template, locale, **context)

    monkeypatch.setattr(mail, "render", remembering)
    with app.app_context():
        loaded = demo.load(purchase_count=40)
        merchants.create_merchant(
            name="Tienda Pendiente",
            domain="pendiente.pe",
            contact_email="hola@pendiente.pe",
            slug="pendiente",
            signed_up=True,
        )
        merchants.create_merchant(
            name="Loja Brasil",
            domain="lojabrasil.com.br",
            contact_email="contato@lojabrasil.com.br",
            slug=BRAZIL,
            country="BR",
        )
        db.session.commit()
    key = re.search(r"api key: (tsk_\S+)", loaded).group(1)
    make_merchant_user(app, DEMO, *OWNER)
    make_staff_user(app, "admin")
    certifier = make_staff(app, "certifier")
    pass_all_criteria(app, DEMO)
    approved = client.post(
        f"/api/v1/merchants/{DEMO}/seal",
        json={"action": "approve", "reason": "Cumple todos los criterios"},
        headers=bearer(certifier),
    )
    assert approved.status_code == 200, approved.json

    def delivered_link(external_id: str) -> str:
        order = client.post(
            "/api/v1/orders",
            json=order_body(external_id, status="delivered", delivered_at="2026-11-03T15:00:00Z"),
            headers=bearer(key),
        ).json
        link = client.post(f"/api/v1/orders/{order['id']}/invitation", headers=bearer(key))
        assert link.status_code == 201, link.json
        return link.json["token"]

    used_token = delivered_link("CAT-1")  # reviewed right away: a fast_review signal
    posted = post_review(client, used_token, rating=2, title="Demoró", body="Llegó tarde.")
    assert posted.status_code == 201, posted.json
    review_id = posted.json["id"]
    assert (
        client.put(
            f"/api/v1/reviews/{review_id}/response",
            json={"body": "Lo sentimos, ya lo resolvimos."},
            headers=bearer(key),
        ).status_code
        == 200
    )
    flagged = client.post(
        f"/api/v1/reviews/{review_id}/flags",
        json={"reason": "not_genuine", "detail": "No reconocemos este pedido."},
        headers=bearer(key),
    )
    assert flagged.status_code == 202, flagged.json
    review_token = delivered_link("CAT-2")
    with app.app_context():
        signals.scan()
        db.session.commit()
        signal_id = db.session.execute(signals.signals_query()).scalars().first().id

    filed = {}
    for kind in ("reclamo", "queja", "felicitacion"):
        body = entry_body(kind, **({"publish_praise": True} if kind == "felicitacion" else {}))
        answer = client.post(f"/api/v1/merchants/{DEMO}/book", json=body)
        assert answer.status_code == 201, answer.json
        filed[kind] = answer.json
    answered = client.put(
        f"/api/v1/book/{filed['reclamo']['number']}/response",
        json={"body": "Le cambiamos la licuadora; coordinamos la entrega por correo."},
        headers=bearer(key),
    )
    assert answered.status_code == 200, answered.json
    with app.app_context():
        entry_id = book.by_code(filed["reclamo"]["code"]).id

    assert post_form(client, "/login/reset", {"email": OWNER[0]}).status_code == 200
    signup = {
        "name": "Tienda Sol",
        "domain": "sol.pe",
        "contact_email": "hola@sol.pe",
        "email": "ana@sol.pe",
        "password": "clave-segura-123",
    }
    assert post_form(client, "/signup", signup).status_code == 200
    return Seeded(
        key=key,
        review_token=review_token,
        used_token=used_token,
        open_code=filed["queja"]["code"],
        answered_code=filed["reclamo"]["code"],
        entry_id=entry_id,
        reset_token=_tokens_from(rendered, "/login/reset/"),
        signup_token=_tokens_from(rendered, "/signup/confirm/"),
        review_id=review_id,
        signal_id=signal_id,
        unsubscribe_token=_unsubscribe_token(app),
        resolution_token=_resolution_token(app, filed["reclamo"]["code"]),
    )


def _unsubscribe_token(app: Flask) -> str:
    from trustseal.mail import service as mail

    with app.test_request_context():
        return mail.unsubscribe_url("rosa@example.pe").rsplit("/", 1)[1]


def _resolution_token(app: Flask, code: str) -> str:
    """A resolution link for the answered reclamo, as its answer's email carries one."""
    from trustseal.book import service as book
    from trustseal.resolutions import service as resolutions

    with app.test_request_context():
        entry = book.by_code(code)
        assert entry is not None and entry.status == "answered"
        token = resolutions.offer("book", entry.id, entry.merchant_id)
        db.session.commit()
        assert token is not None
        return token


# --- the pages --------------------------------------------------------------------------


def _argument(endpoint: str, name: str, s: Seeded) -> str:
    """A real value for a path parameter."""
    fillers: dict[tuple[str, str], Any] = {
        ("public_reviews.review_form", "token"): s.review_token,
        ("accounts.reset_password", "token"): s.reset_token,
        ("accounts.signup_confirm_page", "token"): s.signup_token,
        ("public_book.follow_up", "code"): s.answered_code,
        ("console.complaint", "entry_id"): s.entry_id,
        ("public_unsubscribe.page", "token"): s.unsubscribe_token,
        ("public_resolve.resolve", "token"): s.resolution_token,
    }
    if (endpoint, name) in fillers:
        return str(fillers[(endpoint, name)])
    if name == "slug":
        return DEMO
    raise AssertionError(
        f"no seeded value for <{name}> of {endpoint}: add one to _argument (or the route to "
        "NOT_PAGES, with the reason)"
    )


def page_routes(app: Flask) -> list[tuple[str, str]]:
    """(rule, endpoint) of every GET page (what is not a page is in NOT_PAGES)."""
    routes = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.endpoint in NOT_PAGES:
            continue
        if rule.rule.startswith(JSON_PREFIXES) and rule.endpoint not in PAGES_UNDER_API:
            continue
        routes.append((rule.rule, rule.endpoint))
    return sorted(routes)


def extra_visits(s: Seeded) -> list[tuple[str, str, str, str, int]]:
    """(page label, who, method, path, status) of more states of some pages."""
    return [
        ("/libro/<code> (open)", "anonymous", "GET", f"/libro/{s.open_code}", 200),
        ("/r/<token> (used)", "anonymous", "GET", f"/r/{s.used_token}", 409),
        ("/r/<token> (unknown)", "anonymous", "GET", "/r/no-existe", 404),
        ("/verify/<slug> (unknown)", "anonymous", "GET", "/verify/nadie", 404),
        ("/m/<slug>?rating=1", "anonymous", "GET", f"/m/{DEMO}?rating=1", 200),
        ("/buscar?q= (found)", "anonymous", "GET", "/buscar?q=tienda", 200),
        ("/buscar?q= (none)", "anonymous", "GET", "/buscar?q=zzzz", 200),
        ("error 400 (form without its token)", "anonymous", "POST", "/login", 400),
        ("error 404", "anonymous", "GET", "/no-existe", 404),
        ("error 403", "merchant", "GET", "/console", 403),
        ("error 405", "anonymous", "POST", "/", 405),
        ("error 500", "anonymous", "GET", "/score", 500),
        ("/dashboard (pending shop)", "pending", "GET", "/dashboard", 200),
        ("/dashboard/domain (pending shop)", "pending", "GET", "/dashboard/domain", 200),
        ("/dashboard/reviews (flagged)", "merchant", "GET", "/dashboard/reviews?tab=flagged", 200),
        ("/dashboard/reviews?q= (none)", "merchant", "GET", "/dashboard/reviews?q=zzzz", 200),
        ("/console/m/<slug> (pending shop)", "staff", "GET", "/console/m/pendiente", 200),
        ("/m/<slug> (shop outside Peru)", "anonymous", "GET", f"/m/{BRAZIL}", 200),
        ("/m/<slug>/libro (shop outside Peru)", "anonymous", "GET", f"/m/{BRAZIL}/libro", 404),
        ("/verify/<slug> (shop outside Peru)", "anonymous", "GET", f"/verify/{BRAZIL}", 200),
        ("/dashboard/badge (shop outside Peru)", "brazil", "GET", "/dashboard/badge", 200),
        ("/dashboard/seal (shop outside Peru)", "brazil", "GET", "/dashboard/seal", 200),
        # A page other sites frame, under /widgets/ (errors in JSON): in the language its
        # address names (the widget's ?lang=), never the visitor's cookie.
        (
            "/widgets/<slug>/reviews",
            "anonymous",
            "GET",
            f"/widgets/{DEMO}/reviews?product_id=cafe-700&limit=2&lang={LANG}",
            200,
        ),
    ]


def _report(title: str, lines: list[str]) -> str:
    return f"{title}:\n  " + "\n  ".join(lines) if lines else ""


def _compare(
    found: set[tuple[str, str, str]], details: dict[Any, str], language: str = "Spanish"
) -> None:
    known = set(KNOWN_GAPS_TO_FIX)
    new = sorted(found - known)
    stale = sorted(known - found)
    message = "\n".join(
        part
        for part in (
            _report(
                f"{language} gaps (page, kind, text) — translate them (i18n, _()), or, if "
                "another part of the code owns them, list them in KNOWN_GAPS_TO_FIX",
                [f"{gap!r}  ← {details.get(gap, '')}" for gap in new],
            ),
            _report(
                "Fixed: delete these lines from KNOWN_GAPS_TO_FIX", [f"{gap!r}," for gap in stale]
            ),
        )
        if part
    )
    assert not new and not stale, message


BRAZIL_OWNER = ("dono@lojabrasil.com.br", "clave-segura-123")


def signed_in_clients(app: Flask) -> dict[str, FlaskClient]:
    """A client per kind of visitor: anonymous, the demo shop's owner, staff, the owner of
    the shop that has not proved its domain, and the owner of the shop in Brazil."""
    clients = {who: app.test_client() for who in ("anonymous", "merchant", "staff")}
    clients["pending"], clients["brazil"] = app.test_client(), app.test_client()
    assert sign_in(clients["merchant"], *OWNER).status_code == 302
    assert sign_in(clients["staff"], "admin@cert.pe", "clave-staff-1234").status_code == 302
    make_merchant_user(app, "pendiente", "ana@pendiente.pe", "clave-segura-123")
    assert sign_in(clients["pending"], "ana@pendiente.pe", "clave-segura-123").status_code == 302
    make_merchant_user(app, BRAZIL, *BRAZIL_OWNER)
    assert sign_in(clients["brazil"], *BRAZIL_OWNER).status_code == 302
    return clients


def all_visits(app: Flask, s: Seeded) -> list[tuple[str, str, str, str, int]]:
    """(page label, who, method, path, status): every GET page, then :func:`extra_visits`."""
    visits: list[tuple[str, str, str, str, int]] = []
    for rule, endpoint in page_routes(app):
        path = re.sub(
            r"<(?:[^:<>]+:)?([^<>]+)>",
            lambda m, endpoint=endpoint: _argument(endpoint, m.group(1), s),
            rule,
        )
        who = "merchant" if path.startswith("/dashboard") else "anonymous"
        who = "staff" if path.startswith("/console") else who
        visits.append((rule, who, "GET", path, 200))
    return visits + extra_visits(s)


def visit_pages(
    app: Flask, clients: dict[str, FlaskClient], visits: list[Any], recorder: Recorder, lang: str
) -> dict[str, str]:
    """Every visit in the language of code ``lang`` (its ``lang`` cookie; none for Spanish,
    the default), recorded by ``recorder``; the pages' HTML by label."""
    tag = CHECKED.get(lang, (lang, lang))[1]
    for each in clients.values():
        if lang == "es":
            each.delete_cookie("lang")
        else:
            each.set_cookie("lang", lang)

    def broken() -> str:
        raise RuntimeError("boom")

    pages: dict[str, str] = {}
    app.config["PROPAGATE_EXCEPTIONS"] = False  # the 500 page (the fixture restores it)
    score_page = app.view_functions["public_home.score_page"]
    with app.app_context():
        limiter.reset()  # each language's visits start afresh
    for label, who, method, path, status in visits:
        if label == "error 500":
            app.view_functions["public_home.score_page"] = broken
        recorder.page = label
        try:
            answer = clients[who].open(
                path.replace(LANG, lang), method=method, headers={"Accept": "text/html"}
            )
        finally:
            recorder.page = None
            app.view_functions["public_home.score_page"] = score_page
        assert answer.status_code == status, (label, path, answer.status_code)
        assert answer.content_type.startswith("text/html"), (label, path)
        assert f'lang="{tag}"' in answer.get_data(as_text=True)[:200], (label, path)
        pages[label] = answer.get_data(as_text=True)
    return pages


def msgid_gaps(recorder: Recorder) -> tuple[set[tuple[str, str, str]], dict[Any, str]]:
    """The recorder's misses as gaps ``(page, "msgid", msgid)``, with where each was asked."""
    found: set[tuple[str, str, str]] = set()
    details: dict[Any, str] = {}
    for (page, msgid), where in recorder.misses.items():
        gap = (page, "msgid", msgid)
        found.add(gap)
        details[gap] = ", ".join(sorted(where))
    return found, details


def word_gaps(
    pages: dict[str, str], english: dict[str, str] | None = None, identifiers: bool = True
) -> dict[tuple[str, str, str], str]:
    """English words on each page (and snake_case codes, unless not ``identifiers``); with
    the ``english`` pages of the same visits, also the Spanish words a page shows that its
    English version does not."""
    gaps: dict[tuple[str, str, str], str] = {}
    for label, html in pages.items():
        if label in ENGLISH_BY_DESIGN:
            continue
        for (kind, word), context in english_words(html).items():
            if identifiers or kind != "identifier":
                gaps[(label, kind, word)] = context
        if english is not None:
            in_english = spanish_words(english[label])
            for (kind, word), context in spanish_words(html).items():
                if (kind, word) not in in_english:
                    gaps[(label, kind, word)] = context
    return gaps


@sqlite_only
def test_every_page_in_spanish(app, client, recorder, monkeypatch):
    s = seed(app, client, monkeypatch)
    pages = visit_pages(app, signed_in_clients(app), all_visits(app, s), recorder, "es")
    found, details = msgid_gaps(recorder)
    for gap, context in word_gaps(pages).items():
        found.add(gap)
        details[gap] = context
    _compare(found, details)


@sqlite_only
def test_every_page_in_portuguese(app, client, recorder, monkeypatch):
    """The same visits with the ``lang`` cookie at ``pt``: the pt_BR catalog translates
    every message asked, and no page shows English, or Spanish its English version lacks."""
    s = seed(app, client, monkeypatch)
    clients, visits = signed_in_clients(app), all_visits(app, s)
    recorder.locale = "pt_BR"
    english = visit_pages(app, clients, visits, recorder, "en")
    pages = visit_pages(app, clients, visits, recorder, "pt")
    found, details = msgid_gaps(recorder)
    for gap, context in word_gaps(pages, english).items():
        found.add(gap)
        details[gap] = context
    _compare(found, details, "Portuguese")
    # Portuguese indeed, numbers and dates too: the demo's score with a decimal comma
    profile = pages["/m/<slug>"]
    assert "Avaliações de compras verificadas" in profile and 'lang="pt-BR"' in profile
    assert "Libro de Reclamaciones" in profile  # the Peruvian shop's book, by its legal name
    assert "Português" in pages["/"]


# --- the emails -------------------------------------------------------------------------


def email_contexts(app: Flask, s: Seeded) -> dict[str, list[dict[str, Any]]]:
    """Every email template with the context(s) its senders give it, from real objects."""
    from trustseal.book import display as book_display
    from trustseal.book import service as book
    from trustseal.merchants import service as merchants
    from trustseal.orders import service as orders
    from trustseal.reviews.models import Review
    from trustseal.seals import monitor
    from trustseal.signals import service as signals

    base = app.config["TRUSTSEAL_BASE_URL"]
    merchant = merchants.get_by_slug(DEMO)
    entry = book.by_code(s.answered_code)
    number = book.format_number(entry)
    review = db.session.get(Review, s.review_id)
    purchase = orders.first_with_open_invitation(merchant.id)
    link = orders.issue_invitation_link(purchase)
    links = {
        "rules_url": f"{base}/sello/reglas",
        "dashboard_url": f"{base}/dashboard/seal",
        "console_url": f"{base}/console/m/{merchant.slug}",
    }
    thresholds = {rule.id: rule.threshold for rule in monitor.rules()}
    cautions = [
        monitor.Caution(
            monitor.COMPLAINTS_OVERDUE,
            {
                "overdue": 1,
                "max_days_overdue": 2,
                "due_soon": 1,
                "overdue_numbers": [number],
                "due_soon_numbers": ["2026-000002"],
            },
        ),
        monitor.Caution(
            monitor.SITE_CHECK_FAILING,
            {"since": "2026-11-20", "days": 1, "https": True, "complaints_book": False},
        ),
        monitor.Caution(monitor.SCORE_BELOW_FLOOR, {"score": 2.7, "rating_count": 40}),
        monitor.Caution(
            monitor.SERVICE_BELOW_FLOOR, {"on_time": 0.75, "first_response": 0.55}
        ),
    ]
    breaches = [
        monitor.Breach(rule, "Suspensión automática por la regla publicada.", {})
        for rule in monitor.TITLES
    ]
    book_context = {
        "entry": entry,
        "merchant": merchant,
        "number": number,
        **book_display.template_helpers(),
    }
    return {
        "book_answer": [book_context, {**book_context, "resolve_url": f"{base}/resolve/rs_x"}],
        "book_copy": [
            {**book_context, "code": s.open_code, "follow_url": f"{base}/libro/{s.open_code}"}
        ],
        "book_merchant": [book_context],
        "book_overdue_staff": [
            {
                **book_context,
                "filed_on": entry.filed_at.date(),
                "days": days,
                "message": message,
                "dashboard_url": f"{base}/dashboard/complaints",
            }
            for days, message in ((1, "Responda hoy, por favor."), (3, ""))
        ],
        "book_reminder": [{**book_context, "day": 10}],
        "domain_verified": [
            {
                "merchant": merchant,
                "method_words": words,
                "profile_url": f"{base}/m/{merchant.slug}",
            }
            for words in merchants.METHOD_WORDS.values()
        ],
        "merchant_signup": [{"merchant": merchant, "console_url": links["console_url"]}],
        "numbers_alert": [{"slug": merchant.slug, "problem": "score 4.1 ≠ 4.2"}],
        "password_reset": [{"url": f"{base}/login/reset/{s.reset_token}"}],
        "response_notice": [
            {"merchant": merchant, "review": review, "profile_url": f"{base}/m/{DEMO}"},
            {
                "merchant": merchant,
                "review": review,
                "profile_url": f"{base}/m/{DEMO}",
                "resolve_url": f"{base}/resolve/rs_x",
            },
        ],
        "review_removed": [
            {
                "merchant": merchant,
                "review": review,
                "profile_url": f"{base}/m/{DEMO}#r1",
                "rules_url": f"{base}/score",
            }
        ],
        "review_redacted": [
            {
                "merchant": merchant,
                "review": SimpleNamespace(redaction_reason="personal_data"),
                "mark": "[…]",
                "profile_url": f"{base}/m/{DEMO}#r1",
                "rules_url": f"{base}/score",
            }
        ],
        "review_alert": [
            {"merchant": merchant, "review": review, "url": f"{base}/dashboard/reviews#r1"}
        ],
        "review_digest": [
            {
                "merchant": merchant,
                "day": date(2026, 3, 1),
                "count": count,
                "average": 4.3,
                "reviews": [review],
                "url": f"{base}/dashboard/reviews",
            }
            for count in (1, 3)
        ],
        "review_invitation": [
            {
                "merchant": merchant,
                "purchase": purchase,
                "customer_name": name,
                "link": link,
            }
            for name in (purchase.customer_name, None)
        ],
        "review_reminder": [
            {
                "merchant": merchant,
                "purchase": purchase,
                "customer_name": name,
                "link": link,
                "unsubscribe_url": "http://trustseal.test/unsubscribe/x",
            }
            for name in (purchase.customer_name, None)
        ],
        "seal_application": [
            {
                "merchant": merchant,
                "note": note,
                "pending": 2,
                "failed": 1,
                "url": f"{base}/console/m/{DEMO}#checklist",
            }
            for note in ("Ya publicamos el RUC en la portada.", None)
        ],
        "seal_decision": [
            {
                "merchant": merchant,
                "action": action,
                "reason": "Cumple los criterios publicados.",
                "valid_until": date(2027, 12, 3) if action in ("approve", "reinstate") else None,
                "url": f"{base}/dashboard/seal",
            }
            for action in ("approve", "reinstate", "suspend", "revoke")
        ],
        "seal_received": [
            {"merchant": merchant, "pending": 2, "failed": 1, "url": f"{base}/dashboard/seal"}
        ],
        "seal_suspended": [
            {
                "merchant": merchant,
                "breaches": breaches,
                "reason": "Suspensión automática por la regla publicada.",
                "titles": monitor.TITLES,
                "for_staff": for_staff,
                **links,
            }
            for for_staff in (False, True)
        ],
        "seal_warning": [
            {
                "merchant": merchant,
                "cautions": caution_list,
                "threshold": thresholds,
                "titles": monitor.TITLES,
                **links,
            }
            for caution_list in (
                cautions,
                # a shop outside Peru: the site check asks for HTTPS only, no book link
                [
                    monitor.Caution(
                        monitor.SITE_CHECK_FAILING,
                        {"since": "2026-11-20", "days": 1, "https": False, "complaints_book": None},
                    )
                ],
            )
        ],
        "signal_opened": [
            {
                "signal": signals.get(s.signal_id),
                "merchant": merchant,
                "kind_title": signals.kind_title,
                "describe": signals.describe,
                "url": f"{base}/console/moderation#s{s.signal_id}",
            }
        ],
        "signup_confirm": [{"url": f"{base}/signup/confirm/{s.signup_token}", "hours": 48}],
        "signup_exists": [{"login_url": f"{base}/login", "reset_url": f"{base}/login/reset"}],
    }


def render_every_email(
    app: Flask, s: Seeded, recorder: Recorder, lang: str
) -> dict[str, list[str]]:
    """Every email template with each of its contexts, rendered in the language of code
    ``lang`` through the mail domain's renderer (recorded by ``recorder``); the HTML of
    each, by ``email/<template>``."""
    from trustseal.mail import service as mail

    tag = CHECKED.get(lang, (lang, lang))[1]
    names = {
        p.name.split(".")[0] for p in EMAILS.iterdir() if not p.name.startswith("_") and p.is_file()
    }
    rendered: dict[str, list[str]] = defaultdict(list)
    with app.app_context():
        contexts = email_contexts(app, s)
        assert sorted(names - contexts.keys()) == [], "email templates without a context here"
        for name, variants in sorted(contexts.items()):
            for context in variants:
                recorder.page = f"email/{name}"
                message = mail.render(name, lang, **context)
                recorder.page = None
                assert message.subject and message.text.strip() and message.html
                assert f'lang="{tag}"' in message.html
                rendered[f"email/{name}"].append(message.html)
        db.session.rollback()
    return rendered


def _each(rendered: dict[str, list[str]]) -> dict[str, str]:
    """Every rendering by ``email/<template> #<n>``."""
    return {
        f"{name} #{n}": html
        for name, variants in rendered.items()
        for n, html in enumerate(variants)
    }


def _compare_emails(
    found: set[tuple[str, str, str]], details: dict[Any, str], language: str
) -> None:
    emails = {gap for gap in KNOWN_GAPS_TO_FIX if gap[0].startswith("email/")}
    new = sorted(found - emails)
    stale = sorted(emails - found)
    assert not new and not stale, "\n".join(
        part
        for part in (
            _report(f"Email gaps in {language}", [f"{g!r}  ← {details[g]}" for g in new]),
            _report("Fixed: delete from KNOWN_GAPS_TO_FIX", [f"{g!r}," for g in stale]),
        )
        if part
    )


@sqlite_only
def test_every_email_in_spanish(app, client, recorder, monkeypatch):
    s = seed(app, client, monkeypatch)
    render_every_email(app, s, recorder, "es")
    found, details = msgid_gaps(recorder)
    _compare_emails(found, details, "Spanish")


@sqlite_only
def test_every_email_in_portuguese(app, client, recorder, monkeypatch):
    """Every email in Portuguese: the pt_BR catalog translates every message asked, and no
    email shows English, or Spanish its English version lacks."""
    s = seed(app, client, monkeypatch)
    recorder.locale = "pt_BR"
    english = render_every_email(app, s, recorder, "en")
    portuguese = render_every_email(app, s, recorder, "pt")
    found, details = msgid_gaps(recorder)
    # (emails name the published rules by their ids, such as site_check_failing, on purpose)
    for gap, context in word_gaps(_each(portuguese), _each(english), identifiers=False).items():
        found.add(gap)
        details[gap] = context
    _compare_emails(found, details, "Portuguese")


def test_the_english_word_check_itself():
    page = (
        '<html lang="es"><head><script type="application/ld+json">{"the": "x"}</script>'
        '<style>.active{}</style></head><body><p class="pending">Hola <a href="/the/x">aquí'
        "</a> review.published tienda@the.pe https://the.pe/x</p><pre>the code</pre>"
        '<code>pending</code><img alt="The shop" src="x.png"><input type="submit" '
        'value="Submit"><p>Estado: active</p><textarea>the text</textarea></body></html>'
    )
    assert set(english_words(page)) == {
        ("english", "The"),
        ("english", "Submit"),
        ("english", "active"),
    }
    assert english_words("<p>Tienda de Lima; pedido pendiente, sello vigente.</p>") == {}
    assert english_words("<p>El pago falló: Error del servidor.</p>") == {}
    assert set(english_words("<p>Motivo: not_genuine · ver review.published</p>")) == {
        ("identifier", "not_genuine")
    }
    assert english_words('<p><a href="/x">Librería S.A.C.</a> · tienda_demo@x.pe</p>') == {}


@sqlite_only
def test_the_hook_records_what_the_catalog_lacks(app, recorder):
    from flask import render_template_string
    from flask_babel import gettext, lazy_gettext, ngettext

    with app.test_request_context("/"):
        recorder.page = "self-test"
        assert gettext("Sign in") == "Iniciar sesión"  # translated: not recorded
        gettext("A message no catalog has")
        ngettext("%(num)d thing nobody has", "%(num)d things nobody has", 2)
        str(lazy_gettext("A lazy message no catalog has"))
        render_template_string('{{ _("A template message no catalog has") }}')
        recorder.page = None
        gettext("Asked outside any page")
    with app.test_request_context("/?lang=en"):
        recorder.page = "self-test"
        gettext("Asked in English")
        recorder.page = None
    misses = {msgid: where for (page, msgid), where in recorder.misses.items()}
    assert {page for page, _msgid in recorder.misses} == {"self-test"}
    assert misses.pop("A template message no catalog has") == {"templates/<string>:1"}
    assert set(misses) == {
        "A message no catalog has",
        "%(num)d thing nobody has",
        "A lazy message no catalog has",
    }
    for where in misses.values():
        (line,) = where
        assert line.startswith(f"tests/{Path(__file__).name}:")


def test_known_gaps_name_a_page_a_kind_and_a_text():
    for page, kind, text in KNOWN_GAPS_TO_FIX:
        assert page and text and kind in ("msgid", "english", "identifier")
    assert len(set(KNOWN_GAPS_TO_FIX)) == len(KNOWN_GAPS_TO_FIX)
