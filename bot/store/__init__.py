"""The database: jobs being followed and the audit trail, on SQLite or PostgreSQL.

schema.py  both tables, their indexes and the append-only trigger
jobs.py    `JobStore` (the protocol) and `SqlJobStore`: jobs and their leases
audit.py   `AuditLog`: the append-only trail and its export
"""
