"""The sync engine: incremental passes and resumable backfills, for any provider.

Every page is one transaction: its items, their pending assets, its rejected items,
the run's counts, the walk's resume point and the lease renewal commit together, so a
kill at any instant loses at most the page in hand. The watermark moves only when a
walk has reached its stop line (or the end): a walk killed after its first page keeps
its newest item as pending progress (`walk.high`), never as the watermark, because the
items between that page and the old watermark were never read.

The engine never asks which provider it talks to: it reads `walk()`, `streams()`,
`window` and the normalized pages.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import Connection, func, insert, select, update

from archiver.archive import Archive
from archiver.config import SourceConfig
from archiver.db.lease import Lease, new_owner
from archiver.db.models import CoverageGap, Generation, SyncRun, SyncState
from archiver.db.store import PageCounts, save_page
from archiver.errors import ArchiverError, LeaseBusyError, PaginationError, ProviderError, SourceError
from archiver.http import HttpClient
from archiver.log import get_logger, redact
from archiver.providers import Provider, provider_class
from archiver.providers.items import MissedRange, Page

log = get_logger("archiver.sync")

# Items still pending after this long are taken as abandoned by the provider: they no
# longer hold the stop line down, or every sync would re-read back to them forever.
PENDING_HORIZON = timedelta(days=3)
# What a provider answers for a cursor it no longer knows.
CURSOR_REFUSED = frozenset({400, 404, 410, 422})


class Mode(StrEnum):
    SYNC = "sync"
    BACKFILL = "backfill"


class Interrupted(Exception):
    """SIGTERM/SIGINT arrived: the page in hand was saved; the walk resumes next time."""


class Progress(Protocol):
    def page(self, source: str, stream: str, counts: PageCounts, total: PageCounts) -> None: ...


@dataclass
class RunResult:
    source: str
    mode: Mode
    status: str  # ok | error | interrupted
    counts: PageCounts = field(default_factory=PageCounts)
    pages: int = 0
    error: str | None = None
    gaps: int = 0
    busy: bool = False  # another archiver held the lease; nothing was done

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass
class Walk:
    """One walk down a stream, as saved between pages so it can resume after a crash.

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
    """Per stream (a qaves bucket, or a provider's one listing): kept in sync_state.state."""

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


def provider_now(page: Page, fallback: datetime) -> datetime:
    """The provider's clock: its `Date` header, but never earlier than the newest item it
    serves (a server whose data runs on another clock than its `Date` header still
    measures its window in the data's time)."""
    stamps = [item.created_at for item in page.items if item.created_at is not None]
    served = page.served_at or fallback
    return max([served, *stamps])


