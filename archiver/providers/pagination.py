"""The three pagination families of the providers, and the one loop that walks them.

A family only says how a cursor becomes query parameters and where the next page
starts after a response (`params`, `advance`). The shared `walk` does everything a
family must never get wrong on its own: repeated cursors, identical pages, the page
cap, counting repeats, checking the newest-first order, and the provider's clock.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any, ClassVar

import structlog

from archiver.errors import BadResponseError, PaginationError
from archiver.providers.items import Item, JSONCursor, MissedRange, Page, RejectedItem

Path = tuple[str, ...]
REPEAT_WINDOW_PAGES = 4


def dig(body: Any, path: Path) -> Any:
    """The value at `path` in nested JSON objects, or None where any step is missing."""
    for name in path:
        if not isinstance(body, dict):
            return None
        body = body.get(name)
    return body


@dataclass(frozen=True, slots=True)
class Listing:
    """One listing response as the walk sees it: normalized items plus the envelope."""

    items: list[Item]
    rejected: list[RejectedItem]
    raw_items: list[Any]
    body: Any
    served_at: datetime | None = None
    meta: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """What a family may consider when choosing the next cursor."""

    cursor: JSONCursor | None
    listing: Listing
    size: int  # the page size we asked for
    new: int  # items on this page not seen on the pages just before it
    largest: int  # the largest page of this walk before this one
    source: str
    log: Any
    missed: list[MissedRange] = field(default_factory=list)  # filled by `advance`


Fetch = Callable[[dict[str, str | int]], Listing]


class Pagination(ABC):
    """A pagination family. Instances are shared declarations: they hold no walk state."""

    # A family that re-reads its page edges on purpose meets identical pages
    # legitimately; its cursor alone must then guarantee progress.
    rereads_edges: ClassVar[bool] = False

    def __init__(self, *, size_param: str, size: int) -> None:
        self.size_param = size_param
        self.size = size

    @abstractmethod
    def params(self, cursor: JSONCursor | None) -> dict[str, str | int]:
        """Query parameters for the page at `cursor` (None: the newest page)."""

    @abstractmethod
    def advance(self, step: Step) -> JSONCursor | None:
        """The cursor of the page after this one, or None when the listing ended."""

    def walk(
        self,
        fetch: Fetch,
        cursor: JSONCursor | None,
        *,
        source: str,
        stream: str = "",
        page_size: int | None = None,
        max_pages: int = 1_000_000,
    ) -> Iterator[Page]:
        """Yield pages from `cursor` on until the listing ends; see `Provider.walk`."""
        size = min(max(page_size or self.size, 1), self.size)
        log = structlog.get_logger(__name__).bind(source=source, stream=stream)
        # Repeats come from neighbouring pages (a re-read edge, items pushed one page on),
        # so remembering the last few pages keeps memory flat however long the walk.
        recent: deque[set[str]] = deque(maxlen=REPEAT_WINDOW_PAGES)
        cursors: set[str] = set()
        previous: Listing | None = None
        previous_oldest: datetime | None = None
        largest = 0
        for _ in range(max_pages):
            mark = json.dumps(cursor, sort_keys=True)
            if mark in cursors:
                raise PaginationError(source, f"the listing returned the cursor {mark} again")
            cursors.add(mark)
            try:
                query = self.params(cursor)
            except (KeyError, TypeError, ValueError) as exc:
                raise PaginationError(source, f"the saved cursor {mark} does not fit this listing") from exc
            listing = fetch({**query, self.size_param: size})
            if (
                not self.rereads_edges
                and previous is not None
                and listing.raw_items
                and listing.raw_items == previous.raw_items
            ):
                raise PaginationError(source, f"the page at {mark} is identical to the one before it")
            repeats = 0
            for item in listing.items:
                if any(item.external_id in page_ids for page_ids in recent):
                    repeats += 1
            recent.append({item.external_id for item in listing.items})
            step = Step(cursor, listing, size, len(listing.items) - repeats, largest, source, log)
            next_cursor = self.advance(step)
            stamps = [item.created_at for item in listing.items if item.created_at]
            in_order = all(a >= b for a, b in pairwise(stamps))
            if stamps and previous_oldest is not None and max(stamps) > previous_oldest:
                in_order = False
            if stamps:
                previous_oldest = min(stamps)
            largest = max(largest, len(listing.raw_items))
            previous = listing
            yield Page(
                items=listing.items,
                rejected=listing.rejected,
                next_cursor=next_cursor,
                served_at=listing.served_at or datetime.now(UTC),
                newest_first=in_order,
                repeats=repeats,
                meta=listing.meta,
                missed=step.missed,
            )
            if next_cursor is None:
                return
            cursor = next_cursor
        raise PaginationError(source, f"the listing did not end within max_pages={max_pages} pages")


class EpochCursor(Pagination):
    """`before` = epoch seconds, newest first (qaves).

    Several items can share one second and the docs do not say whether `before` is
    inclusive, so the next page starts one second above the page's oldest item: the
    boundary second is read again and the upsert absorbs the repeats. A page that
    cannot move the cursor (a same-second burst larger than a page) skips that second
    with a warning instead of spinning.
    """

    rereads_edges = True

    def __init__(self, *, param: str, next_at: Path, size_param: str, size: int) -> None:
        super().__init__(size_param=size_param, size=size)
        self.param = param
        self.next_at = next_at

    def params(self, cursor: JSONCursor | None) -> dict[str, str | int]:
        return {self.param: int(cursor[self.param])} if cursor else {}

    def advance(self, step: Step) -> JSONCursor | None:
        server_next = dig(step.listing.body, self.next_at)
        if not step.listing.raw_items or server_next is None:
            return None
        stamps = [int(i.created_at.timestamp()) for i in step.listing.items if i.created_at]
        if not stamps:  # every item was rejected: only the server's cursor is left
            return {self.param: _integer(server_next, step.source, self.next_at)}
        oldest = min(stamps)
        before = int(step.cursor[self.param]) if step.cursor else None
        if step.new and (before is None or oldest + 1 < before):
            return {self.param: oldest + 1}
        if len(step.listing.raw_items) >= step.size:
            reason = "more items share this second than fit a page; the listing cannot reach the rest"
            step.log.warning("pagination.second_skipped", second=oldest, reason=reason)
            start = datetime.fromtimestamp(oldest, UTC)
            step.missed.append(MissedRange(start, start + timedelta(seconds=1), reason))
        return {self.param: oldest if before is None else min(oldest, before - 1)}


class IdCursor(Pagination):
    """Opaque id cursor: `starting_after` = the server's `next_cursor` while `has_more` (Aurous)."""

    def __init__(self, *, param: str, has_more_at: Path, next_at: Path, size_param: str, size: int) -> None:
        super().__init__(size_param=size_param, size=size)
        self.param = param
        self.has_more_at = has_more_at
        self.next_at = next_at

    def params(self, cursor: JSONCursor | None) -> dict[str, str | int]:
        return {self.param: str(cursor[self.param])} if cursor else {}

    def advance(self, step: Step) -> JSONCursor | None:
        body = step.listing.body
        server_next = dig(body, self.next_at)
        if not step.listing.raw_items or dig(body, self.has_more_at) is not True:
            return None
        if server_next is None:
            return None
        if not isinstance(server_next, str | int) or isinstance(server_next, bool):
            raise BadResponseError(step.source, f"the listing's {'.'.join(self.next_at)} is not an id")
        return {self.param: str(server_next)}


