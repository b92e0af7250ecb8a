"""Alembic environment: runs against the event store's database (SQLite or PostgreSQL)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

url = context.config.get_main_option("sqlalchemy.url")
engine = create_engine(url)
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=None, version_table="chronicle_schema_version")
    context.run_migrations()
