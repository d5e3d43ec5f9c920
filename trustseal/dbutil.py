"""Database helpers shared by every domain."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import make_transient_to_detached

from trustseal.extensions import db


@cache
def _insert_ignoring(model: type[Any], columns: tuple[str, ...], entity: bool, dialect: str) -> Any:
    """The Core statement, built once per shape (building it costs more than running it)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = model.__table__
    returned = list(table.columns) if entity else [next(iter(table.primary_key.columns))]
    return insert(table).on_conflict_do_nothing(index_elements=list(columns)).returning(*returned)


def insert_ignoring_duplicate(
    model: type[Any],
    values: dict[str, Any],
    conflict_columns: list[str],
    *,
    returning_entity: bool = False,
) -> Any | None:
    """INSERT a row unless one with the same ``conflict_columns`` exists.

    Returns the new row's primary key (or, with ``returning_entity``, the new row as a
    session object built from the same statement, with no second query), or None when the
    row existed — also when another transaction inserted it concurrently: the database
    waits, then skips.
    """
    dialect = db.session.get_bind().dialect.name
    stmt = _insert_ignoring(model, tuple(conflict_columns), returning_entity, dialect)
    result = db.session.execute(stmt, values)
    if not returning_entity:
        return result.scalar()
    row = result.first()
    if row is None:
        return None
    # The Core path is several times cheaper than the ORM's bulk insert; the row then
    # joins the session as a persistent object, as if it had been loaded.
    mapper = model.__mapper__
    obj = model(
        **{mapper.get_property_by_column(c).key: row._mapping[c] for c in model.__table__.columns}
    )
    make_transient_to_detached(obj)
    db.session.add(obj)
    return obj
