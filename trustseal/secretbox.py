"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) under the configured data keys.

``TRUSTSEAL_DATA_KEY`` holds one Fernet key, or several separated by commas, newest
first (``MultiFernet``): the newest encrypts, every one of them decrypts. To rotate:

1. put a new key first (``trustseal keys new-data-key`` prints one) and restart every
   process: new secrets are sealed with it, old ones still open. With processes on
   several machines, first add it *last* everywhere, then move it first: no process then
   meets a secret sealed with a key it does not have yet;
2. run ``trustseal keys rotate-data``: every stored secret is sealed again with the newest
   key (``MultiFernet.rotate``);
3. remove the old keys from the setting and restart.

The columns that hold sealed secrets are listed in :data:`SEALED_COLUMNS`, so the rotation
reaches all of them (a test fails when a sealed value is left out).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from sqlalchemy import Column, select, update

from trustseal.dbutil import execute_dml
from trustseal.extensions import db

# (table, column) of every value written by :func:`seal`.
SEALED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("signing_keys", "private_encrypted"),
    ("stores", "secrets_encrypted"),
    ("mail_outbox", "sealed"),
    ("staff_users", "totp_secret"),
    ("signup_requests", "sealed"),
    ("hook_endpoints", "secret_sealed"),
)


def parse_keys(setting: str) -> tuple[str, ...]:
    """The Fernet keys of a ``TRUSTSEAL_DATA_KEY`` value, newest first (comma-separated)."""
    keys = tuple(part.strip() for part in setting.split(",") if part.strip())
    if not keys:
        raise ValueError("TRUSTSEAL_DATA_KEY holds no Fernet key")
    return keys


@lru_cache(maxsize=8)
def _fernets(setting: str) -> tuple[Fernet, ...]:
    return tuple(Fernet(key.encode()) for key in parse_keys(setting))


def _keys(data_key: str | None) -> tuple[Fernet, ...]:
    """The given data keys, else the configured ones; newest first."""
    return _fernets(data_key or str(current_app.config["TRUSTSEAL_DATA_KEY"]))


def _box(data_key: str | None) -> MultiFernet:
    return MultiFernet(list(_keys(data_key)))


def seal(plain: bytes, data_key: str | None = None) -> str:
    """Encrypt bytes for storage with the newest data key; returns URL-safe text."""
    return _box(data_key).encrypt(plain).decode("ascii")


def open_(token: str, data_key: str | None = None) -> bytes:
    """Decrypt what :func:`seal` stored, under any of the data keys (raises
    ``cryptography.fernet.InvalidToken`` when none opens it)."""
    return _box(data_key).decrypt(token.encode("ascii"))


def _is_current(token: str, newest: Fernet) -> bool:
    """Whether ``token`` was sealed with ``newest``."""
    try:
        newest.decrypt(token.encode("ascii"))
    except InvalidToken:
        return False
    return True


@dataclass
class ColumnRotation:
    """What :func:`rotate_column` did to one column."""

    table: str
    column: str
    rotated: int = 0  # sealed again with the newest key
    current: int = 0  # already sealed with it
    changed: int = 0  # written or cleared by another process meanwhile: left as it is
    unreadable: list[object] = field(default_factory=list)  # primary keys no key opens

    @property
    def name(self) -> str:
        """``table.column``."""
        return f"{self.table}.{self.column}"


def _sealed_column(table_name: str, column_name: str) -> tuple[Column[Any], Column[Any]]:
    """The column and the (single-column) primary key of its table."""
    table = db.metadata.tables[table_name]
    (key,) = table.primary_key.columns
    return table.c[column_name], key


def _batches(
    column: Column[Any], key: Column[Any], size: int
) -> Iterator[list[tuple[object, str]]]:
    """Non-empty sealed values as ``(primary key, token)``, in key order, ``size`` at a time."""
    last: object = None
    while True:
        query = select(key, column).where(column.is_not(None), column != "")
        if last is not None:
            query = query.where(key > last)
        rows = [(row[0], row[1]) for row in db.session.execute(query.order_by(key).limit(size))]
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def rotate_column(table_name: str, column_name: str, batch: int = 200) -> ColumnRotation:
    """Seal every value of one column again with the newest data key, committing each batch.

    Each value is replaced only if it is still the one read: one that another process
    wrote or cleared meanwhile is left as that process wrote it (with the newest key, once
    every process was restarted with it). Running it again reports what is left.
    """
    keys = _keys(None)
    box, newest = MultiFernet(list(keys)), keys[0]
    column, key = _sealed_column(table_name, column_name)
    done = ColumnRotation(table_name, column_name)
    for rows in _batches(column, key, batch):
        for row_key, token in rows:
            if _is_current(token, newest):
                done.current += 1
                continue
            try:
                fresh = box.rotate(token.encode("ascii")).decode("ascii")
            except InvalidToken:
                done.unreadable.append(row_key)
                continue
            written = execute_dml(
                update(column.table)
                .where(key == row_key, column == token)
                .values({column_name: fresh})
            ).rowcount
            done.rotated += written
            done.changed += 1 - written
        db.session.commit()
    return done


def rotate_all(batch: int = 200) -> list[ColumnRotation]:
    """Seal every stored secret (:data:`SEALED_COLUMNS`) again with the newest data key."""
    return [rotate_column(table, column, batch) for table, column in SEALED_COLUMNS]
