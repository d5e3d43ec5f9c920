"""Small builders shared by the tests."""

from __future__ import annotations

from typing import Any

from flask import Flask

from trustseal.extensions import db
from trustseal.merchants import service as merchants
from trustseal.staff import service as staff_service


def make_merchant(app: Flask, slug: str = "bodega", **fields: Any) -> tuple[int, str]:
    """Create a merchant; return its id and API key."""
    with app.app_context():
        created = merchants.create_merchant(
            name=fields.pop("name", "Bodega Ñandú"),
            domain=fields.pop("domain", "bodega.pe"),
            contact_email=fields.pop("contact_email", "hola@bodega.pe"),
            slug=slug,
            **fields,
        )
        db.session.commit()
        return created.merchant.id, created.api_key


def make_staff(app: Flask, role: str = "admin", email: str | None = None) -> str:
    """Create a staff user; return its token."""
    with app.app_context():
        created = staff_service.create_staff(email or f"{role}@cert.pe", staff_service.Role(role))
        db.session.commit()
        return created.token


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}


def order_body(external_id: str = "A-1", status: str = "placed", **extra: Any) -> dict[str, Any]:
    """A valid POST /api/v1/orders body."""
    body: dict[str, Any] = {
        "external_id": external_id,
        "status": status,
        "customer": {"email": "Lucia.Quispe@example.com", "name": "Lucía Quispe"},
        "placed_at": "2026-11-01T15:00:00Z",
        "items": [{"product_id": "cafe-500", "title": "Café de Villa Rica", "quantity": 2}],
    }
    body.update(extra)
    return body
