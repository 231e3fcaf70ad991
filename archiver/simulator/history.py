"""One provider/bucket history, generated lazily from each item's index.

Index 0 is the oldest item; creation times never decrease with the index, so
"newest first" is "highest index first" and every time cursor is a bisect. A
seeded history stores four numbers; items added later store one time each; an
item whose state changed (a pending one finished) has one entry in a dict.
Everything else about an item is computed on demand from (stream key, index).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archiver.simulator.ids import IdCodec
from archiver.simulator.prng import mix, unit, wide

BURST_GROUP = 8
"""Age ranks are grouped by eight; some groups start with a burst sharing one timestamp."""
BURST_RATE = 0.08

_SALT_ID = 1
_SALT_JITTER = 2
_SALT_BURST = 3
_SALT_BURST_LEN = 4
_SALT_OUTCOME = 5
_SALT_DURATION = 6


@dataclass(frozen=True)
class Finish:
    """How a once-pending item ended, recorded when `finish_pending` ran."""

    failed: bool
    completed_ms: int


@dataclass
class History:
    """The items one provider serves for one bucket (every provider but qaves has one)."""

    key: int
    codec: IdCodec
    bucket: str = "default"
    seeded: int = 0
    end_ms: int = 0
    gap_ms: float = 0.0
    added_ms: list[int] = field(default_factory=list)
    pending: dict[int, str] = field(default_factory=dict)
    """index -> "pending" or "running" for items not final yet."""
    finished: dict[int, Finish] = field(default_factory=dict)

    @classmethod
    def seed(
        cls,
        key: int,
        codec: IdCodec,
        bucket: str,
        items: int,
        end_ms: int,
        span_ms: int,
        pending: int,
    ) -> History:
        """`items` items whose newest is at `end_ms`, spread over `span_ms` before it."""
        gap = span_ms / items if items else 0.0
        history = cls(key, codec, bucket, seeded=items, end_ms=end_ms, gap_ms=gap)
        for index in range(max(0, items - pending), items):
            history.pending[index] = _phase(items - 1 - index)
        return history

    def __len__(self) -> int:
        return self.seeded + len(self.added_ms)

    def created_ms(self, index: int) -> int:
        if index >= self.seeded:
            return self.added_ms[index - self.seeded]
        return self.end_ms - round(self._age_offset(self.seeded - 1 - index))

    def _age_offset(self, rank: int) -> float:
        """Milliseconds before `end_ms` of the item with age rank `rank` (0 = newest).

        rank * gap plus a jitter below one gap keeps the offsets increasing; a burst
        gives its whole group the offset of the group's newest member.
        """
        group_start = rank - rank % BURST_GROUP
        if unit(self.key, group_start, _SALT_BURST) < BURST_RATE:
            burst_len = 2 + mix(self.key, group_start, _SALT_BURST_LEN) % (BURST_GROUP - 1)
            if rank < group_start + burst_len:
                rank = group_start
        if rank == 0:
            return 0.0
        return self.gap_ms * (rank + 0.99 * unit(self.key, rank, _SALT_JITTER))

    def item_id(self, index: int) -> str:
        return self.codec.make(self.created_ms(index), wide(self.key, index, _SALT_ID))

    def first_at_or_after(self, ms: int) -> int:
        """The lowest index created at or after `ms` (len when none)."""
        lo, hi = 0, len(self)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.created_ms(mid) < ms:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def index_of(self, item_id: str) -> int | None:
        """The index of the item with this id, or None: a bisect on the time the id carries."""
        ms = self.codec.time_of(item_id)
        if ms is None:
            return None
        index = self.first_at_or_after(ms)
        while index < len(self) and self.created_ms(index) == ms:
            if self.item_id(index) == item_id:
                return index
            index += 1
        return None

    def outcome(self, index: int, fail_rate: float, duration_ms: tuple[int, int]) -> tuple[str, int | None]:
        """(phase, completed_ms): "pending"/"running" with None, or "succeeded"/"failed".

        Items never pending end as the seed decides, `duration_ms` after creation.
        """
        if index in self.pending:
            return self.pending[index], None
        finish = self.finished.get(index)
        if finish is not None:
            return ("failed" if finish.failed else "succeeded"), finish.completed_ms
        low, high = duration_ms
        completed = self.created_ms(index) + low + mix(self.key, index, _SALT_DURATION) % (high - low)
        failed = unit(self.key, index, _SALT_OUTCOME) < fail_rate
        return ("failed" if failed else "succeeded"), completed

    def append(self, times_ms: list[int], pending: int) -> range:
        """New items at the given (non-decreasing) times; the newest `pending` are not final."""
        start = len(self)
        self.added_ms.extend(times_ms)
        indexes = range(start, len(self))
        for index in indexes[max(0, len(indexes) - pending) :]:
            self.pending[index] = _phase(len(self) - 1 - index)
        return indexes

    def finish(self, index: int, failed: bool, now_ms: int) -> None:
        del self.pending[index]
        completed = max(now_ms, self.created_ms(index) + 1000)
        self.finished[index] = Finish(failed=failed, completed_ms=completed)


def _phase(rank: int) -> str:
    """The newest of a run of unfinished items are queued, older ones already running."""
    return "running" if rank % 2 else "pending"
