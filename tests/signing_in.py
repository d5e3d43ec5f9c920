"""Helpers to sign in through the real /login form (with its CSRF token)."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from trustseal.extensions import db


def csrf(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token of the client's session, as a page's form carries it."""
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def post_form(
    client: FlaskClient, path: str, data: dict[str, Any], token_from: str | None = None
) -> Any:
    """POST a form with the session's CSRF token."""
    return client.post(path, data={**data, "csrf_token": csrf(client, token_from or path)})


def sign_in(client: FlaskClient, email: str, password: str, code: str | None = None) -> Any:
    """Sign in through /login."""
    data = {"email": email, "password": password}
    if code:
        data["code"] = code
    return post_form(client, "/login", data)


def make_merchant_user(
    app: Flask,
    slug: str = "bodega",
    email: str = "duena@bodega.pe",
    password: str = "clave-segura-123",
) -> tuple[str, str]:
    """A merchant (if needed) with an owner user; returns the merchant's API key (or "")."""
    from trustseal.accounts import service as accounts
    from trustseal.merchants import service as merchants

    with app.app_context():
        merchant = merchants.get_by_slug(slug)
        key = ""
        if merchant is None:
            created = merchants.create_merchant(
                name="Bodega Ñandú", domain="bodega.pe", contact_email="hola@bodega.pe", slug=slug
            )
            merchant, key = created.merchant, created.api_key
        accounts.add_merchant_user(merchant, email, password, "owner")
        db.session.commit()
    return key, password


def make_staff_user(
    app: Flask, role: str = "certifier", email: str | None = None
) -> tuple[str, str]:
    """A staff user; returns (email, password)."""
    from trustseal.staff import service as staff

    with app.app_context():
        created = staff.create_staff(
            email or f"{role}@cert.pe", staff.Role(role), "clave-staff-1234"
        )
        db.session.commit()
        return created.staff.email, "clave-staff-1234"
