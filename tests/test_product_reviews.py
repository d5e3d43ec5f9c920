"""Product reviews (#19 part 1): a reviewer rates each product of the purchase, on the
review form or through the API; each product has O(1) numbers and a keyset-paged list of
its published reviews; every rating is a ``product.rated`` leaf that ``log verify``
checks against the database."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, insert, select, update

from tests.helpers import bearer, make_merchant, make_staff, tamper
from tests.reviewing import post_review, publish_review, review_link
from trustseal.extensions import db
from trustseal.reviews import products
from trustseal.reviews import service as reviews
from trustseal.reviews.models import ProductAggregate, ProductReview
from trustseal.transparency.models import LogEntry

ITEMS = [
    {
        "product_id": "cafe-500",
        "title": "Café de Villa Rica 500 g",
        "quantity": 2,
        "sku": "CVR-500",
        "url": "https://bodega.pe/p/cafe-500",
        "image_url": "https://cdn.bodega.pe/cafe-500.jpg",
    },
    {"product_id": "taza-1", "title": "Taza de cerámica", "quantity": 1},
    {"product_id": "cafe-500", "title": "Café de Villa Rica (otra línea)", "quantity": 1},
]


@pytest.fixture
def key(app: Flask) -> str:
    return make_merchant(app)[1]


def _rate(client: FlaskClient, key: str, external_id: str, *ratings: dict[str, Any]) -> int:
    return publish_review(client, key, external_id, items=ITEMS, products=list(ratings))


def _summary(client: FlaskClient, product_id: str = "cafe-500") -> Any:
    return client.get(f"/api/v1/merchants/bodega/products/{product_id}/summary")


def test_a_reviewer_rates_products_through_the_api_and_each_is_logged(
    app: Flask, client: FlaskClient, key: str
) -> None:
    token = review_link(client, key, "A-1", items=ITEMS)
    ratings = [
        {"product_id": "cafe-500", "rating": 5, "comment": "Aroma intenso. Escríbeme a ana@x.pe"},
        {"product_id": "taza-1", "rating": 3},
    ]
    answer = post_review(client, token, products=ratings)
    assert answer.status_code == 201, answer.json
    assert answer.json["masked"] == ["email"]
    review_id = answer.json["id"]

    summary = _summary(client).json
    assert summary == {
        "product_id": "cafe-500",
        "title": "Café de Villa Rica 500 g",
        "image_url": "https://cdn.bodega.pe/cafe-500.jpg",
        "url": "https://bodega.pe/p/cafe-500",
        "rating": 5.0,
        "count": 1,
        "distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 1},
    }
    listed = client.get("/api/v1/merchants/bodega/products/cafe-500/reviews").json
    (item,) = listed["items"]
    assert listed["next_cursor"] is None
    assert item["review_id"] == review_id and item["rating"] == 5
    assert item["comment"] == "Aroma intenso. Escríbeme a [•••]"
    assert item["verification_level"] == "declared" and item["display_name"] == "Lucía Q."

    with app.app_context():
        leaves = {
            entry.index: json.loads(entry.leaf)
            for entry in db.session.scalars(
                select(LogEntry).where(LogEntry.event_type == "product.rated")
            )
        }
    assert [leaf["rating"] for leaf in leaves.values()] == [5, 3]
    assert item["log_index"] in leaves
    leaf = leaves[item["log_index"]]
    assert leaf["review_id"] == review_id and leaf["product_id"] == "cafe-500"
    assert set(leaf["text_sha256"]) == {"comment"}  # the words, committed; not in clear
    assert "Aroma" not in json.dumps(leaf)
    # The product.rated leaf of the taza has no words to commit to.
    assert "text_sha256" not in leaves[max(leaves)]


@pytest.mark.parametrize(
    ("ratings", "problem"),
    [
        ([{"product_id": "tetera", "rating": 4}], "no product"),
        ([{"product_id": "taza-1", "rating": 4}, {"product_id": "taza-1", "rating": 2}], "twice"),
        ([{"product_id": "taza-1", "rating": 6}], None),
        ([{"product_id": "taza-1", "rating": "5"}], None),
        ([{"product_id": "taza-1", "rating": 4, "comment": "x" * 2001}], None),
        ([{"product_id": "", "rating": 4}], None),
        ([{"product_id": "taza-1", "rating": 4, "comment": "hola\u202e"}], None),
        ([{"product_id": "taza-1"}], None),
    ],
)
def test_bad_product_ratings_are_refused_and_change_nothing(
    app: Flask, client: FlaskClient, key: str, ratings: list[Any], problem: str | None
) -> None:
    token = review_link(client, key, "A-1", items=ITEMS)
    refused = post_review(client, token, products=ratings)
    assert refused.status_code == 422, refused.json
    if problem:
        assert problem in refused.json["message"]
        assert "products" in refused.json["errors"]["json"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ProductReview)) == 0
    # The link still works: nothing was used up.
    assert post_review(client, token, products=[]).status_code == 201


def test_product_numbers_follow_publication_removal_and_restore(
    app: Flask, client: FlaskClient, key: str
) -> None:
    first = _rate(client, key, "A-1", {"product_id": "cafe-500", "rating": 5})
    _rate(client, key, "A-2", {"product_id": "cafe-500", "rating": 2})
    _rate(client, key, "A-3", {"product_id": "cafe-500", "rating": 4})
    assert _summary(client).json["rating"] == 3.7
    assert _summary(client).json["distribution"] == {"1": 0, "2": 1, "3": 0, "4": 1, "5": 1}

    staff = bearer(make_staff(app, "moderator"))
    url = f"/api/v1/reviews/{first}/moderation"
    removed = client.post(url, json={"action": "remove", "reason": "spam"}, headers=staff)
    assert removed.status_code == 200
    assert _summary(client).json["count"] == 2 and _summary(client).json["rating"] == 3.0
    listed = client.get("/api/v1/merchants/bodega/products/cafe-500/reviews").json["items"]
    assert first not in [item["review_id"] for item in listed]

    restored = client.post(url, json={"action": "restore", "reason": "ok"}, headers=staff)
    assert restored.status_code == 200
    assert _summary(client).json["count"] == 3 and _summary(client).json["rating"] == 3.7
    with app.app_context():  # the kept sums are the rows' sums
        rows = db.session.scalars(select(ProductReview.rating)).all()
        agg = db.session.get(ProductAggregate, (1, "cafe-500"))
        assert agg is not None and (agg.count, agg.rating_sum) == (len(rows), sum(rows))


def test_a_product_s_reviews_are_paged_newest_first_with_a_keyset_cursor(
    client: FlaskClient, key: str
) -> None:
    ids = [_rate(client, key, f"A-{n}", {"product_id": "taza-1", "rating": 4}) for n in range(5)]
    seen: list[int] = []
    url = "/api/v1/merchants/bodega/products/taza-1/reviews?limit=2"
    page = client.get(url).json
    while True:
        seen += [item["review_id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        # A review published between two pages does not shift the next one.
        _rate(client, key, f"B-{len(seen)}", {"product_id": "taza-1", "rating": 1})
        page = client.get(f"{url}&cursor={page['next_cursor']}").json
    assert seen == ids[::-1]


def test_product_routes_answer_bad_requests_clearly(client: FlaskClient, key: str) -> None:
    _rate(client, key, "A-1", {"product_id": "taza-1", "rating": 4})
    base = "/api/v1/merchants/bodega/products"
    assert _summary(client, "tetera").status_code == 404  # nobody rated it
    assert client.get(f"{base}/tetera/reviews").json == {"items": [], "next_cursor": None}
    assert client.get(f"{base}/{'x' * 101}/summary").status_code == 404
    assert client.get("/api/v1/merchants/nadie/products/taza-1/summary").status_code == 404
    assert client.get(f"{base}/taza-1/reviews?cursor=%%%").status_code == 422
    huge = base64.urlsafe_b64encode(b'{"k":' + str(2**70).encode() + b"}").decode().rstrip("=")
    assert client.get(f"{base}/taza-1/reviews?cursor={huge}").status_code == 422
    assert client.get(f"/widgets/bodega/reviews?product_id=taza-1&cursor={huge}").status_code == 422
    assert client.get(f"{base}/taza-1/reviews?limit=0").status_code == 422
    assert client.get(f"{base}/taza-1/reviews?limit=101").status_code == 422


def test_the_review_form_rates_each_product_on_the_same_screen(
    app: Flask, client: FlaskClient, key: str
) -> None:
    token = review_link(client, key, "A-1", items=ITEMS)
    page = client.get(f"/r/{token}").get_data(as_text=True)
    # One fieldset per product, the duplicated line once.
    assert page.count('name="product-0-rating"') == 5 and 'name="product-2-rating"' not in page
    assert "Taza de cerámica" in page and "Califica cada producto" in page
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf is not None
    form = {
        "csrf_token": csrf.group(1),
        "rating": "4",
        "process_rating": "5",
        "body": "Todo bien.",
        "display_name": "Lucía Q.",
    }
    # Words without stars: the form says so and publishes nothing.
    refused = client.post(f"/r/{token}", data={**form, "product-1-comment": "Linda"})
    assert refused.status_code == 422
    assert "Elige de 1 a 5 estrellas para este producto" in refused.get_data(as_text=True)
    assert "Linda" in refused.get_data(as_text=True)  # kept for the reviewer
    published = client.post(
        f"/r/{token}", data={**form, "product-1-rating": "2", "product-1-comment": "Linda"}
    )
    assert published.status_code == 201
    (item,) = client.get("/api/v1/merchants/bodega/products/taza-1/reviews").json["items"]
    assert (item["rating"], item["comment"]) == (2, "Linda")
    assert _summary(client).status_code == 404  # the coffee was not rated


def test_an_erasure_erases_the_words_and_keeps_the_rating(
    app: Flask, client: FlaskClient, key: str, runner: Any
) -> None:
    review_id = _rate(client, key, "A-1", {"product_id": "taza-1", "rating": 4, "comment": "Linda"})
    with app.app_context():
        purchase_id = reviews.get(review_id).purchase_id  # type: ignore[union-attr]
        reviews.erase_personal_data([purchase_id])
        db.session.commit()
    (item,) = client.get("/api/v1/merchants/bodega/products/taza-1/reviews").json["items"]
    assert item["comment"] is None and item["review_body"] is None and item["rating"] == 4
    assert runner.invoke(args=["log", "verify"]).exit_code == 0


def test_log_verify_notices_a_product_rating_edited_in_the_database(
    app: Flask, client: FlaskClient, key: str, runner: Any
) -> None:
    _rate(client, key, "A-1", {"product_id": "taza-1", "rating": 2, "comment": "Se rajó"})
    assert runner.invoke(args=["log", "verify"]).exit_code == 0
    tamper(app, update(ProductReview).values(rating=5))
    edited = runner.invoke(args=["log", "verify"])
    assert edited.exit_code == 1 and "product review 1" in edited.output
    tamper(app, update(ProductReview).values(rating=2, comment="Excelente"))
    edited = runner.invoke(args=["log", "verify"])
    assert edited.exit_code == 1 and "comment does not match" in edited.output


def test_log_verify_notices_a_product_rating_deleted_from_the_database(
    app: Flask, client: FlaskClient, key: str, runner: Any
) -> None:
    _rate(client, key, "A-1", {"product_id": "taza-1", "rating": 1})
    # Deleted with the product's numbers too, so that nothing in the database disagrees.
    tamper(app, ProductReview.__table__.delete(), ProductAggregate.__table__.delete())
    deleted = runner.invoke(args=["log", "verify"])
    assert deleted.exit_code == 1 and "product.rated" in deleted.output


def test_summaries_and_feeds_read_every_rated_product(
    app: Flask, client: FlaskClient, key: str
) -> None:
    one = _rate(client, key, "A-1", {"product_id": "taza-1", "rating": 4})
    two = _rate(
        client,
        key,
        "A-2",
        {"product_id": "taza-1", "rating": 5},
        {"product_id": "cafe-500", "rating": 3},
    )
    with app.app_context():
        merchant_id = 1
        assert [s.product_id for s in products.summaries(merchant_id)] == ["cafe-500", "taza-1"]
        streamed = list(products.all_reviews(merchant_id, batch=2))
        assert [(i.review_id, i.product_id) for i in streamed] == [
            (one, "taza-1"),
            (two, "taza-1"),
            (two, "cafe-500"),
        ]
        assert [i.product_id for i in products.reviews_of(merchant_id, [two])] == [
            "taza-1",
            "cafe-500",
        ]
        (coffee,) = products.reviews_of(merchant_id, [two])[1:]
        assert coffee.sku == "CVR-500" and coffee.product_title == "Café de Villa Rica 500 g"


def test_the_shop_page_shows_each_review_s_product_ratings(client: FlaskClient, key: str) -> None:
    _rate(client, key, "A-1", {"product_id": "taza-1", "rating": 2, "comment": "Llegó <rota>"})
    page = client.get("/m/bodega").get_data(as_text=True)
    assert "Producto: Taza de cerámica" in page
    assert "Llegó &lt;rota&gt;" in page and "<rota>" not in page
    english = client.get("/m/bodega?lang=en").get_data(as_text=True)
    assert "Product: Taza de cerámica" in english


def test_log_verify_notices_product_numbers_edited_in_the_database(
    app: Flask, client: FlaskClient, key: str, runner: Any
) -> None:
    _rate(client, key, "A-1", {"product_id": "taza-1", "rating": 2})
    _rate(client, key, "A-2", {"product_id": "taza-1", "rating": 3})
    assert runner.invoke(args=["log", "verify"]).exit_code == 0
    # An operator lifts the product's stars without touching any rating.
    tamper(app, update(ProductAggregate).values(rating_sum=10, dist_5=2, dist_2=0, dist_3=0))
    assert _summary(client, "taza-1").json["rating"] == 5.0
    edited = runner.invoke(args=["log", "verify"])
    assert edited.exit_code == 1
    assert "product 'taza-1' of bodega: its kept numbers (count 2, sum 10" in edited.output


def test_log_verify_notices_product_ratings_added_without_a_leaf(
    app: Flask, client: FlaskClient, key: str, runner: Any
) -> None:
    _rate(client, key, "A-1", {"product_id": "taza-1", "rating": 1})
    others = [publish_review(client, key, f"B-{n}", items=ITEMS) for n in range(4)]
    assert runner.invoke(args=["log", "verify"]).exit_code == 0
    # Four five-star ratings slipped in behind the log's back, the sums kept consistent.
    rows = [
        {"review_id": review_id, "merchant_id": 1, "product_id": "taza-1", "rating": 5}
        for review_id in others
    ]
    tamper(
        app,
        insert(ProductReview).values(rows),
        update(ProductAggregate).values(count=5, rating_sum=21, dist_5=4),
    )
    assert _summary(client, "taza-1").json["rating"] == 4.2
    forged = runner.invoke(args=["log", "verify"])
    assert forged.exit_code == 1
    assert "product review 2: it names no product.rated leaf" in forged.output


def test_a_later_order_line_without_an_address_keeps_the_product_s(
    client: FlaskClient, key: str
) -> None:
    _rate(client, key, "A-1", {"product_id": "cafe-500", "rating": 5})
    bare = [{"product_id": "cafe-500", "title": "Café 500 g", "quantity": 1}]
    publish_review(
        client, key, "A-2", items=bare, products=[{"product_id": "cafe-500", "rating": 4}]
    )
    summary = _summary(client).json
    assert summary["title"] == "Café 500 g"  # the latest line names it
    assert summary["url"] == "https://bodega.pe/p/cafe-500"  # and leaves the rest as it was
    assert summary["image_url"] == "https://cdn.bodega.pe/cafe-500.jpg"


def test_every_product_of_a_large_order_can_be_rated(app: Flask, client: FlaskClient, key: str):
    lines = [{"product_id": f"p-{n}", "title": f"Producto {n}", "quantity": 1} for n in range(250)]
    token = review_link(client, key, "A-1", items=lines)
    every = [{"product_id": line["product_id"], "rating": 4} for line in lines]
    assert post_review(client, token, products=every).status_code == 201
    assert _summary(client, "p-249").json["count"] == 1


def test_a_product_id_with_a_slash_or_odd_characters_is_served(
    client: FlaskClient, key: str
) -> None:
    odd = "ropa/camisa #2?talla=M"
    lines = [{"product_id": odd, "title": "Camisa", "quantity": 1}]
    publish_review(client, key, "A-1", items=lines, products=[{"product_id": odd, "rating": 4}])
    path = "/api/v1/merchants/bodega/products/ropa/camisa%20%232%3Ftalla=M"
    assert client.get(f"{path}/summary").json["product_id"] == odd
    assert client.get(f"{path}/reviews").json["items"][0]["product_id"] == odd
    page = client.get("/widgets/bodega/reviews", query_string={"product_id": odd}).get_data(
        as_text=True
    )
    (src,) = set(re.findall(r'<img src="([^"]+)"', page)) or {None}
    assert src is not None and src.startswith("/widgets/bodega/product/ropa%2Fcamisa%20%232%3F")
    assert client.get(src.replace("&amp;", "&")).status_code == 200
