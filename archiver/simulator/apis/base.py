"""What every fake provider shares: requests, responses, parameter checks, item faults."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from archiver.simulator.faults import Fault
from archiver.simulator.files import FileSpec
from archiver.simulator.history import History
from archiver.simulator.ids import IdCodec
from archiver.simulator.world import World


@dataclass(frozen=True)
class Request:
    """One HTTP request, with `path` relative to the provider's base URL."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, payload: Any) -> Response:
    return Response(status, json.dumps(payload, ensure_ascii=False).encode())


class BadRequest(Exception):
    """A request the provider rejects; `status` is 400 unless a cursor is missing, etc."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def int_param(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within [low, high]; absent means `default`."""
    raw = query.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[+-]?[0-9]+", raw.strip()):
        raise BadRequest(f"invalid_{name}", f"{name} must be an integer, got {raw!r}")
    value = int(raw)
    if not low <= value <= high:
        bound = f"at least {low}" if high >= 2**62 else f"between {low} and {high}"
        raise BadRequest(f"invalid_{name}", f"{name} must be {bound}, got {value}")
    return value


def bearer_token(headers: Mapping[str, str]) -> str | None:
    scheme, _, token = headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


Links = Callable[[str], str]
"""Turns a canonical file URL into the URL a listing serves (Aurous adds ?token=)."""


def plain(url: str) -> str:
    return url


class ProviderAPI:
    """A fake provider: its documented listing, its errors, its files.

    Subclasses declare the differences as attributes and fill in `listing`,
    `render`, `files` and `file_at`; the server handles faults, counting and
    headers the same way for all of them.
    """

    name: str
    list_path: str
    codec: IdCodec
    api_key: str
    file_path: re.Pattern[str]
    """Matches the path of this provider's files; group 1 is the item id."""
    id_field: str = "id"
    time_field: str = "created_at"
    has_status: bool = False
    """True when items can be pending (seed/add `pending=` is allowed)."""

    def __init__(self, world: World) -> None:
        self.world = world

    # What each provider defines.

    def authenticate(self, request: Request) -> Response | None:
        """None when the request may proceed, else the provider's rejection."""
        if bearer_token(request.headers) == self.api_key:
            return None
        return self.error(401, "unauthorized", "Invalid or missing API key")

    def error(self, status: int, code: str, message: str) -> Response:
        raise NotImplementedError

    def listing(self, request: Request) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The envelope and (the same object as) its item list; raises BadRequest."""
        raise NotImplementedError

    def render(self, history: History, index: int, links: Links) -> dict[str, Any]:
        raise NotImplementedError

    def files(self, history: History, index: int) -> dict[str, FileSpec]:
        """Canonical URL -> file for every file this item currently has."""
        raise NotImplementedError

    def file_item_id(self, path: str) -> str | None:
        """The id of the item a file path belongs to, if the path has the file shape."""
        match = self.file_path.fullmatch(path)
        return match.group(1) if match else None

    def file_at(self, request: Request) -> FileSpec | Response | None:
        """The file a request names, an error response (expired token), or None (404)."""
        item_id = self.file_item_id(request.path)
        found = self.locate(item_id) if item_id else None
        if found is None:
            return None
        return self.files(*found).get(self.url(request.path))

    def served(self, history: History) -> range:
        """The indexes the listing serves, oldest first (all but ImaginePro: everything)."""
        return range(len(history))

    # Shared behaviour.

    def url(self, path: str) -> str:
        return f"{self.world.base_url(self.name)}{path}"

    def handle_list(self, request: Request, fault: Fault | None) -> Response:
        rejected = self.authenticate(request)
        if rejected is not None:
            return rejected
        try:
            with self.world.lock:
                envelope, items = self.listing(request)
        except BadRequest as problem:
            return self.error(problem.status, problem.code, problem.message)
        if fault is not None and items:
            corrupt(items, fault, self.id_field, self.time_field)
        return json_response(200, envelope)

    def handle_file(self, request: Request) -> Response:
        with self.world.lock:
            found = self.file_at(request)
        if isinstance(found, Response):
            return found
        if found is None:
            return self.not_found()
        return Response(200, found.render(), found.content_type)

    def not_found(self) -> Response:
        return self.error(404, "not_found", "Resource not found")

    def locate(self, item_id: str) -> tuple[History, int] | None:
        """The history and index of an item id, in whichever bucket holds it."""
        for history in self.world.histories[self.name].values():
            index = history.index_of(item_id)
            if index is not None:
                return history, index
        return None


def corrupt(items: list[dict[str, Any]], fault: Fault, id_field: str, time_field: str) -> None:
    """Apply a `malformed_item` or `evil_id` fault to one item of a page, in place."""
    position = fault.params.get("position")
    item = items[len(items) // 2 if position is None else position % len(items)]
    if fault.name == "evil_id":
        item[id_field] = fault["value"] or f"../../{item[id_field]}/x"
    elif fault.name == "malformed_item":
        target = fault.params.get("field") or time_field
        if fault["kind"] == "missing":
            item.pop(target, None)
        else:
            item[target] = _wrong_type(item.get(target))


def _wrong_type(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return "not-a-value"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return 1_700_000_000
    return "not-a-" + type(value).__name__
