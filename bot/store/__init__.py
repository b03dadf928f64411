"""The database: jobs being followed, the audit trail and people's choices, on SQLite or
PostgreSQL.

schema.py    the tables, their indexes and the append-only trigger
database.py  the URL, the engine, creating and migrating the schema at start-up
jobs.py      `JobStore` (the protocol) and `SqlJobStore`: jobs and their leases
rows.py      a job as a table row and back
inserts.py   new jobs inserted together (group commit); `DuplicateJob`
turns.py     whose turn it is on SQLite's one connection
batches.py   group commit: what arrives during a write goes in the next one
audit.py     `AuditLog`: the append-only trail and its export
autoretrains.py  schedules and feedback triggers, and the claim that fires each once
prefs.py     `Preferences`: people's choices (`/retrain notify dm|off`)
"""