def prefetched(pages: Iterator[Page], stop_early: threading.Event) -> Iterator[Page]:
    """Fetch the next page while the current one is being written (DESIGN: overlapping
    fetch and write is how a backfill gets near the speed of fetching alone).

    Never more than one page ahead: the next fetch starts only once the consumer has
    taken the page before, so a walk that ends on its first page (a no-op sync) costs
    one speculative request, not two.
    """
    handoff: queue.Queue[tuple[str, Any]] = queue.Queue()
    taken = threading.Semaphore(0)

    def produce() -> None:
        try:
            for page in pages:
                handoff.put(("page", page))
                while not taken.acquire(timeout=0.2):
                    if stop_early.is_set():
                        return
                if stop_early.is_set():
                    return
            handoff.put(("end", None))
        except BaseException as error:  # handed to the consumer, raised there
            handoff.put(("error", error))

    thread = threading.Thread(target=produce, name="archiver-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = handoff.get()
            taken.release()
            if kind == "page":
                yield value
            elif kind == "error":
                raise value
            else:
                return
    finally:
        stop_early.set()


class SyncEngine:
    """Runs syncs and backfills of configured sources against one archive."""

    def __init__(
        self,
        archive: Archive,
        http: HttpClient,
        *,
        stop: threading.Event | None = None,
        progress: Progress | None = None,
        owner: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.archive = archive
        self.http = http
        self.stop = stop or threading.Event()
        self.progress = progress
        self.owner = owner or new_owner()
        self.clock = clock

    def provider(self, source: SourceConfig) -> Provider:
        return provider_class(source.provider)(source, self.http)

    # -- one run of one source -------------------------------------------------

    def run(self, source: SourceConfig, mode: Mode, *, wait: bool = True) -> RunResult:
        """One sync or backfill of `source`; never raises for the source's own failures."""
        source_id = self.archive.source_ids[source.name]
        lease = Lease(self.archive.engine, source_id, source.name, self.owner)
        result = RunResult(source.name, mode, "running")
        try:
            lease.acquire(
                wait,
                self.stop,
                on_wait=lambda holder: log.warning(
                    "waiting for another archiver to finish this source", source=source.name, holder=holder
                ),
            )
        except LeaseBusyError as busy:
            result.status, result.error, result.busy = "error", str(busy), True
            return result
        run_id = self._start_run(source_id, mode)
        bound = log.bind(source=source.name, mode=mode.value, run_id=run_id)
        bound.info("run started")
        try:
            provider = self.provider(source)
            for stream in provider.streams():
                self._sync_stream(provider, source, source_id, stream, mode, run_id, lease, result)
            result.status = "ok"
        except Interrupted:
            result.status = "interrupted"
            result.error = "stopped by a signal; the next run resumes here"
        except ArchiverError as error:
            result.status, result.error = "error", str(error)
        except Exception as error:  # a bug or an unexpected failure: recorded, not fatal
            bound.exception("run failed unexpectedly")
            result.status = "error"
            result.error = f"{source.name}: internal error: {type(error).__name__}: {redact(str(error))}"
        finally:
            self._finish_run(source_id, run_id, result)
            lease.release()
        level = "info" if result.ok else "warning" if result.status == "interrupted" else "error"
        getattr(bound, level)(
            "run finished",
            status=result.status,
            seen=result.counts.seen,
            new=result.counts.new,
            updated=result.counts.updated,
            rejected=result.counts.rejected,
            pages=result.pages,
            error=result.error,
        )
        return result

    def _start_run(self, source_id: int, mode: Mode) -> int:
        with self.archive.engine.begin() as connection:
            return int(
                connection.execute(
                    insert(SyncRun)
                    .values(
                        source_id=source_id,
                        mode=mode.value,
                        started_at=self.clock(),
                        status="running",
                        owner=self.owner,
                    )
                    .returning(SyncRun.id)
                ).scalar_one()
            )

    def _finish_run(self, source_id: int, run_id: int, result: RunResult) -> None:
        now = self.clock()
        with self.archive.engine.begin() as connection:
            connection.execute(
                update(SyncRun)
                .where(SyncRun.id == run_id)
                .values(status=result.status, finished_at=now, error=result.error)
            )
            if result.ok:
                connection.execute(
                    update(SyncState).where(SyncState.source_id == source_id).values(last_success_at=now)
                )

    # -- one stream -------------------------------------------------------------

    def _sync_stream(
        self,
        provider: Provider,
        source: SourceConfig,
        source_id: int,
        stream: str,
        mode: Mode,
        run_id: int,
        lease: Lease,
        result: RunResult,
    ) -> None:
        state = self._load_stream(source_id, stream)
        unfinished = state.walk
        if mode is Mode.BACKFILL:
            walk = unfinished if unfinished and unfinished.kind == "full" else Walk("full")
            self._walk(provider, source, source_id, stream, walk, run_id, lease, result)
            return
        if unfinished is not None:
            self._walk(provider, source, source_id, stream, unfinished, run_id, lease, result)
            state = self._load_stream(source_id, stream)
        if state.watermark is None:
            if unfinished is None:
                self._walk(provider, source, source_id, stream, Walk("full"), run_id, lease, result)
            return
        stop_at = state.watermark - source.overlap
        oldest_open = self._oldest_unfinished(source_id)
        if oldest_open is not None and oldest_open < stop_at:
            stop_at = oldest_open
        self._walk(
            provider, source, source_id, stream, Walk("incremental", stop_at=stop_at), run_id, lease, result
        )

    def _oldest_unfinished(self, source_id: int) -> datetime | None:
        horizon = self.clock() - PENDING_HORIZON
        with self.archive.engine.connect() as connection:
            return connection.execute(
                select(func.min(Generation.created_at)).where(
                    Generation.source_id == source_id,
                    Generation.status.in_(("pending", "running")),
                    Generation.created_at >= horizon,
                )
            ).scalar_one_or_none()

    def _walk(
        self,
        provider: Provider,
        source: SourceConfig,
        source_id: int,
        stream: str,
        walk: Walk,
        run_id: int,
        lease: Lease,
        result: RunResult,
    ) -> None:
        resumed_at = walk.cursor
        stop_early = threading.Event()
        pages = prefetched(provider.walk(stream, walk.cursor), stop_early)
        taken = 0
        try:
            for page in pages:
                taken += 1
                if self._take_page(
                    provider, source, source_id, stream, walk, page, run_id, lease, result, first=taken == 1
                ):
                    return
                if self.stop.is_set():
                    raise Interrupted
        except (ProviderError, PaginationError) as error:
            refused = isinstance(error, PaginationError) or error.status_code in CURSOR_REFUSED
            if resumed_at is None or taken or not refused:
                raise
            # The saved cursor no longer fits (its item was deleted, the provider changed
            # its paging): restarting from the top loses no item, only time.
            log.warning(
                "saved cursor refused; restarting the walk from the top",
                source=source.name,
                stream=stream or None,
                cursor=resumed_at,
                error=str(error),
            )
            walk.cursor, walk.started_served_at = None, None
            self._walk(provider, source, source_id, stream, walk, run_id, lease, result)
            return
        finally:
            stop_early.set()
        raise SourceError(source.name, "the listing ended without saying so")

    def _take_page(
        self,
        provider: Provider,
        source: SourceConfig,
        source_id: int,
        stream: str,
        walk: Walk,
        page: Page,
        run_id: int,
        lease: Lease,
        result: RunResult,
        *,
        first: bool,
    ) -> bool:
        """Save one page with the walk's progress; True when the walk is complete.

        `first`: the first page this run takes of the walk, fresh or resumed, where the
        coverage of a windowed provider is checked.
        """
        now = self.clock()
        stamps = [item.created_at for item in page.items if item.created_at is not None]
        if stamps:
            newest = max(stamps)
            walk.high = newest if walk.high is None else max(walk.high, newest)
        walk.ordered = walk.ordered and page.newest_first
        walk.pages += 1
        reached = (
            walk.kind == "incremental"
            and walk.ordered
            and bool(stamps)
            and walk.stop_at is not None
            and min(stamps) < walk.stop_at
        )
        finished = page.next_cursor is None or reached
        with self.archive.engine.begin() as connection:
            lease.renew(connection)
            state = self._load_stream(source_id, stream, connection)
            if walk.started_served_at is None:
                walk.started_served_at = provider_now(page, now)
            if first:
                result.gaps += self._detect_gap(
                    connection, provider, source, source_id, state, walk, provider_now(page, now), now
                )
            if page.next_cursor is None:
                # Reading a long window takes time; what expired meanwhile was never read.
                result.gaps += self._detect_gap(
                    connection, provider, source, source_id, state, walk, provider_now(page, now), now
                )
            counts = save_page(connection, source_id, page.items, page.rejected, now, run_id)
            result.gaps += self._record_missed(connection, source, source_id, page.missed, now)
            if page.meta:
                state.meta = page.meta
            if finished:
                if walk.high is not None:
                    state.watermark = (
                        walk.high if state.watermark is None else max(state.watermark, walk.high)
                    )
                state.last_complete_at = walk.started_served_at
                state.walk = None
            else:
                walk.cursor = page.next_cursor
                state.walk = walk
            self._save_stream(connection, source_id, stream, state)
            result.counts.add(counts)
            result.pages += 1
            connection.execute(
                update(SyncRun)
                .where(SyncRun.id == run_id)
                .values(
                    records_seen=result.counts.seen,
                    records_new=result.counts.new,
                    records_updated=result.counts.updated,
                    records_rejected=result.counts.rejected,
                    pages=result.pages,
                )
            )
        if page.rejected:
            for rejected in page.rejected:
                log.warning(
                    "item rejected",
                    source=source.name,
                    external_id=rejected.external_id,
                    reason=rejected.reason,
                )
        if self.progress is not None:
            self.progress.page(source.name, stream, counts, result.counts)
        return finished

    def _record_missed(
        self,
        connection: Connection,
        source: SourceConfig,
        source_id: int,
        missed: list[MissedRange],
        now: datetime,
    ) -> int:
        """Ranges the listing could not serve become coverage gaps (once each)."""
        recorded = 0
        for gap in missed:
            known = connection.execute(
                select(CoverageGap.id).where(
                    CoverageGap.source_id == source_id,
                    CoverageGap.gap_start == gap.start,
                    CoverageGap.gap_end == gap.end,
                )
            ).first()
            if known is None:
                connection.execute(
                    insert(CoverageGap).values(
                        source_id=source_id,
                        gap_start=gap.start,
                        gap_end=gap.end,
                        detected_at=now,
                        reason=gap.reason,
                    )
                )
                log.error(
                    "coverage gap: items may be missing",
                    source=source.name,
                    gap_start=gap.start.isoformat(),
                    gap_end=gap.end.isoformat(),
                    reason=gap.reason,
                )
                recorded += 1
        return recorded

    def _detect_gap(
        self,
        connection: Connection,
        provider: Provider,
        source: SourceConfig,
        source_id: int,
        state: StreamState,
        walk: Walk,
        served_at: datetime,
        now: datetime,
    ) -> int:
        """A windowed provider serves only its window: whatever was created between our
        last complete pass and the window's start may be lost. Say so instead of staying silent.

        A walk resumed after a pause is checked too: its unread pages held items created
        between the last complete pass and its own start, and those may have left the
        window meanwhile (what came after its start is the next walk's to read and report).
        A recorded range counts as covered, so it is never reported twice.
        """
        window = provider.window
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
            # The same loss, grown while the walk was reading (the window's tail kept
            # expiring): one gap, longer, rather than a second one beside it.
            connection.execute(update(CoverageGap).where(CoverageGap.id == adjacent).values(gap_end=gap_end))
            return 0
        connection.execute(
            insert(CoverageGap).values(
                source_id=source_id,
                gap_start=gap_start,
                gap_end=gap_end,
                detected_at=now,
                reason=(
                    f"no complete pass between {gap_start:%Y-%m-%d %H:%M:%S} and "
                    f"{gap_end:%Y-%m-%d %H:%M:%S} UTC, and the provider serves only the last "
                    f"{window}; items created then may be lost"
                ),
            )
        )
        log.error(
            "coverage gap: items may be lost",
            source=source.name,
            gap_start=gap_start.isoformat(),
            gap_end=gap_end.isoformat(),
        )
        return 1

    # -- state ----------------------------------------------------------------------

    def _load_stream(self, source_id: int, stream: str, connection: Connection | None = None) -> StreamState:
        def read(conn: Connection) -> StreamState:
            document = conn.execute(
                select(SyncState.state).where(SyncState.source_id == source_id)
            ).scalar_one_or_none()
            return StreamState.from_json((document or {}).get("streams", {}).get(stream))

        if connection is not None:
            return read(connection)
        with self.archive.engine.connect() as conn:
            return read(conn)

    def _save_stream(self, connection: Connection, source_id: int, stream: str, state: StreamState) -> None:
        document = (
            connection.execute(
                select(SyncState.state).where(SyncState.source_id == source_id)
            ).scalar_one_or_none()
            or {}
        )
        streams = dict(document.get("streams", {}))
        streams[stream] = state.to_json()
        watermarks = [_parse(s.get("watermark")) for s in streams.values()]
        completes = [_parse(s.get("last_complete_at")) for s in streams.values()]
        connection.execute(
            update(SyncState)
            .where(SyncState.source_id == source_id)
            .values(
                state={**document, "streams": streams},
                watermark=min(watermarks) if all(watermarks) else None,
                last_complete_at=min(completes) if all(completes) else None,
                updated_at=self.clock(),
            )
        )

    # -- used by the downloader -----------------------------------------------------

    def refresh(self, source: SourceConfig, since: datetime | None) -> set[str] | None:
        """Re-list `source` down to `since` so signed URLs are fresh; the external ids the
        provider still lists there, or None when the listing failed. Touches no watermark."""
        source_id = self.archive.source_ids[source.name]
        provider = self.provider(source)
        seen: set[str] = set()
        try:
            for stream in provider.streams():
                for page in provider.walk(stream):
                    with self.archive.engine.begin() as connection:
                        save_page(connection, source_id, page.items, (), self.clock())
                    seen.update(item.external_id for item in page.items)
                    stamps = [item.created_at for item in page.items if item.created_at]
                    if since is not None and page.newest_first and stamps and min(stamps) < since:
                        break
        except ArchiverError as error:
            log.warning("could not refresh file URLs", source=source.name, error=str(error))
            return None
        return seen
