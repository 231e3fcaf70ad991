"""The provider's clock for window arithmetic: its Date header, or its data when later."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from archiver.gaps import provider_now
from archiver.providers.items import Item, Page, Status

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def _page(served_at: datetime | None, *created: datetime) -> Page:
    items = [
        Item(external_id=str(n), status=Status.SUCCEEDED, raw={}, created_at=c) for n, c in enumerate(created)
    ]
    return Page(items=items, served_at=served_at)


def test_date_header_is_the_clock_when_items_are_older() -> None:
    assert provider_now(_page(NOW, NOW - timedelta(hours=3)), NOW - timedelta(days=9)) == NOW


def test_items_newer_than_the_date_header_move_the_clock() -> None:
    later = NOW + timedelta(hours=30)
    assert provider_now(_page(NOW, NOW, later), NOW) == later


def test_without_a_date_header_the_local_clock_stands_in() -> None:
    assert provider_now(_page(None), NOW) == NOW
