"""Coverage gaps: ranges the archive may be missing, recorded instead of kept silent.

Two causes: a windowed provider (ImaginePro keeps 24 hours) that moved its window past
our last complete pass before we read again, and a listing that cannot page past part
of the history (`Page.missed`). Windows are measured in the provider's clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, select, update

from archiver.db.models import CoverageGap
from archiver.log import get_logger
from archiver.providers.items import MissedRange, Page
from archiver.walks import StreamState, Walk

log = get_logger("archiver.gaps")


def provider_now(page: Page, fallback: datetime) -> datetime:
    """The provider's clock: its `Date` header, but never earlier than the newest item it
    serves (a server whose data runs on another clock than its `Date` header still
    measures its window in the data's time)."""
    stamps = [item.created_at for item in page.items if item.created_at is not None]
    served = page.served_at or fallback
    return max([served, *stamps])


def record_window_gap(
    connection: Connection,
    source_id: int,
    source: str,
    window: timedelta | None,
    state: StreamState,
    walk: Walk,
    served_at: datetime,
    now: datetime,
) -> int:
    """Whatever was created between our last complete pass and the start of the window
    the provider serves at `served_at` may be lost: record it; 1 when a new gap is recorded.

    Checked on the first page a run takes of a walk (fresh or resumed: a resumed walk's
    unread pages may have left the window meanwhile) and on the listing's last page
    (reading a long window takes time, and its tail keeps expiring). A recorded range
    counts as covered, so it is never reported twice; a range adjoining the last gap
    extends it instead of standing beside it.
    """
    if window is None or state.last_complete_at is None or walk.started_served_at is None:
        return 0
    gap_start = state.last_complete_at
    gap_end = min(served_at - window, walk.started_served_at)
    if gap_end <= gap_start:
        return 0
    state.last_complete_at = gap_end
    adjacent = connection.execute(
        select(CoverageGap.id).where(CoverageGap.source_id == source_id, CoverageGap.gap_end == gap_start)
    ).scalar()
    if adjacent is not None:
        connection.execute(update(CoverageGap).where(CoverageGap.id == adjacent).values(gap_end=gap_end))
        return 0
    reason = (
        f"no complete pass between {gap_start:%Y-%m-%d %H:%M:%S} and {gap_end:%Y-%m-%d %H:%M:%S} UTC, "
        f"and the provider serves only the last {window}; items created then may be lost"
    )
    connection.execute(
        insert(CoverageGap).values(
            source_id=source_id, gap_start=gap_start, gap_end=gap_end, detected_at=now, reason=reason
        )
    )
    log.error(
        "coverage gap: items may be lost",
        source=source,
        gap_start=gap_start.isoformat(),
        gap_end=gap_end.isoformat(),
    )
    return 1


def record_missed(
    connection: Connection, source_id: int, source: str, missed: list[MissedRange], now: datetime
) -> int:
    """Ranges the listing could not serve become coverage gaps, once each."""
    recorded = 0
    for gap in missed:
        known = connection.execute(
            select(CoverageGap.id).where(
                CoverageGap.source_id == source_id,
                CoverageGap.gap_start == gap.start,
                CoverageGap.gap_end == gap.end,
            )
        ).first()
        if known is not None:
            continue
        connection.execute(
            insert(CoverageGap).values(
                source_id=source_id, gap_start=gap.start, gap_end=gap.end, detected_at=now, reason=gap.reason
            )
        )
        log.error(
            "coverage gap: items may be missing",
            source=source,
            gap_start=gap.start.isoformat(),
            gap_end=gap.end.isoformat(),
            reason=gap.reason,
        )
        recorded += 1
    return recorded
