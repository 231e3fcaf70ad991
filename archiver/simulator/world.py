"""The state every fake provider serves from: the clock and each history."""

from __future__ import annotations

import hashlib
import hmac
import threading
from datetime import timedelta

from archiver.simulator.clock import SimClock
from archiver.simulator.history import History
from archiver.simulator.prng import stream

PROVIDERS = ("qaves", "aurous", "imaginepro", "apimall")


class World:
    """Histories per provider and bucket, one lock, and the server's address once bound.

    The lock is held while a page is computed or a history mutated (both O(page) or
    O(items added)), never while bytes are sent.
    """

    def __init__(self, seed: int, clock: SimClock, token_ttl: timedelta) -> None:
        self.seed = seed
        self.clock = clock
        self.token_ttl = token_ttl
        self.lock = threading.RLock()
        self.histories: dict[str, dict[str, History]] = {p: {} for p in PROVIDERS}
        self.url = "http://127.0.0.1:0"
        self._secret = hashlib.sha256(f"sim-token-secret-{seed}".encode()).digest()
        self._counter = 0

    def base_url(self, provider: str) -> str:
        return f"{self.url}/{provider}"

    def key(self, provider: str, bucket: str) -> int:
        """The random stream of one history: same seed, provider and bucket, same items."""
        return stream("history", self.seed, provider, bucket)

    def next_number(self) -> int:
        """A per-simulator sequence number (request ids)."""
        with self.lock:
            self._counter += 1
            return self._counter

    def sign(self, message: str) -> str:
        return hmac.new(self._secret, message.encode(), hashlib.sha256).hexdigest()[:24]
