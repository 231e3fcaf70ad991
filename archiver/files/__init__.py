"""The file archive: a content-addressed store, the concurrent downloader, and verify.

Data flows one way: the sync engine leaves `pending` asset rows; the downloader fetches
them into the store and records where their bytes lie. Nothing here imports the sync
engine: it reaches back only through the `refresh` callback it is handed.
"""

from archiver.files.downloader import (
    Downloader,
    DownloadReport,
    DownloadSettings,
    RefreshUrls,
    SourceReport,
)
from archiver.files.store import FileStore, sweep_temp_files
from archiver.files.verify import VerifyReport, verify

__all__ = [
    "DownloadReport",
    "DownloadSettings",
    "Downloader",
    "FileStore",
    "RefreshUrls",
    "SourceReport",
    "VerifyReport",
    "sweep_temp_files",
    "verify",
]
