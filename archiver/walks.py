"""Where each walk of a source stands, kept in `sync_state.state` so it survives a crash.

A source has one or more streams (a qaves bucket, or a provider's one listing); each
has a watermark, the time of its last complete pass, and maybe an unfinished walk with
its resume cursor. Only the lease holder writes a source's state, so the engine reads
it once per run and writes it with every page, in the page's own transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from archiver.db.models import SyncState


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass
class Walk:
    """One walk down a stream, saved between pages so it can resume after a crash.

    `stop_at` None reads to the end (backfill, first sync); otherwise the walk ends on
    the first newest-first page that reaches below it. `high` is the newest created_at
    seen: it becomes the watermark only when the walk completes.
    """

    kind: str  # full | incremental
    cursor: dict[str, Any] | None = None
    stop_at: datetime | None = None
    high: datetime | None = None
    started_served_at: datetime | None = None
    ordered: bool = True
    pages: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "cursor": self.cursor,
            "stop_at": _iso(self.stop_at),
            "high": _iso(self.high),
            "started_served_at": _iso(self.started_served_at),
            "ordered": self.ordered,
            "pages": self.pages,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Walk:
        return cls(
            kind=data["kind"],
            cursor=data.get("cursor"),
            stop_at=_parse(data.get("stop_at")),
            high=_parse(data.get("high")),
            started_served_at=_parse(data.get("started_served_at")),
            ordered=data.get("ordered", True),
            pages=data.get("pages", 0),
        )


@dataclass
class StreamState:
    """One stream's watermark, last complete pass (provider time) and unfinished walk."""

    watermark: datetime | None = None
    last_complete_at: datetime | None = None
    walk: Walk | None = None
    meta: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "watermark": _iso(self.watermark),
            "last_complete_at": _iso(self.last_complete_at),
            "walk": self.walk.to_json() if self.walk else None,
            "meta": self.meta,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> StreamState:
        data = data or {}
        return cls(
            watermark=_parse(data.get("watermark")),
            last_complete_at=_parse(data.get("last_complete_at")),
            walk=Walk.from_json(data["walk"]) if data.get("walk") else None,
            meta=data.get("meta"),
        )


@dataclass
class SourceState:
    """A source's whole state document, held in memory while its lease is held."""

    document: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, connection: Connection, source_id: int) -> SourceState:
        document = connection.execute(
            select(SyncState.state).where(SyncState.source_id == source_id)
        ).scalar_one_or_none()
        return cls(dict(document or {}))

    def stream(self, name: str) -> StreamState:
        return StreamState.from_json(self.document.get("streams", {}).get(name))

    def put(self, name: str, state: StreamState) -> None:
        self.document = {
            **self.document,
            "streams": {**self.document.get("streams", {}), name: state.to_json()},
        }

    def columns(self, now: datetime) -> dict[str, Any]:
        """The `sync_state` values to write: the document, and for people who query the
        table, the source's watermark and last complete pass (the oldest of its streams)."""
        streams = self.document.get("streams", {}).values()
        watermarks = [_parse(s.get("watermark")) for s in streams]
        completes = [_parse(s.get("last_complete_at")) for s in streams]
        return {
            "state": self.document,
            "watermark": min(watermarks) if watermarks and all(watermarks) else None,  # type: ignore[type-var]
            "last_complete_at": min(completes) if completes and all(completes) else None,  # type: ignore[type-var]
            "updated_at": now,
        }
