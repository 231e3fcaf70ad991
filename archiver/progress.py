"""Progress of long walks: a live bar on a terminal, periodic log events otherwise."""

from __future__ import annotations

import sys
import time
from types import TracebackType

from rich.progress import Progress as RichBar
from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

from archiver.db.store import PageCounts
from archiver.log import get_logger

log = get_logger("archiver.progress")


class LogProgress:
    """Structured `progress` events, at most one per source every `every` seconds."""

    def __init__(self, every: float = 10.0) -> None:
        self.every = every
        self._last: dict[str, float] = {}

    def page(self, source: str, stream: str, counts: PageCounts, total: PageCounts) -> None:
        now = time.monotonic()
        if now - self._last.get(source, 0.0) >= self.every:
            self._last[source] = now
            log.info(
                "progress",
                source=source,
                stream=stream or None,
                seen=total.seen,
                new=total.new,
                updated=total.updated,
                rejected=total.rejected,
            )

    def __enter__(self) -> LogProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class BarProgress:
    """One rich progress line per source: items seen, new, and the rate."""

    def __init__(self) -> None:
        self._bar = RichBar(
            SpinnerColumn(),
            TextColumn("[bold]{task.fields[source]}[/]"),
            TextColumn("{task.completed:>9,.0f} items"),
            TextColumn("{task.fields[new]:>9,} new"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            transient=False,
        )
        self._tasks: dict[str, int] = {}
        self._started: dict[str, float] = {}

    def page(self, source: str, stream: str, counts: PageCounts, total: PageCounts) -> None:
        if source not in self._tasks:
            self._tasks[source] = self._bar.add_task("", total=None, source=source, new=0, rate="")
            self._started[source] = time.monotonic()
        elapsed = max(time.monotonic() - self._started[source], 1e-6)
        self._bar.update(
            self._tasks[source], completed=total.seen, new=total.new, rate=f"{total.seen / elapsed:,.0f}/s"
        )

    def __enter__(self) -> BarProgress:
        self._bar.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self._bar.stop()


def progress_for_terminal() -> BarProgress | LogProgress:
    return BarProgress() if sys.stderr.isatty() else LogProgress()
