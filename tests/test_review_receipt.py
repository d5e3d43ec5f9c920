"""After writing a review: the receipt page (what was published, the log receipt in plain
words, links to check it — never raw JSON), and personal data masked before publication,
before the text is committed to in the log."""

from __future__ import annotations

import hashlib
import io
import json
import re

from tests.reviewing import image_bytes, post_review, review_link, shop
from tests.signing_in import csrf, post_form
from trustseal.reviews.personal_data import MASK
from trustseal.transparency import merkle

PERSONAL = {
    "title": "Cel 987 654 321",
    "body": "Mi DNI es 45678912 y mi correo ana.perez@correo.pe; pedido #12345678.",
    "display_name": "ana.perez@correo.pe",
}


def _form(**changes: str) -> dict[str, object]:
    return {"rating": "4", "process_rating": "5", "title": "Buen café", "body": "Todo bien"} | {
        k: v for k, v in changes.items()
    }


def _leaf(client, index: int) -> dict:
    entry = client.get(f"/api/v1/log/entries?start={index}&end={index}").json[0]
    return json.loads(entry["leaf"])


def _commitment(salt_hex: str, text: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt_hex) + text.encode()).hexdigest()


def test_the_receipt_page_says_what_was_published_and_how_to_check_it(app, client):
    key = shop(app)
    token = review_link(client, key)
    done = post_form(
        client,
        f"/r/{token}?lang=en",
        _form(photos=[(io.BytesIO(image_bytes()), "a.jpg")]),  # type: ignore[arg-type]
        token_from=f"/r/{token}?lang=en",
    )
    assert done.status_code == 201, done.get_data(as_text=True)[:500]
    page = done.get_data(as_text=True)
    review = client.get("/api/v1/merchants/bodega/reviews").json["items"][0]
    index = review["log_index"]
    # what was published
    assert "What was published" in page and "Buen café" in page and "Todo bien" in page
    assert "4/5" in page and "1 photo" in page and "Lucía Q." in page
    # the receipt in plain words: the entry number and what it proves
    assert f"entry number {index} of the public transparency log" in page
    assert "can only grow" in page and "What your receipt proves" in page
    tree_size = int(re.search(r"signed record of the first (\d+) entries", page).group(1))
    assert tree_size == index + 1
    # the links to check it, each answering
    links = {
        f'href="/m/bodega#r{review["id"]}"',
        f'href="/api/v1/reviews/{review["id"]}"',
        'href="/transparency"',
        f'href="/api/v1/log/entries?start={index}&amp;end={index}"',
        f'href="/api/v1/log/proof/inclusion?index={index}&amp;tree_size={tree_size}"',
    }
    assert all(link in page for link in links), [link for link in links if link not in page]
    proof = client.get(f"/api/v1/log/proof/inclusion?index={index}&tree_size={tree_size}").json
    head = re.search(r"\(root hash\)</dt><dd><code[^>]*>([0-9a-f]{64})<", page).group(1)
    leaf_hash = re.search(r"\(leaf hash\)</dt><dd><code[^>]*>([0-9a-f]{64})<", page).group(1)
    assert merkle.verify_inclusion(
        bytes.fromhex(leaf_hash),
        index,
        tree_size,
        [bytes.fromhex(h) for h in proof["path"]],
        bytes.fromhex(head),
    )
    assert client.get(f"/m/bodega#r{review['id']}").status_code == 200
    assert f'id="r{review["id"]}"' in client.get("/m/bodega").get_data(as_text=True)
    assert client.get("/transparency").status_code == 200
    # never the raw JSON of the API
    assert "inclusion_proof" not in page and '"leaf_index"' not in page and "{&#34;" not in page
    assert "We hid personal data" not in page  # nothing was masked


def test_the_receipt_is_in_spanish_by_default(app, client):
    token = review_link(client, shop(app))
    page = post_form(client, f"/r/{token}", _form()).get_data(as_text=True)
    assert "¡Gracias! Tu opinión está publicada." in page and "Tu comprobante" in page
    assert '<html lang="es">' in page


