"""Transparency log tables: entries, salts, complete-subtree nodes, signed heads, and the
cosignatures witnesses gave the log's checkpoints."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from trustseal.clock import utcnow
from trustseal.dbtypes import UTCDateTime
from trustseal.extensions import Model


class LogState(Model):
    """One row (id 1): the log's size. Appenders lock it, which orders every append."""

    __tablename__ = "log_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)


class LogEntry(Model):
    """One leaf: the canonical JSON of an event, and its RFC 9162 leaf hash."""

    __tablename__ = "log_entries"

    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    event_type: Mapped[str] = mapped_column(String(40))
    merchant_slug: Mapped[str | None] = mapped_column(String(64), index=True)
    leaf: Mapped[str] = mapped_column(Text)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LogSalt(Model):
    """The secret salt of a leaf's text commitments; deleting it is how text is erased."""

    __tablename__ = "log_salts"

    index: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("log_entries.index"), primary_key=True, autoincrement=False
    )
    salt: Mapped[bytes] = mapped_column(LargeBinary(32))


class LogNode(Model):
    """The hash of a complete aligned subtree (level 0: a leaf hash). Never changes."""

    __tablename__ = "log_nodes"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class TreeHead(Model):
    """A signed tree head: ``{tree_size, root_hash, timestamp}`` as a compact JWS."""

    __tablename__ = "log_tree_heads"

    id: Mapped[int] = mapped_column(primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, unique=True)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    signature: Mapped[str] = mapped_column(Text)
    kid: Mapped[str] = mapped_column(String(64))


class ReplayState(Model):
    """A merchant's public numbers as its leaves add up (:class:`numbers.MerchantState` as
    JSON), folded in by the appender in the same transaction as each leaf: what the badge
    and the score are checked against before they are signed or served."""

    __tablename__ = "log_replay_states"

    merchant_slug: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_index: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(Text)


class NumbersAlert(Model):
    """A disagreement between a merchant's stored numbers and the log's replay: the badge
    and the score are refused while it lasts, and staff are told once per problem."""

    __tablename__ = "log_numbers_alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_slug: Mapped[str] = mapped_column(String(64), index=True)
    problem: Mapped[str] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    times: Mapped[int] = mapped_column(default=1)


class Cosignature(Model):
    """A witness's cosignature (c2sp.org/tlog-cosignature) of the checkpoint of
    ``tree_size``: its note signature line, verified against the witness's key before it
    was stored. The checkpoint it signs is recomputed from the stored nodes when served."""

    __tablename__ = "log_cosignatures"
    __table_args__ = (UniqueConstraint("tree_size", "witness", "key_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, index=True)
    witness: Mapped[str] = mapped_column(String(255))
    key_id: Mapped[int] = mapped_column(BigInteger)
    line: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
