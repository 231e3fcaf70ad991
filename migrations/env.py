"""Alembic environment for the archive.

Run programmatically by `archiver migrate` (which passes its own connection) or by
the `alembic` command in a checkout. No `fileConfig()`: it would disable every logger
the archiver has already set up.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection

from archiver.db.engine import create_archive_engine
from archiver.db.models import Base
from archiver.db.types import UTCDateTime

target_metadata = Base.metadata


def _database_url() -> str:
    url = os.environ.get("ARCHIVER_DATABASE_URL") or context.get_x_argument(as_dictionary=True).get("url")
    if url:
        return url
    from archiver.config import load_config

    return load_config().database_url


def _render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    """Freeze our column types into plain SQLAlchemy ones, so old revisions never import
    code that may change later."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        compare_server_default=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_archive_engine(_database_url())
    with engine.connect() as connection:
        _run(connection)
        connection.commit()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
run_migrations_online()
