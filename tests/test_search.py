"""The shopper's way in: the home page and the shop search (``/buscar?q=``), on SQLite and
PostgreSQL alike."""

from __future__ import annotations

import re

import pytest

from tests.helpers import bearer, make_merchant, make_staff, pass_all_criteria
from tests.reviewing import post_review, review_link
from trustseal.extensions import db
from trustseal.merchants import service as merchants
from trustseal.numbers_i18n import format_number


def found(client, query: str, **params: str) -> list[str]:
    """The profile links of a search's results, in order."""
    answer = client.get("/buscar", query_string={"q": query, **params})
    assert answer.status_code == 200
    return re.findall(r'class="result-name" href="([^"]+)"', answer.get_data(as_text=True))


@pytest.fixture
def shops(app):
    """Three public shops and one that signed up and has not proved its domain."""
    make_merchant(app, "nandu", name="Librería Ñandú S.A.C.", domain="libreria-nandu.pe")
    make_merchant(app, "bodega", name="Bodega Central", domain="www.bodega.pe")
    make_merchant(app, "cafe", name="CAFÉ DE ALTURA", domain="cafealtura.com.pe")
    with app.app_context():
        merchants.create_merchant(
            name="Librería Escondida",
            domain="escondida.pe",
            contact_email="hola@escondida.pe",
            slug="escondida",
            signed_up=True,
        )
        db.session.commit()


def test_an_empty_query_shows_the_form_alone(client, shops):
    for path in ("/buscar", "/buscar?q=", "/buscar?q=%20%20"):
        answer = client.get(path + ("&" if "?" in path else "?") + "lang=en")
        page = answer.get_data(as_text=True)
        assert answer.status_code == 200
        assert 'name="q"' in page and 'action="/buscar"' in page
        assert 'id="results"' not in page and "No results" not in page


@pytest.mark.parametrize(
    ("query", "slugs"),
    [
        ("ñandú", ["/m/nandu"]),
        ("NANDU", ["/m/nandu"]),
        ("libreria", ["/m/nandu"]),  # not the shop that has not proved its domain
        ("LIBRERÍA ñandu", ["/m/nandu"]),
        ("nandu libreria", ["/m/nandu"]),  # every word, in any order
        ("café", ["/m/cafe"]),
        ("cafe de altura", ["/m/cafe"]),
        ("s.a.c.", ["/m/nandu"]),
        ("libreria-nandu.pe", ["/m/nandu"]),
        ("https://www.libreria-nandu.pe/libros?page=2", ["/m/nandu"]),
        ("HTTP://Libreria-Nandu.PE:443/", ["/m/nandu"]),
        ("bodega.pe", ["/m/bodega"]),  # its domain is stored with www.
        ("www.bodega.pe/ofertas", ["/m/bodega"]),
        ("cafealtura", ["/m/cafe"]),
    ],
)
def test_finds_shops_by_name_or_web_address(client, shops, query, slugs):
    assert found(client, query) == slugs


