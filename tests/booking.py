"""Builders for book tests."""

from __future__ import annotations

from typing import Any

CONSUMER_EMAIL = "rosa.mendoza@example.pe"
CONSUMER_DNI = "45678912"


def entry_body(kind: str = "reclamo", **changes: Any) -> dict[str, Any]:
    """A valid POST /api/v1/merchants/{slug}/book body."""
    body: dict[str, Any] = {
        "kind": kind,
        "consumer": {
            "name": "Rosa Mendoza Quispe",
            "document_type": "DNI",
            "document_number": CONSUMER_DNI,
            "email": CONSUMER_EMAIL,
            "phone": "+51 987 654 321",
            "address": "Jr. Ucayali 123, Lima",
        },
        "item": {
            "type": "producto",
            "description": "Licuadora 600 W",
            "amount": "189.90",
            "currency": "PEN",
        },
        "detail": "Llegó con la jarra rota.",
        "request": "Cambio por una nueva.",
    }
    body.update(changes)
    return body
