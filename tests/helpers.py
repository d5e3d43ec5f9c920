"""Small builders shared by the tests."""

from __future__ import annotations

import socketserver
import threading
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

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


def pass_all_criteria(app: Flask, slug: str = "bodega", verdict: str = "pass") -> None:
    """Give every seal criterion of a merchant ``verdict`` (as staff would, logged): the
    seal can then be approved."""
    from trustseal.seals import criteria as checklist
    from trustseal.seals import service as seals

    with app.app_context():
        merchant = merchants.get_by_slug(slug)
        assert merchant is not None
        changes = [seals.VerdictChange(c.id, verdict) for c in checklist.CRITERIA]
        seals.set_verdicts(merchant, changes, None)
        db.session.commit()


def approve_seal(app: Flask, client: FlaskClient, slug: str = "bodega") -> str:
    """Pass every criterion and approve the merchant's seal as a certifier would (API);
    return the certifier's token."""
    certifier = make_staff(app, "certifier")
    pass_all_criteria(app, slug)
    response = client.post(
        f"/api/v1/merchants/{slug}/seal",
        json={"action": "approve", "reason": "Cumple"},
        headers=bearer(certifier),
    )
    assert response.status_code == 200, response.get_json()
    return certifier


# How often a test server looks for shutdown(): socketserver's default, 0.5 s, made every
# test with a server wait up to half a second at its end.
SHUTDOWN_POLL_SECONDS = 0.02


def serve_in_background(server: socketserver.BaseServer) -> threading.Thread:
    """Serve ``server`` on a daemon thread (started), quick to ``shutdown()``."""
    thread = threading.Thread(
        target=server.serve_forever, args=(SHUTDOWN_POLL_SECONDS,), daemon=True
    )
    thread.start()
    return thread


def tamper(app: Flask, *statements: Any) -> None:
    """Run statements on the database and commit, as an operator with access would."""
    with app.app_context():
        for statement in statements:
            db.session.execute(statement)
        db.session.commit()
