"""Alembic's entry point: run the revisions on the connection `bot.store.migrate` passes in.

`bot.store.migrate` opens the connection, takes the schema lock and owns the transaction, so
this file neither connects nor commits.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from bot.store.schema import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, sa.Connection):
    raise RuntimeError("run migrations with `python -m bot migrate`, not the alembic command")
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite alters a table by copying it: revisions written against it need batch mode.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
