"""The `Simulator`: the Python face of the fake providers, for tests, benchmarks and demos."""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime, timedelta
from typing import Any

from archiver.simulator.apis.base import ProviderAPI, plain
from archiver.simulator.apis.imaginepro import WINDOW
from archiver.simulator.apis.qaves import normalize_bucket
from archiver.simulator.clock import SimClock, to_ms
from archiver.simulator.control import handle_control
from archiver.simulator.faults import FaultQueue, make_fault
from archiver.simulator.history import History
from archiver.simulator.router import Router
from archiver.simulator.server import SimServer
from archiver.simulator.world import PROVIDERS, World

DEFAULT_GAP = timedelta(seconds=60)
"""Seeded histories average one item a minute unless a span is given..."""
IMAGINEPRO_SPAN = WINDOW - timedelta(hours=1)
"""... except ImaginePro's, which fit in 23 hours: all served, for one more hour at least."""


class Simulator:
    """All four providers on one loopback port, each under `/<provider>`.

    Nothing listens until `start()`. State (histories, clock, faults, counts) can be
    changed at any time, from any thread, also while requests are being served.
    """

    def __init__(
        self,
        seed: int = 1,
        token_ttl: timedelta = timedelta(minutes=10),
        latency: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        start_at: datetime | None = None,
    ) -> None:
        self.world = World(seed, SimClock(start_at), token_ttl)
        self.faults = FaultQueue()
        self.router = Router(self.world, self.faults, latency, self._control)
        self._address = (host, port)
        self._server: SimServer | None = None

    def _control(self, request: Any, body: bytes) -> Any:
        return handle_control(self, request, body)

    # Lifecycle.

    def start(self) -> Simulator:
        if self._server is not None:
            raise RuntimeError("simulator already started")
        self._server = SimServer(self._address, self.router)
        host, port = self._server.server_address[:2]
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        self.world.url = f"http://{shown}:{port}"
        threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"simulator:{port}",
            daemon=True,
        ).start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.close_connections()
            server.server_close()

    def __enter__(self) -> Simulator:
        return self.start() if self._server is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._running().server_address[1]

    @property
    def url(self) -> str:
        self._running()
        return self.world.url

    def _running(self) -> SimServer:
        if self._server is None:
            raise RuntimeError("simulator not started: call start() or use `with Simulator()`")
        return self._server

    def base_url(self, provider: str) -> str:
        self._api(provider)
        return f"{self.url}/{provider}"

    def api_key(self, provider: str) -> str:
        return self._api(provider).api_key

    # The clock.

    @property
    def now(self) -> datetime:
        return self.world.clock.now()

    def advance(self, delta: timedelta) -> datetime:
        return self.world.clock.advance(delta)

    # Histories.

    def lists_pending(self, provider: str) -> bool:
        """Whether the provider's items carry a status, so a history may hold pending ones."""
        return self._api(provider).has_status

    def seed(
        self,
        provider: str,
        items: int = 1000,
        bucket: str = "default",
        pending: int = 0,
        end: datetime | None = None,
        span: timedelta | None = None,
    ) -> None:
        """Replace a provider/bucket history with `items` deterministic items, newest at `end`."""
        api = self._api(provider)
        bucket = self._bucket(provider, bucket)
        if items < 0 or pending < 0:
            raise ValueError("items and pending must not be negative")
        if pending and not api.has_status:
            raise ValueError(f"{provider} items have no status: pending must be 0")
        if span is None:
            span = IMAGINEPRO_SPAN if provider == "imaginepro" else DEFAULT_GAP * items
        end_ms = to_ms(end or self.now)
        key = self.world.key(provider, bucket)
        history = History.seed(key, api.codec, bucket, items, end_ms, to_ms_delta(span), pending)
        with self.world.lock:
            self.world.histories[provider][bucket] = history

    def add(
        self,
        provider: str,
        n: int = 5,
        bucket: str = "default",
        same_second: bool = False,
        pending: int = 0,
    ) -> list[str]:
        """`n` items created now (one per second up to now, or all in one instant); their ids.

        Creation times never go below the history's newest item, so order is kept.
        """
        api = self._api(provider)
        bucket = self._bucket(provider, bucket)
        if pending and not api.has_status:
            raise ValueError(f"{provider} items have no status: pending must be 0")
        with self.world.lock:
            history = self.world.histories[provider].get(bucket)
            if history is None:
                key = self.world.key(provider, bucket)
                history = self.world.histories[provider][bucket] = History(key, api.codec, bucket)
            last = history.created_ms(len(history) - 1) if len(history) else 0
            newest = max(self.world.clock.now_ms(), last)
            oldest = newest if same_second or n < 2 else max(last, newest - (n - 1) * 1000)
            steps = max(1, n - 1)
            times = [oldest + (newest - oldest) * j // steps for j in range(n)]
            return [history.item_id(i) for i in history.append(times, min(pending, n))]

    def finish_pending(self, provider: str, fail_every: int = 0) -> list[str]:
        """Every pending/running item finishes now: succeeded, or failed for every k-th."""
        self._api(provider)
        finished: list[str] = []
        with self.world.lock:
            now_ms = self.world.clock.now_ms()
            for history in self.world.histories[provider].values():
                for index in sorted(history.pending):
                    failed = fail_every > 0 and (len(finished) + 1) % fail_every == 0
                    history.finish(index, failed, now_ms)
                    finished.append(history.item_id(index))
        return finished

    # Ground truth.

    def truth(self, provider: str, bucket: str | None = None) -> list[dict[str, Any]]:
        """Every item the listing serves now, newest first, as served (minus ?token=)."""
        return self._items(provider, bucket, served_only=True)

    def truth_all(self, provider: str, bucket: str | None = None) -> list[dict[str, Any]]:
        """Every item ever created, also those ImaginePro no longer lists."""
        return self._items(provider, bucket, served_only=False)

    def truth_files(self, provider: str) -> dict[str, str]:
        """Canonical file URL -> sha256 of its bytes, for every file of every served item.

        Costs the bytes of every file: meant for histories of hundreds, not 100k.
        """
        api = self._api(provider)
        with self.world.lock:
            specs = {
                url: spec
                for history, index in self._indexes(api, None, served_only=True)
                for url, spec in api.files(history, index).items()
            }
        return {url: hashlib.sha256(spec.render()).hexdigest() for url, spec in specs.items()}

    def _items(self, provider: str, bucket: str | None, served_only: bool) -> list[dict[str, Any]]:
        api = self._api(provider)
        with self.world.lock:
            return [api.render(h, i, plain) for h, i in self._indexes(api, bucket, served_only)]

    def _indexes(self, api: ProviderAPI, bucket: str | None, served_only: bool) -> list[tuple[History, int]]:
        """(history, index) of items newest first, across buckets when `bucket` is None."""
        histories = self.world.histories[api.name]
        chosen = (
            histories.values()
            if bucket is None
            else filter(None, [histories.get(self._bucket(api.name, bucket))])
        )
        found = [
            (history, index)
            for history in chosen
            for index in (api.served(history) if served_only else range(len(history)))
        ]
        found.sort(key=lambda hi: (hi[0].created_ms(hi[1]), hi[0].bucket, hi[1]), reverse=True)
        return found

    # Requests and faults.

    def requests(self, provider: str, endpoint: str = "list") -> int:
        self._api(provider)
        return self.router.count(provider, endpoint)

    def reset_requests(self) -> None:
        self.router.reset_counts()

    def inject(
        self, provider: str, fault: str, endpoint: str = "list", times: int = 1, **params: Any
    ) -> None:
        """Queue `fault` for the next `times` requests to this provider's endpoint."""
        self._api(provider)
        self.faults.push(provider, endpoint, make_fault(fault, endpoint, params), times)

    # Checks.

    def _api(self, provider: str) -> ProviderAPI:
        api = self.router.apis.get(provider)
        if api is None:
            raise ValueError(f"unknown provider {provider!r}; known: {', '.join(PROVIDERS)}")
        return api

    def _bucket(self, provider: str, bucket: str) -> str:
        if provider == "qaves":
            normalized = normalize_bucket(bucket)
            if not normalized:
                raise ValueError(f"bucket {bucket!r} normalizes to nothing")
            return normalized
        if bucket != "default":
            raise ValueError(f"only qaves has buckets; {provider} has just 'default'")
        return bucket


def to_ms_delta(delta: timedelta) -> int:
    return int(delta.total_seconds() * 1000)
