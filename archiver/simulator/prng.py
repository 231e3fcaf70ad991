"""Deterministic randomness addressed by position, so items are generated lazily.

Every random choice about an item derives from (seed, provider, bucket, index),
never from a shared stream: item 90 000 costs the same as item 0 and does not
depend on which items were generated before it.
"""

from __future__ import annotations

import hashlib
import random

_MASK = (1 << 64) - 1


def stream(*parts: object) -> int:
    """A 64-bit key naming one independent random stream, e.g. ("seed", 1, "qaves", "default")."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def mix(key: int, index: int, salt: int = 0) -> int:
    """splitmix64 of (key, index, salt): cheap, well spread, pure function of its inputs."""
    z = (key + 0x9E3779B97F4A7C15 * (index + 1) + 0xD1B54A32D192ED03 * salt) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def wide(key: int, index: int, salt: int = 0) -> int:
    """128 random bits (ids need 80): two `mix` values side by side."""
    return (mix(key, index, salt) << 64) | mix(key, index, salt + 1_000_003)


def unit(key: int, index: int, salt: int = 0) -> float:
    """A float in [0, 1) from `mix`."""
    return mix(key, index, salt) / 2**64


def rng(key: int, index: int, salt: int = 0) -> random.Random:
    """A private `random.Random` for one item (or one file) when many draws are needed."""
    return random.Random(mix(key, index, salt))
