"""helpful votes, review search text, reviews listed by publication time

Revision ID: 0014_helpful_votes
Revises: 0013_public_version
Create Date: 2026-12-04 10:00:00

- ``review_helpful_votes``: one row per visitor and review (a keyed hash, unique per
  review), and ``reviews.helpful_count``, kept in the vote's transaction.
- ``reviews.search_text``: title and body folded for search, filled here for existing
  reviews with the very function the service uses (:mod:`trustseal.reviews.search`,
  standard library only); an erased review has none.
- The index of a shop's reviews by time gains ``id``: the default order is publication
  time, ties by id (an imported review is backdated, so ids are not in date order).

Texts already published are not masked here: the log commits to them as they are, and a
review with personal data is removed by staff for that published reason.
"""
from alembic import op
import sqlalchemy as sa

import trustseal.dbtypes
from trustseal.reviews.search import search_text


revision = '0014_helpful_votes'
down_revision = '0013_public_version'
branch_labels = None
depends_on = None


REVIEWS = sa.table(
    "reviews",
    sa.column("id", sa.Integer),
    sa.column("title", sa.String),
    sa.column("body", sa.Text),
    sa.column("erased_at", trustseal.dbtypes.UTCDateTime()),
    sa.column("search_text", sa.Text),
)
BATCH = 1000


def _fill_search_text(bind):
    after = 0
    while True:
        rows = bind.execute(
            sa.select(REVIEWS.c.id, REVIEWS.c.title, REVIEWS.c.body)
            .where(REVIEWS.c.id > after, REVIEWS.c.erased_at.is_(None))
            .order_by(REVIEWS.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        for review_id, title, body in rows:
            folded = search_text(title, body)
            if folded is not None:
                bind.execute(
                    REVIEWS.update().where(REVIEWS.c.id == review_id).values(search_text=folded)
                )
        after = rows[-1][0]


def upgrade():
    op.create_table('review_helpful_votes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('review_id', sa.Integer(), nullable=False),
    sa.Column('voter_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', trustseal.dbtypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['review_id'], ['reviews.id'], name=op.f('fk_review_helpful_votes_review_id_reviews')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_helpful_votes')),
    sa.UniqueConstraint('review_id', 'voter_hash', name=op.f('uq_review_helpful_votes_review_id_voter_hash'))
    )
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.add_column(sa.Column('helpful_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('search_text', sa.Text(), nullable=True))
        batch_op.drop_index('ix_reviews_merchant_created')
        batch_op.create_index('ix_reviews_merchant_created_id', ['merchant_id', 'created_at', 'id'], unique=False)
    _fill_search_text(op.get_bind())


def downgrade():
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.drop_index('ix_reviews_merchant_created_id')
        batch_op.create_index('ix_reviews_merchant_created', ['merchant_id', 'created_at'], unique=False)
        batch_op.drop_column('search_text')
        batch_op.drop_column('helpful_count')
    op.drop_table('review_helpful_votes')
