"""Writes one normalized page into the archive, in the caller's transaction.

The rules of DESIGN.md "Incremental sync": an upsert updates what the provider sent and
nothing else (a field missing from a later listing never blanks a stored value), `raw`
keeps the newest payload and an earlier one that differs in substance goes to
`generation_revisions`, a page is de-duplicated by key first (Postgres refuses an
ON CONFLICT that meets one key twice), and assets get the newest URL the provider gave.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql

from archiver.db.bulk import BulkInsert
from archiver.db.models import Asset, Generation, GenerationRevision, RejectedItem
from archiver.providers.items import Item
from archiver.providers.items import RejectedItem as Rejected

_FIELDS = (
    "status",  # first: `_field_values` stores its enum as text
    "provider_status",
    "prompt",
    "negative_prompt",
    "model",
    "bucket",
    "created_at",
    "completed_at",
)
_ITEM_FIELDS = attrgetter(*_FIELDS)
# Signed URLs change their query on every listing; that is no change of substance.
_URL_QUERY = re.compile(r"(https?://[^\s?\"#]+)\?[^\s\"#]*")
_NEW_GENERATIONS = BulkInsert(
    Generation.__table__,
    columns=("external_id", "raw", *_FIELDS),
    constants=("source_id", "first_seen_at", "last_seen_at"),
    conflict=("source_id", "external_id"),
)
# Postgres: insert a page and learn the new rows' ids in one round trip.
_INSERT_RETURNING = (
    postgresql.insert(Generation)
    .on_conflict_do_nothing(index_elements=["source_id", "external_id"])
    .returning(Generation.id, Generation.external_id)
)
# The ids SQLite gave a page's new rows, as one JSON row: a hundred result rows are a
# hundred sqlite3 steps, each letting go of the GIL to the thread fetching the next page.
_KEYS = func.json_each(bindparam("keys")).table_valued("value")
_IDS_OF_KEYS = select(func.json_group_array(func.json_array(Generation.id, Generation.external_id))).where(
    Generation.source_id == bindparam("source_id"),
    Generation.external_id.in_(select(_KEYS.c.value)),
)
# Prepared once with expanding IN lists: coercing each key of a literal list into the
# statement cost more than the lookup itself.
_ROWS_OF_KEYS = select(
    Generation.id, Generation.external_id, Generation.raw, *(getattr(Generation, f) for f in _FIELDS)
).where(
    Generation.source_id == bindparam("source_id"),
    Generation.external_id.in_(bindparam("keys", expanding=True)),
)
_SEEN_AGAIN = (
    update(Generation)
    .where(Generation.id.in_(bindparam("ids", expanding=True)))
    .values(last_seen_at=bindparam("now"))
)
_ASSETS_OF_GENERATIONS = select(
    Asset.id, Asset.generation_id, Asset.role, Asset.position, Asset.url, Asset.state
).where(Asset.generation_id.in_(bindparam("ids", expanding=True)))
_NEW_ASSETS = BulkInsert(
    Asset.__table__,
    columns=("generation_id", "role", "position", "url"),
    constants=("state",),
    conflict=("generation_id", "role", "position"),
)


@dataclass
class PageCounts:
    seen: int = 0
    new: int = 0
    updated: int = 0
    rejected: int = 0
    assets_new: int = 0

    def add(self, other: PageCounts) -> None:
        for name in ("seen", "new", "updated", "rejected", "assets_new"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def substance(raw: Any) -> Any:
    """`raw` without the volatile parts (signed URL queries), for change detection."""
    if isinstance(raw, str):
        return _URL_QUERY.sub(r"\1", raw)
    if isinstance(raw, dict):
        return {key: substance(value) for key, value in raw.items()}
    if isinstance(raw, list):
        return [substance(value) for value in raw]
    return raw


def _unique(items: Iterable[Item]) -> list[Item]:
    """First occurrence wins: a page is newest first, and a repeat adds nothing."""
    seen: dict[str, Item] = {}
    for item in items:
        seen.setdefault(item.external_id, item)
    return list(seen.values())


def save_page(
    connection: Connection,
    source_id: int,
    items: Sequence[Item],
    rejected: Sequence[Rejected],
    now: datetime,
    run_id: int | None = None,
) -> PageCounts:
    """Upsert a page's items and their assets; record its rejected items."""
    counts = PageCounts(seen=len(items), rejected=len(rejected))
    unique = _unique(items)
    if unique:
        ids, changed_ids, new_ids = _upsert_generations(connection, source_id, unique, now)
        counts.new = len(new_ids)
        counts.updated = len(changed_ids)
        counts.assets_new = _upsert_assets(connection, unique, ids, new_ids)
    if rejected:
        connection.execute(
            insert(RejectedItem),
            [
                {
                    "source_id": source_id,
                    "sync_run_id": run_id,
                    "external_id": r.external_id,
                    "reason": r.reason,
                    "raw": r.raw,
                    "seen_at": now,
                }
                for r in rejected
            ],
        )
    return counts


