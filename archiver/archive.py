"""An opened archive: the validated config, a ready database, the configured sources.

Every command that touches the database goes through `open_archive`, so a fresh
database gets its schema and the configured sources get their rows the same way
everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from archiver.config import Config, SourceSettings
from archiver.db.engine import check_connection, create_archive_engine
from archiver.db.migrate import ensure_schema
from archiver.db.models import Source
from archiver.errors import ConfigError


@dataclass
class Archive:
    config: Config
    engine: Engine
    source_ids: dict[str, int]

    def close(self) -> None:
        self.engine.dispose()


def connect(config: Config) -> Engine:
    """An engine whose database answered, without touching the schema."""
    engine = create_archive_engine(config.database_url, create_folder=config.default_database)
    check_connection(engine)
    return engine


def open_archive(config: Config) -> Archive:
    engine = connect(config)
    ensure_schema(engine)
    return Archive(config=config, engine=engine, source_ids=register_sources(engine, config.sources))


def register_sources(engine: Engine, sources: tuple[SourceSettings, ...]) -> dict[str, int]:
    """Give every configured source its row; refuse a name reused for another provider,
    which would mix two providers' histories under one name."""
    now = datetime.now(UTC)
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    with engine.begin() as connection:
        if sources:
            connection.execute(
                insert(Source)
                .values([{"name": s.name, "provider": s.provider, "created_at": now} for s in sources])
                .on_conflict_do_nothing(index_elements=["name"])
            )
        rows = connection.execute(select(Source.id, Source.name, Source.provider)).all()
    known = {row.name: row for row in rows}
    for source in sources:
        archived = known[source.name]
        if archived.provider != source.provider:
            raise ConfigError(
                f"{source.name}: this source was archived as provider {archived.provider!r} but the "
                f"config now says {source.provider!r}; give the new source another name"
            )
    return {row.name: row.id for row in rows}