class PageNumber(Pagination):
    """Numbered pages from 1 (ImaginePro, APIMall).

    The listing ends on an empty page, or on one shorter than an earlier page of the
    walk or than the size the envelope echoes. A short first page with no echoed size
    may only mean the server caps the size, so one more page confirms the end. New
    items push old ones to later pages while we read: those repeats are counted, never
    an error.
    """

    def __init__(
        self, *, page_param: str, size_param: str, size: int, size_echo_at: Path | None = None
    ) -> None:
        super().__init__(size_param=size_param, size=size)
        self.page_param = page_param
        self.size_echo_at = size_echo_at

    def params(self, cursor: JSONCursor | None) -> dict[str, str | int]:
        return {self.page_param: int(cursor[self.page_param]) if cursor else 1}

    def advance(self, step: Step) -> JSONCursor | None:
        count = len(step.listing.raw_items)
        echoed = dig(step.listing.body, self.size_echo_at) if self.size_echo_at else None
        if count == 0 or count < step.largest:
            return None
        if isinstance(echoed, int) and not isinstance(echoed, bool) and count < echoed:
            return None
        page = int(step.cursor[self.page_param]) if step.cursor else 1
        return {self.page_param: page + 1}


def _integer(value: Any, source: str, path: Path) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise BadResponseError(source, f"the listing's {'.'.join(path)} is not an integer")
