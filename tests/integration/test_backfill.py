"""`archiver backfill` of every provider against the simulator's ground truth."""

from __future__ import annotations

import pytest

from archiver.simulator import Simulator
from fixtures.archive_checks import (
    ALL_PROVIDERS,
    ID_FIELD,
    archive_problems,
    archived,
    configure,
    rejected_items,
    sync_runs,
    sync_state,
)
from fixtures.cli import ArchiverRunner

# Histories with items of every status where the provider has statuses; qaves in two buckets.
HISTORIES = {
    "qaves": {"default": 230, "client-acme": 70},
    "aurous": {"default": 260},
    "imaginepro": {"default": 240},
    "apimall": {"default": 230},
}


def seed(sim: Simulator, provider: str) -> None:
    for bucket, items in HISTORIES[provider].items():
        pending = 4 if provider in ("aurous", "apimall") else 0
        sim.seed(provider, items=items, bucket=bucket, pending=pending)


@pytest.mark.parametrize("provider", ALL_PROVIDERS)
def test_backfill_equals_ground_truth(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str, provider: str
) -> None:
    seed(simulator, provider)
    buckets = {"buckets": list(HISTORIES[provider])} if provider == "qaves" else {}
    configure(archiver, simulator, database_url, [provider], **buckets)
    result = archiver.run("backfill")
    assert result.code == 0, result.err
    truth = simulator.truth(provider)
    assert len(truth) == sum(HISTORIES[provider].values())
    assert archive_problems(database_url, provider, provider, truth) == []
    assert {row["external_id"] for row in archived(database_url, provider)} == {
        raw[ID_FIELD[provider]] for raw in truth
    }
    [run] = sync_runs(database_url, provider)
    assert (run["mode"], run["status"], run["records_new"]) == ("backfill", "ok", len(truth))
    state = sync_state(database_url, provider)
    assert state is not None and state["watermark"] is not None and state["last_success_at"] is not None


@pytest.mark.parametrize("provider", ALL_PROVIDERS)
def test_a_second_backfill_changes_nothing(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str, provider: str
) -> None:
    simulator.seed(provider, items=120)
    configure(archiver, simulator, database_url, [provider])
    assert archiver.run("backfill").code == 0
    again = archiver.run("backfill")
    assert again.code == 0, again.err
    assert archive_problems(database_url, provider, provider, simulator.truth(provider)) == []
    assert [run["records_new"] for run in sync_runs(database_url, provider)] == [120, 0]


@pytest.mark.parametrize(
    ("provider", "kind"),
    [("qaves", "missing"), ("aurous", "wrong_type"), ("imaginepro", "wrong_type"), ("apimall", "missing")],
)
def test_a_malformed_item_is_kept_aside_and_its_page_archived(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str, provider: str, kind: str
) -> None:
    simulator.seed(provider, items=150)
    truth = simulator.truth(provider)
    simulator.inject(provider, "malformed_item", kind=kind, position=3)
    configure(archiver, simulator, database_url, [provider], page_size=50)
    result = archiver.run("backfill")
    assert result.code == 0, result.err
    bad = truth[3]
    [rejected] = rejected_items(database_url, provider)
    assert rejected["external_id"] == bad[ID_FIELD[provider]]
    assert rejected["raw"][ID_FIELD[provider]] == bad[ID_FIELD[provider]]
    assert rejected["raw"] != bad, "the rejected raw is the malformed item as served"
    assert rejected["reason"]
    good = [raw for raw in truth if raw is not bad]
    assert archive_problems(database_url, provider, provider, good) == []
    [run] = sync_runs(database_url, provider)
    assert (run["status"], run["records_rejected"]) == ("ok", 1)


@pytest.mark.parametrize(
    ("provider", "faults"),
    [
        ("qaves", ("429", "503", "truncate")),
        ("aurous", ("500", "drop", "502")),
        ("imaginepro", ("502", "429", "drop")),
        ("apimall", ("truncate", "500", "429")),
    ],
)
def test_transient_failures_during_a_backfill_are_retried(
    archiver: ArchiverRunner,
    simulator: Simulator,
    database_url: str,
    provider: str,
    faults: tuple[str, ...],
) -> None:
    simulator.seed(provider, items=160)
    configure(archiver, simulator, database_url, [provider], page_size=50)
    for fault in faults:
        simulator.inject(provider, fault, **({"retry_after": 0} if fault == "429" else {}))
    result = archiver.run("backfill")
    assert result.code == 0, result.err
    assert archive_problems(database_url, provider, provider, simulator.truth(provider)) == []
    assert [run["status"] for run in sync_runs(database_url, provider)] == ["ok"]
