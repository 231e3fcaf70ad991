"""Downloads end to end: the real CLI (and the Downloader where a test needs its knobs),
real HTTP to the simulator, SQLite and Postgres. The simulator's `truth_files` is the
judge: every served file must lie once at its path with exactly the served bytes."""

from __future__ import annotations

import signal
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, update

from archiver.db.models import Asset, Generation
from archiver.files import Downloader, DownloadSettings
from archiver.files.store import TempFile
from archiver.http import build_client
from archiver.simulator import PROVIDERS, Simulator
from fixtures.cli import ArchiverRunner
from fixtures.file_checks import (
    assert_archive_matches_truth,
    canonical,
    configure,
    records_only,
    rows,
    run_downloader,
    sha256_of,
    source_ids,
    store_files,
    temp_files,
)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_backfill_archives_every_served_file_once_with_the_truth_sha256(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str, db: Engine, provider: str
) -> None:
    simulator.seed(provider, items=30)
    files_dir = configure(archiver, simulator, database_url, provider)
    result = archiver.run("backfill")
    assert result.code == 0, result.err
    assert_archive_matches_truth(simulator, db, files_dir, provider)
    assert len(store_files(files_dir)) == len(set(simulator.truth_files(provider).values()))
    assert temp_files(files_dir) == []
    again = archiver.run("download")
    assert again.code == 0 and f"{provider}: 0 downloaded" in again.out


def test_duplicate_bytes_are_stored_once(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str, db: Engine
) -> None:
    simulator.seed("apimall", items=160)  # the simulator repeats every 50th item's bytes
    files_dir = configure(archiver, simulator, database_url, "apimall")
    assert archiver.run("backfill", "--no-download").code == 0
    result = archiver.run("download")
    assert result.code == 0, result.err
    assert_archive_matches_truth(simulator, db, files_dir, "apimall")
    downloaded = [row for row in rows(db) if row.state == "downloaded"]
    by_path: dict[str, set[int]] = {}
    for row in downloaded:
        by_path.setdefault(row.path, set()).add(row.id)
    assert any(len(ids) > 1 for ids in by_path.values()), "the seed should hold duplicates"
    assert len(store_files(files_dir)) == len(by_path) == len({row.sha256 for row in downloaded})


def test_expired_signed_urls_are_refreshed_and_every_file_arrives(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str, db: Engine
) -> None:
    files_dir = records_only(archiver, simulator, database_url, "aurous", items=40)
    simulator.advance(timedelta(hours=2))  # far past the 10-minute token_ttl
    result = archiver.run("download")
    assert result.code == 0, result.out + result.err
    assert "file URLs refreshed" in result.out
    assert_archive_matches_truth(simulator, db, files_dir, "aurous")
    assert "token=" not in result.out + result.err.replace("token=[REDACTED]", "")


def test_a_refresh_that_no_longer_lists_the_item_makes_it_missing(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str, db: Engine
) -> None:
    files_dir = records_only(archiver, simulator, database_url, "aurous", items=10)
    simulator.advance(timedelta(hours=2))

    def forgetful(source: str, since):  # the provider lists nothing any more
        return set()

    report = run_downloader(db, files_dir, refresh=forgetful)
    states = {row.state for row in rows(db) if "/uploads/" not in row.url}  # references are unsigned
    assert states == {"missing"}
    assert report.sources["aurous"].missing > 0 and report.sources["aurous"].refreshed


@pytest.mark.slow
def test_sigkill_mid_download_leaves_no_referenced_partial_file_and_the_next_run_completes(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str, db: Engine
) -> None:
    files_dir = records_only(archiver, simulator, database_url, "qaves", items=120)
    simulator.inject("qaves", "slow", endpoint="file", times=60, delay=0.05)
    process = archiver.spawn("download")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sum(r.state == "downloaded" for r in rows(db)) < 20:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)

    interrupted = rows(db)
    done = [row for row in interrupted if row.state == "downloaded"]
    assert 20 <= len(done) < len(interrupted), "the kill should land mid-run"
    for row in done:
        assert sha256_of(files_dir / row.path) == row.sha256

    result = archiver.run("download")
    assert result.code == 0, result.err
    assert_archive_matches_truth(simulator, db, files_dir, "qaves")
    assert temp_files(files_dir) == []  # the crash's leftovers were swept


