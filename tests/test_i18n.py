"""Spanish first, English second, through one mechanism (Flask-Babel catalogs)."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from trustseal.i18n import TRANSLATIONS


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


def test_language_switch_does_not_redirect_off_site(client):
    answer = client.get("/lang/en?next=//evil.example/")
    assert answer.headers["Location"] == "/"


def test_every_message_in_the_code_has_a_spanish_translation():
    """Extract the messages as `make translations` does; each needs a Spanish string."""
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
    with (TRANSLATIONS / "es/LC_MESSAGES/messages.po").open("rb") as handle:
        catalog = read_po(handle)
    translated = {
        m.id if isinstance(m.id, str) else m.id[0]
        for m in catalog
        if m.id and (m.string if isinstance(m.string, str) else all(m.string))
    }
    assert sorted(extracted - translated) == []


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
