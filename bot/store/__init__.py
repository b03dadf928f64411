"""The database: jobs being followed, the audit trail and people's choices, on SQLite or
PostgreSQL.

schema.py    the tables and their indexes, as the code reads and writes them (slack_sdk's
             OAuth installation tables among them)
migrations/  the schema's Alembic revisions (the DDL, the append-only trigger included)
migrate.py   running them (start-up, `python -m bot migrate`) and `schema_status`
database.py  the URL and the engine
jobs.py      `JobStore` (the protocol) and `SqlJobStore`: jobs and their leases
reads.py     `JobReads`: the store's reads, and the team they take
rows.py      a job as a table row and back
inserts.py   new jobs inserted together (group commit); `DuplicateJob`
turns.py     whose turn it is on SQLite's one connection
batches.py   group commit: what arrives during a write goes in the next one
audit.py     `AuditLog`: the append-only trail and its export
autoretrains.py  schedules and feedback triggers, and the claim that fires each once
prefs.py     `Preferences`: people's choices (`/retrain notify dm|off`), per workspace
"""
