"""`archiver sync` after a backfill: few requests, nothing lost, pending items followed
to the end, bursts and shifting pages absorbed, one bad key failing one source only."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, select

from archiver.db.models import CoverageGap
from archiver.simulator import Simulator
from fixtures.archive_checks import (
    ALL_PROVIDERS,
    ID_FIELD,
    KEY_ENV,
    WITH_STATUS,
    archive_problems,
    archived,
    archived_assets,
    configure,
    expected_fields,
    source_entry,
    sync_runs,
)
from fixtures.cli import ArchiverRunner

PAGE = 50
OVERLAP = timedelta(minutes=10)


def pages_needed(sim: Simulator, provider: str, stop_line_from: object) -> int:
    """Pages an incremental walk must read: down to the first item below the stop line."""
    assert isinstance(stop_line_from, type(sim.now))
    stop_line = stop_line_from - OVERLAP
    above = sum(1 for raw in sim.truth(provider) if expected_fields(provider, raw)["created_at"] >= stop_line)
    return math.ceil((above + 1) / PAGE)


def newest(sim: Simulator, provider: str) -> object:
    return max(expected_fields(provider, raw)["created_at"] for raw in sim.truth(provider))


def test_a_sync_after_a_backfill_reads_only_the_new_pages(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str
) -> None:
    for provider in ALL_PROVIDERS:
        simulator.seed(provider, items=1000)
    configure(archiver, simulator, database_url, ALL_PROVIDERS, page_size=PAGE, overlap="10m")
    assert archiver.run("backfill").code == 0
    watermarks = {provider: newest(simulator, provider) for provider in ALL_PROVIDERS}
    simulator.advance(timedelta(minutes=1))
    added = {provider: simulator.add(provider, 5) for provider in ALL_PROVIDERS}
    before = {provider: simulator.requests(provider, "list") for provider in ALL_PROVIDERS}

    result = archiver.run("sync")

    assert result.code == 0, result.err
    for provider in ALL_PROVIDERS:
        spent = simulator.requests(provider, "list") - before[provider]
        assert spent <= pages_needed(simulator, provider, watermarks[provider]) + 2, provider
        assert set(added[provider]) <= {row["external_id"] for row in archived(database_url, provider)}
        assert archive_problems(database_url, provider, provider, simulator.truth(provider)) == []
        assert [run["records_new"] for run in sync_runs(database_url, provider)] == [1000, 5]


@pytest.mark.parametrize("provider", WITH_STATUS)
def test_pending_items_are_followed_until_they_finish(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str, provider: str
) -> None:
    simulator.seed(provider, items=200, pending=4)
    configure(archiver, simulator, database_url, [provider], page_size=PAGE, overlap="10m")
    assert archiver.run("backfill").code == 0
    unfinished = {raw[ID_FIELD[provider]] for raw in simulator.truth(provider)[:4]}
    assert {
        row["external_id"]
        for row in archived(database_url, provider)
        if row["status"] in ("pending", "running")
    } == unfinished
    # An hour of newer items buries the unfinished ones far below the watermark's overlap.
    simulator.advance(timedelta(hours=1))
    simulator.add(provider, 120)
    assert archiver.run("sync").code == 0
    finished = set(simulator.finish_pending(provider, fail_every=3))
    assert finished == unfinished

    result = archiver.run("sync")

    assert result.code == 0, result.err
    assert archive_problems(database_url, provider, provider, simulator.truth(provider)) == []
    rows = {row["external_id"]: row for row in archived(database_url, provider)}
    assert {rows[key]["status"] for key in finished} == {"succeeded", "failed"}
    assert all(rows[key]["completed_at"] is not None for key in finished)
    new_assets = [
        asset
        for asset in archived_assets(database_url, provider)
        if asset["external_id"] in finished and asset["role"] != "reference"
    ]
    succeeded = {key for key in finished if rows[key]["status"] == "succeeded"}
    assert {asset["external_id"] for asset in new_assets} == succeeded
    assert {asset["state"] for asset in new_assets} == {"pending"}


def test_same_second_bursts_across_page_edges_lose_nothing(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str
) -> None:
    simulator.seed("qaves", items=130)
    for burst in (70, 60):  # page edges of 100 cut through both bursts
        simulator.advance(timedelta(seconds=5))
        simulator.add("qaves", burst, same_second=True)
    configure(archiver, simulator, database_url, ["qaves"], overlap="10m")
    assert archiver.run("backfill").code == 0
    assert archive_problems(database_url, "qaves", "qaves", simulator.truth("qaves")) == []
    for burst in (90, 40):
        simulator.advance(timedelta(seconds=5))
        simulator.add("qaves", burst, same_second=True)

    result = archiver.run("sync")

    assert result.code == 0, result.err
    assert archive_problems(database_url, "qaves", "qaves", simulator.truth("qaves")) == []


def test_a_burst_larger_than_a_page_is_the_one_known_loss(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str
) -> None:
    """qaves pages by whole seconds and serves at most 100 items a page: of 150 items
    sharing one second, only the 100 it serves first can ever be listed. The archive
    keeps those and everything older, and says so: the skipped second is a coverage gap
    (recorded once, however often the history is walked) and `status` turns unhealthy."""
    simulator.seed("qaves", items=60)
    simulator.advance(timedelta(seconds=5))
    burst = set(simulator.add("qaves", 150, same_second=True))
    configure(archiver, simulator, database_url, ["qaves"])

    result = archiver.run("backfill")

    assert result.code == 0, result.err
    assert "pagination.second_skipped" in result.err
    keys = {row["external_id"] for row in archived(database_url, "qaves")}
    older = {raw["id"] for raw in simulator.truth("qaves")} - burst
    assert older <= keys
    assert len(keys & burst) == 100
    assert "1 coverage gap(s) recorded" in result.out
    assert archiver.run("backfill").code == 0
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as connection:
        [gap] = connection.execute(
            select(CoverageGap.gap_start, CoverageGap.gap_end, CoverageGap.reason)
        ).all()
    engine.dispose()
    burst_second = min(
        row["created_at"] for row in archived(database_url, "qaves") if row["external_id"] in burst
    )
    assert gap.gap_start <= burst_second < gap.gap_end
    assert gap.gap_end - gap.gap_start == timedelta(seconds=1)
    assert "more items share this second" in gap.reason
    assert archiver.run("status").code == 1


@contextmanager
def items_arriving(sim: Simulator, provider: str, every: float = 0.05) -> Iterator[list[str]]:
    """A thread adding a few items to `provider` every `every` seconds while the block runs."""
    added: list[str] = []
    done = threading.Event()

    def keep_adding() -> None:
        while not done.wait(every):
            added.extend(sim.add(provider, 7))

    thread = threading.Thread(target=keep_adding, daemon=True)
    thread.start()
    try:
        yield added
    finally:
        done.set()
        thread.join()


@pytest.mark.parametrize("provider", ["imaginepro", "apimall"])
@pytest.mark.parametrize("mode", ["backfill", "sync"])
def test_pages_that_shift_while_read_lose_nothing(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str, provider: str, mode: str
) -> None:
    simulator.seed(provider, items=400)
    configure(archiver, simulator, database_url, [provider], page_size=PAGE, overlap="10m")
    if mode == "sync":
        assert archiver.run("backfill").code == 0
        simulator.advance(timedelta(hours=1))
        simulator.add(provider, 260)
    before_walk = {raw[ID_FIELD[provider]] for raw in simulator.truth(provider)}
    simulator.inject(provider, "slow", times=6, delay=0.15)

    with items_arriving(simulator, provider) as added:
        result = archiver.run(mode)

    assert result.code == 0, result.err
    assert len(added) >= 14, "items arrived while the walk ran"
    assert before_walk <= {row["external_id"] for row in archived(database_url, provider)}
    run = sync_runs(database_url, provider)[-1]
    assert run["records_seen"] > run["records_new"], "shifted pages were read again"
    assert archiver.run("sync").code == 0
    assert archive_problems(database_url, provider, provider, simulator.truth(provider)) == []


@pytest.mark.parametrize("rejected", ALL_PROVIDERS)
def test_a_rejected_key_fails_its_source_only(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str, rejected: str
) -> None:
    for provider in ALL_PROVIDERS:
        simulator.seed(provider, items=40)
    configure(archiver, simulator, database_url, ALL_PROVIDERS)
    wrong_key = "wrong-key-d41d8cd98f00b204e980"
    archiver.env[KEY_ENV[rejected]] = wrong_key

    result = archiver.run("sync")

    assert result.code != 0
    [line] = [line for line in result.err.splitlines() if line.startswith("archiver: ")]
    assert line.startswith(f"archiver: {rejected}: ")
    assert f"${KEY_ENV[rejected]}" in line and "rejected" in line
    assert wrong_key not in result.out + result.err
    assert archived(database_url, rejected) == []
    assert sync_runs(database_url, rejected)[-1]["status"] == "error"
    for provider in set(ALL_PROVIDERS) - {rejected}:
        assert archive_problems(database_url, provider, provider, simulator.truth(provider)) == []


def test_a_source_named_on_the_command_line_is_the_only_one_synced(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str
) -> None:
    for provider in ("qaves", "apimall"):
        simulator.seed(provider, items=30)
    archiver.write_config(
        [source_entry(simulator, "qaves"), source_entry(simulator, "apimall")],
        database_url=database_url,
    )
    archiver.env.update({KEY_ENV[p]: simulator.api_key(p) for p in ("qaves", "apimall")})
    assert archiver.run("sync", "apimall").code == 0
    assert archived(database_url, "qaves") == []
    assert len(archived(database_url, "apimall")) == 30