def test_short_bodies_404s_and_5xx_are_retried_across_runs_and_reported(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str, db: Engine
) -> None:
    files_dir = records_only(archiver, simulator, database_url, "qaves", items=12)
    for fault in ("short_body", "500", "503", "drop", "file_404"):
        simulator.inject("qaves", fault, endpoint="file")
    serial = DownloadSettings(concurrency=1, per_source=1, retry_base=timedelta(0), quick_retries=0)

    first = run_downloader(db, files_dir, serial)
    failed = [row for row in rows(db) if row.state == "failed"]
    assert first.sources["qaves"].failed == len(failed) == 5 and not first.ok
    assert all(row.attempts == 1 and row.last_error for row in failed)
    errors = " ".join(row.last_error or "" for row in failed)
    for expected in ("short body", "500", "503", "connection failed", "404"):
        assert expected in errors

    second = run_downloader(db, files_dir, serial)
    assert second.ok and second.sources["qaves"].downloaded == 5
    assert_archive_matches_truth(simulator, db, files_dir, "qaves")


def test_quick_retries_absorb_a_flaky_file_within_one_run(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str, db: Engine
) -> None:
    files_dir = records_only(archiver, simulator, database_url, "qaves", items=8)
    for fault in ("short_body", "503"):
        simulator.inject("qaves", fault, endpoint="file")
    result = archiver.run("download")
    assert result.code == 0, result.err
    assert "qaves: 8 downloaded" in result.out
    assert_archive_matches_truth(simulator, db, files_dir, "qaves")


def test_repeated_404s_make_an_asset_missing_and_the_cli_reports_failures(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str, db: Engine
) -> None:
    files_dir = records_only(archiver, simulator, database_url, "qaves", items=3)
    simulator.inject("qaves", "file_404", endpoint="file")
    result = archiver.run("download")
    assert result.code == 1
    assert "qaves: 2 downloaded" in result.out and "1 failed" in result.out and "404" in result.out

    with db.begin() as connection:  # what the backoff would do with time
        connection.execute(update(Asset).where(Asset.state == "failed").values(next_attempt_at=None))
    simulator.inject("qaves", "file_404", endpoint="file", times=2)
    run_downloader(db, files_dir)
    assert [row.state for row in rows(db)].count("failed") == 1
    report = run_downloader(db, files_dir)
    [gone] = [row for row in rows(db) if row.state != "downloaded"]
    assert (gone.state, gone.attempts) == ("missing", 3) and "404" in (gone.last_error or "")
    assert report.ok and report.sources["qaves"].missing == 1


def test_a_url_with_another_scheme_is_refused_and_never_fetched(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str, db: Engine
) -> None:
    files_dir = records_only(archiver, simulator, database_url, "qaves", items=5)
    first = rows(db)[0]
    with db.begin() as connection:
        connection.execute(update(Asset).where(Asset.id == first.id).values(url="file:///etc/passwd"))
    simulator.reset_requests()
    result = archiver.run("download")
    assert result.code == 1 and "only http and https" in result.out
    refused = next(row for row in rows(db) if row.id == first.id)
    assert refused.state == "failed" and "only http and https" in (refused.last_error or "")
    assert simulator.requests("qaves", "file") == 4
    assert not any("passwd" in p.name for p in store_files(files_dir))


