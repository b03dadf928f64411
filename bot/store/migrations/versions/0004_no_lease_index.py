"""The jobs' lease index goes: no query used it, and every insert and lease renewal kept it.

Revision ID: 0004
Revises: 0003

- `retrain_jobs_lease` indexed `lease_expires`. The one query that reads the column, a claim of
  unleased jobs, asks for `pending AND (lease_owner IS NULL OR lease_expires < now)`: both
  SQLite and PostgreSQL find its rows by `retrain_jobs_pending` (their query plans say so), as
  an OR over an unindexed column cannot use the lease index alone.
- Every new job's insert, inside its command's ack, added an entry; every lease renewal (each
  followed job, every few seconds) moved one, and on PostgreSQL an indexed column changed makes
  the renewal a full row update instead of an in-page (HOT) one.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.drop_index("retrain_jobs_lease", "retrain_jobs")


def downgrade() -> None:
    op.create_index("retrain_jobs_lease", "retrain_jobs", ["lease_expires"])
