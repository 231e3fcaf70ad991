"""Memory and idle cost: peak RSS of a real backfill by history size, and the daemon at rest.

Run through `bench/run.py` (`--only memory`).

- Backfill: `archiver backfill --no-download` subprocesses of qaves histories of 100k
  and 1M items into SQLite; the peak RSS is the kernel's own high-water mark of the
  child (`wait4` rusage), so no short peak slips between samples. Flat means the 1M
  peak is within 1.2x of the 100k one: a walk must not keep what it has written.
- Daemon: `archiver daemon` on the 1M archive (interval 1h, downloads off). After its
  first scheduled sync has finished (its `sync_runs` row), the process is watched for
  a minute: RSS sampled every 0.25 s, CPU seconds from the kernel at both ends.
"""

from __future__ import annotations

import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from common import Context, Row, archiver_argv, cpu_seconds, sqlite_url, wait_until
from sqlalchemy import func, select

from archiver.db.engine import create_archive_engine
from archiver.db.models import SyncRun

RSS_TARGET_MB = 100.0
FLAT_TARGET = 1.2
IDLE_CPU_TARGET = 0.6  # CPU seconds in the idle minute: 1% of one core


@dataclass(frozen=True)
class Idle:
    seconds: float
    cpu: float
    rss_max_mb: float
    rss_after_sync_mb: float


def history_sizes(quick: bool) -> tuple[int, int]:
    return (2_000, 20_000) if quick else (100_000, 1_000_000)


def finished_runs(config: Path) -> int:
    engine = create_archive_engine(sqlite_url(config.parent))
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(select(func.count()).where(SyncRun.finished_at.is_not(None))).scalar_one()
            )
    finally:
        engine.dispose()


def idle_daemon(ctx: Context, config: Path, seconds: float) -> Idle:
    """Start the daemon, let its first sync finish, then watch it do nothing."""
    before = finished_runs(config)
    log = (config.parent / "daemon.log").open("w")
    process = subprocess.Popen(
        archiver_argv(config, "daemon"), env=ctx.sim.environment(), stdout=log, stderr=subprocess.STDOUT
    )
    try:
        watched = psutil.Process(process.pid)
        wait_until(lambda: finished_runs(config) > before, 300, "the daemon's first sync")
        time.sleep(1.0)  # the job returns and logs after its row is written
        rss_after = watched.memory_info().rss
        cpu_start, started = cpu_seconds(watched), time.monotonic()
        rss_max = rss_after
        while time.monotonic() - started < seconds:
            time.sleep(0.25)
            rss_max = max(rss_max, watched.memory_info().rss)
        cpu = cpu_seconds(watched) - cpu_start
        elapsed = time.monotonic() - started
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        log.close()
    return Idle(elapsed, cpu, rss_max / 2**20, rss_after / 2**20)


def run(ctx: Context) -> list[Row]:
    small, large = (ctx.qaves_archive(items) for items in history_sizes(ctx.quick))
    rows = [_backfill_row(small.items, small.backfill.peak_rss_mb, small.backfill.peak_rss_mb, False)]
    rows.append(_backfill_row(large.items, large.backfill.peak_rss_mb, small.backfill.peak_rss_mb, True))
    idle = idle_daemon(ctx, large.config, 15.0 if ctx.quick else 60.0)
    rows.append(_idle_row(idle, large.items))
    return rows


def _backfill_row(items: int, peak: float, smallest: float, largest: bool) -> Row:
    ratio = peak / smallest
    return Row(
        bench="memory",
        case=f"backfill peak RSS, qaves {items:,} items -> SQLite",
        figure=f"{peak:.0f} MB",
        limit="" if not largest else f"{smallest:.0f} MB at the smaller history",
        ratio=f"{ratio:.2f}x" if largest else "",
        target=f"< {RSS_TARGET_MB:.0f} MB" + (f", <= {FLAT_TARGET}x" if largest else ""),
        holds=peak < RSS_TARGET_MB and (not largest or ratio <= FLAT_TARGET),
        numbers={"items": items, "peak_rss_mb": peak, "ratio_vs_smaller": ratio},
    )


def _idle_row(idle: Idle, items: int) -> Row:
    cpu_limit = IDLE_CPU_TARGET * idle.seconds / 60
    return Row(
        bench="memory",
        case=f"daemon idle {idle.seconds:.0f} s after its first sync ({items:,}-item archive)",
        figure=f"{idle.rss_max_mb:.0f} MB RSS, {idle.cpu:.2f} s CPU",
        ratio=f"{idle.cpu / idle.seconds:.2%} of a core",
        target=f"< {RSS_TARGET_MB:.0f} MB, CPU <= {cpu_limit:.2f} s",
        holds=idle.rss_max_mb < RSS_TARGET_MB and idle.cpu <= cpu_limit,
        numbers={
            "idle_s": idle.seconds,
            "cpu_s": idle.cpu,
            "rss_max_mb": idle.rss_max_mb,
            "rss_after_first_sync_mb": idle.rss_after_sync_mb,
        },
    )
