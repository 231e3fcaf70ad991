"""Fetching one file into the store: the HTTP side of a download, with no database.

`fetch_file` either returns the whole body in a temp file (`Received`; its `keep()`
makes it durable and puts it in place) or raises `FetchError` saying what the caller
should do next (retry later, refresh the URL, give up). Error text never holds a
signed URL's token.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from urllib.parse import urlsplit

from archiver.files.store import FileStore, TempFile, extension_for
from archiver.http import HttpClient, NetworkError, retry_after_seconds
from archiver.log import redact

EXPIRED_STATUSES = frozenset({401, 403, 410})
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class Failure(Enum):
    TRANSIENT = "transient"
    """Worth another try later: 5xx, 429, a short body, a slow drip."""
    NETWORK = "network"
    """The connection failed or broke: transient too, but many in a row mean the host is down."""
    EXPIRED = "expired"
    """401/403/410: the (signed) URL no longer works; the listing may give a fresh one."""
    NOT_FOUND = "not_found"
    """404: perhaps gone; several of these across runs make the asset missing."""
    REFUSED = "refused"
    """Never fetched or not kept: another scheme, over the size cap. Retrying is pointless
    until the config or the URL changes, but costs nothing, so it is retried slowly."""


class FetchError(Exception):
    def __init__(
        self, failure: Failure, message: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        self.failure = failure
        self.status = status
        self.retry_after = retry_after
        super().__init__(redact(message))


@dataclass(frozen=True)
class Fetched:
    sha256: str
    size: int
    content_type: str | None
    path: str


@dataclass(frozen=True)
class Received:
    """A whole body in a temp file, not yet durable nor in place.

    Kept apart from the fetch so that the fsync and rename need not hold a connection
    slot: the next download starts while the disk catches up.
    """

    temp: TempFile
    content_type: str | None

    def keep(self) -> Fetched:
        try:
            path = self.temp.commit(extension_for(self.content_type))
        except OSError as error:
            self.temp.discard()
            raise FetchError(Failure.TRANSIENT, f"could not store the file: {error}") from None
        return Fetched(self.temp.sha256, self.temp.size, self.content_type, path)


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int
    deadline: float
    """Seconds for one whole file: httpx's read timeout is per chunk."""
    retries: int
    """Quick retries of a transient failure within one run, before it counts as failed."""
    retry_wait: float
    retry_after_cap: float


def fetch_file(
    http: HttpClient,
    store: FileStore,
    url: str,
    limits: FetchLimits,
    stop: threading.Event | None = None,
) -> Received:
    """Download `url` into a temp file of the store, retrying transient failures a few times."""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchError(
            Failure.REFUSED,
            f"refused to fetch a {scheme or 'scheme-less'} URL: only http and https are fetched",
        )
    for attempt in range(limits.retries + 1):
        try:
            return _fetch_once(http, store, url, limits)
        except FetchError as error:
            if error.failure not in (Failure.TRANSIENT, Failure.NETWORK) or attempt == limits.retries:
                raise
            wait = error.retry_after
            if wait is None:
                wait = random.uniform(0, limits.retry_wait * 2**attempt)
            if _pause(min(wait, limits.retry_after_cap), stop):
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _pause(seconds: float, stop: threading.Event | None) -> bool:
    """Sleep; True when `stop` was set meanwhile (a shutdown should not wait out a backoff)."""
    if stop is None:
        time.sleep(seconds)
        return False
    return stop.wait(seconds)


def _fetch_once(http: HttpClient, store: FileStore, url: str, limits: FetchLimits) -> Received:
    try:
        with http.stream(url) as response:
            _check_status(response.status, response.headers)
            expected = _content_length(response.headers)
            if expected is not None and expected > limits.max_bytes:
                raise FetchError(
                    Failure.REFUSED,
                    f"the file is {expected} bytes, over the {limits.max_bytes}-byte cap (max_bytes)",
                )
            content_type = response.headers.get("content-type")
            temp = store.open_temp()
            try:
                try:
                    _receive(response.chunks, temp, limits)
                except NetworkError as error:
                    raise FetchError(
                        Failure.TRANSIENT,
                        f"short body: the connection broke after {temp.size} bytes ({error})",
                    ) from None
                if expected is not None and temp.size != expected:
                    raise FetchError(
                        Failure.TRANSIENT,
                        f"short body: {temp.size} of {expected} bytes (Content-Length) arrived",
                    )
            except BaseException:
                temp.discard()
                raise
            return Received(temp, content_type)
    except NetworkError as error:
        raise FetchError(Failure.NETWORK, f"connection failed: {error}") from None


def _receive(chunks: Iterable[bytes], temp: TempFile, limits: FetchLimits) -> None:
    """Write the body within the size cap and the wall-clock deadline."""
    give_up_at = time.monotonic() + limits.deadline
    for chunk in chunks:
        temp.write(chunk)
        if temp.size > limits.max_bytes:
            raise FetchError(
                Failure.REFUSED, f"the body grew over the {limits.max_bytes}-byte cap (max_bytes); not kept"
            )
        if time.monotonic() > give_up_at:
            raise FetchError(Failure.TRANSIENT, f"the file took longer than {limits.deadline:g} s to arrive")


def _check_status(status: int, headers: Mapping[str, str]) -> None:
    if 200 <= status < 300:
        return
    if status in EXPIRED_STATUSES:
        raise FetchError(Failure.EXPIRED, f"the file URL answered {status} (expired or not allowed)", status)
    if status == 404:
        raise FetchError(Failure.NOT_FOUND, "the file URL answered 404 (not found)", status)
    raise FetchError(
        Failure.TRANSIENT if status in RETRYABLE_STATUSES else Failure.REFUSED,
        f"the file URL answered {status}",
        status,
        retry_after_seconds(headers.get("retry-after")),
    )


def _content_length(headers: Mapping[str, str]) -> int | None:
    value = headers.get("content-length", "")
    return int(value) if value.strip().isdigit() else None
