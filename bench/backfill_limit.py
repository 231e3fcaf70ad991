"""Benchmark 1 of `bench/run.py`: backfill speed beside the fetch-and-parse limit.

The work itself is bench_backfill's (`bare_fetch`, the limit: the same pages read by
a bare httpx loop, JSON decoded and dropped; `fetch_only`: every page through the
provider's own `walk()`, shown beside it; `backfill`: `SyncEngine.run(..., Mode.BACKFILL)` with no
downloads, in process). This module adds what the table needs: CPU time beside wall
time (`process_time` counts every thread of the process, the engine's prefetch
thread included; the simulator runs in its own process and is not counted), the
schema created before the clock starts, and the targets of issue 8.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench_backfill import backfill, bare_fetch, fetch_only, postgres_database
from common import Context, Row, SourceSpec, sqlite_url, write_config

from archiver.archive import open_archive
from archiver.config import load_config
from archiver.log import configure_logging
from archiver.simulator import PROVIDERS

WALL_TARGET = 1.15
CPU_TARGET = 3.0


@dataclass(frozen=True)
class Timing:
    items: int
    wall: float
    cpu: float

    @property
    def rate(self) -> float:
        return self.items / self.wall if self.wall else 0.0


def timed(work: Callable[[], int]) -> Timing:
    """Wall and CPU seconds of `work`, which returns how many items it handled."""
    wall, cpu = time.perf_counter(), time.process_time()
    items = work()
    return Timing(items, time.perf_counter() - wall, time.process_time() - cpu)


def quiet_logging() -> None:
    """The engine's per-run info lines would interleave with the table; warnings still show."""
    configure_logging("json", debug=False)
    logging.getLogger().setLevel(logging.WARNING)


def migrated(config: Path) -> Path:
    """Create the schema now, so the timed backfill does not include the migrations."""
    open_archive(load_config(config)).close()
    return config


def run(ctx: Context) -> list[Row]:
    """Per provider: the limit, then a backfill into SQLite and one into Postgres."""
    quiet_logging()
    items = 10_000 if ctx.quick else 100_000
    rows: list[Row] = []
    for provider in PROVIDERS:
        ctx.sim.seed(provider, items)
        folder = ctx.workdir / "backfill" / provider
        spec = [SourceSpec(provider, provider)]
        config = migrated(write_config(folder / "sqlite", sqlite_url(folder / "sqlite"), ctx.sim, spec))
        (source,) = load_config(config).resolve([provider])
        limit = timed(lambda provider=provider: bare_fetch(ctx.sim.target, provider))
        walk = timed(lambda source=source: fetch_only(source))
        ours = timed(lambda config=config, name=provider: backfill(config, name))
        rows.append(_row(provider, "SQLite", ours, limit, walk, judged=True))
        if ctx.pg_url is not None:
            with postgres_database(ctx.pg_url) as url:
                config = migrated(write_config(folder / "postgres", url, ctx.sim, spec))
                ours = timed(lambda config=config, name=provider: backfill(config, name))
                rows.append(_row(provider, "Postgres", ours, limit, walk, judged=False))
    return rows


def _row(provider: str, backend: str, ours: Timing, limit: Timing, walk: Timing, *, judged: bool) -> Row:
    """Judged against the bare loop; the provider's own walk (the same HTTP plus our
    validation and paging checks, still no database) is shown beside it, to tell what
    the archive write costs from what reading the pages properly costs."""
    wall, cpu = ours.wall / limit.wall, ours.cpu / limit.cpu
    walk_wall, walk_cpu = ours.wall / walk.wall, ours.cpu / walk.cpu
    return Row(
        bench="backfill, no downloads",
        case=f"{provider}, {ours.items:,} items -> {backend}",
        figure=f"{ours.rate:,.0f} items/s ({ours.wall:.1f} s wall, {ours.cpu:.1f} s CPU)",
        limit=(
            f"bare httpx loop: {limit.wall:.1f} s, {limit.cpu:.1f} s CPU; "
            f"provider walk alone: {walk.wall:.1f} s, {walk.cpu:.1f} s CPU"
        ),
        ratio=(
            f"wall {wall:.2f}x, CPU {cpu:.2f}x "
            f"(of the walk alone: wall {walk_wall:.2f}x, CPU {walk_cpu:.2f}x)"
        ),
        target=f"wall <= {WALL_TARGET}x, CPU <= {CPU_TARGET:g}x" if judged else "(shown, no target)",
        holds=(wall <= WALL_TARGET and cpu <= CPU_TARGET) if judged else None,
        numbers={
            "provider": provider,
            "backend": backend,
            "items": ours.items,
            "wall_s": ours.wall,
            "cpu_s": ours.cpu,
            "limit_items": limit.items,
            "limit_wall_s": limit.wall,
            "limit_cpu_s": limit.cpu,
            "wall_ratio": wall,
            "cpu_ratio": cpu,
            "walk_items": walk.items,
            "walk_wall_s": walk.wall,
            "walk_cpu_s": walk.cpu,
            "walk_wall_ratio": walk_wall,
            "walk_cpu_ratio": walk_cpu,
        },
    )
