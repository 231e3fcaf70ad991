"""`BulkInsert` writes exactly what an ordinary SQLAlchemy insert writes, on both backends."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select, text

from archiver.db.bulk import BulkInsert
from archiver.db.engine import create_archive_engine
from archiver.db.models import Generation
from fixtures.archive_checks import new_source

NOW = datetime(2026, 11, 21, 8, 7, 43, 212122, tzinfo=UTC)
CREATED = datetime(2026, 11, 20, 23, 0, tzinfo=timezone(timedelta(hours=-1)))  # stored as UTC
RAW = {"id": "g", "prompt": "ünïcode \u2603", "nested": {"list": [1, 2.5, None, True]}, "big": 2**70}

BULK = BulkInsert(
    Generation.__table__,
    columns=("external_id", "raw", "status", "prompt", "created_at", "completed_at"),
    constants=("source_id", "first_seen_at", "last_seen_at"),
    conflict=("source_id", "external_id"),
)


@pytest.fixture
def sources(engine: Engine) -> tuple[int, int]:
    return new_source(engine, "bulk", "qaves"), new_source(engine, "plain", "qaves")


def write_both(engine: Engine, sources: tuple[int, int], created: datetime | None) -> None:
    bulk_source, plain_source = sources
    with engine.begin() as connection:
        BULK.execute(
            connection,
            [("g", RAW, "succeeded", "a fox", created, None)],
            {"source_id": bulk_source, "first_seen_at": NOW, "last_seen_at": NOW},
        )
        connection.execute(
            insert(Generation),
            {
                "source_id": plain_source,
                "external_id": "g",
                "raw": RAW,
                "status": "succeeded",
                "prompt": "a fox",
                "created_at": created,
                "completed_at": None,
                "first_seen_at": NOW,
                "last_seen_at": NOW,
            },
        )


def stored(engine: Engine, source_id: int) -> dict[str, Any]:
    """The row as the database holds it (text casts show SQLite's stored strings)."""
    columns = ("raw", "created_at", "completed_at", "first_seen_at", "last_seen_at")
    casts = ", ".join(f"CAST({name} AS TEXT) AS {name}" for name in columns)
    with engine.connect() as connection:
        row = connection.execute(
            text(f"SELECT {casts} FROM generations WHERE source_id = :source"), {"source": source_id}
        ).one()
    return row._asdict()


@pytest.mark.parametrize("created", [CREATED, None])
def test_bulk_rows_are_stored_as_sqlalchemy_stores_them(
    engine: Engine, sources: tuple[int, int], created: datetime | None
) -> None:
    write_both(engine, sources, created)
    bulk, plain = (stored(engine, source) for source in sources)
    assert bulk == plain
    with engine.connect() as connection:
        rows = connection.execute(select(Generation).order_by(Generation.source_id)).all()
    assert [(r.raw, r.created_at, r.first_seen_at, r.status) for r in rows] == [
        (RAW, created, NOW, "succeeded")
    ] * 2


def test_a_row_whose_key_exists_is_skipped_not_raised(engine: Engine, sources: tuple[int, int]) -> None:
    source_id = sources[0]
    constants = {"source_id": source_id, "first_seen_at": NOW, "last_seen_at": NOW}
    with engine.begin() as connection:
        BULK.execute(connection, [("g", RAW, "succeeded", "first", None, None)], constants)
        BULK.execute(
            connection,
            [("g", RAW, "failed", "second", None, None), ("h", RAW, "failed", "third", None, None)],
            constants,
        )
    with engine.connect() as connection:
        rows = connection.execute(
            select(Generation.external_id, Generation.prompt).order_by(Generation.external_id)
        ).all()
    assert [tuple(r) for r in rows] == [("g", "first"), ("h", "third")]


def test_no_rows_issue_no_statement(engine: Engine, sources: tuple[int, int]) -> None:
    with engine.begin() as connection:
        BULK.execute(connection, [], {"source_id": sources[0], "first_seen_at": NOW, "last_seen_at": NOW})
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM generations")).scalar_one() == 0


def test_a_page_over_sqlites_variable_limit_goes_in_as_several_statements(tmp_path: Path) -> None:
    engine = create_archive_engine(f"sqlite:///{tmp_path / 'small-limit.db'}")
    try:
        source_id = new_source(engine, "bulk", "qaves")
        rows = [(f"g{i}", RAW, "succeeded", f"prompt {i}", CREATED, None) for i in range(7)]
        with engine.begin() as connection:
            dbapi_connection = connection.connection.dbapi_connection
            assert isinstance(dbapi_connection, sqlite3.Connection)
            dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 20)  # 2 rows of 9 values
            BULK.execute(
                connection, rows, {"source_id": source_id, "first_seen_at": NOW, "last_seen_at": NOW}
            )
        with engine.connect() as connection:
            stored_rows = connection.execute(
                select(Generation.external_id, Generation.prompt, Generation.created_at).order_by(
                    Generation.id
                )
            ).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in stored_rows] == [(f"g{i}", f"prompt {i}", CREATED) for i in range(7)]


def test_a_batch_larger_than_one_statement_holds_is_written_whole(
    engine: Engine, sources: tuple[int, int]
) -> None:
    rows = [(f"g{i:04}", {"n": i}, "succeeded", None, None, None) for i in range(1201)]
    with engine.begin() as connection:
        BULK.execute(connection, rows, {"source_id": sources[0], "first_seen_at": NOW, "last_seen_at": NOW})
    with engine.connect() as connection:
        stored_rows = connection.execute(select(Generation.external_id, Generation.raw)).all()
    assert sorted((row.external_id, row.raw["n"]) for row in stored_rows) == [
        (f"g{i:04}", i) for i in range(1201)
    ]
