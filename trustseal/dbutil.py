"""Database helpers shared by every domain, on SQLAlchemy 2.0's supported API: ORM-enabled
``INSERT … [ON CONFLICT DO NOTHING] … RETURNING`` through the ordinary session."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, Executable, Table, func, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from trustseal.extensions import Model, db

T = TypeVar("T")


# A statement that returns the entity is ORM-enabled (run by ``Session.execute``, which
# makes the session object); one that returns only the key is a Core statement on the
# table, run on the session's connection: the ORM's per-statement work costs more than the
# statement itself, and a list of rows becomes one multi-row INSERT ("insertmanyvalues").


def _table(model: type[Model]) -> Table:
    return cast(Table, model.__table__)  # a mapped class's table is a Table


@cache
def _insert_ignoring(
    model: type[Model], columns: tuple[str, ...], entity: bool, dialect: str
) -> Any:
    """The statement, built once per shape (building it costs more than running it)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    if entity:
        return insert(model).on_conflict_do_nothing(index_elements=list(columns)).returning(model)
    return (
        insert(_table(model))
        .on_conflict_do_nothing(index_elements=list(columns))
        .returning(*model.__mapper__.primary_key)
    )


@cache
def _insert_returning(model: type[Model], entity: bool) -> Any:
    if entity:
        return insert(model).returning(model)
    return insert(_table(model)).returning(*model.__mapper__.primary_key)


# Objects that come back from RETURNING replace any stale object of the same identity (a
# rolled-back row's id may be given again, on SQLite).
_FRESH = {"populate_existing": True}


def execute_core(statement: Any, params: Any = None) -> Any:
    """Run a Core statement on the session's connection, in its transaction.

    For Core statements on hot paths: it skips the ORM's per-statement machinery
    (``Session.execute``), which costs more than the statement itself. It does not
    autoflush: pending session objects the statement depends on must be flushed first.
    """
    return db.session.connection().execute(statement, params)


def first_row_autocommit(statement: Any, params: Any = None) -> Any:
    """The first row of a read on a connection of its own, in autocommit (no BEGIN and
    ROLLBACK round trips, no snapshot held): for the one read of a hot path, such as what
    a badge or a widget shows. None when there is no row."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        return connection.execute(statement, params).first()


def execute_dml(statement: Executable) -> CursorResult[Any]:
    """Run an UPDATE or DELETE through the session (``Session.execute``); its result, whose
    ``rowcount`` is the number of rows matched (SQLAlchemy types the result of every
    statement as a plain ``Result``, which has no ``rowcount``)."""
    return cast(CursorResult[Any], db.session.execute(statement))


def insert_entity(model: type[Model], values: dict[str, Any]) -> Any:
    """INSERT one row now (in the session's transaction) and return it as a session object
    (SQLAlchemy's ORM ``INSERT … RETURNING`` the entity: column defaults apply, no second
    query)."""
    return db.session.scalars(
        _insert_returning(model, True), [values], execution_options=_FRESH
    ).one()


def insert_ignoring_duplicate(
    model: type[Model],
    values: dict[str, Any],
    conflict_columns: list[str],
    *,
    returning_entity: bool = False,
) -> Any | None:
    """INSERT a row unless one with the same ``conflict_columns`` exists
    (``INSERT … ON CONFLICT DO NOTHING RETURNING``, on PostgreSQL and SQLite).

    Returns the new row's primary key (or, with ``returning_entity``, the new row as a
    session object from the same statement, with no second query), or None when the row
    existed — also when another transaction inserted it concurrently: the database waits,
    then skips.
    """
    dialect = db.session.get_bind().dialect.name
    stmt = _insert_ignoring(model, tuple(conflict_columns), returning_entity, dialect)
    if returning_entity:
        return db.session.scalars(stmt, [values], execution_options=_FRESH).first()
    return execute_core(stmt, values).scalar()


def insert_row(model: type[Model], values: dict[str, Any]) -> Any:
    """INSERT one row now (column defaults apply) and return its primary key."""
    return execute_core(_insert_returning(model, False), values).scalar_one()


def insert_rows(model: type[Model], rows: list[dict[str, Any]]) -> None:
    """INSERT many rows now, in one round trip, without making session objects."""
    if rows:
        # With RETURNING, SQLAlchemy sends the rows as one multi-row INSERT; without it,
        # the driver's executemany, which costs several times more for a few rows.
        execute_core(_insert_returning(model, False), rows)


def upsert(
    model: type[Model],
    values: dict[str, Any],
    conflict_columns: list[str],
    keep_if_null: frozenset[str] = frozenset(),
) -> None:
    """INSERT a row, or UPDATE the other given columns of the row with the same key (those
    named in ``keep_if_null`` only with a value: a NULL keeps what the row holds)."""
    dialect = db.session.get_bind().dialect.name
    insert_for = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert_for(model).values(values)
    table = _table(model)
    changes = {
        name: func.coalesce(stmt.excluded[name], table.c[name])
        if name in keep_if_null
        else stmt.excluded[name]
        for name in values
        if name not in conflict_columns
    }
    db.session.execute(stmt.on_conflict_do_update(index_elements=conflict_columns, set_=changes))


# PostgreSQL's serialization failure and deadlock: the transaction may simply be run again.
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})


def is_retryable(error: BaseException) -> bool:
    """True for a deadlock or a serialization failure (safe to rerun the transaction)."""
    return getattr(getattr(error, "orig", None), "sqlstate", None) in _RETRYABLE_SQLSTATES


def commit_with_retries(work: Callable[[], T], attempts: int = 4) -> T:
    """Run ``work`` and commit; on a deadlock or serialization failure roll back and run it
    again (up to ``attempts`` times, with a short random pause), then let the error out.

    ``work`` must do all of its writes through the session, from the start, each time.
    """
    for attempt in range(1, attempts + 1):
        try:
            result = work()
            db.session.commit()
            return result
        except DBAPIError as error:
            db.session.rollback()
            if attempt == attempts or not is_retryable(error):
                raise
            time.sleep(random.uniform(0, 0.02 * 2**attempt))
    raise AssertionError("unreachable")
