"""The database schema: the jobs being followed, the audit trail and people's choices.

What the code reads and writes. The database gets it from the migrations in
`bot.store.migrations` (run at start-up and by `python -m bot migrate`; see
`bot.store.migrate`), which also create what this file cannot say: the trigger that keeps the
audit trail append-only. A change here needs a new revision there; the tests compare the two.

Rows carry the Slack team (and Enterprise Grid org) they belong to; a row without a team was
made before the bot served several workspaces and counts as every team's
(`bot.core.workspaces`). The tables of Slack's OAuth installations are slack_sdk's own
(`AsyncSQLAlchemyInstallationStore`), declared here so the migrations make them too.
"""

from __future__ import annotations

import sqlalchemy as sa
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore

from bot.core.jobs import ACTIVE_STATUSES

__all__ = [
    "ACTIVE",
    "BOTS_TABLE",
    "INSTALLATIONS_TABLE",
    "NO_TEAM",
    "SCHEMA_LOCK",
    "audit_table",
    "autoretrains_table",
    "bots_table",
    "installations_table",
    "jobs_table",
    "metadata",
    "prefs_table",
]

metadata = sa.MetaData()

jobs_table = sa.Table(
    "retrain_jobs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("model_id", sa.String(64), nullable=False),
    sa.Column("options", sa.Text, nullable=False),
    sa.Column("requester", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("origin_channel", sa.String(32), nullable=False),
    sa.Column("team_id", sa.String(32)),
    sa.Column("enterprise_id", sa.String(32)),
    sa.Column("response_url", sa.Text),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("progress", sa.Float, nullable=False, default=0.0),
    sa.Column("queue_position", sa.Integer),
    sa.Column("epochs", sa.Integer),
    sa.Column("epochs_done", sa.Integer),
    sa.Column("failure_msg", sa.Text),
    sa.Column("parent_ts", sa.String(32)),
    sa.Column("reported", sa.Text, nullable=False, default=""),
    # Milestones Einstein was seen in (each owed a reply), fenced with commas like `reported`.
    sa.Column("reached", sa.Text),
    sa.Column("first_queue_position", sa.Integer),
    # `bot.core.owed.pending(job)`, written with every save: whether the job still needs a
    # process. Claims and resumes select on it, so SQL never re-states what is owed.
    sa.Column("pending", sa.Boolean),
    sa.Column("result", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("running_since", sa.DateTime(timezone=True)),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("updated_at", sa.DateTime(timezone=True)),
    sa.Column("last_contact_at", sa.DateTime(timezone=True)),
    sa.Column("last_progress_at", sa.DateTime(timezone=True)),
    sa.Column("last_error", sa.Text),
    sa.Column("condition", sa.String(32)),
    sa.Column("condition_seq", sa.Integer, nullable=False, default=0),
    sa.Column("baseline", sa.Text),
    sa.Column("approver", sa.String(32)),
    sa.Column("decision_note", sa.Text),
    sa.Column("approval_expires_at", sa.DateTime(timezone=True)),
    # The job's private channels fenced with commas (",," for none); NULL while unknown.
    sa.Column("private_channels", sa.Text),
    sa.Column("started_by", sa.String(16)),
    # Posts Slack refused for good in `channel`; at `machine.MOVE_AFTER` the thread moves.
    sa.Column("refusals", sa.Integer),
    # The lease: which process follows the job, until when. A process that dies stops
    # renewing, and another one takes the job over once the lease has expired.
    sa.Column("lease_owner", sa.String(128)),
    sa.Column("lease_expires", sa.DateTime(timezone=True)),
)

ACTIVE = sorted(ACTIVE_STATUSES)
# One followed training per model, enforced by the database so that two instances (or a
# command delivered twice) cannot both start one.
sa.Index(
    "retrain_jobs_one_active_per_model",
    jobs_table.c.model_id,
    unique=True,
    sqlite_where=jobs_table.c.status.in_(ACTIVE),
    postgresql_where=jobs_table.c.status.in_(ACTIVE),
)
# The unfinished jobs, claimed by whichever instance has room (their leases are read from the
# few rows this finds, so `lease_expires` needs no index of its own).
sa.Index("retrain_jobs_pending", jobs_table.c.pending)
# The read commands and the Home tab: the newest jobs of everybody, of one model, of one
# person, of one team, each found by an index however many jobs the table holds.
sa.Index("retrain_jobs_created", jobs_table.c.created_at)
sa.Index("retrain_jobs_team_created", jobs_table.c.team_id, jobs_table.c.created_at)
sa.Index("retrain_jobs_model_created", jobs_table.c.model_id, jobs_table.c.created_at)
sa.Index("retrain_jobs_requester_created", jobs_table.c.requester, jobs_table.c.created_at)

# Any fixed number: every instance takes the same PostgreSQL advisory lock around migrations.
SCHEMA_LOCK = 0x7265747261696E


audit_table = sa.Table(
    "retrain_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(32)),
    sa.Column("channel", sa.String(32)),
    sa.Column("model_id", sa.String(64), index=True),
    sa.Column("job_id", sa.String(64)),
    sa.Column("options", sa.Text),
    sa.Column("outcome", sa.Text),
    sa.Column("detail", sa.Text),
    sa.Column("team_id", sa.String(32)),
    sa.Column("enterprise_id", sa.String(32)),
)

# A notify choice made before choices were kept per team: it applies in every team where the
# person made no choice of its own. ('' rather than NULL: a primary key column has a value.)
NO_TEAM = ""

# Each person's choices (`/retrain notify dm|off`) in each team; a person without a row of
# that team or of `NO_TEAM` chose nothing.
prefs_table = sa.Table(
    "retrain_user_prefs",
    metadata,
    sa.Column("user_id", sa.String(32), primary_key=True),
    sa.Column("team_id", sa.String(32), primary_key=True, server_default=NO_TEAM),
    sa.Column("notify", sa.String(16), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# Schedules and feedback triggers (`bot.core.autoretrain`). A fire is claimed by moving
# `next_run` (schedules) or `baseline` (triggers) on from the value the claimer read, and
# `pending` holds the claimed fire's key until its job exists.
autoretrains_table = sa.Table(
    "retrain_autoretrains",
    metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("model_id", sa.String(64), nullable=False, index=True),
    sa.Column("options", sa.Text, nullable=False),
    sa.Column("creator", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("team_id", sa.String(32)),
    sa.Column("enterprise_id", sa.String(32)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("cron", sa.String(128)),
    sa.Column("tz", sa.String(64)),
    sa.Column("next_run", sa.DateTime(timezone=True), index=True),
    sa.Column("threshold", sa.Integer),
    sa.Column("baseline", sa.Integer),
    sa.Column("fired_at", sa.DateTime(timezone=True)),
    sa.Column("last_job_id", sa.String(64)),
    sa.Column("pending", sa.String(64)),
    sa.Column("claimed_at", sa.DateTime(timezone=True)),
    sa.Column("refusal", sa.Text),
)

# Slack's OAuth installations and their bot tokens, one row per install (and re-install), as
# slack_sdk's installation store reads and writes them; the wiring passes it the same names.
INSTALLATIONS_TABLE = "slack_installations"
BOTS_TABLE = "slack_bots"
installations_table = SQLAlchemyInstallationStore.build_installations_table(
    metadata, INSTALLATIONS_TABLE
)
bots_table = SQLAlchemyInstallationStore.build_bots_table(metadata, BOTS_TABLE)
