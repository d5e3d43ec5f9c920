"""The badge's layout for every state: measured, wrapped at words, inside its shape."""

from __future__ import annotations

import pytest

from badges import layout, text
from badges.layout import SEAL_CENTER, SEAL_INNER, BadgeView, Testimonial
from trustseal.badging import service

LONG_NAME = "Librería y Papelería San Martín de Porres Hermanos"
STATES = ["active", "none", "pending", "suspended", "revoked", "expired"]


def view(app, status: str, lang: str = "es", score: float | None = 4.6, count: int = 1234):
    """A badge view with the app's own words in ``lang``."""
    with app.app_context():
        labels = service.labels(lang)
    quote = Testimonial("María Q.", 5, "Llegó rapidísimo y en perfecto estado, muy recomendable")
    return BadgeView(
        status, LONG_NAME, "libreria.pe", labels, lang, score, count, (1,) * 12, (quote,), 0.92
    )


def test_fit_cuts_after_a_whole_word():
    cut = text.fit("La certificadora está evaluando esta tienda", 120, 9)
    assert cut.endswith(text.ELLIPSIS) and text.width(cut, 9) <= 120
    kept = cut.removesuffix(text.ELLIPSIS)
    assert "La certificadora está evaluando esta tienda".startswith(kept)
    assert "La certificadora está evaluando esta tienda"[len(kept)] == " "


def test_wrap_breaks_at_spaces_and_ends_with_a_whole_word():
    lines = text.wrap("La certificadora está evaluando esta tienda; todavía no.", 150, 9)
    assert lines == ["La certificadora está evaluando", "esta tienda; todavía no."]
    assert text.wrap("Librería y Papelería San Martín", [70, 60], 7.5, True) == [
        "Librería y",
        "Papelería…",
    ]
    assert text.wrap("corto", 100, 10) == ["corto"]
    # A single word longer than the line is the one case cut inside a word.
    assert text.wrap("Supercalifragilístico", 40, 10, lines=1)[0].endswith(text.ELLIPSIS)


@pytest.mark.parametrize("lang", ["es", "en", "pt"])
@pytest.mark.parametrize("status", STATES)
@pytest.mark.parametrize("score", [4.6, None])
def test_every_line_of_the_seal_stays_inside_the_ring(app, lang, status, score):
    shape = layout.seal(view(app, status, lang, score))
    texts = [s for s in shape.shapes if isinstance(s, layout.Text)]
    assert texts
    for line in texts:
        left = line.x - line.width / 2 if line.anchor == "middle" else line.x
        right = left + line.width
        for y in (line.y - 0.78 * line.size, line.y + 0.22 * line.size):
            for x in (left, right):
                assert (x - SEAL_CENTER) ** 2 + (y - SEAL_CENTER) ** 2 <= SEAL_INNER**2, line


def test_the_seal_status_is_never_cut(app):
    words = {s.text for s in layout.seal(view(app, "none")).shapes if isinstance(s, layout.Text)}
    assert {"NO", "CERTIFICADA"} <= words or "NO CERTIFICADA" in words


def test_the_compact_badge_of_a_certified_shop_says_valid(app):
    shape = layout.compact(view(app, "active"))
    words = " ".join(s.text for s in shape.shapes if isinstance(s, layout.Text))
    assert "VIGENTE" in words and "4,6" in words and "1.234 opiniones" in words
    unscored = layout.compact(view(app, "active", score=None, count=2))
    words = " ".join(s.text for s in unscored.shapes if isinstance(s, layout.Text))
    assert "VIGENTE · 2 opiniones" in words and "★" not in words


@pytest.mark.parametrize("status", ["none", "pending", "suspended"])
def test_the_card_of_a_shop_without_a_valid_seal_is_laid_out_for_it(app, status):
    certified = layout.card(view(app, "active"))
    shape = layout.card(view(app, status))
    words = [s.text for s in shape.shapes if isinstance(s, layout.Text)]
    assert shape.height < certified.height  # no empty space where the score would be
    assert not any("4,6" in w or "★" in w for w in words)  # no score without a valid seal
    # After the header (seal, status) and the name: the status and the reason, whole.
    assert not any(w.endswith(text.ELLIPSIS) for w in words[3:-1])


def test_the_card_of_a_certified_shop_without_a_score_says_so(app):
    shape = layout.card(view(app, "active", score=None, count=2))
    words = [s.text for s in shape.shapes if isinstance(s, layout.Text)]
    assert "Sin puntuación aún" in words and "\u2013" not in words  # no dash for a score
