"""Fetch the next page while the current one is being written.

DESIGN: overlapping fetch and write is how a backfill gets near the speed of fetching
alone. Never more than one page ahead: the next fetch starts only once the consumer has
taken the page before, so a walk that ends on its first page (a no-op sync) costs one
speculative request, not two.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def prefetched(pages: Iterator[T], stop_early: threading.Event) -> Iterator[T]:
    """`pages`, produced in a background thread one ahead; `stop_early` (set on exit
    too) tells the producer to quit."""
    handoff: queue.Queue[tuple[str, Any]] = queue.Queue()
    taken = threading.Semaphore(0)

    def produce() -> None:
        try:
            for page in pages:
                handoff.put(("page", page))
                while not taken.acquire(timeout=0.2):
                    if stop_early.is_set():
                        return
                if stop_early.is_set():
                    return
            handoff.put(("end", None))
        except BaseException as error:  # handed to the consumer, raised there
            handoff.put(("error", error))

    thread = threading.Thread(target=produce, name="archiver-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = handoff.get()
            taken.release()
            if kind == "page":
                yield value
            elif kind == "error":
                raise value
            else:
                return
    finally:
        stop_early.set()
