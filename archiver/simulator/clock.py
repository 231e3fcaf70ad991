"""The simulated clock: real time plus an offset that tests move forward.

Real time keeps ticking so that timeouts and token lifetimes behave as in life;
`advance` jumps ahead so that a test can cross ImaginePro's 24-hour window or a
token's expiry without waiting.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime


class SimClock:
    """A timezone-aware UTC clock that only ever moves forward."""

    def __init__(self, start: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._offset = timedelta(0) if start is None else start - datetime.now(UTC)

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def now_ms(self) -> int:
        return to_ms(self.now())

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("the simulated clock only moves forward")
        with self._lock:
            self._offset += delta
        return self.now()


def to_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime (the unit every history stores)."""
    if moment.tzinfo is None:
        raise ValueError("simulator times must be timezone-aware")
    return int(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def iso_seconds(ms: int) -> str:
    """`2026-05-04T10:00:00Z`: Aurous's timestamps."""
    return from_ms(ms).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_millis(ms: int) -> str:
    """`2026-03-12T09:30:00.000Z`: ImaginePro's and APIMall's timestamps."""
    return from_ms(ms).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def http_date(moment: datetime) -> str:
    """RFC 7231 IMF-fixdate, the `Date` header the archiver reads provider time from."""
    return format_datetime(moment.astimezone(UTC), usegmt=True)
