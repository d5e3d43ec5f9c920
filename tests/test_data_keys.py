"""Data keys: ``TRUSTSEAL_DATA_KEY`` lists Fernet keys newest first (``MultiFernet``), and
``trustseal keys rotate-data`` seals every stored secret again with the newest, so the old
keys can go."""

from __future__ import annotations

from collections import defaultdict

import pytest
from cryptography.fernet import Fernet, InvalidToken
from flask import Flask
from sqlalchemy import String, select, update

from tests.helpers import bearer, make_merchant
from tests.plugin_payloads import create_store, shopify_settings
from trustseal import secretbox
from trustseal.accounts import service as accounts
from trustseal.extensions import db
from trustseal.mail import service as mail
from trustseal.mail.models import OutboxMessage
from trustseal.signing import service as signing
from trustseal.staff import service as staff
from trustseal.stores import service as stores
from trustseal.stores.models import Store

KEY_A, KEY_B, KEY_C = (Fernet.generate_key().decode() for _ in range(3))


def _fill_every_sealed_column(app: Flask, client) -> None:
    """A signing key, a store's credentials, a queued email, a TOTP secret, a sign-up, a
    webhook's signing secret."""
    _, key = make_merchant(app)
    create_store(client, key, "shopify", **shopify_settings())
    hook = {"url": "https://bodega.pe/hooks", "events": ["book.filed"]}
    assert client.post("/api/v1/webhooks", json=hook, headers=bearer(key)).status_code == 201
    with app.app_context():
        signing.current_key()
        accounts.request_signup("nueva@tienda.pe", "clave-segura-456", {"name": "Tienda"})
        admin = staff.create_staff("admin@cert.pe", staff.Role.ADMIN).staff
        accounts.enroll_totp(accounts.Principal("staff", admin.id, admin.email, admin.role))
        db.session.commit()


def _fernet_values(app: Flask) -> dict[str, dict[object, str]]:
    """Every value that looks like a Fernet token, in any text column of any table:
    ``{"table.column": {primary key: token}}``."""
    found: dict[str, dict[object, str]] = defaultdict(dict)
    with app.app_context():
        for table in db.metadata.sorted_tables:
            keys = list(table.primary_key.columns)
            for column in table.columns:
                if not isinstance(column.type, String):
                    continue
                rows = db.session.execute(select(column, *keys).where(column.like("gAAAAA%")))
                for token, *row_key in rows:
                    found[f"{table.name}.{column.name}"][tuple(row_key)] = token
    return dict(found)


def _opened(tokens: dict[str, dict[object, str]], key: str) -> dict[str, dict[object, bytes]]:
    box = Fernet(key.encode())
    return {
        name: {row: box.decrypt(token.encode()) for row, token in values.items()}
        for name, values in tokens.items()
    }


@pytest.mark.parametrize(
    ("setting", "keys"),
    [("a", ("a",)), (" b , a ", ("b", "a")), ("b,,a,", ("b", "a"))],
)
def test_the_setting_lists_keys_newest_first(setting, keys):
    assert secretbox.parse_keys(setting) == keys


def test_a_setting_without_a_key_is_refused():
    with pytest.raises(ValueError, match="no Fernet key"):
        secretbox.parse_keys(" , ")


def test_the_newest_key_seals_and_every_key_opens(app, ctx):
    app.config["TRUSTSEAL_DATA_KEY"] = KEY_A
    old = secretbox.seal(b"credencial")
    app.config["TRUSTSEAL_DATA_KEY"] = f"{KEY_B},{KEY_A}"
    new = secretbox.seal(b"nueva")
    assert secretbox.open_(old) == b"credencial" and secretbox.open_(new) == b"nueva"
    assert Fernet(KEY_B.encode()).decrypt(new.encode()) == b"nueva"
    with pytest.raises(InvalidToken):
        Fernet(KEY_A.encode()).decrypt(new.encode())
    app.config["TRUSTSEAL_DATA_KEY"] = KEY_B
    with pytest.raises(InvalidToken):
        secretbox.open_(old)


