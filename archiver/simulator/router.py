"""From one HTTP request to one reply: provider dispatch, counting, faults, latency.

Everything here is independent of the socket layer, which only has to write the
`Reply` (or drop the connection, or cut the body short, when a fault says so).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from archiver.simulator.apis.apimall import APIMall
from archiver.simulator.apis.aurous import Aurous
from archiver.simulator.apis.base import ProviderAPI, Request, Response, json_response
from archiver.simulator.apis.imaginepro import ImaginePro
from archiver.simulator.apis.qaves import Qaves
from archiver.simulator.faults import Fault, FaultQueue
from archiver.simulator.world import World

CONTROL_PREFIX = "_sim"
_BAD_GATEWAY = b"<html><head><title>502 Bad Gateway</title></head><body>502 Bad Gateway</body></html>"


@dataclass(frozen=True)
class Reply:
    """What to send: nothing at all (`response` None: drop), or a response, maybe cut short."""

    response: Response | None
    body_bytes: int | None = None
    """Send only this many body bytes (after a full Content-Length), then close."""


ControlHandler = Callable[[Request, bytes], Response]


class Router:
    def __init__(self, world: World, faults: FaultQueue, latency: float, control: ControlHandler) -> None:
        self.world = world
        self.faults = faults
        self.latency = latency
        self.control = control
        self.apis: dict[str, ProviderAPI] = {
            api.name: api(world) for api in (Qaves, Aurous, ImaginePro, APIMall)
        }
        self._counts: Counter[tuple[str, str]] = Counter()
        self._counts_lock = threading.Lock()

    def count(self, provider: str, endpoint: str) -> int:
        with self._counts_lock:
            return self._counts[provider, endpoint]

    def reset_counts(self) -> None:
        with self._counts_lock:
            self._counts.clear()

    def route(self, request: Request, body: bytes) -> Reply:
        """`request.path` is the full path here; it is made provider-relative below."""
        parts = request.path.split("/", 2)
        first = parts[1] if len(parts) > 1 else ""
        rest = "/" + parts[2] if len(parts) > 2 else ""
        relative = Request(request.method, rest, request.query, request.headers)
        if first == CONTROL_PREFIX:
            return Reply(self.control(relative, body))
        api = self.apis.get(first)
        if api is None:
            return Reply(json_response(404, {"error": f"no provider at /{first}"}))
        endpoint = "list" if relative.path == api.list_path else "file"
        with self._counts_lock:
            self._counts[api.name, endpoint] += 1
        fault = self.faults.take(api.name, endpoint)
        if self.latency:
            time.sleep(self.latency)
        if request.method not in ("GET", "HEAD"):
            return Reply(api.error(405, "method_not_allowed", f"{request.method} is not allowed"))
        return self._answer(api, endpoint, relative, fault)

    def _answer(self, api: ProviderAPI, endpoint: str, request: Request, fault: Fault | None) -> Reply:
        name = fault.name if fault else None
        if name == "drop":
            return Reply(None)
        if name == "slow":
            time.sleep(float(fault["delay"]))
        if name == "429":
            response = api.error(429, "rate_limited", "Rate limit exceeded")
            response.headers["Retry-After"] = str(fault["retry_after"])
            return Reply(response)
        if name in ("500", "503"):
            return Reply(api.error(int(name), "server_error", "Internal server error"))
        if name == "502":
            return Reply(Response(502, _BAD_GATEWAY, "text/html"))
        if name == "file_404":
            return Reply(api.not_found())
        if endpoint == "list":
            content_fault = fault if name in ("malformed_item", "evil_id") else None
            response = api.handle_list(request, content_fault)
        else:
            response = api.handle_file(request)
        if name == "truncate":
            return Reply(response, int(len(response.body) * float(fault["fraction"])))
        if name == "short_body":
            return Reply(response, max(0, len(response.body) - int(fault["missing"])))
        return Reply(response)
