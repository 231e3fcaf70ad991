"""Backfill speed into SQLite and Postgres next to the speed of only reading the pages.

Run: `.venv/bin/python bench/bench_backfill.py [--items 100000] [--pg URL] [--providers ...]`.
Prints a markdown table. The simulator runs in its own process (bench_simulator's
launcher), so its CPU is not ours. "fetch + parse" walks every page with the
provider's own `walk()` (HTTP, JSON, normalization, pagination checks) and drops
them: the limit. "backfill" is what `archiver backfill --no-download` runs,
`SyncEngine.run(source, Mode.BACKFILL)`, timed in-process so the interpreter's start
is not counted, into a fresh database per backend.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import httpx
from bench_simulator import Target, page_walker, simulator
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from archiver.archive import open_archive
from archiver.config import SourceConfig, load_config
from archiver.http import build_client
from archiver.providers import provider_class
from archiver.simulator import PROVIDERS
from archiver.sync import Mode, SyncEngine

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def config_for(folder: Path, target: Target, providers: list[str], database_url: str) -> Path:
    lines = [f'[archive]\ndatabase_url = "{database_url}"\nfiles_dir = "{folder / "files"}"\n']
    for provider in providers:
        info = target.providers[provider]
        lines.append(
            f'[[sources]]\nname = "{provider}"\nprovider = "{provider}"\napi_key_file = "{provider}.key"\n'
            f'base_url = "{info["base_url"]}"\ndownload = false\n'
        )
        (folder / f"{provider}.key").write_text(info["api_key"])
    path = folder / f"archiver-{uuid.uuid4().hex[:6]}.toml"
    path.write_text("\n".join(lines))
    return path


def timed(run: Callable[[], int]) -> float:
    """Items per second of `run`, which returns how many items it handled."""
    start = time.perf_counter()
    items = run()
    return items / (time.perf_counter() - start)


def fetch_only(source: SourceConfig) -> int:
    with build_client() as http:
        provider = provider_class(source.provider)(source, http)
        return sum(len(page.items) for stream in provider.streams() for page in provider.walk(stream))


def bare_fetch(target: Target, provider: str) -> int:
    """The issue's limit: the same pages read by a bare httpx loop (HTTP and JSON only:
    no validation, no checks, no database), once to the end of the history."""
    next_page = page_walker(target, provider, restart=False)
    items = 0
    with httpx.Client(timeout=60) as client:
        while got := next_page(client):
            items += got
    return items


def backfill(config: Path, name: str) -> int:
    archive = open_archive(load_config(config))
    try:
        [source] = archive.config.resolve([name])
        with build_client() as http:
            result = SyncEngine(archive, http).run(source, Mode.BACKFILL)
        if not result.ok:
            raise SystemExit(f"{name}: backfill failed: {result.error}")
        return result.counts.seen
    finally:
        archive.close()


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    name = f"bench_backfill_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000, help="history items per provider")
    parser.add_argument("--pg", default=DEFAULT_PG, help="Postgres admin URL ('' to skip Postgres)")
    parser.add_argument("--providers", nargs="*", default=list(PROVIDERS))
    args = parser.parse_args()

    rows = []
    with simulator(in_process=False) as target, tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for provider in args.providers:
            target.seed(provider, args.items)
        sqlite_config = config_for(folder, target, args.providers, f"sqlite:///{folder / 'bench.db'}")
        sources = {s.name: s for s in load_config(sqlite_config).resolve()}
        with postgres_database(args.pg) if args.pg else nullcontext() as pg_url:
            pg_config = config_for(folder, target, args.providers, pg_url) if pg_url else None
            for name, source in sources.items():
                limit = timed(lambda source=source: fetch_only(source))
                on_sqlite = timed(lambda name=name: backfill(sqlite_config, name))
                on_pg = None
                if pg_config is not None:
                    on_pg = timed(lambda name=name, config=pg_config: backfill(config, name))
                rows.append((name, limit, on_sqlite, on_pg))

    print(f"\nBackfill of {args.items:,} items per provider (items/s; in brackets: limit / backfill)\n")
    print("| provider | fetch + parse (limit) | backfill SQLite | backfill Postgres |")
    print("| --- | ---: | ---: | ---: |")
    for provider, limit, on_sqlite, on_pg in rows:
        pg = f"{on_pg:,.0f} ({limit / on_pg:.2f}x)" if on_pg else "-"
        print(f"| {provider} | {limit:,.0f} | {on_sqlite:,.0f} ({limit / on_sqlite:.2f}x) | {pg} |")


if __name__ == "__main__":
    main()
