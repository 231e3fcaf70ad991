"""Engine factory: one place that knows each backend's pitfalls.

SQLite: WAL so readers never block the writer, a busy timeout, foreign keys on, and
`BEGIN IMMEDIATE` for every transaction, because a deferred BEGIN that reads and then
writes fails at once with "database is locked" instead of waiting (the SQLAlchemy
pysqlite recipe). Postgres: psycopg 3 with pre-ping, so a restarted server costs one
reconnect rather than a failed sync.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from archiver.errors import ConfigError, DatabaseError

SQLITE_BUSY_TIMEOUT_MS = 30_000


def display_url(url: str | URL) -> str:
    """The URL as it may be shown: password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


def create_archive_engine(url: str, *, create_folder: bool = False) -> Engine:
    """An engine for the archive at `url`; raises ConfigError/DatabaseError with one line."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"{url!r} is not a database URL") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, create_folder)
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        try:
            return create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=5)
        except (NoSuchModuleError, ModuleNotFoundError):
            raise ConfigError(
                f"{display_url(parsed)}: the Postgres driver is not installed; "
                "install archiver[postgres] (psycopg 3)"
            ) from None
    raise ConfigError(f"{display_url(parsed)}: unsupported database {backend!r} (use sqlite or postgresql)")


def _sqlite_engine(url: URL, create_folder: bool) -> Engine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        folder = Path(database).parent
        if not folder.is_dir():
            if not create_folder:
                raise DatabaseError(
                    f"{display_url(url)}: the database folder {folder} does not exist; "
                    "create it or fix archive.database_url"
                )
            folder.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so "begin" below decides.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def check_connection(engine: Engine) -> None:
    """Fail early, in one line, when the database cannot be reached (or, on SQLite, lacks
    the JSON functions the archive's writes use)."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            if engine.dialect.name == "sqlite":
                _require_json_functions(connection)
    except DBAPIError as error:
        raise DatabaseError(
            f"cannot open the archive database {display_url(engine.url)}: {_first_line(error)}"
        ) from None


def _require_json_functions(connection: Connection) -> None:
    try:
        connection.execute(text("SELECT json_array()"))
    except DBAPIError as error:
        version = connection.dialect.dbapi.sqlite_version if connection.dialect.dbapi else "?"
        raise DatabaseError(
            f"{display_url(connection.engine.url)}: this Python's SQLite {version} lacks the JSON "
            f"functions the archive needs ({_first_line(error)}); "
            "use a Python built with SQLite 3.38 or newer"
        ) from None


def _first_line(error: DBAPIError) -> str:
    return str(error.orig).strip().splitlines()[0] if error.orig else str(error)
