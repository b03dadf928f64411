"""Baseline: the jobs, the append-only audit trail, people's choices, schedules and triggers.

Revision ID: 0001
Revises: none
"""

from __future__ import annotations

from alembic import op

from bot.store.migrations import baseline

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    baseline.create(op.get_bind())


def downgrade() -> None:
    baseline.drop(op.get_bind())
