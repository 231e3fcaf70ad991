"""One pass over one source as users run it: the walk, with the downloader following it.

The downloader runs beside the walk (not after it) so files are fetched while their
signed URLs are still fresh. `sync`, `backfill` and the daemon all come through here.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from archiver.archive import Archive
from archiver.config import SourceConfig
from archiver.files import Downloader, DownloadReport, DownloadSettings
from archiver.http import HttpClient
from archiver.sync import Mode, RunResult, SyncEngine


@dataclass
class PassResult:
    run: RunResult
    downloads: DownloadReport | None = None

    @property
    def ok(self) -> bool:
        return self.run.ok


def make_downloader(
    archive: Archive, http: HttpClient, engine: SyncEngine, sources: list[SourceConfig]
) -> Downloader:
    """A downloader whose expired signed URLs are refreshed by re-listing the source."""
    by_name = {source.name: source for source in sources}

    def refresh(name: str, since: datetime | None) -> set[str] | None:
        return engine.refresh(by_name[name], since)

    config = archive.config
    settings = DownloadSettings(
        concurrency=config.download_concurrency,
        per_source=min(config.download_per_source, config.download_concurrency),
        max_bytes=config.max_file_size_mb * 1024 * 1024,
    )
    return Downloader(archive.engine, config.files_dir, http, settings, refresh=refresh)


def run_source_pass(
    archive: Archive,
    http: HttpClient,
    engine: SyncEngine,
    source: SourceConfig,
    mode: Mode,
    *,
    download: bool,
    wait: bool = True,
) -> PassResult:
    if not (download and source.download):
        return PassResult(engine.run(source, mode, wait=wait))
    downloader = make_downloader(archive, http, engine, [source])
    walk_done = threading.Event()
    with ThreadPoolExecutor(1, thread_name_prefix="archiver-download") as pool:
        downloads = pool.submit(
            downloader.run, {source.name: archive.source_ids[source.name]}, engine.stop, walk_done
        )
        try:
            run = engine.run(source, mode, wait=wait)
        finally:
            walk_done.set()
        return PassResult(run, downloads.result())