def test_the_form_posts_to_its_own_page_never_to_the_json_api(app, client):
    token = review_link(client, shop(app))
    form = client.get(f"/r/{token}?lang=en").get_data(as_text=True)
    actions = re.findall(r'<form method="post" action="([^"]*)"', form)
    assert actions == [f"/r/{token}?lang=en"]
    plain = client.get(f"/r/{token}").get_data(as_text=True)
    assert f'action="/r/{token}"' in plain and "/api/v1/reviews" not in plain
    # a form that would post to the API gets a JSON refusal, never a review
    wrong = client.post(
        "/api/v1/reviews",
        data={"token": token, "rating": "5", "process_rating": "5", "body": "x"},
    )
    assert wrong.status_code == 415 and wrong.mimetype == "application/json"
    assert client.get("/api/v1/merchants/bodega/reviews").json["items"] == []


def test_personal_data_is_masked_before_it_is_stored_shown_or_logged(app, client, runner):
    token = review_link(client, shop(app))
    done = post_form(
        client,
        f"/r/{token}?lang=en",
        _form(**PERSONAL),
        token_from=f"/r/{token}?lang=en",
    )
    assert done.status_code == 201
    page = done.get_data(as_text=True)
    for secret in ("987 654 321", "45678912", "ana.perez@correo.pe", "correo.pe"):
        assert secret not in page
    # the reviewer is told what was hidden and why
    assert "We hid personal data" in page
    assert page.index("an email address") < page.index("a phone number")
    assert "a DNI number" in page and MASK in page
    # stored and shown masked; the display name falls back to the default one
    review = client.get("/api/v1/merchants/bodega/reviews").json["items"][0]
    assert review["title"] == f"Cel {MASK}"
    assert review["body"] == f"Mi DNI es {MASK} y mi correo {MASK}; pedido #12345678."
    assert review["display_name"] == "Lucía Q."
    profile = client.get("/m/bodega").get_data(as_text=True)
    assert "45678912" not in profile and "987 654 321" not in profile
    # the leaf commits to the published (masked) text, and the log verifies
    leaf = _leaf(client, review["log_index"])
    assert leaf["text_sha256"] == {
        "title": _commitment(review["salt"], review["title"]),
        "body": _commitment(review["salt"], review["body"]),
    }
    assert "45678912" not in json.dumps(leaf)
    result = runner.invoke(args=["log", "verify"])
    assert result.exit_code == 0, result.output
    # the search text is built from the masked text too
    found = client.get("/api/v1/merchants/bodega/reviews?q=45678912").json["items"]
    assert found == []


def test_the_api_answer_lists_what_was_masked(app, client):
    key = shop(app)
    plain = post_review(client, review_link(client, key, "A-1"))
    assert plain.status_code == 201 and plain.json["masked"] == []
    masked = post_review(
        client,
        review_link(client, key, "A-2"),
        title="Escríbanme: ana@correo.pe",
        body="Llamar al +51 912 345 678",
    )
    assert masked.status_code == 201
    assert masked.json["masked"] == ["email", "phone"]
    shown = client.get(f"/api/v1/reviews/{masked.json['id']}").json
    assert shown["title"] == f"Escríbanme: {MASK}" and shown["body"] == f"Llamar al {MASK}"
    spec = client.get("/api/v1/openapi.json").json
    created = spec["components"]["schemas"]["ReviewCreated"]["properties"]
    assert "masked" in created and MASK in created["masked"]["description"]


def test_the_private_suggestion_is_not_masked(app, client):
    """The suggestion goes to the merchant alone, never public nor logged: a shopper may
    leave a phone number there on purpose."""
    from trustseal.extensions import db
    from trustseal.reviews.models import Review

    token = review_link(client, shop(app))
    post_review(client, token, suggestion="Llámenme al 987654321")
    with app.app_context():
        assert db.session.query(Review.suggestion).scalar() == "Llámenme al 987654321"


def test_a_form_with_errors_keeps_the_privacy_hint(app, client):
    token = review_link(client, shop(app))
    bad = post_form(client, f"/r/{token}?lang=en", {"rating": "5"}, token_from=f"/r/{token}")
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert 'aria-describedby="body-privacy"' in page and "do not write your DNI" in page
    assert csrf(client, f"/r/{token}")  # the form still carries its token
