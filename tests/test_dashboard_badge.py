"""The merchant's badge page: every style in each language, live, and what to paste."""

from __future__ import annotations

import html

from tests.signing_in import make_merchant_user, sign_in


def test_every_style_in_each_language_with_its_snippet_and_the_book_button(app):
    make_merchant_user(app)
    dashboard = app.test_client()
    sign_in(dashboard, "duena@bodega.pe", "clave-segura-123")
    page = dashboard.get("/dashboard/badge")
    assert page.status_code == 200
    text = html.unescape(page.get_data(as_text=True))
    for lang in ("es", "en", "pt"):
        for style in ("compact", "seal", "card"):
            src = f"http://trustseal.test/badges/bodega.svg?style={style}&lang={lang}"
            shown = text.count(src) + text.count(src.replace("&", "&amp;"))
            assert shown >= 3, (style, lang)  # the preview, the snippet, the copy button
    for words in ("Compacta", "Sello redondo", "Tarjeta", "Insignias en español"):
        assert words in text, words
    # the shop's own language first (Spanish for a shop in Peru), then English, Portuguese
    spanish, english = text.index("Insignias en español"), text.index("Insignias en inglés")
    assert spanish < english < text.index("Insignias en portugués (Brasil)")
    assert '<a href="http://trustseal.test/m/bodega/libro"' in text
    assert "http://trustseal.test/badges/bodega/libro.svg" in text
    assert 'width="320" loading' in text  # the card's height follows its state


def test_a_shop_in_brazil_sees_portuguese_badges_first_and_no_book_button(app):
    from tests.helpers import make_merchant

    make_merchant(app, slug="loja", domain="loja.com.br", country="BR")
    make_merchant_user(app, "loja", "dono@loja.com.br")
    dashboard = app.test_client()
    sign_in(dashboard, "dono@loja.com.br", "clave-segura-123")
    text = html.unescape(dashboard.get("/dashboard/badge?lang=pt").get_data(as_text=True))
    assert text.index("Selos em português (Brasil)") < text.index("Selos em espanhol")
    assert "/badges/loja/libro.svg" not in text and "/m/loja/libro" not in text
    assert "O Libro de Reclamaciones é uma exigência legal somente no Peru" in text
