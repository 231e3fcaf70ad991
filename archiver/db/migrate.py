"""Alembic, run from the CLI: the same migrations in a checkout and in an installed wheel.

The wheel carries `migrations/` as `archiver/_migrations` (hatch force-include); a
checkout or editable install uses the top-level folder. Postgres migrations hold an
advisory lock so two processes starting at once do not race; SQLite migrations run
with foreign keys off (batch mode rebuilds tables) and check them afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from archiver.errors import DatabaseError

PACKAGE_DIR = Path(__file__).resolve().parent.parent
_ADVISORY_LOCK_KEY = 0x61726368  # "arch": one lock id shared by every archiver process


def migrations_dir() -> Path:
    for candidate in (PACKAGE_DIR / "_migrations", PACKAGE_DIR.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise DatabaseError("the archiver's migrations are missing from this installation; reinstall it")


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def _migration_connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
            try:
                yield connection
                problems = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                connection.commit()
                if problems:
                    raise DatabaseError(f"migration left {len(problems)} broken foreign keys")
            finally:
                connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
        elif engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
            connection.commit()
            try:
                yield connection
            finally:
                connection.rollback()
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _ADVISORY_LOCK_KEY})
                connection.commit()
        else:
            yield connection


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the schema to `revision`; returns (before, after). Safe to repeat."""
    with _migration_connection(engine) as connection:
        before = MigrationContext.configure(connection).get_current_revision()
        command.upgrade(alembic_config(connection), revision)
        connection.commit()
        after = MigrationContext.configure(connection).get_current_revision()
    return before, after


def downgrade(engine: Engine, revision: str) -> None:
    with _migration_connection(engine) as connection:
        command.downgrade(alembic_config(connection), revision)
        connection.commit()


def ensure_schema(engine: Engine) -> None:
    """Create the schema in a fresh database; refuse an outdated or unknown one.

    An archive at an older revision is upgraded only by `archiver migrate`, so a user
    decides when a schema change happens (and can back up first).
    """
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    if current is None:
        if _has_tables(engine):
            raise DatabaseError(
                f"{engine.url.render_as_string(hide_password=True)}: holds tables but no archiver "
                "schema version; point archive.database_url at an archiver database"
            )
        upgrade(engine)
        return
    script = ScriptDirectory.from_config(alembic_config())
    known = {rev.revision for rev in script.walk_revisions()}
    if current not in known:
        raise DatabaseError(
            f"the archive's schema revision {current} is newer than this archiver knows; upgrade archiver"
        )
    raise DatabaseError(
        f"the archive's schema is at revision {current}, older than {head}; run `archiver migrate`"
    )


def _has_tables(engine: Engine) -> bool:
    return bool(inspect(engine).get_table_names())
