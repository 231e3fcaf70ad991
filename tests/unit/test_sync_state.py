"""The engine's saved walk state and its prefetching page pipe."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from archiver.errors import PaginationError
from archiver.prefetch import prefetched
from archiver.providers.items import Page
from archiver.walks import StreamState, Walk

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "walk",
    [
        Walk("full"),
        Walk("incremental", {"page": 3}, stop_at=T0, high=T0, started_served_at=T0, ordered=False, pages=2),
        Walk("full", {"before": 1778833800}, high=T0),
    ],
)
def test_a_walk_survives_its_json_round_trip(walk: Walk) -> None:
    assert Walk.from_json(walk.to_json()) == walk


def test_a_stream_state_survives_its_json_round_trip() -> None:
    state = StreamState(
        watermark=T0, last_complete_at=T0, walk=Walk("full", {"page": 2}), meta={"bucket": "x"}
    )
    assert StreamState.from_json(state.to_json()) == state
    assert StreamState.from_json(None) == StreamState()


def numbered(count: int, produced: list[int], error_at: int | None = None) -> Iterator[Page]:
    for n in range(count):
        if n == error_at:
            raise PaginationError("q", "the listing returned the cursor again")
        produced.append(n)
        yield Page(items=[], next_cursor={"page": n + 2})


def test_prefetched_pages_arrive_in_order() -> None:
    produced: list[int] = []
    pages = list(prefetched(numbered(5, produced), threading.Event()))
    assert [page.next_cursor for page in pages] == [{"page": n + 2} for n in range(5)]


def test_a_fetch_error_reaches_the_consumer_after_the_pages_before_it() -> None:
    consumed = []
    with pytest.raises(PaginationError):
        for page in prefetched(numbered(5, [], error_at=3), threading.Event()):
            consumed.append(page)
    assert len(consumed) == 3


def test_stopping_early_fetches_at_most_two_pages_ahead() -> None:
    produced: list[int] = []
    stop = threading.Event()
    for _ in prefetched(numbered(50, produced), stop):
        break
    assert stop.is_set()
    threading.Event().wait(0.5)  # give the producer time to overrun, if it would
    assert len(produced) <= 3
