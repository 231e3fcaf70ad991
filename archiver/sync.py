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

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from sqlalchemy import bindparam, func, insert, select, update

from archiver.archive import Archive
from archiver.config import SourceConfig
from archiver.db.lease import Lease, new_owner
from archiver.db.models import Generation, SyncRun, SyncState
from archiver.db.store import PageCounts, save_page
from archiver.errors import ArchiverError, LeaseBusyError, PaginationError, ProviderError, SourceError
from archiver.gaps import provider_now, record_missed, record_window_gap
from archiver.http import HttpClient
from archiver.log import get_logger, redact
from archiver.prefetch import prefetched
from archiver.providers import Provider, provider_class
from archiver.providers.items import Page
from archiver.walks import SourceState, Walk

log = get_logger("archiver.sync")

# Items still pending after this long are taken as abandoned by the provider: they no
# longer hold the stop line down, or every sync would re-read back to them forever.
PENDING_HORIZON = timedelta(days=3)
# What a provider answers for a cursor it no longer knows.
CURSOR_REFUSED = frozenset({400, 404, 410, 422})
# A run's counters, written with every page: built once.
_RUN_PROGRESS = (
    update(SyncRun)
    .where(SyncRun.id == bindparam("run_id"))
    .values(
        {
            name: bindparam(name)
            for name in ("records_seen", "records_new", "records_updated", "records_rejected", "pages")
        }
    )
)


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


@dataclass
class _Pass:
    """One run of one source: what every step of its walks needs at hand."""

    provider: Provider
    source: SourceConfig
    source_id: int
    run_id: int
    lease: Lease
    result: RunResult
    state: SourceState


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
            with self.archive.engine.connect() as connection:
                state = SourceState.load(connection, source_id)
            run = _Pass(self.provider(source), source, source_id, run_id, lease, result, state)
            for stream in run.provider.streams():
                self._sync_stream(run, stream, mode)
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

    def _sync_stream(self, run: _Pass, stream: str, mode: Mode) -> None:
        """Finish an interrupted walk first, then walk as the mode asks."""
        unfinished = run.state.stream(stream).walk
        if mode is Mode.BACKFILL:
            self._walk(run, stream, unfinished if unfinished and unfinished.kind == "full" else Walk("full"))
            return
        if unfinished is not None:
            self._walk(run, stream, unfinished)
        watermark = run.state.stream(stream).watermark
        if watermark is None:
            if unfinished is None:
                self._walk(run, stream, Walk("full"))
            return
        stop_at = watermark - run.source.overlap
        oldest_open = self._oldest_unfinished(run.source_id)
        if oldest_open is not None and oldest_open < stop_at:
            stop_at = oldest_open
        self._walk(run, stream, Walk("incremental", stop_at=stop_at))

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

    def _walk(self, run: _Pass, stream: str, walk: Walk) -> None:
        resumed_at = walk.cursor
        stop_early = threading.Event()
        pages = prefetched(run.provider.walk(stream, walk.cursor), stop_early)
        taken = 0
        try:
            for page in pages:
                taken += 1
                if self._take_page(run, stream, walk, page, first=taken == 1):
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
                source=run.source.name,
                stream=stream or None,
                cursor=resumed_at,
                error=str(error),
            )
            walk.cursor, walk.started_served_at = None, None
            self._walk(run, stream, walk)
            return
        finally:
            stop_early.set()
        raise SourceError(run.source.name, "the listing ended without saying so")

    def _take_page(self, run: _Pass, stream: str, walk: Walk, page: Page, *, first: bool) -> bool:
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
        result, name = run.result, run.source.name
        state = run.state.stream(stream)
        served_at = provider_now(page, now)
        if walk.started_served_at is None:
            walk.started_served_at = served_at
        with self.archive.engine.begin() as connection:
            if first or page.next_cursor is None:
                result.gaps += record_window_gap(
                    connection, run.source_id, name, run.provider.window, state, walk, served_at, now
                )
            counts = save_page(connection, run.source_id, page.items, page.rejected, now, run.run_id)
            result.gaps += record_missed(connection, run.source_id, name, page.missed, now)
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
            run.state.put(stream, state)
            run.lease.renew(connection, **run.state.columns(now))
            result.counts.add(counts)
            result.pages += 1
            connection.execute(
                _RUN_PROGRESS,
                {
                    "run_id": run.run_id,
                    "records_seen": result.counts.seen,
                    "records_new": result.counts.new,
                    "records_updated": result.counts.updated,
                    "records_rejected": result.counts.rejected,
                    "pages": result.pages,
                },
            )
        for rejected in page.rejected:
            log.warning(
                "item rejected", source=name, external_id=rejected.external_id, reason=rejected.reason
            )
        if self.progress is not None:
            self.progress.page(name, stream, counts, result.counts)
        return finished

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
