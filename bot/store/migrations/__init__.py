"""The schema's history as Alembic revisions; `bot.store.migrate` runs them.

env.py       how Alembic runs here: on the connection `bot.store.migrate` hands it, with no
             alembic.ini (the configuration is built in code)
baseline.py  the schema of revision 0001, frozen; `adopt` brings a database made before
             migrations existed to it
runner.py    Alembic driven from code: the upgrade, and the revisions this code ships
versions/    one file per revision, `NNNN_what.py`, each naming the one before it

To change the schema: edit `bot.store.schema`, then add `versions/NNNN_what.py` whose
`down_revision` is the latest one and whose `upgrade` makes the same change with `op.*`
(on SQLite, alter tables with `op.batch_alter_table`), and set `HEAD` in `bot.store.migrate` to
its revision. `tests/test_migrations.py` fails
until the migrated schema equals `bot.store.schema.metadata` again.
"""
