"""Queued faults: what goes wrong with the next requests of one provider endpoint.

A test queues a fault for the next `times` matching requests; each request
takes at most one fault off the front of its queue, whatever its outcome.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

ENDPOINTS = ("list", "file")
ANY_ENDPOINT = frozenset({"429", "500", "502", "503", "drop", "truncate", "slow"})
LIST_ONLY = frozenset({"malformed_item", "evil_id"})
FILE_ONLY = frozenset({"file_404", "short_body"})
FAULTS = ANY_ENDPOINT | LIST_ONLY | FILE_ONLY

_PARAMS: dict[str, dict[str, Any]] = {
    "429": {"retry_after": 1},
    "slow": {"delay": 1.0},
    "truncate": {"fraction": 0.5},
    "short_body": {"missing": 1024},
    "malformed_item": {"kind": "missing", "field": None, "position": None},
    "evil_id": {"value": None, "position": None},
}


@dataclass(frozen=True)
class Fault:
    name: str
    params: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.params[key]


def make_fault(name: str, endpoint: str, params: dict[str, Any]) -> Fault:
    """A validated fault with its defaults filled in; a misuse raises ValueError at once."""
    if endpoint not in ENDPOINTS:
        raise ValueError(f"endpoint must be one of {ENDPOINTS}, not {endpoint!r}")
    if name not in FAULTS:
        raise ValueError(f"unknown fault {name!r}; known: {sorted(FAULTS)}")
    if (name in LIST_ONLY and endpoint != "list") or (name in FILE_ONLY and endpoint != "file"):
        raise ValueError(f"fault {name!r} does not apply to the {endpoint!r} endpoint")
    defaults = _PARAMS.get(name, {})
    unknown = set(params) - set(defaults)
    if unknown:
        raise ValueError(f"fault {name!r} takes no parameter {sorted(unknown)}")
    if name == "malformed_item" and params.get("kind", "missing") not in ("missing", "wrong_type"):
        raise ValueError("malformed_item kind must be 'missing' or 'wrong_type'")
    return Fault(name, {**defaults, **params})


class FaultQueue:
    """Per (provider, endpoint) queues of faults, safe to use from handler threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[tuple[str, str], deque[Fault]] = {}

    def push(self, provider: str, endpoint: str, fault: Fault, times: int) -> None:
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._queues.setdefault((provider, endpoint), deque()).extend([fault] * times)

    def take(self, provider: str, endpoint: str) -> Fault | None:
        with self._lock:
            queue = self._queues.get((provider, endpoint))
            return queue.popleft() if queue else None
