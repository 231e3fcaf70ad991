"""The one HTTP layer: a shared client, one retry policy, and typed errors for listings.

Every `import httpx` of the project lives here (httpx's last stable release is from
2024 and a switch may come), so providers and the downloader use only this module's
small API: `build_client`, `HttpClient.get_json`, `HttpClient.stream`.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import structlog
import tenacity

from archiver import __version__
from archiver.errors import (
    AuthenticationError,
    BadResponseError,
    ProviderError,
    RateLimitedError,
    SourceError,
)

log = structlog.get_logger(__name__)

USER_AGENT = f"archiver/{__version__}"
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_DETAIL_LIMIT = 200
MAX_REDIRECTS = 10


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """Timeouts, limits and the retry policy; seconds throughout."""

    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    # httpx's read timeout is per chunk: a server that drips bytes needs a wall clock.
    deadline: float = 120.0
    max_connections: int = 20
    retries: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_after_cap: float = 60.0


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking, so an error names the source and where its key came from.

    `describe` pulls the provider's own reason out of an error body; `hints` add the
    provider's advice for a status (APIMall's 403 means "not approved or wrong host").
    """

    source: str
    key_origin: str
    describe: Callable[[Any], str | None] = lambda body: None
    hints: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class JsonResponse:
    """A successful listing response: status, headers (lower-case names), parsed body."""

    status: int
    headers: Mapping[str, str]
    body: Any

    @property
    def served_at(self) -> datetime | None:
        """The server's clock from its `Date` header, or None when absent or unreadable."""
        return parse_http_date(self.headers.get("date"))


@dataclass(frozen=True, slots=True)
class StreamResponse:
    """A response whose body is read chunk by chunk (file downloads)."""

    status: int
    headers: Mapping[str, str]
    url: str
    chunks: Iterator[bytes]


class NetworkError(Exception):
    """The connection failed or broke mid-body; raised by `stream` for its caller's policy."""


class _Transient(Exception):
    """A failure worth another attempt; `final(retries)` is what the user sees if none is left."""

    def __init__(self, final: Callable[[int], SourceError], retry_after: float | None = None) -> None:
        self.final = final
        self.retry_after = retry_after
        super().__init__(str(final(0)))


class _DeadlineExceeded(Exception):
    pass


def parse_http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds to wait: delta-seconds or an HTTP date; None if unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        moment = parse_http_date(value)
        if moment is None:
            return None
        return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def error_for_status(
    caller: Caller, status: int, detail: str | None = None, *, retries: int = 0
) -> SourceError:
    """The typed, user-facing error for an HTTP (or envelope-mapped) failure status."""
    reason = f": {detail}" if detail else ""
    hint = caller.hints.get(status)
    after = _after(retries)
    if status in (401, 403):
        verdict = "rejected" if status == 401 else "refused access"
        advice = hint or ("check the key" if status == 401 else "check the key's permissions")
        return AuthenticationError(
            caller.source,
            f"the API key from {caller.key_origin} was {verdict} ({status}){reason}; {advice}",
        )
    if status == 429:
        return RateLimitedError(
            caller.source,
            f"the provider kept answering 429 (rate limited){after}{reason}; "
            f"{hint or 'try again later or sync less often'}",
        )
    advice = hint or ("check base_url" if status == 404 else "")
    return ProviderError(
        caller.source,
        f"the provider answered {status}{after}{reason}" + (f"; {advice}" if advice else ""),
        status_code=status,
    )


def _scrub(text: str, header_values: Iterable[str]) -> str:
    """One line, bounded, and holding no secret we sent: a server may echo the key back.

    Header values are split on blanks so `Bearer <key>` hides the bare key too.
    """
    for value in header_values:
        for secret in value.split():
            if len(secret) >= 8:
                text = text.replace(secret, "[redacted]")
    line = " ".join(text.split())
    return line if len(line) <= _DETAIL_LIMIT else line[: _DETAIL_LIMIT - 1] + "…"


