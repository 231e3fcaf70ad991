"""The downloader's side of the `assets` table: which assets are due, and their outcomes.

Reads are short queries; writes are batched by the one coordinating thread into short
transactions (one statement per kind of outcome), so SQLite never sees a lock storm.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, bindparam, func, or_, select, update

from archiver.db.models import Asset, Generation

_assets = Asset.__table__


@dataclass(frozen=True)
class Job:
    """One asset to fetch, with what a refresh and the backoff need to know."""

    asset_id: int
    source: str
    url: str
    external_id: str
    created_at: datetime | None
    attempts: int
    not_found: int = 0


@dataclass(frozen=True)
class Stored:
    asset_id: int
    sha256: str
    size_bytes: int
    content_type: str | None
    path: str
    downloaded_at: datetime


@dataclass(frozen=True)
class Failed:
    asset_id: int
    attempts: int
    next_attempt_at: datetime
    last_error: str
    not_found_count: int = 0


@dataclass(frozen=True)
class Missing:
    asset_id: int
    attempts: int
    last_error: str
    not_found_count: int = 0


Outcome = Stored | Failed | Missing


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(
        Asset.state == "pending",
        and_(Asset.state == "failed", or_(Asset.next_attempt_at.is_(None), Asset.next_attempt_at <= now)),
    )


def due_jobs(
    engine: Engine, source: str, source_id: int, after_id: int, limit: int, now: datetime
) -> list[Job]:
    """Up to `limit` due assets of one source with ids above `after_id`, in id order."""
    query = (
        select(
            Asset.id,
            Asset.url,
            Asset.attempts,
            Asset.not_found_count,
            Generation.external_id,
            Generation.created_at,
        )
        .join(Generation, Generation.id == Asset.generation_id)
        .where(Generation.source_id == source_id, Asset.id > after_id, _due(now))
        .order_by(Asset.id)
        .limit(limit)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [
        Job(row.id, source, row.url, row.external_id, row.created_at, row.attempts, row.not_found_count)
        for row in rows
    ]


def oldest_due_created_at(engine: Engine, source_id: int, now: datetime) -> datetime | None:
    """How far back a refresh must re-list so that every due asset gets a fresh URL."""
    query = (
        select(func.min(Generation.created_at))
        .join(Asset, Asset.generation_id == Generation.id)
        .where(Generation.source_id == source_id, _due(now))
    )
    with engine.connect() as connection:
        return connection.execute(query).scalar()


def _update(**values: Any) -> Any:
    """An executemany UPDATE by asset id; `b_<field>` binds take each outcome's fields."""
    return update(_assets).where(_assets.c.id == bindparam("b_asset_id")).values(**values)


def _bound(*fields: str) -> dict[str, Any]:
    return {field: bindparam(f"b_{field}") for field in fields}


_STATEMENTS: dict[type, Any] = {
    Stored: _update(
        state="downloaded",
        next_attempt_at=None,
        last_error=None,
        not_found_count=0,
        **_bound("sha256", "size_bytes", "content_type", "path", "downloaded_at"),
    ),
    Failed: _update(state="failed", **_bound("attempts", "next_attempt_at", "last_error", "not_found_count")),
    Missing: _update(
        state="missing", next_attempt_at=None, **_bound("attempts", "last_error", "not_found_count")
    ),
}


def write_outcomes(engine: Engine, outcomes: Sequence[Outcome]) -> None:
    """Record a batch of outcomes in one short transaction."""
    if not outcomes:
        return
    with engine.begin() as connection:
        for kind, statement in _STATEMENTS.items():
            rows = [
                {f"b_{name}": value for name, value in vars(outcome).items()}
                for outcome in outcomes
                if isinstance(outcome, kind)
            ]
            if rows:
                connection.execute(statement, rows)
