"""Database helpers shared by every domain."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, SessionTransaction, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state

from trustseal.extensions import db

T = TypeVar("T")


@cache
def _insert_ignoring(model: type[Any], columns: tuple[str, ...], entity: bool, dialect: str) -> Any:
    """The Core statement, built once per shape (building it costs more than running it)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = model.__table__
    returned = list(table.columns) if entity else [next(iter(table.primary_key.columns))]
    return insert(table).on_conflict_do_nothing(index_elements=list(columns)).returning(*returned)


@cache
def _insert_returning(model: type[Any]) -> Any:
    table = model.__table__
    return table.insert().returning(*table.columns)


@cache
def _attribute_keys(model: type[Any]) -> tuple[str, ...]:
    """The mapped attribute of each column, in table order (the order RETURNING gives)."""
    mapper = model.__mapper__
    return tuple(mapper.get_property_by_column(c).key for c in model.__table__.columns)


def _attach_inserted(model: type[Any], row: Any) -> Any:
    """A row just inserted, as a persistent object of the session, as if it had been loaded.

    Built the way the ORM loads a row (values straight into the instance's state, no
    attribute events), which is several times cheaper than its unit of work for one row.
    If the transaction rolls back, the object leaves the session with its row.
    """
    obj = model.__mapper__.class_manager.new_instance()
    instance_state(obj).dict.update(zip(_attribute_keys(model), row, strict=True))
    make_transient_to_detached(obj)
    session = db.session()
    session.add(obj)
    session.info.setdefault(_INSERTED, []).append(obj)
    return obj


_INSERTED = "trustseal.inserted_through_core"


@event.listens_for(Session, "after_commit")
def _keep_inserted(session: Session) -> None:
    session.info.pop(_INSERTED, None)


@event.listens_for(Session, "after_soft_rollback")
def _drop_inserted(session: Session, previous_transaction: SessionTransaction) -> None:
    # What the ORM does for objects it inserted itself: a rolled-back row is not in the
    # session any more (SQLite may even give its id to the next row).
    if previous_transaction.parent is None:
        for obj in session.info.pop(_INSERTED, ()):
            if obj in session:
                session.expunge(obj)


def execute_core(statement: Any, params: Any = None) -> Any:
    """Run a Core statement on the session's connection, in its transaction.

    For Core statements on hot paths: it skips the ORM's per-statement machinery
    (``Session.execute``), which costs more than the statement itself. It does not
    autoflush: pending session objects the statement depends on must be flushed first.
    """
    return db.session.connection().execute(statement, params)


def insert_entity(model: type[Any], values: dict[str, Any]) -> Any:
    """INSERT one row now (in the session's transaction) and return it as a session object.

    Column defaults apply as with the ORM; the row comes back from ``RETURNING``, with no
    second query.
    """
    return _attach_inserted(model, execute_core(_insert_returning(model), values).one())


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
    result = execute_core(stmt, values)
    if not returning_entity:
        return result.scalar()
    row = result.first()
    return None if row is None else _attach_inserted(model, row)


@cache
def _insert_returning_key(model: type[Any]) -> Any:
    table = model.__table__
    return table.insert().returning(next(iter(table.primary_key.columns)))


def insert_row(model: type[Any], values: dict[str, Any]) -> Any:
    """INSERT one row now (column defaults apply) and return its primary key."""
    return execute_core(_insert_returning_key(model), values).scalar_one()


def insert_rows(model: type[Any], rows: list[dict[str, Any]]) -> None:
    """INSERT many rows now, in one round trip, without making session objects."""
    if rows:
        # With RETURNING, SQLAlchemy sends the rows as one multi-row INSERT; without it,
        # psycopg's executemany pipeline, which costs several times more for a few rows.
        execute_core(_insert_returning_key(model), rows)


def upsert(model: type[Any], values: dict[str, Any], conflict_columns: list[str]) -> None:
    """INSERT a row, or UPDATE the other given columns of the row with the same key."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(model.__table__).values(values)
    changes = {name: stmt.excluded[name] for name in values if name not in conflict_columns}
    execute_core(stmt.on_conflict_do_update(index_elements=conflict_columns, set_=changes))


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
