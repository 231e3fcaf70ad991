"""`archiver daemon`: scheduled syncs of every source until SIGTERM or SIGINT.

APScheduler 3 runs one interval job per source (first run at start, so a windowed
source whose last success is old catches up at once). Its pitfalls are handled here:
`misfire_grace_time=None` so a late first run is not dropped, `coalesce` and
`max_instances=1`, UTC, structlog contextvars cleared per job, and a stop event the
jobs check between pages because `shutdown()` never interrupts a running job.
Replicas coordinate through the database lease, never through the scheduler: a source
another replica is syncing right now is skipped for this round.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from archiver.archive import Archive
from archiver.config import SourceConfig
from archiver.files import sweep_temp_files
from archiver.http import HttpClient
from archiver.log import get_logger
from archiver.passes import run_source_pass
from archiver.progress import LogProgress
from archiver.sync import Mode, SyncEngine
from archiver.systemd import notify, watchdog_interval

log = get_logger("archiver.daemon")

MAX_JITTER = timedelta(seconds=60)


@dataclass
class LastResult:
    status: str
    at: datetime
    error: str | None = None


class Daemon:
    def __init__(
        self, archive: Archive, http: HttpClient, sources: list[SourceConfig], stop: threading.Event
    ):
        self.archive = archive
        self.sources = sources
        self.stop = stop
        self.engine = SyncEngine(archive, http, stop=stop, progress=LogProgress(every=30))
        self.http = http
        self.results: dict[str, LastResult] = {}
        self._lock = threading.Lock()
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(max(1, min(len(sources), 8)))},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )

    def run(self) -> int:
        swept = sweep_temp_files(self.archive.config.files_dir)
        if swept:
            log.info("removed temp files a crash left behind", count=swept)
        now = datetime.now(UTC)
        for source in self.sources:
            jitter = min(source.interval * 0.1, MAX_JITTER)
            self.scheduler.add_job(
                self._sync,
                IntervalTrigger(
                    seconds=source.interval.total_seconds(),
                    jitter=jitter.total_seconds() or None,
                    timezone=UTC,
                ),
                args=[source],
                id=source.name,
                name=f"sync {source.name}",
                next_run_time=now,
            )
        self.scheduler.start()
        log.info("daemon started", sources=[s.name for s in self.sources], owner=self.engine.owner)
        notify("READY=1", f"STATUS={self.status_line()}")
        ping = watchdog_interval()
        while not self.stop.wait(ping or 1.0):
            if ping is not None and self.scheduler.running:
                notify("WATCHDOG=1")
        notify("STOPPING=1", "STATUS=finishing the pages in hand")
        log.info("daemon stopping: finishing the pages in hand")
        self.scheduler.shutdown(wait=True)
        log.info("daemon stopped")
        return 0

    def _sync(self, source: SourceConfig) -> None:
        structlog.contextvars.clear_contextvars()
        if self.stop.is_set():
            return
        started = time.monotonic()
        result = run_source_pass(
            self.archive, self.http, self.engine, source, Mode.SYNC, download=True, wait=False
        )
        if result.run.busy:
            log.info("skipped: another archiver is syncing this source", source=source.name)
            return
        with self._lock:
            self.results[source.name] = LastResult(result.run.status, datetime.now(UTC), result.run.error)
        log.info(
            "scheduled sync done",
            source=source.name,
            status=result.run.status,
            new=result.run.counts.new,
            files=result.downloads.sources[source.name].downloaded if result.downloads else 0,
            seconds=round(time.monotonic() - started, 2),
        )
        notify(f"STATUS={self.status_line()}")

    def status_line(self) -> str:
        with self._lock:
            if not self.results:
                return f"syncing {len(self.sources)} source(s); no run finished yet"
            parts = [
                f"{name}: {last.status} at {last.at:%H:%M:%S}" for name, last in sorted(self.results.items())
            ]
        return "; ".join(parts)
