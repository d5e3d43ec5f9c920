"""jobs and data keys: forget finished consumer-copy jobs that kept a follow-up code

Revision ID: 0012_jobs_and_data_keys
Revises: 0011_numbers_from_the_log
Create Date: 2026-12-03 09:00:00

Before copies of book entries were queued in the (encrypted) outbox at filing time, a
``book.consumer_copy`` job carried the entry's follow-up code in its payload. 0008 meant to
delete the finished ones but named them ``book.copy``, so they stayed until pruned. Queued
or running ones are kept: their handler still sends the consumer's copy, and the prune
deletes them after ``TRUSTSEAL_JOB_RETENTION_DAYS``.

Data keys need no schema: ``TRUSTSEAL_DATA_KEY`` lists them and ``trustseal keys
rotate-data`` seals the stored secrets again with the newest.
"""
from alembic import op


revision = '0012_jobs_and_data_keys'
down_revision = '0011_numbers_from_the_log'
branch_labels = None
depends_on = None


def upgrade():
    op.execute(
        "DELETE FROM jobs WHERE kind = 'book.consumer_copy' AND status IN ('done', 'failed')"
    )


def downgrade():
    pass  # the deleted jobs were finished: nothing to bring back
