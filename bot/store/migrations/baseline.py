"""The schema of the first migrated release, frozen: revision 0001 creates it, and a database
made before migrations existed is brought to it (`adopt`) before being stamped at 0001.

Never edit this file to change the schema: write a new revision in `versions/`. It imports
nothing from the live schema, so later edits of `bot.store.schema` cannot change what 0001 did.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["ADDED_COLUMNS", "APPEND_ONLY", "adopt", "create", "drop"]

baseline = sa.MetaData()

jobs = sa.Table(
    "retrain_jobs",
    baseline,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("model_id", sa.String(64), nullable=False, index=True),
    sa.Column("options", sa.Text, nullable=False),
    sa.Column("requester", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("origin_channel", sa.String(32), nullable=False),
    sa.Column("team_id", sa.String(32)),
    sa.Column("response_url", sa.Text),
    sa.Column("status", sa.String(32), nullable=False, index=True),
    sa.Column("progress", sa.Float, nullable=False),
    sa.Column("queue_position", sa.Integer),
    sa.Column("epochs", sa.Integer),
    sa.Column("epochs_done", sa.Integer),
    sa.Column("failure_msg", sa.Text),
    sa.Column("parent_ts", sa.String(32)),
    sa.Column("reported", sa.Text, nullable=False),
    sa.Column("reached", sa.Text),
    sa.Column("first_queue_position", sa.Integer),
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
    sa.Column("condition_seq", sa.Integer, nullable=False),
    sa.Column("baseline", sa.Text),
    sa.Column("approver", sa.String(32)),
    sa.Column("decision_note", sa.Text),
    sa.Column("approval_expires_at", sa.DateTime(timezone=True)),
    sa.Column("private_channels", sa.Text),
    sa.Column("started_by", sa.String(16)),
    sa.Column("refusals", sa.Integer),
    sa.Column("lease_owner", sa.String(128)),
    sa.Column("lease_expires", sa.DateTime(timezone=True)),
)

# The statuses of a followed training when 0001 was written.
_ACTIVE = ["AWAITING_APPROVAL", "QUEUED", "RUNNING", "SUBMITTING"]
sa.Index(
    "retrain_jobs_one_active_per_model",
    jobs.c.model_id,
    unique=True,
    sqlite_where=jobs.c.status.in_(_ACTIVE),
    postgresql_where=jobs.c.status.in_(_ACTIVE),
)
sa.Index("retrain_jobs_lease", jobs.c.lease_expires)
sa.Index("retrain_jobs_pending", jobs.c.pending)
sa.Index("retrain_jobs_created", jobs.c.created_at)
sa.Index("retrain_jobs_model_created", jobs.c.model_id, jobs.c.created_at)
sa.Index("retrain_jobs_requester_created", jobs.c.requester, jobs.c.created_at)

# Columns that releases before migrations added in place, at start-up, to an older table.
ADDED_COLUMNS = (
    "reached",
    "first_queue_position",
    "pending",
    "private_channels",
    "started_by",
    "refusals",
)

sa.Table(
    "retrain_audit",
    baseline,
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
)

sa.Table(
    "retrain_user_prefs",
    baseline,
    sa.Column("user_id", sa.String(32), primary_key=True),
    sa.Column("notify", sa.String(16), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

sa.Table(
    "retrain_autoretrains",
    baseline,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("model_id", sa.String(64), nullable=False, index=True),
    sa.Column("options", sa.Text, nullable=False),
    sa.Column("creator", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("team_id", sa.String(32)),
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

# The database itself keeps the audit trail append-only, whatever code talks to it. Each
# statement may run again on a database that has the trigger already.
APPEND_ONLY = {
    "sqlite": [
        "CREATE TRIGGER IF NOT EXISTS retrain_audit_no_update BEFORE UPDATE ON retrain_audit "
        "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
        "CREATE TRIGGER IF NOT EXISTS retrain_audit_no_delete BEFORE DELETE ON retrain_audit "
        "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION retrain_audit_append_only() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$ LANGUAGE plpgsql",
        "DROP TRIGGER IF EXISTS retrain_audit_append_only ON retrain_audit",
        "CREATE TRIGGER retrain_audit_append_only BEFORE UPDATE OR DELETE ON retrain_audit "
        "FOR EACH ROW EXECUTE FUNCTION retrain_audit_append_only()",
    ],
}

DROP_APPEND_ONLY = {
    "sqlite": [
        "DROP TRIGGER IF EXISTS retrain_audit_no_update",
        "DROP TRIGGER IF EXISTS retrain_audit_no_delete",
    ],
    "postgresql": [
        "DROP TRIGGER IF EXISTS retrain_audit_append_only ON retrain_audit",
        "DROP FUNCTION IF EXISTS retrain_audit_append_only()",
    ],
}


def create(connection: sa.Connection) -> None:
    """Revision 0001 on an empty database: every table, index and the audit trigger."""
    baseline.create_all(connection, checkfirst=False)
    _guard(connection)


def drop(connection: sa.Connection) -> None:
    """Revision 0001 undone: an empty database again."""
    for statement in DROP_APPEND_ONLY.get(connection.dialect.name, []):
        connection.execute(sa.text(statement))
    baseline.drop_all(connection, checkfirst=False)


def adopt(connection: sa.Connection) -> None:
    """Bring a database made before migrations existed to 0001, keeping every row.

    Such a database was made by `create_all` at start-up and may predate some tables, some
    jobs columns (`ADDED_COLUMNS`, all nullable) or some indexes: create what is missing.
    """
    baseline.create_all(connection, checkfirst=True)  # missing tables, with their indexes
    inspector = sa.inspect(connection)
    present = {col["name"] for col in inspector.get_columns(jobs.name)}
    preparer = connection.dialect.identifier_preparer
    for name in ADDED_COLUMNS:
        if name not in present:
            kind = jobs.c[name].type.compile(dialect=connection.dialect)
            connection.execute(
                sa.text(
                    f"ALTER TABLE {preparer.quote(jobs.name)} "
                    f"ADD COLUMN {preparer.quote(name)} {kind}"
                )
            )
    for table in baseline.sorted_tables:
        for index in table.indexes:
            index.create(connection, checkfirst=True)
    _guard(connection)


def _guard(connection: sa.Connection) -> None:
    for statement in APPEND_ONLY.get(connection.dialect.name, []):
        connection.execute(sa.text(statement))
