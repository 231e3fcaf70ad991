"""The pagination families over in-memory fake servers: every item is yielded, walks end.

The fakes follow each family's documented contract and add the awkward truths a real
server has: same-second bursts, `before` either exclusive or inclusive, a size cap the
server does not echo, and new items arriving at the top while we read (drift).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.errors import BadResponseError, PaginationError
from archiver.providers.items import Item, Page, Status
from archiver.providers.pagination import EpochCursor, IdCursor, Listing, PageNumber

EPOCH = EpochCursor(param="before", next_at=("next_before",), size_param="limit", size=100)
IDS = IdCursor(
    param="starting_after",
    has_more_at=("has_more",),
    next_at=("next_cursor",),
    size_param="limit",
    size=100,
)


@dataclass
class FakeHistory:
    """Items newest first as (id, epoch second); `drift` new ones arrive before each request."""

    seconds: list[int]
    drift: int = 0
    items: list[tuple[str, int]] = field(init=False)
    requests: int = 0

    def __post_init__(self) -> None:
        self._ids = count()
        stamps = sorted(self.seconds, reverse=True)
        self.items = [(f"i{next(self._ids)}", s) for s in stamps]
        self.initial = {item_id for item_id, _ in self.items}

    def arrive(self) -> None:
        self.requests += 1
        top = self.items[0][1] if self.items else 1_000
        self.items[:0] = [(f"i{next(self._ids)}", top + 1) for _ in range(self.drift)]

    def listing(self, chosen: list[tuple[str, int]], body: dict[str, Any]) -> Listing:
        raw = [{"id": item_id, "t": second} for item_id, second in chosen]
        items = [
            Item(i["id"], Status.SUCCEEDED, i, created_at=datetime.fromtimestamp(i["t"], UTC)) for i in raw
        ]
        return Listing(items, [], raw, body)


def epoch_server(history: FakeHistory, inclusive: bool):
    def fetch(params: dict[str, Any]) -> Listing:
        history.arrive()
        before = params.get("before")
        rows = [
            row
            for row in history.items
            if before is None or (row[1] <= before if inclusive else row[1] < before)
        ]
        page = rows[: params["limit"]]
        more = len(rows) > len(page)
        return history.listing(page, {"next_before": page[-1][1] if page and more else None})

    return fetch


def id_server(history: FakeHistory):
    def fetch(params: dict[str, Any]) -> Listing:
        history.arrive()
        after = params.get("starting_after")
        ids = [item_id for item_id, _ in history.items]
        start = ids.index(after) + 1 if after else 0
        page = history.items[start : start + params["limit"]]
        more = start + len(page) < len(history.items)
        body = {"has_more": more, "next_cursor": page[-1][0] if more else None}
        return history.listing(page, body)

    return fetch


def page_server(history: FakeHistory, cap: int | None, echo: bool, size_param: str):
    def fetch(params: dict[str, Any]) -> Listing:
        history.arrive()
        size = min(params[size_param], cap or params[size_param])
        start = (params["page"] - 1) * size
        page = history.items[start : start + size]
        return history.listing(page, {"data": {"limit": size}} if echo else {})

    return fetch


def walk_all(family, fetch, page_size: int, cursor=None) -> list[Page]:
    return list(family.walk(fetch, cursor, source="src", page_size=page_size, max_pages=10_000))


def yielded(pages: list[Page]) -> Counter[str]:
    return Counter(item.external_id for page in pages for item in page.items)


bursts = st.lists(st.integers(1, 12), max_size=40)  # items per second, seconds descending


def seconds_of(burst_sizes: list[int]) -> list[int]:
    return [1_000_000 - 3 * n for n, size in enumerate(burst_sizes) for _ in range(size)]


@settings(max_examples=300, deadline=None)
@given(burst_sizes=bursts, page_size=st.integers(1, 15), inclusive=st.booleans(), drift=st.integers(0, 3))
def test_epoch_cursor_yields_every_item_of_seconds_that_fit_a_page(
    burst_sizes: list[int], page_size: int, inclusive: bool, drift: int
) -> None:
    history = FakeHistory(seconds_of(burst_sizes), drift=drift)
    pages = walk_all(EPOCH, epoch_server(history, inclusive), page_size)
    seen = yielded(pages)
    per_second = Counter(second for _, second in history.items if _ in history.initial)
    must = {i for i, s in history.items if i in history.initial and per_second[s] <= page_size}
    assert must <= set(seen)
    assert pages[-1].next_cursor is None
    assert sum(page.repeats for page in pages) == seen.total() - len(seen)


@settings(max_examples=200, deadline=None)
@given(size=st.integers(0, 400), page_size=st.integers(1, 100), drift=st.integers(0, 5))
def test_id_cursor_yields_every_item_exactly_once(size: int, page_size: int, drift: int) -> None:
    history = FakeHistory(list(range(size)), drift=drift)
    pages = walk_all(IDS, id_server(history), page_size)
    seen = yielded(pages)
    assert history.initial <= set(seen)
    assert all(n == 1 for n in seen.values())
    assert all(page.repeats == 0 and page.newest_first for page in pages)


@settings(max_examples=300, deadline=None)
@given(
    size=st.integers(0, 300),
    page_size=st.integers(1, 60),
    cap=st.none() | st.integers(1, 60),
    echo=st.booleans(),
    drift=st.integers(0, 4),
)
def test_page_number_yields_every_item_despite_drift_and_caps(
    size: int, page_size: int, cap: int | None, echo: bool, drift: int
) -> None:
    effective = min(page_size, cap or page_size)
    # Drift of a whole page between two requests makes two pages identical, which the
    # walk must (and does) treat as a broken listing; keep the drift below that.
    drift = min(drift, effective - 1)
    family = PageNumber(
        page_param="page", size_param="limit", size=60, size_echo_at=("data", "limit") if echo else None
    )
    history = FakeHistory(list(range(size)), drift=drift)
    pages = walk_all(family, page_server(history, cap, echo, "limit"), page_size)
    seen = yielded(pages)
    assert history.initial <= set(seen)
    assert sum(page.repeats for page in pages) == seen.total() - len(seen)
    assert pages[-1].next_cursor is None


def test_epoch_cursor_rereads_the_boundary_second() -> None:
    # Two items share second 100 across the page edge; passing next_before back would lose one.
    history = FakeHistory([102, 101, 100, 100, 99])
    pages = walk_all(EPOCH, epoch_server(history, inclusive=False), 3)
    assert [p.next_cursor for p in pages] == [{"before": 101}, None]
    assert set(yielded(pages)) == history.initial
    assert pages[1].repeats == 1


def test_epoch_cursor_skips_a_second_too_large_for_a_page_and_ends() -> None:
    history = FakeHistory([200] + [100] * 5 + [50])
    pages = walk_all(EPOCH, epoch_server(history, inclusive=False), 2)
    assert {"i0", "i6"} <= set(yielded(pages))
    assert pages[-1].next_cursor is None


def test_page_number_short_first_page_needs_one_more_request() -> None:
    history = FakeHistory(list(range(30)))
    family = PageNumber(page_param="page", size_param="size", size=100)
    pages = walk_all(family, page_server(history, cap=10, echo=False, size_param="size"), 100)
    assert len(pages) == 4  # three capped pages of 10, then the empty one that proves the end
    assert set(yielded(pages)) == history.initial


def test_page_number_echoed_limit_ends_on_the_short_page() -> None:
    history = FakeHistory(list(range(25)))
    family = PageNumber(page_param="page", size_param="limit", size=50, size_echo_at=("data", "limit"))
    pages = walk_all(family, page_server(history, cap=None, echo=True, size_param="limit"), 10)
    assert [len(p.items) for p in pages] == [10, 10, 5]


def test_resume_from_a_cursor_starts_after_the_saved_page() -> None:
    history = FakeHistory(list(range(10)))
    first = next(iter(IDS.walk(id_server(history), None, source="src", page_size=4)))
    rest = walk_all(IDS, id_server(history), 4, cursor=first.next_cursor)
    assert set(yielded([first, *rest])) == history.initial
    assert not set(yielded([first])) & set(yielded(rest))


def constant(listing_body: dict[str, Any], raw: list[dict[str, Any]]):
    def fetch(params: dict[str, Any]) -> Listing:
        items = [Item(r["id"], Status.SUCCEEDED, r) for r in raw]
        return Listing(items, [], raw, listing_body)

    return fetch


def test_repeated_cursor_is_a_pagination_error() -> None:
    numbers = count()

    def fetch(params: dict[str, Any]) -> Listing:
        raw = [{"id": f"i{next(numbers)}"}]
        items = [Item(r["id"], Status.SUCCEEDED, r) for r in raw]
        return Listing(items, [], raw, {"has_more": True, "next_cursor": "x"})

    with pytest.raises(PaginationError, match="src: the listing returned the cursor"):
        walk_all(IDS, fetch, 10)


def test_identical_page_is_a_pagination_error() -> None:
    family = PageNumber(page_param="page", size_param="size", size=2)
    with pytest.raises(PaginationError, match="identical"):
        walk_all(family, constant({}, [{"id": "a"}, {"id": "b"}]), 2)


def test_epoch_cursor_ignored_by_the_server_ends_with_an_error() -> None:
    raw = [{"id": "a"}, {"id": "b"}]

    def fetch(params: dict[str, Any]) -> Listing:
        items = [Item(r["id"], Status.SUCCEEDED, r, created_at=datetime.fromtimestamp(50, UTC)) for r in raw]
        return Listing(items, [], raw, {"next_before": 50})

    with pytest.raises(PaginationError):
        walk_all(EPOCH, fetch, 2)


def test_max_pages_stops_a_listing_that_never_ends() -> None:
    history = FakeHistory(list(range(100)))
    with pytest.raises(PaginationError, match="max_pages=3"):
        list(IDS.walk(id_server(history), None, source="src", page_size=5, max_pages=3))


def test_order_check_flags_a_page_that_is_not_newest_first() -> None:
    raw = [{"id": "a", "t": 1}, {"id": "b", "t": 5}]
    history = FakeHistory([])
    listing = history.listing([("a", 1), ("b", 5)], {"has_more": False})
    pages = walk_all(IDS, lambda params: listing, 10)
    assert raw == listing.raw_items
    assert pages[0].newest_first is False


def test_a_saved_cursor_of_another_family_is_refused() -> None:
    with pytest.raises(PaginationError, match="does not fit"):
        walk_all(EPOCH, constant({}, []), 5, cursor={"page": 3})


def test_an_id_cursor_that_is_not_an_id_is_a_bad_response() -> None:
    fetch = constant({"has_more": True, "next_cursor": {"id": "x"}}, [{"id": "a"}])
    with pytest.raises(BadResponseError):
        walk_all(IDS, fetch, 10)


def test_served_at_falls_back_to_now() -> None:
    pages = walk_all(IDS, constant({"has_more": False}, [{"id": "a"}]), 10)
    assert pages[0].served_at is not None and pages[0].served_at.tzinfo is not None
