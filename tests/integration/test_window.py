"""ImaginePro serves only the last 24 hours: syncs inside the window lose nothing, and a
pause longer than the window is recorded as a coverage gap with the right bounds."""

from __future__ import annotations

import json
from datetime import timedelta

from archiver.simulator import Simulator
from fixtures.archive_checks import (
    archive_problems,
    archived,
    configure,
    coverage_gaps,
    expected_fields,
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
