"""``trustseal demo``: a living demo merchant so a newcomer sees the service at work."""

from __future__ import annotations

import random
from datetime import timedelta

from trustseal.clock import utcnow
from trustseal.extensions import db
from trustseal.merchants import service as merchants
from trustseal.orders import service as orders

DEMO_SLUG = "tienda-demo"
PRODUCTS = [
    ("cafe-700", "Café de Villa Rica 500 g"),
    ("choc-070", "Chocolate 70% cacao de Piura"),
    ("alp-chal", "Chalina de alpaca"),
    ("quinua-1k", "Quinua orgánica 1 kg"),
    ("pisco-qb", "Pisco quebranta 750 ml"),
    ("cer-chul", "Cerámica de Chulucanas"),
]
FIRST = ["Lucía", "Mateo", "Valeria", "Diego", "Camila", "José", "Ana", "Luis", "Rosa", "Jorge"]
LAST = ["Quispe", "Flores", "Rojas", "Huamán", "Mendoza", "Torres", "Vargas", "Castillo"]
PATHS = [
    [orders.Status.PAID, orders.Status.FULFILLED, orders.Status.DELIVERED],
    [orders.Status.PAID, orders.Status.FULFILLED, orders.Status.DELIVERED],
    [orders.Status.PAID, orders.Status.FULFILLED, orders.Status.DELIVERED],
    [orders.Status.PAID, orders.Status.FULFILLED],
    [orders.Status.PAID],
    [orders.Status.PAID, orders.Status.CANCELLED],
    [orders.Status.PAID, orders.Status.FULFILLED, orders.Status.DELIVERED, orders.Status.REFUNDED],
]


def load(purchase_count: int = 300, seed: int = 2026) -> str:
    """Create the demo merchant with ``purchase_count`` purchases; say what was done."""
    if merchants.get_by_slug(DEMO_SLUG) is not None:
        return f"demo already loaded: /api/v1/merchants/{DEMO_SLUG}"
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
    now = utcnow()
    for n in range(purchase_count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        placed = now - timedelta(days=rng.uniform(1, 365), minutes=rng.randint(0, 1440))
        product_id, title = rng.choice(PRODUCTS)
        base = dict(
            external_id=f"D-{10000 + n}",
            placed_at=placed,
            customer_email=f"{first.lower()}.{last.lower()}{n}@example.com".replace("í", "i")
            .replace("é", "e")
            .replace("á", "a"),
            customer_name=f"{first} {last}",
            customer_locale="en" if n % 10 == 0 else "es",
            items=(orders.ItemData(product_id, title, rng.randint(1, 3)),),
        )
        orders.record_purchase_event(
            merchant_id, "api", orders.PurchaseEvent(status=orders.Status.PLACED, **base)
        )
        step_time = placed
        for status in rng.choice(PATHS):
            step_time += timedelta(days=rng.uniform(0.2, 3))
            delivered = step_time if status is orders.Status.DELIVERED else None
            orders.record_purchase_event(
                merchant_id,
                "api",
                orders.PurchaseEvent(status=status, delivered_at=delivered, **base),
            )
    db.session.commit()
    return f"demo merchant {DEMO_SLUG} with {purchase_count} purchases\napi key: {created.api_key}"
