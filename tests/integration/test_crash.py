"""A real `archiver` process killed with SIGKILL mid-run, then run again: the archive
ends equal to the ground truth, and the second run resumes instead of starting over."""

from __future__ import annotations

import math
import signal
from collections.abc import Callable
from datetime import timedelta

import pytest

from archiver.simulator import Simulator
from fixtures.archive_checks import (
    ALL_PROVIDERS,
    archive_problems,
    configure,
    database,
    pages_committed,
    sync_runs,
    sync_state,
    wait_for,
)
from fixtures.cli import ArchiverRunner

PAGE = 50
HISTORY = 600
# A full walk: every page, plus the one confirming the end on page-number listings.
FULL_WALK = math.ceil(HISTORY / PAGE) + 1


def kill_during(archiver: ArchiverRunner, command: str, when: Callable[[], bool]) -> None:
    """Start `archiver <command>` and SIGKILL it as soon as `when()` holds."""
    log = (archiver.folder / f"{command}.log").open("a")
    process = archiver.spawn(command, stdout=log, stderr=log)
    try:
        wait_for(lambda: when() or process.poll() is not None, what=f"the kill point of {command}")
        assert process.poll() is None, f"{command} ended before its kill point"
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
        log.close()


@pytest.mark.slow
@pytest.mark.parametrize("provider", ALL_PROVIDERS)
def test_a_backfill_killed_twice_resumes_and_ends_equal_to_the_truth(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str, provider: str
) -> None:
    simulator.seed(provider, items=HISTORY, pending=7 if provider in ("aurous", "apimall") else 0)
    configure(archiver, simulator, database_url, [provider], page_size=PAGE)
    assert archiver.run("migrate").code == 0  # so the kill point can be watched from the start
    # Slow pages keep each run alive past its kill point; leftovers only slow the next run.
    simulator.inject(provider, "slow", times=10, delay=0.1)
    with database(database_url) as engine:
        kill_during(archiver, "backfill", lambda: pages_committed(engine, provider, "backfill") >= 3)
    simulator.inject(provider, "slow", times=5, delay=0.1)
    second_start = simulator.requests(provider)
    kill_during(archiver, "backfill", lambda: simulator.requests(provider) >= second_start + 3)
    before = simulator.requests(provider)

    result = archiver.run("backfill")

    assert result.code == 0, result.err
    assert simulator.requests(provider) - before <= FULL_WALK - 3, "resumed, not restarted"
    assert archive_problems(database_url, provider, provider, simulator.truth(provider)) == []
    runs = sync_runs(database_url, provider)
    assert [run["status"] for run in runs] == ["interrupted", "interrupted", "ok"]
    assert sync_state(database_url, provider)["watermark"] is not None


@pytest.mark.slow
@pytest.mark.parametrize("provider", ALL_PROVIDERS)
def test_a_sync_killed_after_its_first_page_loses_nothing_below_it(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str, provider: str
) -> None:
    simulator.seed(provider, items=200)
    configure(archiver, simulator, database_url, [provider], page_size=PAGE, overlap="1m")
    assert archiver.run("backfill").code == 0
    watermark = sync_state(database_url, provider)["watermark"]
    for _ in range(7):  # 350 new items over 70 minutes: seven pages, far more than the overlap
        simulator.advance(timedelta(minutes=10))
        simulator.add(provider, 50)
    simulator.inject(provider, "slow", times=3, delay=0.3)
    with database(database_url) as engine:
        kill_during(archiver, "sync", lambda: pages_committed(engine, provider, "sync") >= 1)
    assert sync_state(database_url, provider)["watermark"] == watermark, "a partial walk moved the watermark"

    result = archiver.run("sync")

    assert result.code == 0, result.err
    assert archive_problems(database_url, provider, provider, simulator.truth_all(provider)) == []
    assert [run["status"] for run in sync_runs(database_url, provider)] == ["ok", "interrupted", "ok"]
