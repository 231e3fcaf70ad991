"""The archive schema under Alembic, on SQLite and Postgres."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic import command
from sqlalchemy import Engine, insert, inspect, select, text

from archiver.db import migrate
from archiver.db.models import Generation, Source

INTERFACE_COLUMNS = {
    "sources": {"id", "name", "provider"},
    "generations": {
        "id",
        "source_id",
        "external_id",
        "status",
        "provider_status",
        "prompt",
        "negative_prompt",
        "model",
        "bucket",
        "created_at",
        "completed_at",
        "raw",
        "first_seen_at",
        "last_seen_at",
    },
    "assets": {
        "id",
        "generation_id",
        "role",
        "position",
        "url",
        "state",
        "sha256",
        "size_bytes",
        "content_type",
        "downloaded_at",
        "path",
    },
    "sync_runs": {
        "id",
        "source_id",
        "mode",
        "started_at",
        "finished_at",
        "status",
        "records_seen",
        "records_new",
        "records_updated",
        "error",
    },
    "sync_state": {"source_id", "last_success_at"},
    "coverage_gaps": {"id", "source_id", "gap_start", "gap_end", "detected_at"},
}


def test_upgrade_creates_the_interface_schema(engine: Engine) -> None:
    before, after = migrate.upgrade(engine)
    assert (before, after) == (None, migrate.head_revision())
    inspector = inspect(engine)
    for table, columns in INTERFACE_COLUMNS.items():
        assert columns <= {c["name"] for c in inspector.get_columns(table)}, table
    uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("generations")}
    assert ("source_id", "external_id") in uniques
    uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("assets")}
    assert ("generation_id", "role", "position") in uniques
    indexes = {tuple(i["column_names"]) for i in inspector.get_indexes("generations")}
    assert ("source_id", "created_at") in indexes
    assert any(
        cols[0] == "state" for cols in (tuple(i["column_names"]) for i in inspector.get_indexes("assets"))
    )


def test_second_upgrade_changes_nothing(engine: Engine) -> None:
    migrate.upgrade(engine)
    assert migrate.upgrade(engine) == (migrate.head_revision(), migrate.head_revision())


def test_downgrade_to_base_and_up_again(engine: Engine) -> None:
    migrate.upgrade(engine)
    migrate.downgrade(engine, "base")
    assert migrate.current_revision(engine) is None
    assert "generations" not in inspect(engine).get_table_names()
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()


def test_models_and_migrations_do_not_drift(engine: Engine) -> None:
    migrate.upgrade(engine)
    with engine.connect() as connection:
        command.check(migrate.alembic_config(connection))  # raises on any drift


def test_ensure_schema_migrates_only_an_empty_database(engine: Engine) -> None:
    migrate.ensure_schema(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    migrate.ensure_schema(engine)  # idempotent


def test_ensure_schema_refuses_a_foreign_database(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE unrelated (x INTEGER)"))
    with pytest.raises(Exception, match="holds tables but no archiver schema version"):
        migrate.ensure_schema(engine)


def test_timestamps_come_back_aware_utc_and_raw_json_roundtrips(engine: Engine) -> None:
    migrate.upgrade(engine)
    moment = datetime(2026, 5, 4, 12, 0, 14, tzinfo=timezone(timedelta(hours=2)))
    raw = {"id": "x", "prompt": "ein Fuchs 🦊", "nested": {"n": [1, None, True]}}
    with engine.begin() as connection:
        source_id = connection.execute(
            insert(Source).values(name="s", provider="qaves", created_at=moment).returning(Source.id)
        ).scalar_one()
        connection.execute(
            insert(Generation).values(
                source_id=source_id,
                external_id="x",
                status="succeeded",
                raw=raw,
                created_at=moment,
                first_seen_at=moment,
                last_seen_at=moment,
            )
        )
    with engine.connect() as connection:
        row = connection.execute(select(Generation.created_at, Generation.raw)).one()
    assert row.created_at == moment
    assert row.created_at.tzinfo == UTC
    assert row.raw == raw


def test_naive_datetimes_are_refused(engine: Engine) -> None:
    migrate.upgrade(engine)
    with pytest.raises(Exception, match="naive datetime"), engine.begin() as connection:
        connection.execute(insert(Source).values(name="s", provider="qaves", created_at=datetime(2026, 1, 1)))
