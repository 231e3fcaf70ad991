"""`save_page` on a real database: the upsert rules of DESIGN.md "Incremental sync"."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from archiver.db.models import Asset, Generation, GenerationRevision, RejectedItem
from archiver.db.store import PageCounts, save_page
from archiver.providers.items import AssetRef, AssetRole, Item, Status
from archiver.providers.items import RejectedItem as Rejected
from fixtures.archive_checks import new_source

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
SIGNED = "https://api.aurous-labs.com/v1/images/img_1/output/0?token={}"


@pytest.fixture
def source_id(engine: Engine) -> int:
    return new_source(engine, "a", "aurous")


def item(key: str = "img_1", **changes: Any) -> Item:
    raw = {"id": key, "status": "succeeded", "prompt": "a fox", "output_urls": [SIGNED.format("t1")]}
    fields: dict[str, Any] = {
        "external_id": key,
        "status": Status.SUCCEEDED,
        "raw": raw,
        "provider_status": "succeeded",
        "prompt": "a fox",
        "negative_prompt": "blurry",
        "created_at": T0,
        "completed_at": T0 + timedelta(seconds=14),
        "assets": (AssetRef(AssetRole.IMAGE, 0, SIGNED.format("t1")),),
    }
    return Item(**{**fields, **changes})


def save(
    engine: Engine, source_id: int, items: Sequence[Item], rejected: Sequence[Rejected] = ()
) -> PageCounts:
    with engine.begin() as connection:
        return save_page(connection, source_id, items, rejected, datetime.now(UTC))


def row(engine: Engine, key: str = "img_1") -> Any:
    with engine.connect() as connection:
        return connection.execute(select(Generation).where(Generation.external_id == key)).one()


def table(engine: Engine, model: Any) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(select(model.__table__)))


def test_a_new_item_is_stored_with_its_pending_assets(engine: Engine, source_id: int) -> None:
    counts = save(engine, source_id, [item()])
    assert (counts.seen, counts.new, counts.updated, counts.assets_new) == (1, 1, 0, 1)
    stored = row(engine)
    assert (stored.status, stored.prompt, stored.created_at) == ("succeeded", "a fox", T0)
    [asset] = table(engine, Asset)
    assert (asset.role, asset.position, asset.url, asset.state) == (
        "image",
        0,
        SIGNED.format("t1"),
        "pending",
    )


@pytest.mark.parametrize("field", ["prompt", "negative_prompt", "completed_at", "provider_status"])
def test_a_field_missing_from_a_later_listing_never_blanks_the_stored_value(
    engine: Engine, source_id: int, field: str
) -> None:
    first = item()
    save(engine, source_id, [first])
    save(engine, source_id, [item(**{field: None})])
    assert getattr(row(engine), field) == getattr(first, field)


def test_raw_keeps_the_newest_payload_and_the_earlier_one_goes_to_the_revisions(
    engine: Engine, source_id: int
) -> None:
    before = item(status=Status.RUNNING, provider_status="running", raw={"id": "img_1", "status": "running"})
    save(engine, source_id, [before])
    counts = save(engine, source_id, [item()])
    stored = row(engine)
    assert (stored.status, stored.raw) == ("succeeded", item().raw)
    assert counts.updated == 1
    [revision] = table(engine, GenerationRevision)
    assert (revision.generation_id, revision.raw) == (stored.id, before.raw)


def test_a_new_signed_url_token_alone_is_no_revision_but_is_kept(engine: Engine, source_id: int) -> None:
    save(engine, source_id, [item()])
    fresh = SIGNED.format("t2")
    later = item(raw={**item().raw, "output_urls": [fresh]}, assets=(AssetRef(AssetRole.IMAGE, 0, fresh),))
    counts = save(engine, source_id, [later])
    assert counts.updated == 0
    assert table(engine, GenerationRevision) == []
    assert row(engine).raw["output_urls"] == [fresh]
    [asset] = table(engine, Asset)
    assert (asset.url, asset.state) == (fresh, "pending")


def test_an_unchanged_item_only_moves_last_seen(engine: Engine, source_id: int) -> None:
    save(engine, source_id, [item()])
    first_seen = row(engine).last_seen_at
    counts = save(engine, source_id, [item()])
    assert (counts.new, counts.updated) == (0, 0)
    assert row(engine).last_seen_at > first_seen
    assert table(engine, GenerationRevision) == []


def test_a_page_holding_one_key_twice_is_stored_once(engine: Engine, source_id: int) -> None:
    """Postgres refuses an ON CONFLICT that meets one key twice in one statement."""
    counts = save(engine, source_id, [item(), item(prompt="a fox, again"), item("img_2")])
    assert (counts.seen, counts.new) == (3, 2)
    assert sorted(r.external_id for r in table(engine, Generation)) == ["img_1", "img_2"]
    assert row(engine).prompt == "a fox", "the first (newest-first) occurrence wins"
    counts = save(engine, source_id, [item(prompt="later"), item(prompt="later")])
    assert (counts.new, counts.updated) == (0, 1)
    assert row(engine).prompt == "later"


def test_new_outputs_of_a_finished_item_become_pending_assets(engine: Engine, source_id: int) -> None:
    save(engine, source_id, [item(status=Status.PENDING, assets=())])
    outputs = tuple(AssetRef(AssetRole.IMAGE, n, SIGNED.format(n)) for n in range(3))
    counts = save(engine, source_id, [item(assets=outputs)])
    assert counts.assets_new == 3
    assert sorted((a.position, a.state) for a in table(engine, Asset)) == [
        (0, "pending"),
        (1, "pending"),
        (2, "pending"),
    ]


def test_an_asset_marked_missing_is_tried_again_when_its_url_changes(engine: Engine, source_id: int) -> None:
    save(engine, source_id, [item()])
    with engine.begin() as connection:
        connection.execute(update(Asset).values(state="missing"))
    save(engine, source_id, [item()])
    assert [a.state for a in table(engine, Asset)] == ["missing"], "same URL: nothing new to try"
    fresh = SIGNED.format("t3")
    save(engine, source_id, [item(assets=(AssetRef(AssetRole.IMAGE, 0, fresh),))])
    assert [(a.url, a.state) for a in table(engine, Asset)] == [(fresh, "pending")]


def test_rejected_items_are_kept_with_their_raw_and_reason(engine: Engine, source_id: int) -> None:
    bad = Rejected({"id": "img_9", "created_at": 17}, "created_at: expected an ISO-8601 string", "img_9")
    counts = save(engine, source_id, [item()], [bad])
    assert (counts.seen, counts.rejected) == (1, 1)
    [kept] = table(engine, RejectedItem)
    assert (kept.external_id, kept.raw, kept.reason) == ("img_9", bad.raw, bad.reason)


def test_every_new_item_gets_its_own_assets_whatever_its_key_holds(engine: Engine, source_id: int) -> None:
    keys = ["plain", "sm😀ile", 'quo"te', "back\\slash", "ünï", "space d", "[1,2]"]
    page = [
        item(key, assets=(AssetRef(AssetRole.IMAGE, 0, f"https://cdn.example/{n}.png"),))
        for n, key in enumerate(keys)
    ]
    counts = save(engine, source_id, page)
    assert (counts.new, counts.assets_new) == (len(keys), len(keys))
    with engine.connect() as connection:
        pairs = connection.execute(
            select(Generation.external_id, Asset.url).join(Asset, Asset.generation_id == Generation.id)
        ).all()
    assert sorted(pairs) == sorted((key, f"https://cdn.example/{n}.png") for n, key in enumerate(keys))
