"""`archiver status --json` and its exit code: what monitoring sees."""

from __future__ import annotations

import json
from datetime import timedelta

from archiver.simulator import Simulator
from fixtures.cli import ArchiverRunner


def _config(
    archiver: ArchiverRunner, sim: Simulator, database_url: str, providers: list[str], **extra: object
) -> None:
    archiver.write_config(
        [
            {
                "name": p,
                "provider": p,
                "api_key_env": f"KEY_{p.upper()}",
                "base_url": sim.base_url(p),
                "download": False,
                **extra,
            }
            for p in providers
        ],
        database_url=database_url,
    )
    for p in providers:
        archiver.env.setdefault(f"KEY_{p.upper()}", sim.api_key(p))


def _status(archiver: ArchiverRunner) -> tuple[int, dict]:  # type: ignore[type-arg]
    result = archiver.run("status", "--json")
    return result.code, json.loads(result.out)


def test_healthy_archive_exits_zero(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str
) -> None:
    simulator.seed("qaves", items=30)
    simulator.seed("imaginepro", items=30)
    _config(archiver, simulator, database_url, ["qaves", "imaginepro"])
    assert archiver.run("sync").code == 0
    code, document = _status(archiver)
    assert code == 0
    assert document["healthy"] is True
    assert [s["records"] for s in document["sources"]] == [30, 30]
    assert all(s["last_success_at"] and s["watermark"] for s in document["sources"])
    qaves = document["sources"][0]
    assert (qaves["health"], qaves["pending_assets"], qaves["coverage_gaps"]) == ("ok", 30, [])
    assert qaves["last_success"] == qaves["last_success_at"]


def test_failing_key_makes_status_exit_one(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str
) -> None:
    simulator.seed("qaves", items=10)
    simulator.seed("apimall", items=10)
    archiver.env["KEY_APIMALL"] = "am_wrong_key_123"
    _config(archiver, simulator, database_url, ["qaves", "apimall"])
    sync = archiver.run("sync")
    assert sync.code == 1
    assert "apimall: the API key from $KEY_APIMALL was rejected (401)" in sync.err
    assert "am_wrong_key_123" not in sync.err + sync.out
    code, document = _status(archiver)
    assert code == 1
    qaves, apimall = document["sources"]
    assert qaves["healthy"] is True and qaves["records"] == 10
    assert apimall["healthy"] is False
    assert "rejected" in apimall["last_error"]
    assert any("last sync failed" in problem for problem in apimall["problems"])


def test_open_gap_makes_status_exit_one(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str
) -> None:
    simulator.seed("imaginepro", items=40)
    _config(archiver, simulator, database_url, ["imaginepro"])
    assert archiver.run("sync").code == 0
    simulator.advance(timedelta(hours=30))
    simulator.add("imaginepro", 3)
    assert archiver.run("sync").code == 0
    code, document = _status(archiver)
    assert code == 1
    [source] = document["sources"]
    assert len(source["open_gaps"]) == 1
    assert source["coverage_gaps"] == source["open_gaps"]
    assert source["health"] == "unhealthy"
    assert "open coverage gap" in source["problems"][0]