@pytest.mark.parametrize(
    "query", ["escondida", "escondida.pe", "zapatería", "%", "_", "a%b", "(", "[", "\\", "*", ".*"]
)
def test_finds_nothing_else_and_says_so(client, shops, query):
    answer = client.get("/buscar", query_string={"q": query, "lang": "en"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert found(client, query) == []
    assert "No results" in page and "matches" in page


def test_pattern_characters_are_taken_literally(app, client, shops):
    make_merchant(app, "raro", name="Mundo (100%) [Ofertas] a.b\\c", domain="raro.pe")
    assert found(client, "(100%)") == ["/m/raro"]
    assert found(client, "[ofertas]") == ["/m/raro"]
    assert found(client, "a.b\\c") == ["/m/raro"]
    assert found(client, "axb") == []


def test_the_search_of_the_merchants_door(app, shops):
    with app.app_context():
        assert merchants.search_public("   ").merchants == []
        assert [m.slug for m in merchants.search_public("a").merchants] == [
            "bodega",
            "cafe",
            "nandu",
        ]
        limited = merchants.search_public("a", limit=2)
        assert [m.slug for m in limited.merchants] == ["bodega", "cafe"] and limited.more
        exact = merchants.search_public("cafealtura.com.pe", limit=1)
        assert [m.slug for m in exact.merchants] == ["cafe"] and not exact.more
        assert merchants.search_host("https://www.Bodega.pe/x?y=1") == "bodega.pe"
        assert merchants.search_host("Bodega Central") is None
        assert merchants.fold("LIBRERÍA Ñandú") == "libreria nandu"


def test_the_exact_web_address_comes_first(app, client, shops):
    make_merchant(app, "pe-bodega", name="Bodega Pe", domain="otrabodega.pe")
    assert found(client, "bodega.pe") == ["/m/bodega", "/m/pe-bodega"]


def test_at_most_the_limit_with_a_note(app, client, shops, monkeypatch):
    from trustseal.public import home

    monkeypatch.setattr(home, "SEARCH_LIMIT", 2)
    answer = client.get("/buscar?q=a&lang=en")
    page = answer.get_data(as_text=True)
    assert len(found(client, "a")) == 2
    assert "Only the first 2 shops are listed" in page


def test_each_result_shows_its_seal_and_score(app, client, shops):
    key = make_merchant(app, "sol", name="Tienda Sol", domain="sol.pe")[1]
    for n in range(5):
        token = review_link(client, key, external_id=f"S-{n}")
        assert post_review(client, token, rating=4).status_code == 201
    certifier = make_staff(app, "certifier")
    pass_all_criteria(app, "sol")
    approved = client.post(
        "/api/v1/merchants/sol/seal",
        json={"action": "approve", "reason": "Cumple los criterios"},
        headers=bearer(certifier),
    )
    assert approved.status_code == 200
    score = client.get("/api/v1/merchants/sol").json["score"]
    assert score["rating_count"] == 5 and score["score"] is not None

    spanish = client.get("/buscar?q=sol").get_data(as_text=True)
    assert 'href="/m/sol"' in spanish and "sol.pe" in spanish
    assert 'class="badge-status active"' in spanish
    assert f"<strong>{format_number(score['score'], 1, 'es')}</strong>" in spanish
    assert "," in format_number(score["score"], 1, "es")  # 3,7 in Spanish
    english = client.get("/buscar?q=sol&lang=en").get_data(as_text=True)
    assert f"<strong>{format_number(score['score'], 1, 'en')}</strong>" in english
    assert ">active</span>" in english and "5 verified reviews" in english
    unrated = client.get("/buscar?q=bodega&lang=en").get_data(as_text=True)
    assert 'class="badge-status none"' in unrated and "not certified" in unrated
    assert "Not enough reviews for a score yet." in unrated


def test_the_search_page_escapes_the_query(client, shops):
    page = client.get("/buscar", query_string={"q": '<script>alert("x")</script>'}).get_data(
        as_text=True
    )
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert" in page


def test_the_home_page_explains_the_seal_and_searches(client):
    page = client.get("/?lang=en").get_data(as_text=True)
    assert "<h1>Can I trust this shop?</h1>" in page
    assert '<form class="card search-form" method="get" action="/buscar"' in page
    assert 'name="q"' in page
    for words in (
        "The Online Trust Seal",
        "Reviews from real customers",
        "The complaints book",
        "Check a seal before you pay",
    ):
        assert f"<h2>{words}</h2>" in page
    assert 'href="/sello/criterios"' in page and 'href="/score"' in page


def test_the_home_page_opens_the_demo_shops_profile_not_json(client):
    page = client.get("/").get_data(as_text=True)
    links = re.findall(r'href="([^"]*tienda-demo[^"]*)"', page)
    assert links[0] == "/m/tienda-demo"
    assert "/verify/tienda-demo" in links
    assert all(not link.startswith("/api/") for link in links[:2])


def test_the_demo_link_opens_a_profile_page(app, client):
    from trustseal import demo

    with app.app_context():
        demo.load(purchase_count=12)
    answer = client.get("/m/tienda-demo")
    assert answer.status_code == 200 and answer.content_type.startswith("text/html")
    assert found(client, "tienda demo") == ["/m/tienda-demo"]
    assert found(client, "https://tienda-demo.pe/") == ["/m/tienda-demo"]
