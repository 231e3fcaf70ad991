"""Provider-shaped ids that carry their creation millisecond.

Every id embeds the item's creation time, so finding an item by id (Aurous
cursors, file URLs) is a bisect over time plus a scan of the few items of that
millisecond: no id index is ever built, which keeps 100k-item histories cheap.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CROCKFORD_VALUE = {c: i for i, c in enumerate(_CROCKFORD)}
_CROCKFORD_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]  # 10 bits per lookup
_ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")
_HEX32 = re.compile(r"[0-9a-f]{32}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def ulid(ms: int, entropy: int) -> str:
    """26 Crockford base32 characters: 48 bits of milliseconds, 80 of entropy."""
    value = ((ms & (2**48 - 1)) << 80) | (entropy & (2**80 - 1))
    return "".join([_CROCKFORD_PAIRS[(value >> shift) & 1023] for shift in range(120, -1, -10)])


def ulid_ms(text: str) -> int | None:
    if not _ULID.fullmatch(text):
        return None
    value = 0
    for char in text:
        value = value * 32 + _CROCKFORD_VALUE[char]
    return value >> 80


@dataclass(frozen=True)
class IdCodec:
    """How one provider spells ids: `make(ms, entropy)` and its inverse `time_of(id)`."""

    make: Callable[[int, int], str]
    time_of: Callable[[str], int | None]


def _hex_make(ms: int, entropy: int) -> str:
    return f"{ms & (2**48 - 1):012x}{entropy & (2**80 - 1):020x}"


def _hex_time(text: str) -> int | None:
    return int(text[:12], 16) if _HEX32.fullmatch(text) else None


def _uuid7_make(ms: int, entropy: int) -> str:
    raw = f"{ms & (2**48 - 1):012x}7{entropy & 0xFFF:03x}"
    variant = 8 | ((entropy >> 12) & 3)
    tail = f"{variant:x}{(entropy >> 14) & 0xFFF:03x}{(entropy >> 26) & (2**48 - 1):012x}"
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{tail[:4]}-{tail[4:]}"


def _uuid7_time(text: str) -> int | None:
    return int(text[:8] + text[9:13], 16) if _UUID.fullmatch(text) else None


def _prefixed_ulid(prefix: str) -> IdCodec:
    def make(ms: int, entropy: int) -> str:
        return prefix + ulid(ms, entropy)

    def time_of(text: str) -> int | None:
        return ulid_ms(text[len(prefix) :]) if text.startswith(prefix) else None

    return IdCodec(make, time_of)


HEX = IdCodec(_hex_make, _hex_time)
"""qaves: 32 lowercase hex characters (the docs show `f0c8…`)."""

UUID7 = IdCodec(_uuid7_make, _uuid7_time)
"""ImaginePro messageIds: UUIDv7 strings."""

IMG_ULID = _prefixed_ulid("img_")
"""Aurous and APIMall: `img_01HXMQ7Z3K8Y2ABCDEFGHJKM`."""
