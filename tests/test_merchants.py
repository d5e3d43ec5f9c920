"""Merchants, staff credentials and their CLI commands."""

from __future__ import annotations

import json
import re

import pytest

from tests.helpers import bearer, make_merchant, make_staff
from trustseal.validators import HOSTNAME_PATTERN, normalize_domain

VALID = {"name": "Librería Ñandú", "domain": "nandu.pe", "contact_email": "hola@nandu.pe"}


def test_staff_creates_merchant_and_gets_key_once(app, client):
    token = make_staff(app, "certifier")
    answer = client.post(
        "/api/v1/merchants", json=VALID | {"ruc": "20100070970"}, headers=bearer(token)
    )
    assert answer.status_code == 201, answer.json
    body = answer.json
    assert body["slug"] == "libreria-nandu"
    assert body["api_key"].startswith("tsk_")
    assert body["seal"] == {"status": "none", "valid_until": None}
    public = client.get("/api/v1/merchants/libreria-nandu").json
    assert "api_key" not in public and "contact_email" not in public
    assert public["name"] == "Librería Ñandú"
    # the key works, and it is stored hashed only
    assert client.get("/api/v1/orders", headers=bearer(body["api_key"])).status_code == 200
    from trustseal.merchants.models import ApiKey

    with app.app_context():
        stored = ApiKey.query.one()
        assert body["api_key"] not in (stored.token_hash, stored.hint)


def test_slug_is_derived_and_deduplicated(app, client):
    token = make_staff(app)
    first = client.post("/api/v1/merchants", json=VALID, headers=bearer(token)).json
    second = client.post("/api/v1/merchants", json=VALID, headers=bearer(token)).json
    assert (first["slug"], second["slug"]) == ("libreria-nandu", "libreria-nandu-2")


def test_explicit_taken_slug_is_409(app, client):
    token = make_staff(app)
    make_merchant(app, slug="nandu")
    answer = client.post("/api/v1/merchants", json=VALID | {"slug": "nandu"}, headers=bearer(token))
    assert answer.status_code == 409
    assert answer.json["errors"]["json"]["slug"]


# 253 characters of valid labels: the longest host name a merchant can have.
LONGEST_HOST = ".".join(["a" * 63] * 3) + "." + "b" * 61


