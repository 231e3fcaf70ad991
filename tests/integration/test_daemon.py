"""`archiver daemon` as systemd runs it: a real process, real HTTP, real signals."""

from __future__ import annotations

import signal
import time
from datetime import datetime
from itertools import pairwise

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.exc import DBAPIError

from archiver.db.models import SyncRun
from archiver.simulator import Simulator
from fixtures.cli import ArchiverRunner

pytestmark = pytest.mark.slow


def _source(sim: Simulator, provider: str, name: str, interval: str = "1s") -> dict[str, object]:
    return {
        "name": name,
        "provider": provider,
        "api_key_env": f"KEY_{provider.upper()}",
        "base_url": sim.base_url(provider),
        "interval": interval,
        "download": False,
    }


def _runs(database_url: str) -> list[SyncRun]:
    """The sync_runs rows so far (none while the daemon is still creating the schema)."""
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as connection:
            return list(connection.execute(select(SyncRun.__table__).order_by(SyncRun.id)))  # type: ignore[arg-type]
    except DBAPIError:
        return []
    finally:
        engine.dispose()


def _wait_for(condition, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_daemon_archives_new_items_each_round_and_stops_cleanly_on_sigterm(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str
) -> None:
    simulator.seed("qaves", items=50)
    simulator.seed("apimall", items=30)
    archiver.write_config(
        [_source(simulator, "qaves", "q"), _source(simulator, "apimall", "m")], database_url=database_url
    )
    archiver.env.update(
        {"KEY_QAVES": simulator.api_key("qaves"), "KEY_APIMALL": simulator.api_key("apimall")}
    )
    daemon = archiver.spawn("daemon")
    try:
        _wait_for(lambda: sum(r.status == "ok" for r in _runs(database_url)) >= 2)
        simulator.add("qaves", 7)
        simulator.add("apimall", 4)
        _wait_for(
            lambda: sum(r.records_new for r in _runs(database_url) if r.status == "ok") >= 50 + 30 + 7 + 4
        )
        ok_rounds = [r for r in _runs(database_url) if r.status == "ok"]
        assert len(ok_rounds) >= 4  # several rounds per source, not one
        daemon.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = daemon.wait(timeout=30)
        assert time.monotonic() - started < 15
    finally:
        if daemon.poll() is None:
            daemon.kill()
    assert code == 0, archiver.output(daemon).err
    assert all(run.status != "running" for run in _runs(database_url))
    assert len(simulator.truth("qaves")) == 57


def test_two_daemons_share_the_sources_without_overlapping_runs(
    archiver: ArchiverRunner, simulator: Simulator, postgres_url: str
) -> None:
    for provider in ("qaves", "aurous", "imaginepro", "apimall"):
        simulator.seed(provider, items=150)
    simulator.inject("qaves", "slow", times=20, delay=0.1)
    sources = [_source(simulator, p, p) for p in ("qaves", "aurous", "imaginepro", "apimall")]
    archiver.write_config(sources, database_url=postgres_url)
    archiver.env.update(
        {f"KEY_{p.upper()}": simulator.api_key(p) for p in ("qaves", "aurous", "imaginepro", "apimall")}
    )
    daemons = [archiver.spawn("daemon"), archiver.spawn("daemon")]
    try:
        _wait_for(
            lambda: sum(r.records_new for r in _runs(postgres_url) if r.status == "ok") >= 600, timeout=60
        )
        for provider in ("qaves", "imaginepro"):
            simulator.add(provider, 5)
        _wait_for(
            lambda: sum(r.records_new for r in _runs(postgres_url) if r.status == "ok") >= 610, timeout=60
        )
        # A daemon that came up late (a loaded machine) joins on its next scheduled round.
        _wait_for(lambda: len({run.owner.rsplit(":", 3)[1] for run in _runs(postgres_url)}) == 2, timeout=60)
        time.sleep(2)
    finally:
        for daemon in daemons:
            daemon.send_signal(signal.SIGTERM)
        codes = [daemon.wait(timeout=30) for daemon in daemons]
    errors = [archiver.output(daemon).err[-3000:] for daemon in daemons]
    assert codes == [0, 0], errors
    runs = _runs(postgres_url)
    assert {run.owner.rsplit(":", 3)[1] for run in runs} == {str(d.pid) for d in daemons}  # both worked
    assert sum(r.records_new for r in runs) == 610  # everything once, nothing twice
    by_source: dict[int, list[tuple[datetime, datetime]]] = {}
    for run in runs:
        assert run.finished_at is not None
        by_source.setdefault(run.source_id, []).append((run.started_at, run.finished_at))
    for spans in by_source.values():
        spans.sort()
        for (_, end), (start, _) in pairwise(spans):
            assert end <= start, "two runs of one source overlapped"
