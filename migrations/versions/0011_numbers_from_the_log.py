"""numbers from the log: each merchant's replay state, alerts; log what old leaves lack

Revision ID: 0011_numbers_from_the_log
Revises: 0010_seal_criteria
Create Date: 2026-12-02 16:30:00

Leaves are never rewritten. What the public numbers need and the log lacks is appended:
a seal still pending on an application made before applications were logged gets its
``seal.applied`` leaf (dated, in ``time``, when the shop applied). Then every merchant's
replay state is computed from the whole log, with the same pure replay the service and
``trustseal log audit`` use (:mod:`trustseal.transparency.numbers`, standard library only).
"""
from datetime import UTC, datetime
import json

from alembic import op
import sqlalchemy as sa

import trustseal.dbtypes
from trustseal.transparency import merkle, numbers


revision = '0011_numbers_from_the_log'
down_revision = '0010_seal_criteria'
branch_labels = None
depends_on = None


UTC_TIME = trustseal.dbtypes.UTCDateTime()
ENTRIES = sa.table(
    "log_entries",
    sa.column("index", sa.BigInteger),
    sa.column("event_type", sa.String),
    sa.column("merchant_slug", sa.String),
    sa.column("leaf", sa.Text),
    sa.column("leaf_hash", sa.LargeBinary),
    sa.column("created_at", UTC_TIME),
)
NODES = sa.table(
    "log_nodes",
    sa.column("level", sa.SmallInteger),
    sa.column("index", sa.BigInteger),
    sa.column("hash", sa.LargeBinary),
)
DECISIONS = sa.table(
    "seal_decisions",
    sa.column("id", sa.Integer),
    sa.column("merchant_id", sa.Integer),
    sa.column("action", sa.String),
    sa.column("reason", sa.Text),
    sa.column("log_index", sa.BigInteger),
    sa.column("created_at", UTC_TIME),
)


def _rfc3339(value):
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def _append(bind, events):
    """Append leaves at the end of the log (RFC 9162 nodes as the service stores them)."""
    size = bind.execute(sa.text("SELECT size FROM log_state WHERE id = 1")).scalar() or 0
    last = bind.execute(
        sa.select(ENTRIES.c.created_at).where(ENTRIES.c["index"] == size - 1)
    ).scalar()
    now = datetime.now(UTC).replace(microsecond=0)
    if last is not None:  # logged_at never goes back
        now = max(now, last.replace(microsecond=0))
    indices = []

    def node(level, index):
        return bytes(
            bind.execute(
                sa.select(NODES.c.hash).where(NODES.c.level == level, NODES.c["index"] == index)
            ).scalar_one()
        )

    for event in events:
        leaf = merkle.canonical_json(
            {"v": 1, "logged_at": _rfc3339(now), **event}
        )
        leaf_hash = merkle.leaf_hash(leaf)
        for level, index, value in merkle.nodes_after_append(size, leaf_hash, node):
            bind.execute(NODES.insert().values(level=level, index=index, hash=value))
        bind.execute(
            ENTRIES.insert().values(
                index=size,
                event_type=event["type"],
                merchant_slug=event["merchant"],
                leaf=leaf.decode(),
                leaf_hash=leaf_hash,
                created_at=now,
            )
        )
        indices.append(size)
        size += 1
    bind.execute(sa.text("UPDATE log_state SET size = :s WHERE id = 1"), {"s": size})
    return indices


def _log_pending_applications(bind):
    """A ``seal.applied`` leaf for each seal pending on an unlogged application."""
    seals = sa.table("seals", sa.column("merchant_id", sa.Integer), sa.column("status", sa.String))
    merchants = sa.table("merchants", sa.column("id", sa.Integer), sa.column("slug", sa.String))
    earlier = DECISIONS.alias("earlier")
    latest = (
        sa.select(sa.func.max(earlier.c.id))
        .where(earlier.c.merchant_id == seals.c.merchant_id)
        .correlate(seals)
        .scalar_subquery()
    )
    rows = bind.execute(
        sa.select(DECISIONS.c.id, DECISIONS.c.reason, DECISIONS.c.created_at, merchants.c.slug)
        .select_from(seals)
        .join(merchants, merchants.c.id == seals.c.merchant_id)
        .join(DECISIONS, DECISIONS.c.id == latest)
        .where(
            seals.c.status == "pending",
            DECISIONS.c.action == "apply",
            DECISIONS.c.log_index.is_(None),
        )
        .order_by(DECISIONS.c.id)
    ).all()
    if not rows:
        return
    if bind.execute(sa.text("SELECT count(*) FROM log_state")).scalar() == 0:
        bind.execute(sa.text("INSERT INTO log_state (id, size) VALUES (1, 0)"))
    events = []
    for _, reason, created_at, slug in rows:
        events.append(
            {
                "type": "seal.applied",
                "merchant": slug,
                "time": _rfc3339(created_at),
                "status": "pending",
                "reason": reason,
                "valid_until": None,
            }
        )
    for (decision_id, *_), index in zip(rows, _append(bind, events)):
        bind.execute(
            DECISIONS.update().where(DECISIONS.c.id == decision_id).values(log_index=index)
        )


