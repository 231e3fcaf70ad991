"""`archiver verify [--repair]`: damaged and deleted files are found, and come back."""

from __future__ import annotations

from sqlalchemy import Engine

from archiver.simulator import Simulator
from fixtures.cli import ArchiverRunner
from fixtures.file_checks import assert_archive_matches_truth, configure, rows


def test_verify_finds_a_corrupt_and_a_deleted_file_and_repair_restores_both(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str, db: Engine
) -> None:
    simulator.seed("qaves", items=12)
    files_dir = configure(archiver, simulator, database_url, "qaves")
    assert archiver.run("backfill").code == 0
    clean = archiver.run("verify")
    assert clean.code == 0 and "verified 12 files" in clean.out and "0 missing, 0 corrupt" in clean.out

    damaged, deleted = rows(db)[2], rows(db)[7]
    with open(files_dir / damaged.path, "r+b") as file:  # same size, other bytes
        file.seek(100)
        file.write(b"\x00" * 16)
    (files_dir / deleted.path).unlink()

    found = archiver.run("verify")
    assert found.code == 1
    assert f"corrupt: {damaged.path} (asset {damaged.id})" in found.out
    assert f"missing: {deleted.path} (asset {deleted.id})" in found.out
    assert "1 missing, 1 corrupt" in found.out
    assert {row.state for row in rows(db)} == {"downloaded"}, "verify alone changes nothing"

    repaired = archiver.run("verify", "--repair")
    assert repaired.code == 1 and "2 assets marked for download again" in repaired.out
    pending = {row.id: row for row in rows(db) if row.state == "pending"}
    assert set(pending) == {damaged.id, deleted.id}
    assert all(row.attempts == 0 and "verify" in (row.last_error or "") for row in pending.values())

    download = archiver.run("download")
    assert download.code == 0 and "qaves: 2 downloaded" in download.out
    assert archiver.run("verify").code == 0
    assert_archive_matches_truth(simulator, db, files_dir, "qaves")


def test_verify_on_an_empty_archive_is_clean(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str
) -> None:
    configure(archiver, simulator, database_url, "qaves")
    result = archiver.run("verify")
    assert result.code == 0 and "verified 0 files" in result.out
