"""Database helpers shared by every domain."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite

from trustseal.extensions import db


@cache
def _insert_ignoring(model: type[Any], columns: tuple[str, ...], entity: bool, dialect: str) -> Any:
    """The statement, built once per shape (building it costs more than running it)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    returned = model if entity else model.__mapper__.primary_key[0]
    return insert(model).on_conflict_do_nothing(index_elements=list(columns)).returning(returned)


def insert_ignoring_duplicate(
    model: type[Any],
    values: dict[str, Any],
    conflict_columns: list[str],
    *,
    returning_entity: bool = False,
) -> Any | None:
    """INSERT a row unless one with the same ``conflict_columns`` exists.

    Returns the new row's primary key (or, with ``returning_entity``, the new ORM object
    from the same statement), or None when the row existed — also when another
    transaction inserted it concurrently: the database waits, then skips.
    """
    dialect = db.session.get_bind().dialect.name
    stmt = _insert_ignoring(model, tuple(conflict_columns), returning_entity, dialect)
    return db.session.scalars(stmt, [values]).first()
