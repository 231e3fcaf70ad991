"""The content-addressed file store under `files_dir`: `ab/cd/<sha256>.<ext>`.

A file reaches its final path only whole: bytes go to a temp file in `files_dir/.tmp`
(same filesystem, so the final `os.replace` is atomic), are hashed while written, and
fsynced before the rename. Identical bytes land on one path, so they are stored once.
The path comes from the hash and the served Content-Type alone: no provider string
ever becomes part of it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

TEMP_DIR = ".tmp"
TEMP_SUFFIX = ".part"
STALE_TEMP_AGE = 24 * 3600
"""A temp file of another host (or an unreadable name) older than this is a crash's leftover."""

EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/jpg": "jpg",
    "image/pjpeg": "jpg",
    "image/webp": "webp",
    "image/gif": "gif",
    "video/mp4": "mp4",
    "video/webm": "webm",
}


def extension_for(content_type: str | None) -> str:
    """The file extension for a served Content-Type; anything unknown is `bin`."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return EXTENSIONS.get(media_type, "bin")


def relative_path(sha256: str, extension: str) -> str:
    """Where bytes with this hash lie, relative to `files_dir`, with `/` separators."""
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}.{extension}"


def _hostname() -> str:
    return socket.gethostname().replace("-", "_") or "host"


class TempFile:
    """A file being written: hashes and counts every byte; `commit` puts it in place."""

    def __init__(self, store: FileStore) -> None:
        self._store = store
        # host and pid in the name let a sweep tell a crash's leftover from live work.
        name = f"{_hostname()}-{os.getpid()}-{uuid.uuid4().hex}{TEMP_SUFFIX}"
        self.path = store.temp_dir / name
        self._file: BinaryIO = open(self.path, "xb")  # noqa: SIM115 - closed in commit/discard
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self._hash.update(chunk)
        self.size += len(chunk)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def commit(self, extension: str) -> str:
        """fsync, then atomically move into the store; returns the relative path.

        Replacing an existing file with the same hash is harmless and heals a copy
        that was damaged on disk.
        """
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        relative = relative_path(self.sha256, extension)
        final = self._store.root / relative
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.path, final)
        _fsync_dir(final.parent)
        return relative

    def discard(self) -> None:
        self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


@dataclass(frozen=True)
class FileStore:
    root: Path

    @property
    def temp_dir(self) -> Path:
        return self.root / TEMP_DIR

    def open_temp(self) -> TempFile:
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        return TempFile(self)

    def path_of(self, relative: str) -> Path:
        return self.root.joinpath(*relative.split("/"))


def sweep_temp_files(files_dir: Path) -> int:
    """Delete temp files a crashed download left behind; returns how many.

    A temp file of a live process on this host is kept (another archiver may be
    downloading into the same store right now); so is a recent one from another host.
    """
    folder = Path(files_dir) / TEMP_DIR
    if not folder.is_dir():
        return 0
    host = _hostname()
    removed = 0
    for path in folder.glob(f"*{TEMP_SUFFIX}"):
        if _is_live(path, host):
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed += 1
    return removed


def _is_live(path: Path, host: str) -> bool:
    owner, _, rest = path.name.partition("-")
    pid_text = rest.partition("-")[0]
    if owner == host and pid_text.isdigit():
        return _process_exists(int(pid_text))
    try:
        return time.time() - path.stat().st_mtime < STALE_TEMP_AGE
    except FileNotFoundError:
        return True


def _process_exists(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
