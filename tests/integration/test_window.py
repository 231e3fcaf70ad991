"""ImaginePro serves only the last 24 hours: syncs inside the window lose nothing, and a
pause longer than the window is recorded as a coverage gap with the right bounds."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta

import pytest

from archiver.simulator import Simulator
from fixtures.archive_checks import (
    archive_problems,
    archived,
    configure,
    coverage_gaps,
    database,
    expected_fields,
    kill_during,
    last_run_id,
    pages_committed,
)
from fixtures.cli import ArchiverRunner

WINDOW = timedelta(hours=24)
CLOCK_SLACK = timedelta(seconds=2)  # the Date header counts whole seconds


def live_for(sim: Simulator, hours: int) -> None:
    """`hours` of simulated time in 3-hour steps, ten new images at the end of each."""
    for _ in range(hours // 3):
        sim.advance(timedelta(hours=3))
        sim.add("imaginepro", 10)


def test_syncs_every_six_hours_lose_nothing_and_record_no_gap(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str
) -> None:
    simulator.seed("imaginepro", items=300)
    configure(archiver, simulator, database_url, ["imaginepro"], interval="6h")
    assert archiver.run("sync").code == 0
    for _ in range(9):  # 54 simulated hours
        live_for(simulator, 6)
        result = archiver.run("sync")
        assert result.code == 0, result.err

    everything = simulator.truth_all("imaginepro")
    assert len(simulator.truth("imaginepro")) < len(everything), "the provider forgot items meanwhile"
    assert archive_problems(database_url, "imaginepro", "imaginepro", everything) == []
    assert coverage_gaps(database_url, "imaginepro") == []
    assert archiver.run("status").code == 0


def test_a_thirty_hour_pause_records_one_gap_with_the_right_bounds(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str
) -> None:
    simulator.seed("imaginepro", items=300)
    configure(archiver, simulator, database_url, ["imaginepro"], interval="6h")
    last_pass_start = simulator.now
    assert archiver.run("sync").code == 0
    live_for(simulator, 30)

    result = archiver.run("sync")

    window_start = simulator.now - WINDOW
    assert "1 coverage gap(s) recorded" in result.out, result.out + result.err
    [gap] = coverage_gaps(database_url, "imaginepro")
    assert abs(gap["gap_start"] - last_pass_start) <= CLOCK_SLACK
    assert abs(gap["gap_end"] - window_start) <= CLOCK_SLACK
    kept = {row["external_id"] for row in archived(database_url, "imaginepro")}
    lost = [raw for raw in simulator.truth_all("imaginepro") if raw["id"] not in kept]
    assert lost, "the pause outlasted the window: some images were never seen"
    assert all(
        gap["gap_start"] <= expected_fields("imaginepro", raw)["created_at"] <= gap["gap_end"] for raw in lost
    ), "every lost image lies inside the recorded gap"
    assert {raw["id"] for raw in simulator.truth("imaginepro")} <= kept, "everything served is archived"
    seen = [raw for raw in simulator.truth_all("imaginepro") if raw["id"] in kept]
    assert archive_problems(database_url, "imaginepro", "imaginepro", seen) == []

    status = archiver.run("status", "--json")
    assert status.code == 1
    [source] = json.loads(status.out)["sources"]
    assert len(source["open_gaps"]) == 1

    live_for(simulator, 6)
    assert archiver.run("sync").code == 0
    assert len(coverage_gaps(database_url, "imaginepro")) == 1, "a gap is recorded once"


def test_images_expiring_while_a_long_walk_reads_are_inside_the_gap(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str
) -> None:
    simulator.seed("imaginepro", items=50)
    configure(archiver, simulator, database_url, ["imaginepro"], interval="6h")
    assert archiver.run("sync").code == 0
    simulator.advance(timedelta(hours=6))
    at_the_edge = set(simulator.add("imaginepro", 40))
    simulator.advance(WINDOW - timedelta(seconds=3))  # they leave the window 3 s from now
    simulator.add("imaginepro", 500)  # read first: the walk reaches the 40 last, too late
    simulator.inject("imaginepro", "slow", times=6, delay=1.0)

    result = archiver.run("sync")

    assert result.code == 0, result.err
    kept = {row["external_id"] for row in archived(database_url, "imaginepro")}
    lost = [raw for raw in simulator.truth_all("imaginepro") if raw["id"] not in kept]
    assert {raw["id"] for raw in lost} >= at_the_edge, "the slow walk came too late for them"
    [gap] = coverage_gaps(database_url, "imaginepro")  # one gap, grown while the walk read
    assert all(
        gap["gap_start"] <= expected_fields("imaginepro", raw)["created_at"] <= gap["gap_end"] for raw in lost
    ), "every image that expired during the walk lies inside the recorded gap"


@pytest.mark.slow
def test_a_sync_killed_then_resumed_after_the_window_reports_every_loss(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str
) -> None:
    """The resumed walk's unread pages held images made since the last complete pass;
    by the time it resumes they are gone, and a gap must say so."""
    simulator.seed("imaginepro", items=300)
    configure(archiver, simulator, database_url, ["imaginepro"], interval="6h", page_size=50)
    assert archiver.run("sync").code == 0
    for _ in range(6):  # six hours, 300 images: six pages waiting for the next sync
        simulator.advance(timedelta(hours=1))
        simulator.add("imaginepro", 50)
    simulator.inject("imaginepro", "slow", times=3, delay=0.3)
    after = last_run_id(database_url, "imaginepro")
    with database(database_url) as engine:
        kill_during(archiver, "sync", lambda: pages_committed(engine, "imaginepro", after) >= 1)
    live_for(simulator, 30)

    assert archiver.run("sync").code == 0

    gaps = coverage_gaps(database_url, "imaginepro")
    kept = {row["external_id"] for row in archived(database_url, "imaginepro")}
    lost = [raw for raw in simulator.truth_all("imaginepro") if raw["id"] not in kept]
    assert lost
    unreported = [
        raw["id"]
        for raw in lost
        if not any(
            gap["gap_start"] <= expected_fields("imaginepro", raw)["created_at"] <= gap["gap_end"]
            for gap in gaps
        )
    ]
    assert unreported == [], f"{len(unreported)} lost images lie outside every gap {gaps}"
    spans = sorted((gap["gap_start"], gap["gap_end"]) for gap in gaps)
    assert all(end <= start for (_, end), (start, _) in itertools.pairwise(spans)), "gaps never overlap"
