"""The concurrent downloader: due assets -> worker threads -> file store -> asset rows.

Workers only fetch (HTTP and disk); the coordinating thread alone reads the queue of
due assets, decides retries, refreshes and verdicts, and writes the outcomes in short
batched transactions. Concurrency is bounded overall and per source, over one client.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine

from archiver.files.fetch import Failure, Fetched, FetchError, FetchLimits, Received, fetch_file
from archiver.files.records import (
    Failed,
    Job,
    Missing,
    Outcome,
    Stored,
    due_jobs,
    oldest_due_created_at,
    write_outcomes,
)
from archiver.files.store import FileStore
from archiver.http import HttpClient
from archiver.log import get_logger, redact

log = get_logger("archiver.files")

RefreshUrls = Callable[[str, datetime | None], set[str] | None]
"""refresh(source, oldest_created_at) re-lists the source down to that moment (updating
assets.url as it goes) and returns the external ids still listed; None if it failed."""

MiB = 1024 * 1024
_T = TypeVar("_T")
_UNLISTED = "the file URL expired and the provider no longer lists the generation"


@dataclass(frozen=True)
class DownloadSettings:
    concurrency: int = 8
    per_source: int = 4
    max_bytes: int = 512 * MiB
    retry_base: timedelta = timedelta(minutes=1)
    retry_max: timedelta = timedelta(hours=6)
    max_attempts_404: int = 3
    """This many 404s in a row (across runs) make the asset `missing`."""
    quick_retries: int = 2
    """Transient failures retried at once within a run before they count as an attempt."""
    quick_retry_wait: float = 0.5
    deadline: timedelta = timedelta(minutes=10)
    """Wall-clock limit for one file (httpx's read timeout is per chunk)."""
    give_up_after: int = 10
    """Connection failures in a row after which a source's host counts as down for this run."""
    poll_interval: float = 0.5
    """How often a `follow` run looks for assets the walk has added since."""
    batch: int = 200
    flush_every: float = 0.25

    def limits(self) -> FetchLimits:
        return FetchLimits(
            max_bytes=self.max_bytes,
            deadline=self.deadline.total_seconds(),
            retries=self.quick_retries,
            retry_wait=self.quick_retry_wait,
            retry_after_cap=60.0,
        )

    def backoff(self, attempts: int, failure: Failure) -> timedelta:
        """Exponential, jittered, capped; a refused file waits the longest."""
        if failure is Failure.REFUSED:
            return self.retry_max
        delay = min(self.retry_max, self.retry_base * 2 ** max(0, attempts - 1))
        return delay * random.uniform(0.5, 1.0)


@dataclass
class SourceReport:
    downloaded: int = 0
    bytes: int = 0
    failed: int = 0
    missing: int = 0
    refreshed: bool = False
    stopped_early: str | None = None
    errors: list[str] = field(default_factory=list)

    def note_error(self, message: str) -> None:
        if message not in self.errors and len(self.errors) < 3:
            self.errors.append(message)


@dataclass
class DownloadReport:
    sources: dict[str, SourceReport]

    @property
    def failed(self) -> int:
        return sum(report.failed for report in self.sources.values())

    @property
    def ok(self) -> bool:
        """True when nothing failed in this run (a `missing` verdict is not a failure)."""
        return self.failed == 0 and not any(r.stopped_early for r in self.sources.values())


@dataclass
class _Lane:
    """One source's share of a run."""

    name: str
    source_id: int
    report: SourceReport
    queue: deque[Job] = field(default_factory=deque)
    cursor: int = 0
    exhausted: bool = False
    in_flight: int = 0
    unsettled: int = 0
    taken: set[int] = field(default_factory=set)
    expired: list[Job] = field(default_factory=list)
    refresh: str = "none"  # none -> waiting -> running -> done
    refresh_result: Future[set[str] | None] | None = None
    listed: set[str] | None = None
    """What the refresh found still listed; None until it ran, or when it failed."""
    network_failures: int = 0

    @property
    def accepting(self) -> bool:
        return self.refresh in ("none", "done") and self.report.stopped_early is None

    def restart(self) -> None:
        """Read the due assets from the start again (after a refresh, or to look for new ones)."""
        self.queue.clear()
        self.cursor = 0
        self.exhausted = False


class Downloader:
    def __init__(
        self,
        engine: Engine,
        files_dir: Path,
        http: HttpClient,
        settings: DownloadSettings = DownloadSettings(),
        refresh: RefreshUrls | None = None,
    ) -> None:
        self.engine = engine
        self.store = FileStore(Path(files_dir))
        self.http = http
        self.settings = settings
        self.refresh = refresh

    def run(
        self,
        source_ids: Mapping[str, int],
        stop: threading.Event | None = None,
        follow: threading.Event | None = None,
    ) -> DownloadReport:
        """Download every due asset of these sources; see the module docstring.

        With `follow`, keep looking for new pending assets until `follow` is set and a
        last look finds none. `stop` ends the run once the files in hand are done.
        """
        return _Run(self, source_ids, stop or threading.Event(), follow).execute()


class _Run:
    def __init__(
        self,
        downloader: Downloader,
        source_ids: Mapping[str, int],
        stop: threading.Event,
        follow: threading.Event | None,
    ) -> None:
        self.d = downloader
        self.settings = downloader.settings
        self.limits = downloader.settings.limits()
        self.stop = stop
        self.follow = follow
        self.lanes = {name: _Lane(name, source_id, SourceReport()) for name, source_id in source_ids.items()}
        self.order = {name: index for index, name in enumerate(self.lanes)}
        self.lock = threading.Lock()
        self.results: queue.Queue[tuple[Job, Fetched | FetchError]] = queue.Queue()
        self.pending_writes: list[Outcome] = []
        self.in_flight = 0
        self.unsettled = 0
        self.pool: ThreadPoolExecutor
        self.found_since_restart = False
        self.last_look = False
        self.last_flush = time.monotonic()

    def execute(self) -> DownloadReport:
        # Twice the slots in threads: half may be fsyncing while the others download.
        with ThreadPoolExecutor(2 * self.settings.concurrency, thread_name_prefix="download") as self.pool:
            while not self._finished():
                if not self.stop.is_set():
                    self._start_refreshes()
                    self._submit()
                self._collect()
                self._flush(force=False)
        self._flush(force=True)
        return DownloadReport({lane.name: lane.report for lane in self.lanes.values()})

    # Scheduling. The coordinator reads due assets into each lane's queue; a worker that
    # has a body in hand frees its slot and starts the next file itself before it fsyncs
    # and renames, so neither the coordinator's turn nor the disk holds a connection
    # idle. `in_flight` counts network slots; `unsettled` jobs whose result is not yet
    # recorded. `lock` guards the queues, the counters and `taken`.

    def _finished(self) -> bool:
        if self.unsettled or any(lane.refresh in ("waiting", "running") for lane in self.lanes.values()):
            return self.stop.is_set() and not self.unsettled
        if self.stop.is_set():
            return True
        if not all((lane.exhausted and not lane.queue) or not lane.accepting for lane in self.lanes.values()):
            return False
        following = self.follow is not None and not self.follow.is_set()
        if not following and self.last_look and not self.found_since_restart:
            return True
        if following:
            self._flush(force=True)
            self.stop.wait(self.settings.poll_interval)
        with self.lock:
            for lane in self.lanes.values():
                lane.restart()
        self.found_since_restart = False
        # Only a scan that began after the walk finished may end the run empty-handed.
        self.last_look = not following
        return False

    def _submit(self) -> None:
        """Top up the lanes' queues, then start jobs round-robin within both bounds."""
        for lane in self.lanes.values():
            self._refill(lane)
        with self.lock:
            while (job := self._take_any()) is not None:
                self.pool.submit(self._work, job)

    def _refill(self, lane: _Lane) -> None:
        """Keep a few jobs queued ahead so that finishing workers find their next file."""
        while lane.accepting and not lane.exhausted and len(lane.queue) < 2 * self.settings.per_source:
            rows = due_jobs(
                self.d.engine, lane.name, lane.source_id, lane.cursor, self.settings.batch, _now()
            )
            with self.lock:
                if not rows:
                    lane.exhausted = True
                    return
                lane.cursor = rows[-1].asset_id
                lane.queue.extend(job for job in rows if job.asset_id not in lane.taken)

    def _take_any(self, after: int = -1) -> Job | None:
        """The next job of the first lane after `after` that may start one (lock held)."""
        if self.stop.is_set() or self.in_flight >= self.settings.concurrency:
            return None
        lanes = list(self.lanes.values())
        for offset in range(1, len(lanes) + 1):
            lane = lanes[(after + offset) % len(lanes)]
            if lane.queue and lane.accepting and lane.in_flight < self.settings.per_source:
                job = lane.queue.popleft()
                lane.in_flight += 1
                lane.unsettled += 1
                self.in_flight += 1
                self.unsettled += 1
                lane.taken.add(job.asset_id)
                self.found_since_restart = True
                return job
        return None

    def _work(self, job: Job) -> None:
        received = _guarded(
            job, lambda: fetch_file(self.d.http, self.d.store, job.url, self.limits, self.stop)
        )
        with self.lock:
            self.lanes[job.source].in_flight -= 1
            self.in_flight -= 1
            following = self._take_any(after=self.order[job.source])
        if following is not None:
            self.pool.submit(self._work, following)
        result = _guarded(job, received.keep) if isinstance(received, Received) else received
        self.results.put((job, result))

    # Results.

    def _collect(self) -> None:
        timeout = self.settings.flush_every if self.unsettled else 0.05
        try:
            item = self.results.get(timeout=timeout)
        except queue.Empty:
            return
        while True:
            self._settle(*item)
            try:
                item = self.results.get_nowait()
            except queue.Empty:
                return

    def _settle(self, job: Job, result: Fetched | FetchError) -> None:
        lane = self.lanes[job.source]
        with self.lock:
            lane.unsettled -= 1
            self.unsettled -= 1
        if isinstance(result, Fetched):
            lane.network_failures = 0
            lane.report.downloaded += 1
            lane.report.bytes += result.size
            self.pending_writes.append(
                Stored(job.asset_id, result.sha256, result.size, result.content_type, result.path, _now())
            )
            return
        if result.failure is Failure.EXPIRED and self.d.refresh is not None:
            if lane.refresh != "done":
                lane.expired.append(job)
                if lane.refresh == "none":
                    lane.refresh = "waiting"
                return
            if lane.listed is not None and job.external_id not in lane.listed:
                self._missing(lane, job, _UNLISTED)
                return
        if result.failure is Failure.NETWORK:
            lane.network_failures += 1
            if lane.network_failures >= self.settings.give_up_after and not lane.report.stopped_early:
                lane.report.stopped_early = (
                    f"{lane.network_failures} connections in a row failed; "
                    "the remaining files wait for the next run"
                )
        self._fail(lane, job, result.failure, str(result))

    def _fail(self, lane: _Lane, job: Job, failure: Failure, message: str) -> None:
        attempts = job.attempts + 1
        log.warning(
            "download.failed", source=job.source, asset_id=job.asset_id, url=redact(job.url), error=message
        )
        lane.report.note_error(message)
        not_found = job.not_found + 1 if failure is Failure.NOT_FOUND else 0
        if not_found >= self.settings.max_attempts_404:
            self.pending_writes.append(
                Missing(job.asset_id, attempts, f"{message}; {not_found} times in a row", not_found)
            )
            lane.report.missing += 1
            return
        lane.report.failed += 1
        retry_at = _now() + self.settings.backoff(attempts, failure)
        self.pending_writes.append(Failed(job.asset_id, attempts, retry_at, message, not_found))

    def _missing(self, lane: _Lane, job: Job, reason: str) -> None:
        lane.report.missing += 1
        self.pending_writes.append(Missing(job.asset_id, job.attempts + 1, reason))

    # Signed URLs that expired: one refresh per source and run.

    def _start_refreshes(self) -> None:
        for lane in self.lanes.values():
            if lane.refresh == "waiting" and lane.unsettled == 0:
                oldest = oldest_due_created_at(self.d.engine, lane.source_id, _now())
                lane.refresh_result = Future()
                lane.refresh = "running"
                threading.Thread(
                    target=self._refresh, args=(lane, oldest), name=f"refresh:{lane.name}", daemon=True
                ).start()
            elif lane.refresh == "running" and lane.refresh_result and lane.refresh_result.done():
                self._after_refresh(lane, lane.refresh_result.result())

    def _refresh(self, lane: _Lane, oldest: datetime | None) -> None:
        """Runs in its own thread: a re-listing takes a while, and the other sources go on."""
        assert self.d.refresh is not None and lane.refresh_result is not None
        try:
            listed = self.d.refresh(lane.name, oldest)
        except Exception:
            log.exception("download.refresh_failed", source=lane.name)
            listed = None
        lane.refresh_result.set_result(listed)

    def _after_refresh(self, lane: _Lane, listed: set[str] | None) -> None:
        """Retry what is still listed (its URL is fresh now); what is not is missing."""
        lane.refresh = "done"
        lane.report.refreshed = True
        lane.listed = listed
        expired, lane.expired = lane.expired, []
        for job in expired:
            if listed is None:
                self._fail(
                    lane, job, Failure.EXPIRED, "the file URL expired (401/403/410) and re-listing failed"
                )
            elif job.external_id not in listed:
                self._missing(lane, job, _UNLISTED)
            else:
                with self.lock:
                    lane.taken.discard(job.asset_id)
        with self.lock:
            lane.restart()

    def _flush(self, force: bool) -> None:
        due = force or len(self.pending_writes) >= 200
        if not due and time.monotonic() - self.last_flush < self.settings.flush_every:
            return
        writes, self.pending_writes = self.pending_writes, []
        write_outcomes(self.d.engine, writes)
        self.last_flush = time.monotonic()


def _guarded(job: Job, step: Callable[[], _T]) -> _T | FetchError:
    """A step's value or its failure; every job must yield a result, or the run would wait forever."""
    try:
        return step()
    except FetchError as error:
        return error
    except Exception as error:  # a bug or a full disk: fail this file, keep the run going
        log.exception("download.crashed", source=job.source, asset_id=job.asset_id)
        return FetchError(Failure.TRANSIENT, f"{type(error).__name__}: {error}")


def _now() -> datetime:
    return datetime.now(UTC)
