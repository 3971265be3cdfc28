"""Alembic environment of the riskops history: migrations run on the connection `ml.monitor.history` passes.

Its own version table, so the history can share a database with MLflow or Airflow (both use Alembic).
"""

from alembic import context

from ml.monitor.history import VERSION_TABLE

context.configure(connection=context.config.attributes["connection"], version_table=VERSION_TABLE,
                  render_as_batch=True)  # SQLite alters tables by copying them
with context.begin_transaction():
    context.run_migrations()
