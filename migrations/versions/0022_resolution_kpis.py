"""the resolution loop and the service KPIs: links, the consumer's word on reviews and book
entries, each review's delivery facts; every merchant's replay state rebuilt

Revision ID: 0022_resolution_kpis
Revises: 0021_redaction_leaf
Create Date: 2026-12-03 14:00:00

Leaves are never rewritten. The replay state now also counts the KPIs (and the book's
leaves, for the first-response times of complaints), so it is computed again from the
whole log with the same pure replay the service and ``trustseal log audit`` use; a review's
delivery facts are read back from its own leaf.
"""
import json

from alembic import op
import sqlalchemy as sa

import trustseal.dbtypes
from trustseal.transparency import numbers


revision = '0022_resolution_kpis'
down_revision = '0021_redaction_leaf'
branch_labels = None
depends_on = None


UTC_TIME = trustseal.dbtypes.UTCDateTime()


def upgrade():
    op.create_table(
        'resolution_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('subject', sa.String(length=10), nullable=False),
        sa.Column('subject_id', sa.Integer(), nullable=False),
        sa.Column('merchant_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', UTC_TIME, nullable=False),
        sa.Column('expires_at', UTC_TIME, nullable=False),
        sa.Column('used_at', UTC_TIME, nullable=True),
        sa.Column('resolved', sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('subject', 'subject_id', name='uq_resolution_subject'),
        sa.UniqueConstraint('token_hash'),
    )
    op.create_index(
        'ix_resolution_requests_merchant_id', 'resolution_requests', ['merchant_id']
    )
    with op.batch_alter_table('reviews') as batch:
        batch.add_column(sa.Column('delivered_on_time', sa.Boolean(), nullable=True))
        batch.add_column(sa.Column('delivery_days', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('consumer_resolved', sa.Boolean(), nullable=True))
        batch.add_column(sa.Column('update_rating', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('update_body', sa.Text(), nullable=True))
        batch.add_column(sa.Column('updated_at', UTC_TIME, nullable=True))
        batch.add_column(sa.Column('update_log_index', sa.Integer(), nullable=True))
    with op.batch_alter_table('book_entries') as batch:
        batch.add_column(sa.Column('consumer_confirmation', sa.String(length=12), nullable=True))
        batch.add_column(sa.Column('confirmed_at', UTC_TIME, nullable=True))
        batch.add_column(sa.Column('confirmation_comment', sa.Text(), nullable=True))
        batch.add_column(sa.Column('confirmation_log_index', sa.Integer(), nullable=True))
    bind = op.get_bind()
    _delivery_facts(bind)
    _replay_states(bind)


def _delivery_facts(bind):
    """Each review's delivery facts, as its own leaf gives them."""
    entries = sa.table(
        "log_entries", sa.column("index", sa.BigInteger), sa.column("leaf", sa.Text)
    )
    reviews = sa.table(
        "reviews",
        sa.column("id", sa.Integer),
        sa.column("log_index", sa.Integer),
        sa.column("delivered_on_time", sa.Boolean),
        sa.column("delivery_days", sa.Integer),
    )
    rows = bind.execute(
        sa.select(reviews.c.id, entries.c.leaf).join(
            entries, entries.c["index"] == reviews.c.log_index
        )
    ).all()
    for review_id, leaf in rows:
        on_time, days = numbers.delivery_facts(json.loads(leaf))
        if on_time is not None or days is not None:
            bind.execute(
                reviews.update()
                .where(reviews.c.id == review_id)
                .values(delivered_on_time=on_time, delivery_days=days)
            )


def _replay_states(bind):
    """Every merchant's replay state, from the whole log."""
    entries = sa.table(
        "log_entries",
        sa.column("index", sa.BigInteger),
        sa.column("event_type", sa.String),
        sa.column("merchant_slug", sa.String),
        sa.column("leaf", sa.Text),
    )
    replay = numbers.Replay()
    result = bind.execute(
        sa.select(entries.c["index"], entries.c.leaf)
        .where(
            entries.c.merchant_slug.is_not(None),
            entries.c.event_type.in_(sorted(numbers.NUMBER_TYPES)),
        )
        .order_by(entries.c["index"])
    )
    for index, leaf in result:
        replay.feed(index, json.loads(leaf))  # a contradiction is for `log verify` to name
    states = sa.table(
        "log_replay_states",
        sa.column("merchant_slug", sa.String),
        sa.column("last_index", sa.BigInteger),
        sa.column("state", sa.Text),
    )
    bind.execute(states.delete())
    rows = [
        {"merchant_slug": slug, "last_index": state.last_index, "state": state.to_json()}
        for slug, state in replay.states.items()
    ]
    if rows:
        op.bulk_insert(states, rows)


def downgrade():
    # The earlier replay state has no KPI counts (the book leaves it then skipped leave
    # only ``last_index`` ahead, which names a later head: still one that includes all).
    states = sa.table(
        "log_replay_states", sa.column("merchant_slug", sa.String), sa.column("state", sa.Text)
    )
    bind = op.get_bind()
    for slug, text in bind.execute(sa.select(states.c.merchant_slug, states.c.state)).all():
        data = json.loads(text)
        data.pop("kpi", None)
        bind.execute(
            states.update()
            .where(states.c.merchant_slug == slug)
            .values(state=json.dumps(data, sort_keys=True, separators=(",", ":")))
        )
    with op.batch_alter_table('book_entries') as batch:
        batch.drop_column('confirmation_log_index')
        batch.drop_column('confirmation_comment')
        batch.drop_column('confirmed_at')
        batch.drop_column('consumer_confirmation')
    with op.batch_alter_table('reviews') as batch:
        for name in (
            'update_log_index',
            'updated_at',
            'update_body',
            'update_rating',
            'consumer_resolved',
            'delivery_days',
            'delivered_on_time',
        ):
            batch.drop_column(name)
    op.drop_index('ix_resolution_requests_merchant_id', table_name='resolution_requests')
    op.drop_table('resolution_requests')
