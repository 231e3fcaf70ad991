"""Download throughput: the Downloader beside a bare concurrent httpx fetch of the same URLs.

Run: `.venv/bin/python bench/bench_downloads.py [--files 2000] [--latency 0.02] [--concurrency 8 16]`.

The simulator runs in its own process (so it does not share our GIL), serving qaves
files of 50-300 KB (one in forty of 2-5 MB) with `latency` seconds added to every
request. `archiver backfill --no-download` archives the records; then, per
concurrency, a bare `httpx.Client` thread pool reads every file URL into nothing, and
the Downloader fetches the same URLs into a fresh store (hash, fsync, rename, batched
row updates). A middle row runs the store path alone (fetch, hash, write, fsync,
rename; no database, no scheduler) to tell the cost of keeping the bytes from the
Downloader's own overhead. `cpu s` is this process's CPU time (the simulator's is
not counted). Prints a markdown table; the figures are this machine's, not a promise.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import select, update

from archiver.db.engine import create_archive_engine
from archiver.db.models import Asset, Source
from archiver.files import Downloader, DownloadSettings, FileStore
from archiver.files.fetch import fetch_file
from archiver.http import HttpSettings, build_client

SIMULATOR = """
import sys
from archiver.simulator import Simulator
sim = Simulator(seed=1, latency=float(sys.argv[1])).start()
sim.seed("qaves", items=int(sys.argv[2]))
print(sim.base_url("qaves"), sim.api_key("qaves"), flush=True)
sys.stdin.read()
sim.stop()
"""
CONFIG = """[archive]
database_url = "{database_url}"
files_dir = "files"

[[sources]]
name = "bench"
provider = "qaves"
api_key_env = "BENCH_KEY"
base_url = "{base_url}"
"""


@dataclass
class Figures:
    name: str
    concurrency: int
    files: int
    bytes: int
    seconds: float
    cpu: float

    def row(self, baseline: Figures | None) -> str:
        share = f"{baseline.seconds / self.seconds:.0%}" if baseline else "100%"
        return (
            f"| {self.name} | {self.concurrency} | {self.files} | {self.bytes / 1e6:,.1f} | "
            f"{self.seconds:.2f} | {self.cpu:.2f} | {self.bytes / 1e6 / self.seconds:,.1f} | "
            f"{self.files / self.seconds:,.0f} | {share} |"
        )


class Clock:
    """Wall and CPU seconds of a block."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), _cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, _cpu() - self.cpu


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextmanager
def simulator(latency: float, files: int) -> Iterator[tuple[str, str]]:
    process = subprocess.Popen(
        [sys.executable, "-c", SIMULATOR, str(latency), str(files)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url, key = process.stdout.readline().split()
        yield base_url, key
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=10)


def archive_records(folder: Path, base_url: str, key: str) -> str:
    database_url = f"sqlite:///{folder / 'archive.db'}"
    config = folder / "archiver.toml"
    config.write_text(CONFIG.format(database_url=database_url, base_url=base_url))
    subprocess.run(
        [sys.executable, "-m", "archiver", "--config", str(config), "backfill", "--no-download"],
        env={**os.environ, "BENCH_KEY": key},
        check=True,
        capture_output=True,
    )
    return database_url


def bare_fetch(urls: list[str], concurrency: int) -> Figures:
    """The floor to compare against: one shared client, bodies read and dropped."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with httpx.Client(limits=limits, timeout=30) as client:

        def fetch(url: str) -> int:
            size = 0
            with client.stream("GET", url) as response:
                response.raise_for_status()
                for chunk in response.iter_bytes():
                    size += len(chunk)
            return size

        with Clock() as clock, ThreadPoolExecutor(concurrency) as pool:
            total = sum(pool.map(fetch, urls))
    return Figures("bare httpx -> /dev/null", concurrency, len(urls), total, clock.wall, clock.cpu)


def store_only(urls: list[str], files_dir: Path, concurrency: int) -> Figures:
    """What keeping the bytes costs by itself: the Downloader's fetch, no database."""
    store, limits = FileStore(files_dir), DownloadSettings().limits()
    with (
        build_client(HttpSettings(max_connections=concurrency)) as http,
        Clock() as clock,
        ThreadPoolExecutor(concurrency) as pool,
    ):
        total = sum(pool.map(lambda url: fetch_file(http, store, url, limits).keep().size, urls))
    return Figures("store path only, no DB", concurrency, len(urls), total, clock.wall, clock.cpu)


def downloader(database_url: str, files_dir: Path, concurrency: int) -> Figures:
    engine = create_archive_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            update(Asset).values(state="pending", sha256=None, path=None, attempts=0, next_attempt_at=None)
        )
        sources = {name: id_ for id_, name in connection.execute(select(Source.id, Source.name))}
    settings = DownloadSettings(concurrency=concurrency, per_source=concurrency)
    with build_client(HttpSettings(max_connections=concurrency)) as http, Clock() as clock:
        report = Downloader(engine, files_dir, http, settings).run(sources)
    engine.dispose()
    totals = report.sources["bench"]
    if not report.ok:
        raise SystemExit(f"the Downloader failed files: {totals.errors}")
    return Figures("archiver Downloader", concurrency, totals.downloaded, totals.bytes, clock.wall, clock.cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 16])
    args = parser.parse_args()

    with simulator(args.latency, args.files) as (base_url, key), tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        database_url = archive_records(folder, base_url, key)
        engine = create_archive_engine(database_url)
        with engine.connect() as connection:
            urls = list(connection.execute(select(Asset.url).order_by(Asset.id)).scalars())
        engine.dispose()
        bare_fetch(urls[:50], 4)  # warm up the simulator and the connection path
        print(f"{len(urls)} files, {args.latency * 1000:.0f} ms added per request, {os.cpu_count()} CPUs,")
        print("simulator in its own process\n")
        print("| fetcher | concurrency | files | MB | seconds | cpu s | MB/s | files/s | vs bare |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for concurrency in args.concurrency:
            bare = bare_fetch(urls, concurrency)
            print(bare.row(None), flush=True)
            print(store_only(urls, folder / f"store-{concurrency}", concurrency).row(bare), flush=True)
            ours = downloader(database_url, folder / f"files-{concurrency}", concurrency)
            print(ours.row(bare), flush=True)


if __name__ == "__main__":
    main()