def test_a_host_name_is_at_most_253_characters_though_the_pattern_does_not_say_it():
    assert len(LONGEST_HOST) == 253 and normalize_domain(LONGEST_HOST) == LONGEST_HOST
    assert normalize_domain(LONGEST_HOST + "x") is None
    assert re.fullmatch(HOSTNAME_PATTERN, LONGEST_HOST + "x")  # length is checked apart


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"domain": "https://nandu.pe/shop"}, "domain"),
        ({"domain": "localhost"}, "domain"),
        ({"domain": LONGEST_HOST + "x"}, "domain"),
        ({"contact_email": "not-an-email"}, "contact_email"),
        ({"ruc": "20100070971"}, "ruc"),
        ({"ruc": "123"}, "ruc"),
        ({"slug": "Bad Slug"}, "slug"),
        ({"country": "peru"}, "country"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_invalid_merchant_fields_are_422(app, client, change, field):
    token = make_staff(app)
    answer = client.post("/api/v1/merchants", json=VALID | change, headers=bearer(token))
    assert answer.status_code == 422
    assert field in answer.json["errors"]["json"]
    assert client.get("/api/v1/merchants/libreria-nandu").status_code == 404


def test_merchant_creation_needs_staff(app, client):
    _, merchant_key = make_merchant(app)
    moderator = make_staff(app, "moderator")
    assert client.post("/api/v1/merchants", json=VALID).status_code == 401
    # a valid merchant key is a credential, but not one allowed here: 403, not 401
    assert (
        client.post("/api/v1/merchants", json=VALID, headers=bearer(merchant_key)).status_code
        == 403
    )
    assert (
        client.post("/api/v1/merchants", json=VALID, headers=bearer("tss_nope")).status_code == 401
    )
    assert (
        client.post("/api/v1/merchants", json=VALID, headers=bearer(moderator)).status_code == 403
    )


def test_revoked_key_is_refused(app, client):
    merchant_id, key = make_merchant(app)
    from trustseal.extensions import db
    from trustseal.merchants import service

    with app.app_context():
        merchant = service.get(merchant_id)
        second = service.issue_api_key(merchant, "second")
        keys = service.list_api_keys(merchant)
        assert service.revoke_api_key(merchant, keys[-1].id)
        db.session.commit()
    assert client.get("/api/v1/orders", headers=bearer(key)).status_code == 401
    assert client.get("/api/v1/orders", headers=bearer(second)).status_code == 200


def test_cli_staff_and_merchant_create_json(runner):
    staff = runner.invoke(args=["staff", "create", "Ana@Cert.pe", "--role", "certifier", "--json"])
    assert staff.exit_code == 0, staff.output
    data = json.loads(staff.output)
    assert data["email"] == "ana@cert.pe" and data["token"].startswith("tss_") and data["password"]
    merchant = runner.invoke(
        args=[
            "merchants",
            "create",
            "--name",
            "Tienda Sol",
            "--domain",
            "sol.pe",
            "--email",
            "a@sol.pe",
            "--json",
        ]
    )
    assert merchant.exit_code == 0, merchant.output
    assert json.loads(merchant.output)["slug"] == "tienda-sol"
    again = runner.invoke(args=["staff", "create", "ana@cert.pe", "--role", "admin"])
    assert again.exit_code != 0 and "exists" in again.output
    bad = runner.invoke(
        args=["merchants", "create", "--name", "X", "--domain", "no", "--email", "a@b.pe"]
    )
    assert bad.exit_code != 0 and "domain" in bad.output


def test_staff_password_check(app):
    from trustseal.extensions import db
    from trustseal.staff import service

    with app.app_context():
        created = service.create_staff("root@cert.pe", service.Role.ADMIN)
        db.session.commit()
        assert service.check_password("ROOT@cert.pe", created.password) is not None
        assert service.check_password("root@cert.pe", "wrong") is None
        assert service.check_password("nobody@cert.pe", "wrong") is None
        assert created.staff.password_hash.startswith("$argon2id$")


def test_a_live_key_owner_is_remembered_briefly_and_revocation_here_is_immediate(app, client):
    from sqlalchemy import update

    from trustseal.clock import utcnow
    from trustseal.extensions import db
    from trustseal.merchants import service
    from trustseal.merchants.models import ApiKey
    from trustseal.tokens import hash_token

    app.config["TRUSTSEAL_API_KEY_CACHE_SECONDS"] = 60
    merchant_id, key = make_merchant(app)
    with app.app_context():
        merchant = service.get(merchant_id)
        other = service.issue_api_key(merchant, "other")
        db.session.commit()
    assert client.get("/api/v1/orders", headers=bearer(key)).status_code == 200
    assert client.get("/api/v1/orders", headers=bearer(other)).status_code == 200
    with app.app_context():  # revoked by another process: this one learns within the TTL
        db.session.execute(
            update(ApiKey).where(ApiKey.token_hash == hash_token(other)).values(revoked_at=utcnow())
        )
        db.session.commit()
    assert client.get("/api/v1/orders", headers=bearer(other)).status_code == 200
    with app.app_context():  # revoked through this process: refused once it commits
        first = service.list_api_keys(service.get(merchant_id))[-1]
        assert service.revoke_api_key(service.get(merchant_id), first.id)
        # a request served before the commit still sees the key live and remembers it
        assert client.get("/api/v1/orders", headers=bearer(key)).status_code == 200
        db.session.commit()
    assert client.get("/api/v1/orders", headers=bearer(key)).status_code == 401
    service.clear_key_cache()  # as when the TTL runs out
    assert client.get("/api/v1/orders", headers=bearer(other)).status_code == 401
