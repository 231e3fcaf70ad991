"""Every benchmark of the archiver against its limit, in one command, one table.

    .venv/bin/python bench/run.py                 # everything (~15 min on 2 cores)
    .venv/bin/python bench/run.py --quick         # smaller histories (~3 min)
    .venv/bin/python bench/run.py --only memory   # one benchmark (repeatable option)

Starts the provider simulator in its own process, runs the benchmarks in order and
prints one markdown table; the same rows, with every raw number, go to
`bench/results/latest.json` (git-ignored). Each figure stands beside a limit measured
in the same run, since on a shared machine only ratios hold. Nothing here asserts a
time: a target that does not hold is shown as such, not raised.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import backfill_limit
import bench_memory
import bench_sync_noop
from common import (
    DEFAULT_PG_URL,
    RESULTS_DIR,
    TABLE_HEAD,
    Context,
    Row,
    postgres_reachable,
    running_simulator,
)
from sqlalchemy import select

from archiver.db.engine import create_archive_engine
from archiver.db.models import Asset

DOWNLOAD_TARGET = 0.8


def downloads(ctx: Context) -> list[Row]:
    """bench_downloads' Downloader and bare fetch, at the Downloader's default concurrency."""
    import bench_downloads

    files, latency, concurrency = (300 if ctx.quick else 2000), 0.02, 8
    folder = ctx.workdir / "downloads"
    folder.mkdir()
    with bench_downloads.simulator(latency, files) as (base_url, key):
        database_url = bench_downloads.archive_records(folder, base_url, key)
        urls = _urls(database_url)
        bench_downloads.bare_fetch(urls[:50], 4)  # warm up, as bench_downloads does
        bare = bench_downloads.bare_fetch(urls, concurrency)
        ours = bench_downloads.downloader(database_url, folder / "files", concurrency)
    share = (ours.bytes / ours.seconds) / (bare.bytes / bare.seconds)
    return [
        Row(
            bench="downloads",
            case=f"{ours.files:,} files, {ours.bytes / ours.files / 1e3:.0f} KB mean, "
            f"{latency * 1000:.0f} ms latency, {concurrency} at once",
            figure=f"{ours.bytes / 1e6 / ours.seconds:,.1f} MB/s ({ours.seconds:.1f} s)",
            limit=f"{bare.bytes / 1e6 / bare.seconds:,.1f} MB/s bare httpx ({bare.seconds:.1f} s)",
            ratio=f"{share:.0%}",
            target=f">= {DOWNLOAD_TARGET:.0%}",
            holds=share >= DOWNLOAD_TARGET,
            numbers={
                "files": ours.files,
                "bytes": ours.bytes,
                "seconds": ours.seconds,
                "bare_files": bare.files,
                "bare_bytes": bare.bytes,
                "bare_seconds": bare.seconds,
                "share_of_bare": share,
                "latency_s": latency,
                "concurrency": concurrency,
            },
        )
    ]


def _urls(database_url: str) -> list[str]:
    """Every file URL the records backfill left pending, in archive order."""
    engine = create_archive_engine(database_url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(select(Asset.url).order_by(Asset.id)).scalars())
    finally:
        engine.dispose()


BENCHMARKS: dict[str, Callable[[Context], list[Row]]] = {
    "backfill": backfill_limit.run,
    "memory": bench_memory.run,  # before sync_noop: it builds the archives sync_noop reuses
    "sync_noop": bench_sync_noop.run,
    "downloads": downloads,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller histories and shorter waits")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), help="run just this one")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("ARCHIVER_TEST_PG_URL") or DEFAULT_PG_URL,
        help="an admin URL of a Postgres server (a scratch database is created and dropped)",
    )
    parser.add_argument("--no-postgres", action="store_true", help="skip the Postgres backfills")
    parser.add_argument("--json", type=Path, default=RESULTS_DIR / "latest.json", help="where the JSON goes")
    parser.add_argument("--keep", action="store_true", help="keep the scratch archives (path printed)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    chosen = [name for name in BENCHMARKS if not args.only or name in args.only]
    pg_url = None if args.no_postgres or not postgres_reachable(args.pg_url) else args.pg_url
    if pg_url is None and not args.no_postgres:
        print(f"Postgres at {args.pg_url} does not answer: backfills into SQLite only", file=sys.stderr)
    workdir = Path(tempfile.mkdtemp(prefix="archiver-bench-"))
    rows: list[Row] = []
    seconds: dict[str, float] = {}
    started = time.monotonic()
    try:
        with running_simulator() as sim:
            ctx = Context(sim, workdir, args.quick, pg_url)
            for name in chosen:
                print(f"running {name} ...", file=sys.stderr, flush=True)
                begun = time.monotonic()
                rows += BENCHMARKS[name](ctx)
                seconds[name] = time.monotonic() - begun
    finally:
        if args.keep:
            print(f"scratch archives kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    total = time.monotonic() - started
    report(rows, args, seconds, total)


def report(rows: list[Row], args: argparse.Namespace, seconds: dict[str, float], total: float) -> None:
    options = (["--quick"] if args.quick else []) + [f"--only {name}" for name in args.only or []]
    command = " ".join([".venv/bin/python bench/run.py", *options])
    print(f"\n{TABLE_HEAD}")
    for row in rows:
        print(row.markdown())
    print(f"\n`{command}` on {platform.node()} ({os.cpu_count()} CPUs), {total / 60:.1f} min")
    document = {
        "command": command,
        "finished_at": datetime.now(UTC).isoformat(),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "seconds": {**seconds, "total": total},
        "rows": [row.__dict__ for row in rows],
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"JSON: {args.json}")


if __name__ == "__main__":
    main()
