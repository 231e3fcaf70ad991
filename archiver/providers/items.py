"""The normalized shapes every provider produces and the sync engine consumes.

A provider turns one raw history item into an `Item` (or a `RejectedItem` when the
raw JSON does not fit its documented shape); a listing yields `Page`s. Nothing here
knows which provider it came from: the engine and the database only see these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

JSONCursor = dict[str, Any]
"""A JSON-serializable resume point for a listing; saved in `sync_state` between pages."""


class Status(StrEnum):
    """The normalized generation status of INTERFACE.md."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    UNKNOWN = "unknown"


class AssetRole(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    REFERENCE = "reference"


@dataclass(frozen=True, slots=True)
class AssetRef:
    """One file a generation refers to, at its place in the provider's list."""

    role: AssetRole
    position: int
    url: str


@dataclass(frozen=True, slots=True)
class Item:
    """One history item, normalized. `raw` is the provider's JSON exactly as received."""

    external_id: str
    status: Status
    raw: dict[str, Any]
    provider_status: str | None = None
    prompt: str | None = None
    negative_prompt: str | None = None
    model: str | None = None
    bucket: str | None = None
    created_at: datetime | None = None
    completed_at: datetime | None = None
    assets: tuple[AssetRef, ...] = ()


@dataclass(frozen=True, slots=True)
class RejectedItem:
    """A raw item that did not fit the documented shape: kept with the reason, never dropped."""

    raw: Any
    reason: str
    external_id: str | None = None


@dataclass(slots=True)
class Page:
    """One listing response, normalized.

    `next_cursor` is where the listing resumes after this page (None: the listing
    ended). `served_at` is the provider's clock (its `Date` header) when it answered,
    so windowed sources measure their window in the provider's time, not ours.
    `newest_first` is False when this page contradicts newest-first order, so the
    engine must not stop early on it. `meta` holds envelope facts worth keeping that
    belong to the stream rather than to an item (qaves bucket id, visibility, link).
    `missed` names ranges the listing could not serve past.
    """

    items: list[Item]
    rejected: list[RejectedItem] = field(default_factory=list)
    next_cursor: JSONCursor | None = None
    served_at: datetime | None = None
    newest_first: bool = True
    repeats: int = 0
    meta: dict[str, Any] | None = None
    missed: list[MissedRange] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class MissedRange:
    """Part of the history the listing could not serve (e.g. a same-second burst larger
    than a page behind a seconds cursor): the archive records it as a coverage gap."""

    start: datetime
    end: datetime
    reason: str
