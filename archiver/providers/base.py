"""The contract a provider fills: a few declarations and one `normalize` method.

A provider module says what differs (base URL, path, auth, pagination family, where
the items sit, how errors look, how one raw item maps to an `Item`); fetching,
retrying, paging and rejecting malformed items live here and in `pagination`, once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from archiver.errors import BadResponseError
from archiver.http import Caller, HttpClient, JsonResponse, error_for_status
from archiver.providers.fields import is_plain_id
from archiver.providers.items import (
    AssetRef,
    AssetRole,
    Item,
    JSONCursor,
    Page,
    RejectedItem,
    Status,
)
from archiver.providers.pagination import Listing, Pagination, Path, dig

if TYPE_CHECKING:
    from archiver.config import SourceConfig


class Auth(Protocol):
    def headers(self, key: str) -> dict[str, str]: ...


@dataclass(frozen=True, slots=True)
class BearerAuth:
    def headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}


@dataclass(frozen=True, slots=True)
class HeaderKeyAuth:
    name: str

    def headers(self, key: str) -> dict[str, str]:
        return {self.name: key}


@dataclass(frozen=True, slots=True)
class ErrorEnvelope:
    """How a provider's JSON says what went wrong.

    `message_at` are the places a reason may sit (first found wins); `ok_at` names a
    success flag whose `false` is a failure even under HTTP 200, and `code_status`
    maps that envelope's error codes onto the HTTP status they mean. `hints` add the
    provider's own advice to the error for a status.
    """

    message_at: tuple[Path, ...] = (("error", "message"), ("message",), ("error",), ("detail",))
    code_at: Path | None = None
    ok_at: Path | None = None
    code_status: Mapping[str, int] = field(default_factory=dict)
    hints: Mapping[int, str] = field(default_factory=dict)

    def describe(self, body: Any) -> str | None:
        message = next(
            (found for path in self.message_at if isinstance(found := dig(body, path), str)),
            None,
        )
        code = dig(body, self.code_at) if self.code_at else None
        if isinstance(code, str) and code:
            return f"{code}: {message}" if message else code
        return message

    def failed_status(self, body: Any) -> int | None:
        """The HTTP status a `success: false` envelope stands for; None when it succeeded."""
        if self.ok_at is None or dig(body, self.ok_at) is not False:
            return None
        code = dig(body, self.code_at) if self.code_at else None
        return self.code_status.get(code, 500) if isinstance(code, str) else 500


_STATUS_WORDS = {
    "succeeded": Status.SUCCEEDED,
    "completed": Status.SUCCEEDED,
    "failed": Status.FAILED,
    "error": Status.FAILED,
    "canceled": Status.CANCELED,
    "cancelled": Status.CANCELED,
    "pending": Status.PENDING,
    "queued": Status.PENDING,
    "processing": Status.RUNNING,
    "running": Status.RUNNING,
    "in_progress": Status.RUNNING,
}


def status_of(word: str) -> Status:
    """A provider's status word in INTERFACE's set; a word we do not know is `unknown`."""
    return _STATUS_WORDS.get(word.strip().lower(), Status.UNKNOWN)


def asset_refs(role: AssetRole, urls: Sequence[str | None] | None) -> tuple[AssetRef, ...]:
    """The files of one role; a null or empty URL is skipped but keeps its position."""
    return tuple(AssetRef(role, n, url) for n, url in enumerate(urls or ()) if url)


class ItemModel(BaseModel):
    """Base of the providers' item models: unknown fields are fine (`raw` keeps them)."""

    model_config = ConfigDict(extra="allow", frozen=True)


class Provider:
    """One provider's history listing, as declarations the shared machinery reads."""

    key: ClassVar[str]
    default_base_url: ClassVar[str]
    path: ClassVar[str]
    auth: ClassVar[Auth]
    pages: ClassVar[Pagination]
    items_at: ClassVar[Path]
    id_field: ClassVar[str] = "id"
    errors: ClassVar[ErrorEnvelope] = ErrorEnvelope()
    window: ClassVar[timedelta | None] = None
    # How far below the watermark an incremental sync re-reads: absorbs same-second
    # bursts and items listed a little after their created_at (config `overlap`).
    default_overlap: ClassVar[timedelta] = timedelta(minutes=2)
    options: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, source: SourceConfig, http: HttpClient) -> None:
        self.source = source
        self.http = http
        self._caller = Caller(
            source.name, source.key_origin, describe=self.errors.describe, hints=self.errors.hints
        )

    def streams(self) -> list[str]:
        """The independent listings of this source; most providers have exactly one."""
        return [""]

    def walk(self, stream: str, cursor: JSONCursor | None = None) -> Iterator[Page]:
        """Pages newest first from `cursor` (None: the newest page) to the end.

        Each page's `next_cursor` resumes after that page; the last page's is None.
        """
        return self.pages.walk(
            lambda params: self._fetch(stream, params),
            cursor,
            source=self.source.name,
            stream=stream,
            page_size=self.source.page_size,
            max_pages=self.source.max_pages,
        )

    def normalize(self, raw: dict[str, Any]) -> Item:
        """Map one raw item to an `Item`; raise ValueError when it does not fit."""
        raise NotImplementedError

    def headers(self) -> dict[str, str]:
        return self.auth.headers(self.source.api_key.get_secret_value())

    def query(self, stream: str) -> dict[str, str | int]:
        """Query parameters that select `stream`."""
        return {}

    def page_meta(self, body: Any) -> dict[str, Any] | None:
        """Envelope facts that belong to the stream rather than to an item."""
        return None

    def _fetch(self, stream: str, params: dict[str, str | int]) -> Listing:
        response = self.http.get_json(
            self.source.base_url + self.path,
            caller=self._caller,
            params={**self.query(stream), **params},
            headers=self.headers(),
            check=self._check,
        )
        raw_items: list[Any] = dig(response.body, self.items_at)
        items: list[Item] = []
        rejected: list[RejectedItem] = []
        for raw in raw_items:
            outcome = self._normalize_or_reject(raw)
            (items if isinstance(outcome, Item) else rejected).append(outcome)
        return Listing(
            items,
            rejected,
            raw_items,
            response.body,
            response.served_at,
            self.page_meta(response.body),
        )

    def _check(self, response: JsonResponse) -> None:
        """Raise for an error envelope (typed) or a body that is not the documented one."""
        status = self.errors.failed_status(response.body)
        if status is not None:
            raise error_for_status(self._caller, status, self.errors.describe(response.body))
        if not isinstance(dig(response.body, self.items_at), list):
            raise BadResponseError(
                self.source.name,
                f"the listing has no '{'.'.join(self.items_at)}' list where the docs put it",
            )

    def _normalize_or_reject(self, raw: Any) -> Item | RejectedItem:
        """A malformed item becomes a RejectedItem; it never spoils the rest of its page."""
        if not isinstance(raw, dict):
            return RejectedItem(raw, f"expected a JSON object, got {type(raw).__name__}")
        external_id = raw.get(self.id_field) if is_plain_id(raw.get(self.id_field)) else None
        try:
            return self.normalize(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "item"
            return RejectedItem(raw, f"{where}: {first['msg']}", external_id)
        except (ValueError, TypeError, KeyError) as exc:
            return RejectedItem(raw, f"{type(exc).__name__}: {exc}", external_id)
