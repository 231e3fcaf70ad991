"""`archiver verify`: re-hash every archived file, report missing and corrupt ones, and
on request mark their assets `pending` so the next download fetches them again."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, select, update

from archiver.db.models import Asset
from archiver.files.store import FileStore

Progress = Callable[[int, int], None]
"""progress(files_checked, files_total), called after every file."""

HASH_THREADS = 4
_CHUNK = 1024 * 1024
_UPDATE_BATCH = 500


@dataclass(frozen=True)
class FileProblem:
    path: str
    kind: str  # "missing" or "corrupt"
    asset_ids: tuple[int, ...]


@dataclass
class VerifyReport:
    files: int = 0
    bytes: int = 0
    problems: list[FileProblem] = field(default_factory=list)
    repaired_assets: int = 0

    @property
    def missing(self) -> list[FileProblem]:
        return [p for p in self.problems if p.kind == "missing"]

    @property
    def corrupt(self) -> list[FileProblem]:
        return [p for p in self.problems if p.kind == "corrupt"]

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class _Stored:
    path: str
    sha256: str
    asset_ids: tuple[int, ...]


def verify(
    engine: Engine, files_dir: Path, repair: bool = False, progress: Progress | None = None
) -> VerifyReport:
    """Check every downloaded file against its recorded sha256 (each shared file once)."""
    store = FileStore(Path(files_dir))
    stored = _downloaded(engine)
    report = VerifyReport()
    with ThreadPoolExecutor(HASH_THREADS, thread_name_prefix="verify") as pool:
        checks = pool.map(lambda item: _check(store.path_of(item.path), item.sha256), stored)
        for done, (item, (kind, size)) in enumerate(zip(stored, checks, strict=True), start=1):
            report.files += 1
            report.bytes += size
            if kind is not None:
                report.problems.append(FileProblem(item.path, kind, item.asset_ids))
            if progress is not None:
                progress(done, len(stored))
    if repair:
        report.repaired_assets = _mark_pending(engine, report.problems)
    return report


def _downloaded(engine: Engine) -> list[_Stored]:
    query = (
        select(Asset.id, Asset.path, Asset.sha256)
        .where(Asset.state == "downloaded")
        .order_by(Asset.path, Asset.id)
    )
    grouped: dict[tuple[str, str], list[int]] = {}
    with engine.connect() as connection:
        for row in connection.execute(query):
            grouped.setdefault((row.path or "", row.sha256 or ""), []).append(row.id)
    return [_Stored(path, sha, tuple(ids)) for (path, sha), ids in grouped.items()]


def _check(path: Path, sha256: str) -> tuple[str | None, int]:
    """(problem or None, bytes read)."""
    digest = hashlib.sha256()
    size = 0
    try:
        with open(path, "rb") as file:
            while chunk := file.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return "missing", 0
    return (None if digest.hexdigest() == sha256 else "corrupt"), size


def _mark_pending(engine: Engine, problems: list[FileProblem]) -> int:
    """A fresh start for each affected asset: pending, no attempts, the reason kept."""
    marked = 0
    for kind in ("missing", "corrupt"):
        ids = [asset_id for problem in problems if problem.kind == kind for asset_id in problem.asset_ids]
        for start in range(0, len(ids), _UPDATE_BATCH):
            with engine.begin() as connection:
                connection.execute(
                    update(Asset)
                    .where(Asset.id.in_(ids[start : start + _UPDATE_BATCH]))
                    .values(
                        state="pending",
                        attempts=0,
                        next_attempt_at=None,
                        last_error=f"verify: the archived file was {kind}",
                    )
                )
        marked += len(ids)
    return marked
