"""Workspaces: rows carry their Slack team and Enterprise Grid org; Slack's installation tables.

Revision ID: 0002
Revises: 0001

- `retrain_jobs.enterprise_id`, `retrain_autoretrains.enterprise_id` (both had `team_id`);
  `retrain_jobs_team_created`, so a team's newest jobs are found by an index.
- `retrain_audit.team_id` and `.enterprise_id`. The columns are added in place on both
  backends, so the table keeps its append-only trigger; it is asserted again all the same
  (the downgrade copies the table on SQLite, which drops its triggers).
- `retrain_user_prefs.team_id`, part of the primary key: a choice per person and team. Rows of
  before get '' (`NO_TEAM`), a choice that applies in every team without one of its own. SQLite
  cannot change a primary key in place: the table is copied (batch mode).
- `slack_installations` and `slack_bots`: slack_sdk's `SQLAlchemyInstallationStore` tables as
  its 3.x releases declare them, frozen here like the baseline.

Rows already stored keep their values; the new columns are NULL (no team known: see
`bot.core.workspaces`).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from bot.store.migrations.baseline import APPEND_ONLY

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

_PREFS = "retrain_user_prefs"
_PREFS_KEY = "retrain_user_prefs_pkey"
_NO_TEAM = ""


def upgrade() -> None:
    op.add_column("retrain_jobs", sa.Column("enterprise_id", sa.String(32)))
    op.create_index("retrain_jobs_team_created", "retrain_jobs", ["team_id", "created_at"])
    op.add_column("retrain_autoretrains", sa.Column("enterprise_id", sa.String(32)))
    op.add_column("retrain_audit", sa.Column("team_id", sa.String(32)))
    op.add_column("retrain_audit", sa.Column("enterprise_id", sa.String(32)))
    _append_only()
    # `copy_from` names SQLite's primary key, which SQLite itself leaves unnamed; PostgreSQL
    # named it so (`<table>_pkey`) and changes it in place.
    with op.batch_alter_table(_PREFS, copy_from=_prefs_of(per_team=False)) as batch:
        batch.add_column(
            sa.Column("team_id", sa.String(32), nullable=False, server_default=_NO_TEAM)
        )
        batch.drop_constraint(_PREFS_KEY, type_="primary")
        batch.create_primary_key(_PREFS_KEY, ["user_id", "team_id"])
    _create_installation_tables()


def downgrade() -> None:
    op.drop_table("slack_bots")
    op.drop_table("slack_installations")
    _one_choice_per_person()
    with op.batch_alter_table(_PREFS, copy_from=_prefs_of(per_team=True)) as batch:
        batch.drop_constraint(_PREFS_KEY, type_="primary")
        batch.drop_column("team_id")
        batch.create_primary_key(_PREFS_KEY, ["user_id"])
    with op.batch_alter_table("retrain_audit") as batch:
        batch.drop_column("enterprise_id")
        batch.drop_column("team_id")
    _append_only()  # SQLite copied the table, and a copy has no triggers
    with op.batch_alter_table("retrain_autoretrains") as batch:
        batch.drop_column("enterprise_id")
    op.drop_index("retrain_jobs_team_created", "retrain_jobs")
    with op.batch_alter_table("retrain_jobs") as batch:
        batch.drop_column("enterprise_id")


def _append_only() -> None:
    bind = op.get_bind()
    for statement in APPEND_ONLY.get(bind.dialect.name, []):
        op.execute(sa.text(statement))


def _prefs_of(*, per_team: bool) -> sa.Table:
    """The prefs table before the change (0001's, or this revision's for the downgrade)."""
    key = ["user_id", "team_id"] if per_team else ["user_id"]
    team = [sa.Column("team_id", sa.String(32), nullable=False, server_default=_NO_TEAM)]
    return sa.Table(
        _PREFS,
        sa.MetaData(),
        sa.Column("user_id", sa.String(32), nullable=False),
        *(team if per_team else []),
        sa.Column("notify", sa.String(16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(*key, name=_PREFS_KEY),
    )


def _one_choice_per_person() -> None:
    """Before the key is one person again: keep each person's choice of no team, or else the
    latest one they made."""
    prefs = sa.table(_PREFS, sa.column("user_id"), sa.column("team_id"), sa.column("updated_at"))
    bind = op.get_bind()
    kept: dict[str, tuple[bool, Any, str]] = {}
    rows = bind.execute(sa.select(prefs.c.user_id, prefs.c.team_id, prefs.c.updated_at))
    for user, team, at in rows:
        rank = (team == _NO_TEAM, at, team)
        if user not in kept or rank > kept[user]:
            kept[user] = rank
    for user, (_, _, team) in kept.items():
        bind.execute(prefs.delete().where(prefs.c.user_id == user, prefs.c.team_id != team))


def _create_installation_tables() -> None:
    op.create_table(
        "slack_installations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("app_id", sa.String(32), nullable=False),
        sa.Column("enterprise_id", sa.String(32)),
        sa.Column("enterprise_name", sa.String(200)),
        sa.Column("enterprise_url", sa.String(200)),
        sa.Column("team_id", sa.String(32)),
        sa.Column("team_name", sa.String(200)),
        sa.Column("bot_token", sa.String(200)),
        sa.Column("bot_id", sa.String(32)),
        sa.Column("bot_user_id", sa.String(32)),
        sa.Column("bot_scopes", sa.String(1000)),
        sa.Column("bot_refresh_token", sa.String(200)),
        sa.Column("bot_token_expires_at", sa.DateTime),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("user_token", sa.String(200)),
        sa.Column("user_scopes", sa.String(1000)),
        sa.Column("user_refresh_token", sa.String(200)),
        sa.Column("user_token_expires_at", sa.DateTime),
        sa.Column("incoming_webhook_url", sa.String(200)),
        sa.Column("incoming_webhook_channel", sa.String(200)),
        sa.Column("incoming_webhook_channel_id", sa.String(200)),
        sa.Column("incoming_webhook_configuration_url", sa.String(200)),
        sa.Column("is_enterprise_install", sa.Boolean, nullable=False),
        sa.Column("token_type", sa.String(32)),
        sa.Column("installed_at", sa.DateTime, nullable=False),
        sa.Index(
            "slack_installations_idx",
            "client_id",
            "enterprise_id",
            "team_id",
            "user_id",
            "installed_at",
        ),
    )
    op.create_table(
        "slack_bots",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("app_id", sa.String(32), nullable=False),
        sa.Column("enterprise_id", sa.String(32)),
        sa.Column("enterprise_name", sa.String(200)),
        sa.Column("team_id", sa.String(32)),
        sa.Column("team_name", sa.String(200)),
        sa.Column("bot_token", sa.String(200)),
        sa.Column("bot_id", sa.String(32)),
        sa.Column("bot_user_id", sa.String(32)),
        sa.Column("bot_scopes", sa.String(1000)),
        sa.Column("bot_refresh_token", sa.String(200)),
        sa.Column("bot_token_expires_at", sa.DateTime),
        sa.Column("is_enterprise_install", sa.Boolean, nullable=False),
        sa.Column("installed_at", sa.DateTime, nullable=False),
        sa.Index("slack_bots_idx", "client_id", "enterprise_id", "team_id", "installed_at"),
    )
