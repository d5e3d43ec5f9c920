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


# The complaints book's HTML form, filled as a consumer would (a queja about a service).
BOOK_FORM = {
    "kind": "queja",
    "consumer.name": "Rosa Mendoza",
    "consumer.document_type": "DNI",
    "consumer.document_number": "45678912",
    "consumer.email": "rosa@example.pe",
    "item.type": "servicio",
    "item.description": "Atención al cliente",
    "detail": "No contestan",
    "request": "Que me llamen",
    "consent_email": "on",
}


def spy_on_emails(monkeypatch: Any) -> dict[str, list[Any]]:
    """Every email rendered from now on (``mail.render``), by template, as sent."""
    from collections import defaultdict

    from trustseal.mail import service as mail

    rendered: dict[str, list[Any]] = defaultdict(list)
    real = mail.render

    def spy(template: str, locale: str, **context: Any) -> Any:
        message = real(template, locale, **context)
        rendered[template].append(message)
        return message

    monkeypatch.setattr(mail, "render", spy)
    return rendered
