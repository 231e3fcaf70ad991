"""One writer per source: a second `archiver sync` waits (or, with --no-wait, says why
it will not), and a lease left by a killed process does not block the next run."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, update

from archiver.db.lease import Lease, LeaseLost, new_owner, owner_is_gone
from archiver.db.models import SyncState
from archiver.errors import LeaseBusyError
from archiver.simulator import Simulator
from fixtures.archive_checks import (
    archive_problems,
    configure,
    new_source,
    sync_runs,
    sync_state,
    wait_for,
)
from fixtures.cli import ArchiverRunner


def lease_holder(database_url: str) -> str | None:
    state = sync_state(database_url, "qaves")
    return state["lease_owner"] if state else None


def slow_until(sim: Simulator, done: Callable[[], bool], delay: float = 0.3) -> threading.Thread:
    """Keep one slow qaves page queued until `done()`: a sync that lasts as long as needed."""

    def pace() -> None:
        served = sim.requests("qaves")
        sim.inject("qaves", "slow", delay=delay)
        deadline = time.monotonic() + 60
        while not done() and time.monotonic() < deadline:
            if sim.requests("qaves") > served:
                served = sim.requests("qaves")
                sim.inject("qaves", "slow", delay=delay)
            time.sleep(0.01)

    thread = threading.Thread(target=pace, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def history(archiver: ArchiverRunner, simulator: Simulator, database_url: str) -> Simulator:
    """1000 qaves items read 50 a page: twenty pages for a slowed sync to spend."""
    simulator.seed("qaves", items=1000)
    configure(archiver, simulator, database_url, ["qaves"], page_size=50)
    assert archiver.run("migrate").code == 0
    return simulator


@pytest.mark.slow
def test_a_second_sync_of_the_same_source_waits_for_the_first(
    archiver: ArchiverRunner, history: Simulator, database_url: str
) -> None:
    second_log = archiver.folder / "second.log"
    second_log.touch()
    pacer = slow_until(history, lambda: "waiting for another archiver" in second_log.read_text())
    first = archiver.spawn("sync")
    wait_for(lambda: lease_holder(database_url) is not None, what="the first sync to take the lease")
    with second_log.open("w") as log:
        second = archiver.spawn("sync", stderr=log)
        first_err = archiver.output(first).err
        second.wait(timeout=120)
    pacer.join(timeout=5)

    assert (first.returncode, second.returncode) == (0, 0), first_err + second_log.read_text()
    assert "waiting for another archiver" in second_log.read_text()
    assert archive_problems(database_url, "qaves", "qaves", history.truth("qaves")) == []
    runs = sync_runs(database_url, "qaves")
    assert [(run["status"], run["records_new"]) for run in runs] == [("ok", 1000), ("ok", 0)]
    assert runs[0]["finished_at"] <= runs[1]["started_at"], "the two runs overlapped"


@pytest.mark.slow
def test_no_wait_refuses_in_one_line_while_another_sync_runs(
    archiver: ArchiverRunner, history: Simulator, database_url: str
) -> None:
    refused_once = threading.Event()
    slow_until(history, refused_once.is_set)
    first = archiver.spawn("sync")
    wait_for(lambda: lease_holder(database_url) is not None, what="the first sync to take the lease")

    refused = archiver.run("sync", "--no-wait")
    refused_once.set()

    assert refused.code == 1
    [line] = refused.err.strip().splitlines()
    assert line.startswith("archiver: qaves: another archiver (") and "is syncing this source" in line
    assert first.wait(timeout=120) == 0
    assert [run["status"] for run in sync_runs(database_url, "qaves")] == ["ok"]


# -- the lease itself, on a real database ---------------------------------------------


@pytest.fixture
def source_id(engine: Engine) -> int:
    return new_source(engine, "q", "qaves")


@pytest.fixture
def dead_pid() -> Iterator[int]:
    """The pid of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    yield process.pid


def owner_with_pid(pid: int) -> str:
    host, _, token, space = new_owner().split(":")
    return f"{host}:{pid}:{token}:{space}"


def test_a_lease_is_exclusive_until_released(engine: Engine, source_id: int) -> None:
    first = Lease(engine, source_id, "q", new_owner())
    second = Lease(engine, source_id, "q", new_owner())
    first.acquire(wait=False)
    with pytest.raises(LeaseBusyError, match="another archiver"):
        second.acquire(wait=False)
    first.release()
    second.acquire(wait=False)


def test_an_expired_lease_is_taken(engine: Engine, source_id: int) -> None:
    first = Lease(engine, source_id, "q", "elsewhere:1:abcdef12:", ttl=timedelta(seconds=-1))
    first.acquire(wait=False)
    Lease(engine, source_id, "q", new_owner()).acquire(wait=False)


def test_a_lease_of_a_process_gone_from_this_machine_is_taken_at_once(
    engine: Engine, source_id: int, dead_pid: int
) -> None:
    gone = owner_with_pid(dead_pid)
    assert owner_is_gone(gone)
    Lease(engine, source_id, "q", gone).acquire(wait=False)
    taker = Lease(engine, source_id, "q", new_owner())
    taker.acquire(wait=False)
    with engine.connect() as connection:
        holder = connection.execute(SyncState.__table__.select()).one().lease_owner
    assert holder == taker.owner


@pytest.mark.parametrize(
    "holder",
    [
        owner_with_pid(os.getpid()),  # alive
        "other-host:1:abcdef12:0badc0de",  # another machine: its pids mean nothing here
        "legacy-host:1:abcdef12",  # an owner string without a pid space
    ],
    ids=["alive", "other-machine", "no-pid-space"],
)
def test_a_lease_of_a_live_or_unknowable_holder_is_respected(
    engine: Engine, source_id: int, holder: str
) -> None:
    assert not owner_is_gone(holder)
    Lease(engine, source_id, "q", holder).acquire(wait=False)
    with pytest.raises(LeaseBusyError):
        Lease(engine, source_id, "q", new_owner()).acquire(wait=False)


def test_renewing_a_lost_lease_stops_the_writer(engine: Engine, source_id: int) -> None:
    mine = Lease(engine, source_id, "q", new_owner())
    mine.acquire(wait=False)
    with engine.begin() as connection:
        connection.execute(update(SyncState).values(lease_owner="thief:1:abcdef12:"))
    with pytest.raises(LeaseLost, match="lost the sync lease"), engine.begin() as connection:
        mine.renew(connection)