def test_a_body_over_the_cap_is_not_kept(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str, db: Engine
) -> None:
    files_dir = records_only(archiver, simulator, database_url, "qaves", items=20)
    cap = 150_000
    report = run_downloader(db, files_dir, DownloadSettings(max_bytes=cap, quick_retries=0))
    sizes = {sha: len(data) for sha, data in ((sha256_of(p), p.read_bytes()) for p in store_files(files_dir))}
    assert sizes and max(sizes.values()) <= cap
    refused = [row for row in rows(db) if row.state == "failed"]
    assert refused and all("cap" in (row.last_error or "") for row in refused)
    assert report.sources["qaves"].failed == len(refused)
    truth = simulator.truth_files("qaves")
    assert {truth[canonical(row.url)] for row in refused}.isdisjoint(sizes)
    assert temp_files(files_dir) == []


def test_an_unreachable_file_host_does_not_stop_the_other_sources(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str, db: Engine
) -> None:
    simulator.seed("qaves", items=15)
    simulator.seed("imaginepro", items=15)
    files_dir = configure(archiver, simulator, database_url, "qaves", "imaginepro")
    assert archiver.run("backfill", "--no-download").code == 0
    ids = source_ids(db)
    dead = select(Generation.id).where(Generation.source_id == ids["imaginepro"])
    with db.begin() as connection:
        connection.execute(
            update(Asset).where(Asset.generation_id.in_(dead)).values(url="http://127.0.0.1:9/gone.png")
        )
    settings = DownloadSettings(quick_retries=0, give_up_after=5)
    report = run_downloader(db, files_dir, settings)
    assert_archive_matches_truth(simulator, db, files_dir, "qaves")
    assert report.sources["imaginepro"].stopped_early and not report.ok
    assert report.sources["imaginepro"].downloaded == 0


def test_follow_keeps_downloading_what_a_walk_adds_until_told_to_finish(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str, db: Engine
) -> None:
    files_dir = records_only(archiver, simulator, database_url, "qaves", items=10)
    follow, reports = threading.Event(), []

    def download() -> None:
        reports.append(run_downloader(db, files_dir, follow=follow))

    thread = threading.Thread(target=download)
    thread.start()
    time.sleep(0.5)
    simulator.add("qaves", n=5)
    assert archiver.run("sync", "--no-download").code == 0
    follow.set()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert reports[0].sources["qaves"].downloaded == 15
    assert_archive_matches_truth(simulator, db, files_dir, "qaves")


def test_stop_ends_the_run_after_the_files_in_hand(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str, db: Engine
) -> None:
    files_dir = records_only(archiver, simulator, database_url, "qaves", items=40)
    simulator.inject("qaves", "slow", endpoint="file", times=40, delay=0.3)
    stop, reports = threading.Event(), []
    with build_client() as http:
        downloader = Downloader(db, files_dir, http, DownloadSettings(concurrency=2, per_source=2))
        thread = threading.Thread(target=lambda: reports.append(downloader.run(source_ids(db), stop=stop)))
        thread.start()
        time.sleep(0.5)
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()
    states = [row.state for row in rows(db)]
    assert 0 < states.count("downloaded") == reports[0].sources["qaves"].downloaded <= 4
    assert states.count("pending") == 40 - states.count("downloaded")
    assert temp_files(files_dir) == []


def test_a_file_that_cannot_be_stored_fails_without_stalling_the_run(
    archiver: ArchiverRunner,
    simulator: Simulator,
    database_url: str,
    db: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    files_dir = records_only(archiver, simulator, database_url, "qaves", items=4)
    commit = TempFile.commit
    calls = []

    def full_disk_once(self: TempFile, extension: str) -> str:
        calls.append(extension)
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        return commit(self, extension)

    monkeypatch.setattr(TempFile, "commit", full_disk_once)
    report = run_downloader(db, files_dir)
    assert report.sources["qaves"].failed == 1 and report.sources["qaves"].downloaded == 3
    [failed] = [row for row in rows(db) if row.state == "failed"]
    assert "No space left on device" in (failed.last_error or "")
    assert temp_files(files_dir) == []
