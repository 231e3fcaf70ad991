"""Per-source health, read from the archive alone, for `archiver status` and monitoring.

A source is unhealthy when its last run failed, when it has an open coverage gap, or
when it is a windowed source whose next scheduled sync would come too late to see
everything its provider still serves.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select

from archiver.config import SourceSettings, format_duration
from archiver.db.models import Asset, CoverageGap, Generation, SyncRun, SyncState
from archiver.providers import provider_class


@dataclass
class SourceStatus:
    name: str
    provider: str
    healthy: bool
    problems: list[str]
    last_success_at: datetime | None
    watermark: datetime | None
    records: int
    assets: dict[str, int]
    open_gaps: list[dict[str, Any]]
    last_run: dict[str, Any] | None
    last_error: str | None
    interval: str
    window: str | None = None

    def to_json(self) -> dict[str, Any]:
        """All fields, plus INTERFACE.md's own words for the headline figures ("last
        success, watermark, records, pending assets, coverage gaps, health")."""
        document = _jsonable(asdict(self))
        document.update(
            last_success=document["last_success_at"],
            pending_assets=self.assets["pending"],
            coverage_gaps=document["open_gaps"],
            health="ok" if self.healthy else "unhealthy",
        )
        return document


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return value


def collect_status(
    engine: Engine,
    source_ids: dict[str, int],
    sources: list[SourceSettings],
    now: datetime | None = None,
) -> list[SourceStatus]:
    now = now or datetime.now(UTC)
    ids = [source_ids[s.name] for s in sources]
    with engine.connect() as connection:
        records = dict(
            connection.execute(
                select(Generation.source_id, func.count())
                .where(Generation.source_id.in_(ids))
                .group_by(Generation.source_id)
            ).all()
        )
        asset_counts: dict[int, dict[str, int]] = {}
        for source_id, state, count in connection.execute(
            select(Generation.source_id, Asset.state, func.count())
            .join(Generation, Generation.id == Asset.generation_id)
            .where(Generation.source_id.in_(ids))
            .group_by(Generation.source_id, Asset.state)
        ):
            asset_counts.setdefault(source_id, {})[state] = count
        states = {
            row.source_id: row
            for row in connection.execute(select(SyncState.__table__).where(SyncState.source_id.in_(ids)))
        }
        gaps: dict[int, list[dict[str, Any]]] = {}
        for gap in connection.execute(
            select(CoverageGap.__table__)
            .where(CoverageGap.source_id.in_(ids), CoverageGap.acknowledged_at.is_(None))
            .order_by(CoverageGap.gap_start)
        ):
            gaps.setdefault(gap.source_id, []).append(
                {
                    "id": gap.id,
                    "gap_start": gap.gap_start,
                    "gap_end": gap.gap_end,
                    "reason": gap.reason,
                }
            )
        latest = (
            select(SyncRun.source_id, func.max(SyncRun.id).label("run_id"))
            .where(SyncRun.source_id.in_(ids))
            .group_by(SyncRun.source_id)
            .subquery()
        )
        runs = {
            run.source_id: run
            for run in connection.execute(
                select(SyncRun.__table__).join(latest, SyncRun.id == latest.c.run_id)
            )
        }
        last_errors = dict(
            connection.execute(
                select(SyncRun.source_id, SyncRun.error).where(
                    SyncRun.id.in_(
                        select(func.max(SyncRun.id))
                        .where(SyncRun.source_id.in_(ids), SyncRun.error.is_not(None))
                        .group_by(SyncRun.source_id)
                    )
                )
            ).all()
        )

    result = []
    for source in sources:
        source_id = source_ids[source.name]
        state = states.get(source_id)
        run = runs.get(source_id)
        window = provider_class(source.provider).window
        last_success = state.last_success_at if state else None
        problems = []
        if run is not None and run.status == "error":
            problems.append(f"last {run.mode} failed: {run.error}")
        if gaps.get(source_id):
            problems.append(f"{len(gaps[source_id])} open coverage gap(s)")
        if window is not None and last_success is not None and now + source.interval > last_success + window:
            problems.append(
                f"next sync (every {format_duration(source.interval)}) comes after items seen last at "
                f"{last_success:%Y-%m-%d %H:%M} UTC leave the {format_duration(window)} window"
            )
        result.append(
            SourceStatus(
                name=source.name,
                provider=source.provider,
                healthy=not problems,
                problems=problems,
                last_success_at=last_success,
                watermark=state.watermark if state else None,
                records=records.get(source_id, 0),
                assets={
                    state_name: asset_counts.get(source_id, {}).get(state_name, 0)
                    for state_name in ("pending", "downloaded", "failed", "missing")
                },
                open_gaps=gaps.get(source_id, []),
                last_run=None
                if run is None
                else {
                    "id": run.id,
                    "mode": run.mode,
                    "status": run.status,
                    "started_at": run.started_at,
                    "finished_at": run.finished_at,
                    "records_seen": run.records_seen,
                    "records_new": run.records_new,
                    "records_updated": run.records_updated,
                },
                last_error=last_errors.get(source_id),
                interval=format_duration(source.interval),
                window=format_duration(window) if window else None,
            )
        )
    return result
