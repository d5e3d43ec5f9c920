"""A new shop's first steps on its dashboard, each checked by trustseal, not ticked by
the merchant."""

from __future__ import annotations

from tests.signing_in import make_merchant_user, sign_in
from trustseal.seals import sitecheck


def test_badge_shown_finds_this_shops_badge_only():
    page = b'<a href="https://t.pe/verify/bodega"><img src="https://t.pe/badges/bodega.svg"></a>'
    assert sitecheck.badge_shown(page, "/badges/bodega")
    assert not sitecheck.badge_shown(page, "/badges/bode")
    assert not sitecheck.badge_shown(b"<p>nada</p>", "/badges/bodega")
    assert not sitecheck.badge_shown(page, None)


def test_first_steps_show_progress_and_link_what_is_left(app):
    make_merchant_user(app)
    dashboard = app.test_client()
    sign_in(dashboard, "duena@bodega.pe", "clave-segura-123")
    home = dashboard.get("/dashboard").get_data(as_text=True)
    # The tests' shops have proved their domain: one step of four done, the others linked.
    assert 'id="first-steps"' in home and "1 de 4 hechos" in home
    assert '<li id="step-domain" class="done">' in home
    for where in ("/dashboard/stores", "/dashboard/badge", "/dashboard/seal"):
        assert f'<a href="{where}">' in home
    assert "en la próxima revisión automática de tu sitio" in home