def _whole_second_validity(bind):
    """A seal's validity to the second, as its leaf says it: the replay and the database
    then read it expired at the same moment."""
    seals = sa.table(
        "seals", sa.column("merchant_id", sa.Integer), sa.column("valid_until", UTC_TIME)
    )
    rows = bind.execute(
        sa.select(seals.c.merchant_id, seals.c.valid_until).where(
            seals.c.valid_until.is_not(None)
        )
    ).all()
    for merchant_id, valid_until in rows:
        if valid_until.microsecond:
            bind.execute(
                seals.update()
                .where(seals.c.merchant_id == merchant_id)
                .values(valid_until=valid_until.replace(microsecond=0))
            )


def _replay_states(bind):
    """Every merchant's replay state, from the whole log."""
    replay = numbers.Replay()
    result = bind.execute(
        sa.select(ENTRIES.c["index"], ENTRIES.c.leaf)
        .where(
            ENTRIES.c.merchant_slug.is_not(None),
            ENTRIES.c.event_type.in_(sorted(numbers.NUMBER_TYPES)),
        )
        .order_by(ENTRIES.c["index"])
    )
    for index, leaf in result:
        replay.feed(index, json.loads(leaf))  # a contradiction is for `log verify` to name
    states = sa.table(
        "log_replay_states",
        sa.column("merchant_slug", sa.String),
        sa.column("last_index", sa.BigInteger),
        sa.column("state", sa.Text),
    )
    rows = [
        {"merchant_slug": slug, "last_index": state.last_index, "state": state.to_json()}
        for slug, state in replay.states.items()
    ]
    if rows:
        op.bulk_insert(states, rows)
    _running_sums_from(bind, replay.states)


def _running_sums_from(bind, states):
    """Set each merchant's running sums to its replay: sums built before reviews were
    counted at their leaf's whole second differ from it in the last bits of the decay
    and, for an answer given within a second of a whole hour, by a histogram bucket."""
    merchants = dict(bind.execute(sa.text("SELECT slug, id FROM merchants")).all())
    sums_columns = [f.name for f in numbers.ReviewSums.__dataclass_fields__.values()]
    aggregates = sa.table(
        "review_aggregates",
        sa.column("merchant_id", sa.Integer),
        *[sa.column(name) for name in sums_columns],
    )
    months = sa.table(
        "review_months",
        sa.column("merchant_id", sa.Integer),
        sa.column("month", sa.String),
        sa.column("count", sa.Integer),
        sa.column("rating_sum", sa.Integer),
    )
    buckets = sa.table(
        "review_response_times",
        sa.column("merchant_id", sa.Integer),
        sa.column("bucket", sa.Integer),
        sa.column("count", sa.Integer),
    )
    for slug, state in states.items():
        merchant_id = merchants.get(slug)
        if merchant_id is None or not (state.sums.published or state.sums.removed):
            continue
        values = {name: getattr(state.sums, name) for name in sums_columns}
        for table in (aggregates, months, buckets):
            bind.execute(table.delete().where(table.c.merchant_id == merchant_id))
        bind.execute(aggregates.insert().values(merchant_id=merchant_id, **values))
        if state.months:
            bind.execute(
                months.insert(),
                [
                    {"merchant_id": merchant_id, "month": m, "count": c, "rating_sum": r}
                    for m, (c, r) in state.months.items()
                ],
            )
        if state.buckets:
            bind.execute(
                buckets.insert(),
                [
                    {"merchant_id": merchant_id, "bucket": b, "count": n}
                    for b, n in state.buckets.items()
                ],
            )


def upgrade():
    op.create_table('log_replay_states',
    sa.Column('merchant_slug', sa.String(length=64), nullable=False),
    sa.Column('last_index', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('merchant_slug', name=op.f('pk_log_replay_states'))
    )
    op.create_table('log_numbers_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('merchant_slug', sa.String(length=64), nullable=False),
    sa.Column('problem', sa.Text(), nullable=False),
    sa.Column('first_seen_at', trustseal.dbtypes.UTCDateTime(), nullable=False),
    sa.Column('last_seen_at', trustseal.dbtypes.UTCDateTime(), nullable=False),
    sa.Column('times', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_log_numbers_alerts'))
    )
    with op.batch_alter_table('log_numbers_alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_log_numbers_alerts_merchant_slug'), ['merchant_slug'], unique=False)

    bind = op.get_bind()
    _whole_second_validity(bind)
    _log_pending_applications(bind)
    _replay_states(bind)


def downgrade():
    with op.batch_alter_table('log_numbers_alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_log_numbers_alerts_merchant_slug'))
    op.drop_table('log_numbers_alerts')
    op.drop_table('log_replay_states')
