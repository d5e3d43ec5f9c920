"""``trustseal demo``: a living demo merchant so a newcomer sees the service at work."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from trustseal.book import service as book
from trustseal.clock import lima_date, utcnow
from trustseal.extensions import db
from trustseal.merchants import service as merchants
from trustseal.orders import service as orders
from trustseal.platform_types import ShippingData
from trustseal.resolutions import service as resolutions
from trustseal.reviews import service as reviews
from trustseal.staff import service as staff_service
from trustseal.stores import service as stores

if TYPE_CHECKING:
    from trustseal.merchants.models import Merchant
    from trustseal.orders.models import Purchase

DEMO_SLUG = "tienda-demo"
PRODUCTS = [
    ("cafe-700", "Café de Villa Rica 500 g"),
    ("choc-070", "Chocolate 70% cacao de Piura"),
    ("alp-chal", "Chalina de alpaca"),
    ("quinua-1k", "Quinua orgánica 1 kg"),
    ("pisco-qb", "Pisco quebranta 750 ml"),
    ("cer-chul", "Cerámica de Chulucanas"),
]
FIRST = ["Lucia", "Mateo", "Valeria", "Diego", "Camila", "Jose", "Ana", "Luis", "Rosa", "Jorge"]
LAST = ["Quispe", "Flores", "Rojas", "Huaman", "Mendoza", "Torres", "Vargas", "Castillo"]
S = orders.Status
PATHS = [
    [S.PAID, S.FULFILLED, S.DELIVERED],
    [S.PAID, S.FULFILLED, S.DELIVERED],
    [S.PAID, S.FULFILLED, S.DELIVERED],
    [S.PAID, S.FULFILLED],
    [S.PAID],
    [S.PAID, S.CANCELLED],
    [S.PAID, S.FULFILLED, S.DELIVERED, S.REFUNDED],
]
OPINIONS = {
    5: ("Excelente", "Llegó antes de lo prometido y muy bien empacado. Volveré a comprar."),
    4: ("Muy bien", "Buen producto; la entrega tardó un día más de lo indicado."),
    3: ("Correcto", "El producto está bien, pero la caja llegó algo golpeada."),
    2: ("Demoró", "Tardó una semana más de lo prometido y nadie respondía en el chat."),
    1: ("No llegó completo", "Faltaba un producto del pedido y tuve que reclamar dos veces."),
}
ANSWERS = {
    2: "Lamentamos la demora. Reforzamos el equipo de atención y le enviamos un cupón.",
    1: "Disculpe el error: ya le enviamos el producto faltante sin costo.",
}


COMPLAINTS = (
    ("El paquete llegó abierto.", "Le reenviamos el pedido completo sin costo."),
    ("Me cobraron dos veces.", "Devolvimos el cobro duplicado a su tarjeta."),
    ("No me entregaron la factura.", None),
)


def load(purchase_count: int = 300, seed: int = 2026) -> str:
    """Create the demo merchant with purchases, reviews and answers; say what was done."""
    if merchants.get_by_slug(DEMO_SLUG) is not None:
        return f"demo already loaded: /m/{DEMO_SLUG}"
    rng = random.Random(seed)
    created = merchants.create_merchant(
        name="Tienda Demo",
        slug=DEMO_SLUG,
        domain="tienda-demo.pe",
        contact_email="contacto@tienda-demo.pe",
        legal_name="Tienda Demo S.A.C.",
        ruc="20100070970",
        address="Av. Larco 123, Miraflores, Lima",
    )
    merchant_id = created.merchant.id
    # Most orders come from the shop's Shopify store, recorded as if trustseal had fetched
    # them from Shopify's Admin API (attested: the demo has no real Shopify to call); one in
    # eight the shop declares through the API, so the profile shows both kinds of purchase.
    store = stores.create_store(
        created.merchant,
        "shopify",
        {"shop_domain": "tienda-demo.myshopify.com", "client_secret": "demo-secret-not-real"},
    ).store
    channels = [
        (stores.source_of(store), stores.provenance_of(store, fetched=True)),
        ("api", orders.Provenance.declared("api")),
    ]
    now = utcnow()
    delivered_purchases: list[tuple[Purchase, datetime]] = []
    for n in range(purchase_count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        placed = now - timedelta(days=rng.uniform(5, 365), minutes=rng.randint(0, 1440))
        product_id, title = rng.choice(PRODUCTS)
        base: dict[str, Any] = dict(
            external_id=f"D-{10000 + n}",
            placed_at=placed,
            customer_email=f"{first.lower()}.{last.lower()}{n}@example.com",
            customer_name=f"{first} {last}",
            customer_locale="en" if n % 10 == 0 else "es",
            items=(orders.ItemData(product_id, title, rng.randint(1, 3)),),
        )
        source, provenance = channels[1] if n % 8 == 7 else channels[0]
        # Shopify's fulfilment gives the carrier, the tracking page and the promised day
        base["shipping"] = ShippingData(
            carrier="Olva Courier",
            tracking_url=f"https://tracking.olvacourier.com/D-{10000 + n}",
            promised_by=lima_date(placed + timedelta(days=3 + n % 3)),
        )
        orders.record_purchase_event(
            merchant_id, source, orders.PurchaseEvent(status=S.PLACED, **base), provenance
        )
        step_time = placed
        for status in rng.choice(PATHS):
            step_time += timedelta(days=rng.uniform(0.2, 2))
            delivered = step_time if status is S.DELIVERED else None
            recorded = orders.record_purchase_event(
                merchant_id,
                source,
                orders.PurchaseEvent(status=status, delivered_at=delivered, **base),
                provenance,
            )
            if status is S.DELIVERED:
                delivered_purchases.append((recorded.purchase, step_time))
    reviewed = 0
    answered_low: list[int] = []
    for purchase, delivered_at in delivered_purchases:
        if purchase.status != S.DELIVERED.value or rng.random() > 0.6:
            continue  # refunded later, or the customer did not write
        token = orders.issue_invitation_link(purchase).token
        rating = rng.choices([5, 4, 3, 2, 1], weights=[50, 25, 10, 9, 6])[0]
        title, body = OPINIONS[rating]
        at = delivered_at + timedelta(days=rng.uniform(0.5, 4))
        answered = rng.random() < 0.7  # most reviewers answer the optional questions
        submitted = reviews.submit(
            token,
            rating=rating,
            process_rating=max(1, rating - rng.randint(0, 1)),
            title=title,
            body=body,
            on_time=rng.random() < 0.75 + 0.05 * rating if answered else None,
            recommend=min(10, max(0, 2 * rating + rng.randint(-2, 1))) if answered else None,
            products=[
                {"product_id": item.product_id, "rating": max(1, rating - rng.randint(0, 1))}
                for item in purchase.items
                if answered  # the same reviewers rate the products too
            ],
            at=min(at, now),
        )
        reviewed += 1
        if rating in ANSWERS and rng.random() < 0.8:
            reviews.respond(
                submitted.review.id,
                merchant_id,
                ANSWERS[rating],
                at=min(submitted.review.created_at + timedelta(hours=rng.uniform(1, 30)), now),
            )
            if rating <= resolutions.OFFER_MAX_RATING:
                answered_low.append(submitted.review.id)
    # Some reviewers of an answered low review said, through their link, whether it was
    # resolved (the real loop: a single-use token, then the answer).
    for review_id in answered_low[: len(answered_low) * 2 // 3]:
        resolved = rng.random() < 0.7
        new_rating = rng.choice((4, 5)) if resolved and rng.random() < 0.6 else None
        _resolve("review", review_id, merchant_id, resolved, new_rating)
    _complaints(created.merchant, rng)
    moderator = staff_service.create_staff(
        "moderacion@trustseal.demo", staff_service.Role.MODERATOR
    )
    spam = reviews.submit(
        orders.issue_invitation_link(_first_unreviewed(merchant_id)).token,
        rating=1,
        process_rating=1,
        body="Compra en mi tienda www.ejemplo-spam.pe, mejores precios",
    )
    reviews.moderate(spam.review.id, moderator.staff, "remove", "spam")
    db.session.commit()
    return (
        f"demo merchant {DEMO_SLUG}: {purchase_count} purchases, {reviewed + 1} reviews "
        f"(one removed as spam)\nprofile: /m/{DEMO_SLUG}\napi key: {created.api_key}"
    )


def _resolve(
    subject: str, subject_id: int, merchant_id: int, resolved: bool, rating: int | None = None
) -> None:
    token = resolutions.offer(subject, subject_id, merchant_id)
    assert token is not None
    resolutions.submit(token, resolutions.Outcome(resolved, rating))


def _complaints(merchant: Merchant, rng: random.Random) -> None:
    """Three reclamos: two answered (one confirmed resolved by the consumer), one open."""
    for n, (detail, answer) in enumerate(COMPLAINTS):
        filed = book.file_entry(
            merchant,
            {
                "kind": "reclamo",
                "consumer": {
                    "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                    "document_type": "DNI",
                    "document_number": f"4567891{n}",
                    "email": f"cliente{n}@example.com",
                },
                "item": {"type": "producto", "description": "Café de Villa Rica 500 g"},
                "detail": detail,
                "consent_email": True,
            },
        )
        if answer:
            entry = book.answer(merchant, book.format_number(filed.entry), answer)
            if n == 0:
                _resolve("book", entry.id, merchant.id, resolved=True)


def _first_unreviewed(merchant_id: int) -> Purchase:
    found = orders.first_with_open_invitation(merchant_id)
    assert found is not None
    return found
