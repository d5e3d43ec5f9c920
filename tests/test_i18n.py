"""Spanish first, English second, Brazilian Portuguese third, through one mechanism
(Flask-Babel catalogs): the language code ``pt`` is the catalog ``pt_BR``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from trustseal import languages
from trustseal.i18n import TRANSLATIONS

CATALOGS = ("es", "pt_BR")
# What a translation must keep exactly: named placeholders, %%, {rate}, HTML tags.
KEPT = re.compile(r"%\([a-z_]+\)[sd]|%%|\{[a-z_]+\}|<[^>]+>")


def test_spanish_is_the_default(client):
    assert "¿Puedo confiar en esta tienda?" in client.get("/").get_data(as_text=True)


def test_english_by_query_cookie_or_header(client):
    assert "Can I trust this shop?" in client.get("/?lang=en").get_data(as_text=True)
    assert "Can I trust" in client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(
        as_text=True
    )
    assert "¿Puedo" in client.get(
        "/", headers={"Accept-Language": "es-PE,es;q=0.9,en;q=0.5"}
    ).get_data(as_text=True)
    client.get("/lang/en")
    assert "Can I trust" in client.get("/").get_data(as_text=True)


def test_portuguese_by_query_cookie_or_header(client):
    home = "Posso confiar nesta loja?"
    assert home in client.get("/?lang=pt").get_data(as_text=True)
    for header in ("pt-BR,pt;q=0.9,en;q=0.5", "pt", "pt-br"):
        answer = client.get("/", headers={"Accept-Language": header}).get_data(as_text=True)
        assert home in answer, header
        assert answer.startswith('<!doctype html>\n<html lang="pt-BR">')
    # the browser's first choice by its language, whatever regions follow it
    for header, words in (("es-PE,pt;q=0.5", "¿Puedo"), ("pt-BR,en;q=0.8", home)):
        answer = client.get("/", headers={"Accept-Language": header})
        assert words in answer.get_data(as_text=True), header
    switched = client.get("/lang/pt?next=/score")
    assert switched.status_code == 302 and switched.headers["Location"] == "/score"
    assert "lang=pt;" in switched.headers["Set-Cookie"]
    assert home in client.get("/").get_data(as_text=True)
    # the query wins over the cookie, the cookie over the browser
    assert "Can I trust" in client.get("/?lang=en").get_data(as_text=True)
    assert home in client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)


def test_a_tag_in_the_switch_is_kept_as_its_code(client):
    assert "lang=pt;" in client.get("/lang/pt-BR").headers["Set-Cookie"]
    refused = client.get("/lang/fr")
    assert refused.status_code == 302 and "Set-Cookie" not in refused.headers


def test_the_language_menu_offers_every_language_in_itself(client):
    page = client.get("/?lang=pt").get_data(as_text=True)
    menu = page[page.index('<nav class="lang" aria-label="Idioma">') :]
    menu = menu[: menu.index("</nav>")]
    assert re.findall(r'hreflang="([^"]+)" lang="[^"]+">([^<]+)</a>', menu) == [
        ("es", "Español"),
        ("en", "English"),
        ("pt-BR", "Português"),
    ]
    assert '/lang/pt?next=/"' in menu


def test_language_codes_tags_and_locales():
    assert languages.CODES == ("es", "en", "pt")
    assert [languages.code_of(v) for v in ("pt-BR", "PT", "pt_BR", "es-PE", "en_US")] == [
        "pt",
        "pt",
        "pt",
        "es",
        "en",
    ]
    assert languages.code_of("fr") is None and languages.code_of(None) is None
    assert (languages.locale_of("pt"), languages.tag_of("pt")) == ("pt_BR", "pt-BR")
    assert languages.locale_of("xx") == "es"  # an unknown code: the default


def test_language_switch_does_not_redirect_off_site(client):
    answer = client.get("/lang/en?next=//evil.example/")
    assert answer.headers["Location"] == "/"


def _catalog(locale: str):
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle)


@pytest.mark.parametrize("locale", CATALOGS)
def test_every_message_in_the_code_has_a_translation(locale):
    """Extract the messages as `make translations` does; each needs a string in every
    catalog (Spanish, Brazilian Portuguese), none of them fuzzy."""
    root = Path(__file__).resolve().parent.parent
    method_map = [
        ("trustseal/**.py", "python"),
        ("trustseal/templates/**.html", "jinja2"),
        ("trustseal/templates/**.txt", "jinja2"),
        ("plugins/**.py", "python"),
        ("badges/**.py", "python"),
    ]
    extracted = {
        message if isinstance(message, str) else message[0]
        for _, _, message, _, _ in extract_from_dir(
            root, method_map, keywords={**DEFAULT_KEYWORDS, "_l": None}
        )
    }
    catalog = _catalog(locale)
    translated = {
        m.id if isinstance(m.id, str) else m.id[0]
        for m in catalog
        if m.id and not m.fuzzy and (m.string if isinstance(m.string, str) else all(m.string))
    }
    assert sorted(extracted - translated) == []


@pytest.mark.parametrize("locale", CATALOGS)
def test_translations_keep_placeholders_and_markup(locale):
    """Each translation keeps every %(name)s, %%, {rate} and HTML tag of its message id
    (Babel's own checker mistakes ``{rate}% o`` for a %-format, so this compares them)."""
    wrong = []
    for message in _catalog(locale):
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        for n, text in enumerate(strings):
            source = ids[min(n, len(ids) - 1)]
            if sorted(KEPT.findall(source)) != sorted(KEPT.findall(text)):
                wrong.append((source, text))
    assert wrong == []


def test_the_portuguese_catalog_is_brazilian_and_complete():
    """pt_BR: Brazilian plurals (one for 0 and 1), the same message ids as Spanish, no
    history of its own, and Peru's legal names kept as they are."""
    portuguese, spanish = _catalog("pt_BR"), _catalog("es")
    assert portuguese.plural_forms == "nplurals=2; plural=(n > 1);"
    assert {m.id for m in portuguese if m.id} == {m.id for m in spanish if m.id}
    assert not portuguese.obsolete
    assert all(len(m.string) == 2 for m in portuguese if m.id and not isinstance(m.id, str))
    assert portuguese["Libro de Reclamaciones"].string == "Libro de Reclamaciones"
    assert portuguese["reclamo"].string == "reclamo" and portuguese["queja"].string == "queja"
    assert "INDECOPI" in portuguese["Complain to INDECOPI (gob.pe/indecopi)"].string
    assert portuguese["Can I trust this shop?"].string == "Posso confiar nesta loja?"


def test_catalogs_are_compiled_at_install_never_at_app_start(tmp_path, monkeypatch):
    """``make install`` compiles (``compile_catalogs``); starting the app only reports a
    stale catalog: the package folder of a deployment may be read-only."""
    import shutil

    from tests.conftest import make_app
    from trustseal import i18n

    source = i18n.TRANSLATIONS / "es" / "LC_MESSAGES" / "messages.po"
    po = tmp_path / "es" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    shutil.copy(source, po)
    assert i18n.stale_catalogs(tmp_path) == [po]
    assert i18n.compile_catalogs(tmp_path) == [po.with_suffix(".mo")]
    assert i18n.stale_catalogs(tmp_path) == []

    def refuse(*args, **kwargs):
        raise AssertionError("the app compiled catalogs at start")

    monkeypatch.setattr(i18n, "compile_catalogs", refuse)
    make_app(f"sqlite:///{tmp_path / 'i18n.db'}", tmp_path / "inst")
