"""A real `archiver` process killed with SIGKILL mid-run, then run again: the archive
ends equal to the ground truth, and the second run resumes instead of starting over."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from archiver.simulator import Simulator
from fixtures.archive_checks import (
    ALL_PROVIDERS,
    archive_problems,
    configure,
    database,
    kill_during,
    last_run_id,
    pages_committed,
    sync_runs,
    sync_state,
)
from fixtures.cli import ArchiverRunner

PAGE = 50
HISTORY = 600
# A full walk: every page, plus the one confirming the end on page-number listings.
FULL_WALK = math.ceil(HISTORY / PAGE) + 1


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
    after = last_run_id(database_url, provider)
    with database(database_url) as engine:
        kill_during(archiver, "backfill", lambda: pages_committed(engine, provider, after) >= 3)
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
    after = last_run_id(database_url, provider)
    with database(database_url) as engine:
        kill_during(archiver, "sync", lambda: pages_committed(engine, provider, after) >= 1)
    assert sync_state(database_url, provider)["watermark"] == watermark, "a partial walk moved the watermark"

    result = archiver.run("sync")

    assert result.code == 0, result.err
    assert archive_problems(database_url, provider, provider, simulator.truth_all(provider)) == []
    assert [run["status"] for run in sync_runs(database_url, provider)] == ["ok", "interrupted", "ok"]
