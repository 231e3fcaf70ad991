"""The HTTP layer against a scripted raw-socket server: retries, typed errors, no key leaks.

A raw socket (not a mock transport) is the only honest way to drop a connection,
cut a body short or drip bytes slowly, and it keeps httpx out of the tests too.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
import structlog

from archiver import __version__
from archiver.errors import (
    AuthenticationError,
    BadResponseError,
    ProviderError,
    RateLimitedError,
)
from archiver.http import (
    Caller,
    HttpClient,
    HttpSettings,
    JsonResponse,
    NetworkError,
    build_client,
    retry_after_seconds,
)

KEY = "sk_test_5ecret_d0_not_leak_42"
CALLER = Caller("src-main", "$SRC_KEY", describe=lambda body: body.get("message"))
AUTH = {"Authorization": f"Bearer {KEY}"}
FAST = HttpSettings(
    retries=3,
    backoff_base=0.001,
    backoff_max=0.002,
    retry_after_cap=0.01,
    read_timeout=2,
    connect_timeout=2,
    deadline=5,
)

Step = Callable[[socket.socket], None]


def reply(status: int, body: bytes | dict | str = b"{}", **headers: str) -> Step:
    payload = json.dumps(body).encode() if isinstance(body, dict) else body
    payload = payload.encode() if isinstance(payload, str) else payload

    def send(conn: socket.socket) -> None:
        head = [f"HTTP/1.1 {status} X", f"Content-Length: {len(payload)}", "Connection: close"]
        head += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + payload)

    return send


def drop(conn: socket.socket) -> None:
    """Close without a byte of response."""


def truncate(conn: socket.socket) -> None:
    body = json.dumps({"data": list(range(100))}).encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    conn.sendall(head.encode() + body[: len(body) // 2])


def drip(conn: socket.socket) -> None:
    body = b'{"data": []}' + b" " * 40
    conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode())
    for byte in body:
        conn.sendall(bytes([byte]))
        time.sleep(0.02)


class ScriptedServer:
    """Answers each connection with the next step of its script (the last one repeats)."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.requests: list[str] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                self.requests.append(data.decode("latin-1"))
                step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
                with contextlib.suppress(OSError):
                    step(conn)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(*steps: Step) -> ScriptedServer:
        servers.append(ScriptedServer(*steps))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def client() -> Iterator[HttpClient]:
    with build_client(FAST) as http:
        yield http


def test_a_listing_page_with_its_server_clock_and_our_user_agent(serve, client) -> None:
    server = serve(reply(200, {"data": [1]}, Date="Wed, 21 Oct 2026 07:28:00 GMT"))
    response = client.get_json(server.url + "/list", caller=CALLER, params={"page": 2})
    assert response.body == {"data": [1]}
    assert response.served_at == datetime(2026, 10, 21, 7, 28, tzinfo=UTC)
    assert "GET /list?page=2 " in server.requests[0]
    assert f"user-agent: archiver/{__version__}" in server.requests[0].lower()


@pytest.mark.parametrize(
    "failure",
    [
        reply(429, Retry_After="3600"),  # capped to FAST.retry_after_cap
        reply(500),
        reply(502, "<html>bad gateway</html>"),
        reply(503),
        drop,
        truncate,
        reply(200, '{"data": [1, 2'),
    ],
    ids=["429", "500", "502", "503", "drop", "truncate", "non-json"],
)
def test_transient_failures_are_retried_until_the_page_comes(serve, client, failure) -> None:
    server = serve(failure, failure, reply(200, {"data": []}))
    started = time.monotonic()
    assert client.get_json(server.url, caller=CALLER).body == {"data": []}
    assert len(server.requests) == 3
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("status", "error", "words"),
    [
        (401, AuthenticationError, "src-main: the API key from $SRC_KEY was rejected (401)"),
        (403, AuthenticationError, "src-main: the API key from $SRC_KEY was refused access (403)"),
        (400, ProviderError, "src-main: the provider answered 400: nope"),
        (404, ProviderError, "check base_url"),
    ],
)
def test_client_errors_fail_at_once_and_say_why(serve, client, status, error, words) -> None:
    server = serve(reply(status, {"message": "nope"}))
    with pytest.raises(error) as caught:
        client.get_json(server.url, caller=CALLER, headers=AUTH)
    assert words in str(caught.value)
    assert len(server.requests) == 1


