"""A no-op incremental `archiver sync`: its cost must not grow with the archive.

Run through `bench/run.py` (`--only sync_noop`). How the archives are made, and why
that is sound: each size is its own qaves bucket (`h10000`, `h100000`, `h1000000`)
seeded once in the out-of-process simulator and never re-seeded during the run, then
archived by a real `archiver backfill --no-download` subprocess (the same archive
`bench_memory` measures, built once per run). So the archive, its watermark and the
simulator's history agree exactly as they would for a user, with no hand-written
rows or watermarks that could hide a cost the real path has. The simulator's
histories are lazy (a bisect per page), so its answer time does not grow with the
history either: whatever grows is the archiver's.

Each no-op sync is the real command (`archiver sync --no-download`: with downloads on,
the benchmark would time fetching a million pending files instead) run a few times;
the table shows the median wall time of the command, the engine's own time for the
run (its `sync_runs` row: no interpreter start-up) and the listing requests the
simulator counted per source. Then all four providers at 10k items in one archive.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

from common import Context, Row, SourceSpec, archiver_argv, run_measured, sqlite_url, write_config
from sqlalchemy import select

from archiver.db.engine import create_archive_engine
from archiver.db.models import Source, SyncRun
from archiver.simulator import PROVIDERS

FLAT_TARGET = 1.2
MAX_LIST_REQUESTS = 2


@dataclass
class NoopSync:
    """Every timed no-op sync of one archive; `providers` maps source name -> provider."""

    config: Path
    providers: dict[str, str]
    walls: list[float] = field(default_factory=list)
    engine: dict[str, list[float]] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)

    @property
    def wall(self) -> float:
        """Median wall time of the command."""
        return statistics.median(self.walls)

    def engine_s(self, name: str) -> float:
        """Median of the engine's own run time for source `name`."""
        return statistics.median(self.engine[name])

    def sync(self, ctx: Context, timed: bool = True) -> None:
        argv = archiver_argv(self.config, "sync", "--no-download")
        ctx.sim.reset_requests()
        run = run_measured(argv, ctx.sim.environment(), self.config.parent).check("no-op sync")
        if not timed:
            return
        self.walls.append(run.wall)
        for name, provider in self.providers.items():
            self.requests[name] = max(self.requests.get(name, 0), ctx.sim.list_requests(provider))
        for name, seconds in last_run_seconds(self.config).items():
            self.engine.setdefault(name, []).append(seconds)


def sizes(quick: bool) -> tuple[int, ...]:
    return (2_000, 20_000) if quick else (10_000, 100_000, 1_000_000)


def measure(ctx: Context, archives: list[NoopSync], repeats: int) -> None:
    """Round-robin over the archives, so a busy neighbour's burst lands on every size
    alike; one untimed sync of each first (cold page caches after a backfill)."""
    for archive in archives:
        archive.sync(ctx, timed=False)
    for _ in range(repeats):
        for archive in archives:
            archive.sync(ctx)


def last_run_seconds(config: Path) -> dict[str, float]:
    """The engine's own duration of each source's newest run, from `sync_runs`."""
    engine = create_archive_engine(sqlite_url(config.parent))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(Source.name, SyncRun.started_at, SyncRun.finished_at)
                .join(Source, Source.id == SyncRun.source_id)
                .order_by(SyncRun.id)
            ).all()
    finally:
        engine.dispose()
    return {row.name: (row.finished_at - row.started_at).total_seconds() for row in rows}


def run(ctx: Context) -> list[Row]:
    repeats = 3 if ctx.quick else 5
    results = {
        items: NoopSync(ctx.qaves_archive(items).config, {"qaves": "qaves"}) for items in sizes(ctx.quick)
    }
    measure(ctx, list(results.values()), repeats)
    rows = [_size_row(items, result, results) for items, result in results.items()]
    return rows + _all_providers(ctx, repeats)


def _size_row(items: int, result: NoopSync, results: dict[int, NoopSync]) -> Row:
    smallest = results[min(results)]
    wall_ratio = result.wall / smallest.wall
    engine_ratio = result.engine_s("qaves") / smallest.engine_s("qaves")
    requests = result.requests["qaves"]
    largest = items == max(results)
    return Row(
        bench="no-op sync",
        case=f"qaves, archive of {items:,} items",
        figure=f"{result.wall:.2f} s command, {result.engine_s('qaves') * 1000:.0f} ms engine, "
        f"{requests} list request(s)",
        limit=f"archive of {min(results):,}" if items != min(results) else "",
        ratio=f"command {wall_ratio:.2f}x, engine {engine_ratio:.2f}x",
        target=f"command <= {FLAT_TARGET}x, <= {MAX_LIST_REQUESTS} requests",
        # Judged on the command's wall time, what a user waits for; the engine's own time is
        # tens of milliseconds, where a busy neighbour's time slice moves it by half.
        holds=requests <= MAX_LIST_REQUESTS and (not largest or wall_ratio <= FLAT_TARGET),
        numbers={
            "items": items,
            "command_wall_s": result.wall,
            "engine_s": result.engine_s("qaves"),
            "list_requests": requests,
            "wall_ratio_vs_smallest": wall_ratio,
            "engine_ratio_vs_smallest": engine_ratio,
        },
    )


def _all_providers(ctx: Context, repeats: int) -> list[Row]:
    """All four providers at 10k items each in one archive (qaves in a bucket of its own)."""
    items = 10_000
    for provider in PROVIDERS:
        ctx.sim.seed(provider, items, "four" if provider == "qaves" else "default")
    folder = ctx.workdir / "noop-four"
    specs = [SourceSpec(p, p, "four" if p == "qaves" else None) for p in PROVIDERS]
    config = write_config(folder, sqlite_url(folder), ctx.sim, specs)
    run_measured(archiver_argv(config, "backfill", "--no-download"), ctx.sim.environment(), folder).check(
        "backfill of four providers"
    )
    result = NoopSync(config, {p: p for p in PROVIDERS})
    measure(ctx, [result], repeats)
    rows = []
    for provider in PROVIDERS:
        requests = result.requests[provider]
        rows.append(
            Row(
                bench="no-op sync",
                case=f"all four, {items:,} items each: {provider}",
                figure=f"{result.engine_s(provider) * 1000:.0f} ms engine, {requests} list request(s)",
                target=f"<= {MAX_LIST_REQUESTS} requests",
                holds=requests <= MAX_LIST_REQUESTS,
                numbers={
                    "provider": provider,
                    "engine_s": result.engine_s(provider),
                    "list_requests": requests,
                },
            )
        )
    rows[-1].figure += f"; whole command {result.wall:.2f} s"
    return rows
