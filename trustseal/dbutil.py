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
    if entity:  # the ORM path builds the object from the same statement
        stmt = insert(model)
        return stmt.on_conflict_do_nothing(index_elements=list(columns)).returning(model)
    table = model.__table__  # the Core path is much cheaper when only the key is needed
    primary_key = next(iter(table.primary_key.columns))
    return insert(table).on_conflict_do_nothing(index_elements=list(columns)).returning(primary_key)


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
    if returning_entity:
        return db.session.scalars(stmt, [values]).first()
    return db.session.execute(stmt, values).scalar()