def test_rate_limits_that_never_lift_become_rate_limited_error(serve, client) -> None:
    server = serve(reply(429, Retry_After="0"))
    with pytest.raises(RateLimitedError, match="after 3 retries"):
        client.get_json(server.url, caller=CALLER)
    assert len(server.requests) == FAST.retries + 1


def test_server_errors_that_persist_keep_their_status(serve, client) -> None:
    server = serve(reply(503))
    with pytest.raises(ProviderError) as caught:
        client.get_json(server.url, caller=CALLER)
    assert caught.value.status_code == 503
    assert len(server.requests) == FAST.retries + 1


def test_a_slow_drip_hits_the_wall_clock_deadline(serve) -> None:
    server = serve(drip)
    settings = HttpSettings(retries=1, backoff_base=0.001, deadline=0.2, read_timeout=5)
    with build_client(settings) as http, pytest.raises(ProviderError, match=r"longer than 0\.2 s"):
        http.get_json(server.url, caller=CALLER)
    assert len(server.requests) == 2


def test_a_malformed_page_is_retried_through_check(serve, client) -> None:
    server = serve(reply(200, {"wrong": 1}), reply(200, {"data": []}))

    def check(response: JsonResponse) -> None:
        if "data" not in response.body:
            raise BadResponseError(CALLER.source, "no data")

    assert client.get_json(server.url, caller=CALLER, check=check).body == {"data": []}
    assert len(server.requests) == 2


def test_redirects_keep_our_headers_on_the_same_origin_only(serve, client) -> None:
    elsewhere = serve(reply(200, {"data": []}))
    server = serve(reply(302, Location="/moved"), reply(302, Location=elsewhere.url + "/x"))
    headers = {"X-Api-Key": KEY}
    client.get_json(server.url, caller=CALLER, headers=headers)
    assert KEY in server.requests[1]
    assert KEY not in elsewhere.requests[0]


def test_stream_hands_over_chunks_and_reports_a_broken_body(serve, client) -> None:
    server = serve(reply(200, b"x" * 100_000, Content_Type="image/png"), truncate)
    with client.stream(server.url) as response:
        assert response.status == 200
        assert response.headers["content-type"] == "image/png"
        assert b"".join(response.chunks) == b"x" * 100_000
    with pytest.raises(NetworkError), client.stream(server.url) as response:
        b"".join(response.chunks)


def test_the_key_never_reaches_a_log_line_or_an_error(serve, caplog, monkeypatch) -> None:
    """Every failing scenario at once, with httpx's own loggers at their chattiest."""
    caplog.set_level(logging.DEBUG)
    echo = reply(401, {"message": f"invalid key {KEY}"})
    scenarios = [echo, reply(403), reply(429), reply(500), drop, truncate, reply(200, "{")]
    texts: list[str] = []
    with structlog.testing.capture_logs() as logs, build_client(FAST) as http:
        monkeypatch.setattr(logging.getLogger("httpx"), "level", logging.DEBUG)
        for step in scenarios:
            server = serve(step)
            for headers in (AUTH, {"X-Api-Key": KEY}):
                with pytest.raises(Exception) as caught:
                    http.get_json(server.url, caller=CALLER, headers=headers)
                texts += [str(caught.value), repr(caught.value), str(caught.value.__cause__)]
    texts += [json.dumps(entry, default=str) for entry in logs]
    texts += [record.getMessage() for record in caplog.records]
    assert logs and caplog.records
    assert not [text for text in texts if KEY in text]


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after_seconds("7") == 7
    assert retry_after_seconds("Thu, 01 Jan 2026 00:00:30 GMT", now=now) == 30
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None