def _upsert_generations(
    connection: Connection, source_id: int, items: list[Item], now: datetime
) -> tuple[dict[str, int], set[int], set[int]]:
    """Split the page into new and archived items, insert the new, update the archived.

    The split goes the backend's fastest way. SQLite looks the page's keys up first and
    inserts only what is missing, so a re-read page costs no INSERT. Postgres inserts
    first with RETURNING and looks up only the conflicts: there every statement is a
    round trip, and a lookup on every backfill page would be one more.
    """
    if connection.dialect.name == "sqlite":
        existing = _archived(connection, source_id, [item.external_id for item in items])
        ids = _insert_new(connection, source_id, [i for i in items if i.external_id not in existing], now)
    else:
        ids = _insert_returning(connection, source_id, items, now)
        existing = _archived(
            connection, source_id, [i.external_id for i in items if i.external_id not in ids]
        )
    new_ids = set(ids.values())
    ids.update((key, row.id) for key, row in existing.items())

    changes: list[dict[str, Any]] = []
    revisions: list[dict[str, Any]] = []
    untouched: list[int] = []
    changed_ids: set[int] = set()
    for item in items:
        row = existing.get(item.external_id)
        if row is None:
            continue
        values = {
            name: value
            for name, value in zip(_FIELDS, _field_values(item), strict=True)
            if value is not None and value != getattr(row, name)
        }
        raw_changed = item.raw != row.raw
        raw_changed_in_substance = raw_changed and substance(item.raw) != substance(row.raw)
        if raw_changed_in_substance:
            revisions.append({"generation_id": row.id, "raw": row.raw, "seen_at": now})
        if values or raw_changed_in_substance:
            changed_ids.add(row.id)
        if values or raw_changed:
            kept = {name: getattr(row, name) for name in _FIELDS}
            changes.append({"_id": row.id, "raw": item.raw, **kept, **values})
        else:
            untouched.append(row.id)
    if changes:
        connection.execute(
            update(Generation)
            .where(Generation.id == bindparam("_id"))
            .values(raw=bindparam("raw"), last_seen_at=now, **{name: bindparam(name) for name in _FIELDS}),
            changes,
        )
    if untouched:
        connection.execute(_SEEN_AGAIN, {"ids": untouched, "now": now})
    if revisions:
        connection.execute(insert(GenerationRevision), revisions)
    return ids, changed_ids, new_ids


def _insert_returning(
    connection: Connection, source_id: int, items: list[Item], now: datetime
) -> dict[str, int]:
    """Insert the items not archived yet; the ids of those inserted (a conflict returns
    no row), in one multi-row statement."""
    rows = [
        {
            "source_id": source_id,
            "external_id": item.external_id,
            "raw": item.raw,
            "first_seen_at": now,
            "last_seen_at": now,
            **dict(zip(_FIELDS, _field_values(item), strict=True)),
        }
        for item in items
    ]
    return {row.external_id: row.id for row in connection.execute(_INSERT_RETURNING, rows)}


def _insert_new(connection: Connection, source_id: int, items: list[Item], now: datetime) -> dict[str, int]:
    """Insert `items`, known to be new (SQLite); their ids by external id, read back in
    one query that returns one row."""
    if not items:
        return {}
    _NEW_GENERATIONS.execute(
        connection,
        ((item.external_id, item.raw, *_field_values(item)) for item in items),
        {"source_id": source_id, "first_seen_at": now, "last_seen_at": now},
    )
    keys = json.dumps([item.external_id for item in items], ensure_ascii=False)
    found = connection.execute(_IDS_OF_KEYS, {"source_id": source_id, "keys": keys}).scalar_one()
    return {external_id: id_ for id_, external_id in json.loads(found)}


def _archived(connection: Connection, source_id: int, keys: list[str]) -> dict[str, Any]:
    """The archived rows of `keys`, with every field an update compares."""
    if not keys:
        return {}
    rows = connection.execute(_ROWS_OF_KEYS, {"source_id": source_id, "keys": keys})
    return {row.external_id: row for row in rows}


def _field_values(item: Item) -> tuple[Any, ...]:
    """The item's `_FIELDS` in order, as stored (the status enum as its text)."""
    status, *rest = _ITEM_FIELDS(item)
    return (status.value, *rest)


def _upsert_assets(connection: Connection, items: list[Item], ids: dict[str, int], new_ids: set[int]) -> int:
    """Insert the assets not yet known and give known ones the newest URL. A generation
    inserted by this page has no assets yet, so only older ones are looked up (a
    backfill page then costs one statement here, not two)."""
    wanted = {
        (ids[item.external_id], ref.role.value, ref.position): ref.url
        for item in items
        if item.external_id in ids
        for ref in item.assets
    }
    if not wanted:
        return 0
    existing = _archived_assets(connection, sorted({key[0] for key in wanted} - new_ids))
    fresh = [(*key, url) for key, url in wanted.items() if key not in existing]
    _NEW_ASSETS.execute(connection, fresh, {"state": "pending"})
    moved = [
        {"_id": row.id, "url": wanted[key], "state": "pending" if row.state == "missing" else row.state}
        for key, row in existing.items()
        if key in wanted and wanted[key] != row.url
    ]
    if moved:
        # A new URL is worth trying at once, even for an asset waiting out a backoff.
        connection.execute(
            update(Asset)
            .where(Asset.id == bindparam("_id"))
            .values(url=bindparam("url"), state=bindparam("state"), next_attempt_at=None, not_found_count=0),
            moved,
        )
    return len(fresh)


def _archived_assets(connection: Connection, generation_ids: list[int]) -> dict[tuple[int, str, int], Any]:
    """The asset rows of these generations by (generation, role, position)."""
    if not generation_ids:
        return {}
    rows = connection.execute(_ASSETS_OF_GENERATIONS, {"ids": generation_ids})
    return {(row.generation_id, row.role, row.position): row for row in rows}
