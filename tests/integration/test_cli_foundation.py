"""`archiver migrate`, `archiver status` on an empty archive, and the CLI's error paths."""

from __future__ import annotations

import json
import socket
import sqlite3
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect

from fixtures.cli import ArchiverRunner

QAVES = {"name": "q", "provider": "qaves", "api_key_env": "QAVES_KEY"}


def test_version(archiver: ArchiverRunner) -> None:
    result = archiver.run("--version")
    assert result.code == 0
    assert "archiver, version" in result.out


def test_migrate_creates_schema_and_is_idempotent(archiver: ArchiverRunner, database_url: str) -> None:
    archiver.write_config([QAVES], database_url=database_url)
    first = archiver.run("migrate")
    assert first.code == 0, first.err
    assert "schema upgraded from empty to" in first.out
    second = archiver.run("migrate")
    assert second.code == 0
    assert "already at the newest revision" in second.out
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    assert {"sources", "generations", "assets", "sync_runs", "sync_state", "coverage_gaps"} <= set(
        inspect(engine).get_table_names()
    )
    engine.dispose()


def test_status_on_an_empty_archive(archiver: ArchiverRunner, database_url: str) -> None:
    archiver.write_config([QAVES], database_url=database_url)
    result = archiver.run("status", "--json")
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert document["healthy"] is True
    [source] = document["sources"]
    assert (source["name"], source["provider"], source["records"]) == ("q", "qaves", 0)
    assert source["last_success_at"] is None
    table = archiver.run("status")
    assert table.code == 0
    assert "q" in table.out and "never" in table.out


def test_default_database_folder_is_created_beside_the_config(archiver: ArchiverRunner) -> None:
    archiver.write_config([QAVES])
    assert archiver.run("status").code == 0
    assert (archiver.folder / "archive" / "archive.db").is_file()


def test_wrong_key_type_prints_one_line_naming_the_key(archiver: ArchiverRunner) -> None:
    archiver.config_path.write_text(
        '[[sources]]\nname = "q"\nprovider = "qaves"\napi_key_env = "K"\ninterval = []\n'
    )
    result = archiver.run("status")
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert "sources[0].interval" in lines[0] and str(archiver.config_path) in lines[0]
    assert "Traceback" not in result.err


def test_missing_database_folder_is_one_clear_line(archiver: ArchiverRunner, tmp_path) -> None:
    missing = tmp_path / "not" / "there" / "archive.db"
    archiver.write_config([QAVES], database_url=f"sqlite:///{missing}")
    result = archiver.run("migrate")
    assert result.code != 0
    assert result.err.strip().count("\n") == 0
    assert f"the database folder {missing.parent} does not exist" in result.err
    assert not missing.parent.exists()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_postgres_is_one_clear_line(archiver: ArchiverRunner) -> None:
    archiver.write_config(
        [QAVES], database_url=f"postgresql+psycopg://user:hunter2@127.0.0.1:{_free_port()}/x"
    )
    result = archiver.run("status")
    assert result.code != 0
    assert result.err.strip().count("\n") == 0, result.err
    assert "cannot open the archive database postgresql+psycopg://user:***@127.0.0.1" in result.err
    assert "hunter2" not in result.err


def test_bad_database_url_is_one_clear_line(archiver: ArchiverRunner) -> None:
    archiver.write_config([QAVES], database_url="postgres:/nonsense")
    result = archiver.run("migrate")
    assert result.code == 2
    assert result.err.strip().count("\n") == 0
    assert "archive.database_url" in result.err


def test_environment_database_url_wins(archiver: ArchiverRunner, tmp_path) -> None:
    archiver.write_config([QAVES])
    archiver.env["ARCHIVER_DATABASE_URL"] = f"sqlite:///{tmp_path / 'env.db'}"
    assert archiver.run("migrate").code == 0
    assert (tmp_path / "env.db").is_file()
    assert not (archiver.folder / "archive").exists()


def test_source_renamed_to_another_provider_is_refused(archiver: ArchiverRunner) -> None:
    archiver.write_config([QAVES])
    assert archiver.run("status").code == 0
    archiver.write_config([{**QAVES, "provider": "apimall"}])
    result = archiver.run("status")
    assert result.code == 2
    assert "q: this source was archived as provider 'qaves'" in result.err


def test_debug_shows_traceback_only_when_asked(archiver: ArchiverRunner) -> None:
    archiver.config_path.write_text("[archive\n")
    assert "Traceback" not in archiver.run("status").err
    assert archiver.run("--debug", "status").code == 2


def test_two_processes_migrating_one_postgres_at_once(archiver: ArchiverRunner, postgres_url: str) -> None:
    archiver.write_config([QAVES], database_url=postgres_url)
    processes = [archiver.spawn("migrate") for _ in range(3)]
    results = [archiver.output(process) for process in processes]
    assert [result.code for result in results] == [0, 0, 0], results
    outputs = "".join(result.out for result in results)
    assert outputs.count("schema upgraded from empty to") == 1  # the others waited, then found it done
    assert outputs.count("already at the newest revision") == 2


def _no_such_function(*_args: object) -> None:
    raise sqlite3.OperationalError("no such function: json_array")


def test_sqlite_without_json_functions_is_one_clear_line(archiver: ArchiverRunner, tmp_path: Path) -> None:
    """An old SQLite build without JSON1, imitated by shadowing one of its functions."""

    def without_json(dbapi_connection: object, _record: object) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.create_function("json_array", -1, _no_such_function)

    archiver.write_config([QAVES], database_url=f"sqlite:///{tmp_path / 'old.db'}")
    event.listen(Engine, "connect", without_json)
    try:
        result = archiver.run("status")
    finally:
        event.remove(Engine, "connect", without_json)
    assert result.code != 0
    assert result.err.strip().count("\n") == 0, result.err
    assert "lacks the JSON functions the archive needs" in result.err
    assert sqlite3.sqlite_version in result.err