def test_rotate_data_seals_every_secret_with_the_newest_key(app, client, runner):
    app.config["TRUSTSEAL_DATA_KEY"] = KEY_A
    _fill_every_sealed_column(app, client)
    before = _fernet_values(app)
    # every column the service seals holds a value here, and no other column holds one
    assert set(before) == {f"{table}.{column}" for table, column in secretbox.SEALED_COLUMNS}
    plain = _opened(before, KEY_A)

    app.config["TRUSTSEAL_DATA_KEY"] = f"{KEY_B},{KEY_A}"
    result = runner.invoke(args=["keys", "rotate-data"])
    assert result.exit_code == 0, result.output
    total = sum(len(values) for values in before.values())
    assert f"{total} secret(s) re-encrypted" in result.output
    assert "stores.secrets_encrypted: 1 re-encrypted, 0 already current" in result.output

    app.config["TRUSTSEAL_DATA_KEY"] = KEY_B  # the old key is gone
    assert _opened(_fernet_values(app), KEY_B) == plain
    with app.app_context():
        store = db.session.scalars(select(Store)).one()
        assert stores.context(store).secrets  # the service opens them with the new key alone
        assert signing.sign({"sub": "bodega"})[1] == signing.current_key().kid

    again = runner.invoke(args=["keys", "rotate-data"])
    assert again.exit_code == 0 and "0 secret(s) re-encrypted" in again.output
    assert "stores.secrets_encrypted: 0 re-encrypted, 1 already current" in again.output


def test_rotation_goes_in_batches_and_keeps_a_value_changed_meanwhile(app, ctx, monkeypatch):
    app.config["TRUSTSEAL_DATA_KEY"] = KEY_A
    message = mail.Message("Hola", "texto", "<p>texto</p>", "test")
    ids = [mail.queue(f"n{n}@tienda.pe", message, "es") for n in range(3)]
    db.session.commit()
    app.config["TRUSTSEAL_DATA_KEY"] = f"{KEY_B},{KEY_A}"
    batches = secretbox._batches

    def sent_meanwhile(column, key, size):
        for rows in batches(column, key, size):
            assert len(rows) == 1
            if rows[0][0] == ids[1]:  # the worker sends it and clears it as we go
                db.session.execute(
                    update(OutboxMessage).where(OutboxMessage.id == ids[1]).values(sealed=None)
                )
            yield rows

    monkeypatch.setattr(secretbox, "_batches", sent_meanwhile)
    done = secretbox.rotate_column("mail_outbox", "sealed", batch=1)
    assert (done.rotated, done.current, done.changed, done.unreadable) == (2, 0, 1, [])
    rows = dict(db.session.execute(select(OutboxMessage.id, OutboxMessage.sealed)).all())
    assert rows[ids[1]] is None
    assert secretbox.open_(rows[ids[0]], KEY_B) and secretbox.open_(rows[ids[2]], KEY_B)


def test_a_secret_no_key_opens_is_reported_and_fails_the_command(app, runner):
    app.config["TRUSTSEAL_DATA_KEY"] = KEY_C
    with app.app_context():
        lost = mail.queue("a@tienda.pe", mail.Message("Hola", "t", "<p>t</p>"), "es")
        db.session.commit()
    app.config["TRUSTSEAL_DATA_KEY"] = f"{KEY_B},{KEY_A}"
    result = runner.invoke(args=["keys", "rotate-data"])
    assert result.exit_code == 1
    assert "mail_outbox.sealed: 0 re-encrypted, 0 already current, 1 unreadable" in result.output
    assert f"mail_outbox.sealed ids [{lost}]" in result.output


def test_new_data_key_prints_a_fernet_key(runner):
    result = runner.invoke(args=["keys", "new-data-key"])
    assert result.exit_code == 0
    box = Fernet(result.output.strip().encode())
    assert box.decrypt(box.encrypt(b"x")) == b"x"