class HttpClient:
    """One shared connection pool with the project's timeouts, limits and retry policy."""

    def __init__(self, client: httpx.Client, settings: HttpSettings) -> None:
        self._client = client
        self.settings = settings

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def get_json(
        self,
        url: str,
        *,
        caller: Caller,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        check: Callable[[JsonResponse], None] | None = None,
    ) -> JsonResponse:
        """GET a JSON listing page, retrying what a retry can fix and nothing else.

        Retried: connect/read errors and timeouts, dropped connections, broken or non-JSON
        bodies, 408/429/5xx, and a `check` that raises `BadResponseError` (a malformed
        page). Raised at once: 400/401/403/404 and other 4xx, since only the user can fix
        those. Every error is a typed `SourceError` naming `caller.source`.
        """
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.settings.retries + 1),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(_Transient),
            before_sleep=lambda state: self._log_retry(caller, url, state),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._get_json_once(url, caller, params, dict(headers or {}), check)
        except _Transient as failure:
            raise failure.final(self.settings.retries) from failure.__cause__
        raise AssertionError("unreachable: tenacity returns or raises")  # pragma: no cover

    def _get_json_once(
        self,
        url: str,
        caller: Caller,
        params: Mapping[str, str | int] | None,
        headers: dict[str, str],
        check: Callable[[JsonResponse], None] | None,
    ) -> JsonResponse:
        def scrub(text: str) -> str:
            return _scrub(text, headers.values())

        try:
            status, response_headers, content = self._read(url, params, headers)
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            what = scrub(f"{type(exc).__name__}: {exc}")
            raise _Transient(
                lambda n: ProviderError(caller.source, f"could not read {url}{_after(n)} ({what})")
            ) from exc
        except _DeadlineExceeded as exc:
            limit = f"{self.settings.deadline:g}"
            raise _Transient(
                lambda n: ProviderError(
                    caller.source, f"{url} took longer than {limit} s to answer{_after(n)}"
                )
            ) from exc
        except httpx.HTTPError as exc:
            what = scrub(f"{type(exc).__name__}: {exc}")
            raise ProviderError(caller.source, f"the request to {url} failed ({what})") from exc

        try:
            body = json.loads(content)
        except ValueError as exc:  # UnicodeDecodeError is a ValueError too
            if status >= 400:
                body = None
            else:
                what = scrub(str(exc))
                raise _Transient(
                    lambda n: BadResponseError(
                        caller.source, f"{url} answered with invalid JSON{_after(n)} ({what})"
                    )
                ) from exc

        if status >= 400:
            detail = caller.describe(body) if body is not None else None
            detail = scrub(detail) if detail else None
            if status in RETRYABLE_STATUSES:
                wait = retry_after_seconds(response_headers.get("retry-after"))
                raise _Transient(lambda n: error_for_status(caller, status, detail, retries=n), wait)
            raise error_for_status(caller, status, detail)

        response = JsonResponse(status, response_headers, body)
        if check is not None:
            try:
                check(response)
            except BadResponseError as exc:
                message = str(exc).removeprefix(f"{caller.source}: ")
                raise _Transient(lambda n: BadResponseError(caller.source, f"{message}{_after(n)}")) from exc
        return response

    def _read(
        self, url: str, params: Mapping[str, str | int] | None, headers: Mapping[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        """Read a whole response within the wall-clock deadline."""
        give_up_at = time.monotonic() + self.settings.deadline
        with self._open(url, params, headers) as response:
            parts = []
            for chunk in response.iter_bytes():
                parts.append(chunk)
                if time.monotonic() > give_up_at:
                    raise _DeadlineExceeded
            return response.status_code, dict(response.headers), b"".join(parts)

    @contextmanager
    def _open(
        self, url: str, params: Mapping[str, str | int] | None, headers: Mapping[str, str]
    ) -> Iterator[httpx.Response]:
        """Send a GET, following redirects, never carrying our headers to another origin.

        httpx drops only `Authorization` on a cross-origin redirect; an `X-Api-Key` would
        travel on to whatever host the redirect names.
        """
        request = self._client.build_request("GET", url, params=params, headers=headers)
        origin = request.url.scheme, request.url.host, request.url.port
        for _ in range(MAX_REDIRECTS + 1):
            response = self._client.send(request, stream=True, follow_redirects=False)
            if response.next_request is None:
                break
            response.close()
            request = response.next_request
            if (request.url.scheme, request.url.host, request.url.port) != origin:
                for name in headers:
                    request.headers.pop(name, None)
        else:
            raise httpx.TooManyRedirects(f"more than {MAX_REDIRECTS} redirects", request=request)
        try:
            yield response
        finally:
            response.close()

    def _wait(self, state: tenacity.RetryCallState) -> float:
        """Honour Retry-After (capped); otherwise exponential backoff with full jitter."""
        failure = state.outcome.exception() if state.outcome else None
        if isinstance(failure, _Transient) and failure.retry_after is not None:
            return min(failure.retry_after, self.settings.retry_after_cap)
        ceiling = self.settings.backoff_base * 2 ** (state.attempt_number - 1)
        return random.uniform(0, min(ceiling, self.settings.backoff_max))

    def _log_retry(self, caller: Caller, url: str, state: tenacity.RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome else None
        log.warning(
            "http.retry",
            source=caller.source,
            url=url,
            attempt=state.attempt_number,
            wait_s=round(state.upcoming_sleep, 3),
            reason=str(failure),
        )

    @contextmanager
    def stream(self, url: str, *, headers: Mapping[str, str] | None = None) -> Iterator[StreamResponse]:
        """GET `url` and hand over its body in chunks; the caller owns retries and limits.

        Transport failures, before or during the body, surface as `NetworkError`.
        """
        try:
            with self._open(url, None, headers or {}) as response:
                yield StreamResponse(
                    status=response.status_code,
                    headers=dict(response.headers),
                    url=str(response.url),
                    chunks=_chunks(response),
                )
        except httpx.HTTPError as exc:
            raise NetworkError(f"{type(exc).__name__}: {exc}") from exc


def _chunks(response: httpx.Response) -> Iterator[bytes]:
    try:
        yield from response.iter_bytes()
    except httpx.HTTPError as exc:
        raise NetworkError(f"{type(exc).__name__}: {exc}") from exc


def _after(retries: int) -> str:
    return f" after {retries} retries" if retries else ""


def build_client(settings: HttpSettings | None = None) -> HttpClient:
    """The one shared client: timeouts, pool limits, User-Agent, redirects followed."""
    settings = settings or HttpSettings()
    # At INFO these print every full URL, signed file tokens included.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    client = httpx.Client(
        timeout=httpx.Timeout(
            connect=settings.connect_timeout,
            read=settings.read_timeout,
            write=settings.read_timeout,
            pool=settings.connect_timeout,
        ),
        limits=httpx.Limits(
            max_connections=settings.max_connections,
            max_keepalive_connections=settings.max_connections,
        ),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=True,
    )
    return HttpClient(client, settings)
