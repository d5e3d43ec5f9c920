"""Database helpers shared by every domain."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite

from trustseal.extensions import db


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
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    returned = model if returning_entity else model.__mapper__.primary_key[0]
    stmt = (
        insert(model)
        .values(**values)
        .on_conflict_do_nothing(index_elements=conflict_columns)
        .returning(returned)
    )
    return db.session.scalars(stmt).first()
