"""The file store and the single-file fetch, against a tiny stdlib HTTP server.

A real socket keeps httpx out of the tests and lets a body arrive without a
Content-Length (the only way a body can grow over the cap unannounced).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from archiver.files.fetch import Failure, FetchError, FetchLimits, fetch_file
from archiver.files.store import TEMP_DIR, FileStore, extension_for, relative_path, sweep_temp_files
from archiver.http import HttpSettings, build_client

PNG = b"\x89PNG\r\n\x1a\n" + b"x" * 5000
LIMITS = FetchLimits(max_bytes=10_000, deadline=10.0, retries=2, retry_wait=0.01, retry_after_cap=0.1)

Reply = Callable[[BaseHTTPRequestHandler], None]


def body(data: bytes, status: int = 200, content_type: str = "image/png", length: int | None = None) -> Reply:
    def send(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data) if length is None else length))
        handler.end_headers()
        handler.wfile.write(data)

    return send


def unannounced(data: bytes) -> Reply:
    """A body with no Content-Length: HTTP/1.0 style, ended by closing the connection."""

    def send(handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True
        handler.send_response(200)
        handler.send_header("Content-Type", "image/png")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(data)

    return send


class Server:
    """Answers each path with its queue of replies (the last one repeats)."""

    def __init__(self) -> None:
        self.replies: dict[str, list[Reply]] = {}
        self.hits: dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                server.hits[path] = server.hits.get(path, 0) + 1
                queue = server.replies[path]
                (queue.pop(0) if len(queue) > 1 else queue[0])(self)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def route(self, path: str, *replies: Reply) -> str:
        self.replies[path] = list(replies)
        return self.url + path


@pytest.fixture
def server() -> Iterator[Server]:
    server = Server()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def http() -> Iterator:
    with build_client(HttpSettings(connect_timeout=2, read_timeout=2)) as client:
        yield client


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "files")


def stored_files(store: FileStore) -> list[Path]:
    return sorted(p for p in store.root.rglob("*") if p.is_file() and TEMP_DIR not in p.parts)


def temp_files(store: FileStore) -> list[Path]:
    return list(store.temp_dir.glob("*")) if store.temp_dir.exists() else []


@pytest.mark.parametrize(
    ("content_type", "extension"),
    [
        ("image/png", "png"),
        ("image/jpeg", "jpg"),
        ("IMAGE/WEBP; charset=binary", "webp"),
        ("image/gif", "gif"),
        ("video/mp4", "mp4"),
        ("video/webm", "webm"),
        ("application/octet-stream", "bin"),
        ("text/html", "bin"),
        (None, "bin"),
        ("../../etc/passwd", "bin"),
    ],
)
def test_the_extension_comes_from_the_content_type_alone(content_type: str | None, extension: str) -> None:
    assert extension_for(content_type) == extension


def test_layout_is_two_levels_of_the_hash() -> None:
    sha = hashlib.sha256(b"x").hexdigest()
    assert relative_path(sha, "png") == f"{sha[:2]}/{sha[2:4]}/{sha}.png"


def test_identical_bytes_land_on_one_path(store: FileStore) -> None:
    paths = []
    for _ in range(2):
        temp = store.open_temp()
        temp.write(PNG)
        paths.append(temp.commit("png"))
    assert paths[0] == paths[1] == relative_path(hashlib.sha256(PNG).hexdigest(), "png")
    assert stored_files(store) == [store.path_of(paths[0])]
    assert store.path_of(paths[0]).read_bytes() == PNG
    assert temp_files(store) == []


def test_sweep_removes_what_dead_processes_left_and_keeps_live_work(store: FileStore) -> None:
    live = store.open_temp()  # this process: alive
    host = live.path.name.split("-")[0]
    dead = store.temp_dir / f"{host}-999999999-abc.part"
    dead.write_bytes(b"partial")
    foreign_recent = store.temp_dir / "otherhost-12-abc.part"
    foreign_recent.write_bytes(b"partial")
    foreign_old = store.temp_dir / "otherhost-13-abc.part"
    foreign_old.write_bytes(b"partial")
    old = time.time() - 3 * 24 * 3600
    os.utime(foreign_old, (old, old))

    assert sweep_temp_files(store.root) == 2
    assert sorted(temp_files(store)) == sorted([live.path, foreign_recent])
    live.discard()
    assert sweep_temp_files(store.root / "nowhere") == 0


def test_a_file_is_fetched_hashed_and_stored(server: Server, http, store: FileStore) -> None:
    url = server.route("/a.png", body(PNG))
    received = fetch_file(http, store, url, LIMITS)
    assert stored_files(store) == [], "nothing is in place before keep()"
    fetched = received.keep()
    assert fetched.sha256 == hashlib.sha256(PNG).hexdigest()
    assert (fetched.size, fetched.content_type) == (len(PNG), "image/png")
    assert store.path_of(fetched.path).read_bytes() == PNG
    assert temp_files(store) == []


def test_a_short_body_is_retried_then_kept_whole(server: Server, http, store: FileStore) -> None:
    url = server.route("/a.png", body(PNG[:100], length=len(PNG)), body(PNG))
    fetched = fetch_file(http, store, url, LIMITS).keep()
    assert store.path_of(fetched.path).read_bytes() == PNG
    assert server.hits["/a.png"] == 2


def test_a_body_that_stays_short_fails_and_leaves_nothing(server: Server, http, store: FileStore) -> None:
    url = server.route("/a.png", body(PNG[:100], length=len(PNG)))
    with pytest.raises(FetchError) as failure:
        fetch_file(http, store, url, LIMITS)
    assert failure.value.failure in (Failure.TRANSIENT, Failure.NETWORK)
    assert server.hits["/a.png"] == 1 + LIMITS.retries
    assert stored_files(store) == [] and temp_files(store) == []


def test_an_announced_body_over_the_cap_is_never_read(server: Server, http, store: FileStore) -> None:
    url = server.route("/big.png", body(b"x" * 20_000))
    with pytest.raises(FetchError, match="over the 10000-byte cap") as failure:
        fetch_file(http, store, url, LIMITS)
    assert failure.value.failure is Failure.REFUSED
    assert server.hits["/big.png"] == 1
    assert stored_files(store) == [] and temp_files(store) == []


def test_an_unannounced_body_growing_over_the_cap_is_aborted_and_not_kept(
    server: Server, http, store: FileStore
) -> None:
    url = server.route("/big.png", unannounced(b"x" * 50_000))
    with pytest.raises(FetchError, match="grew over the 10000-byte cap") as failure:
        fetch_file(http, store, url, LIMITS)
    assert failure.value.failure is Failure.REFUSED
    assert stored_files(store) == [] and temp_files(store) == []


@pytest.mark.parametrize(
    "url", ["ftp://example.com/a.png", "file:///etc/passwd", "data:image/png;base64,AA", "a.png"]
)
def test_only_http_and_https_are_fetched(http, store: FileStore, url: str) -> None:
    with pytest.raises(FetchError, match="only http and https") as failure:
        fetch_file(http, store, url, LIMITS)
    assert failure.value.failure is Failure.REFUSED


@pytest.mark.parametrize(
    ("status", "failure", "tries"),
    [
        (401, Failure.EXPIRED, 1),
        (403, Failure.EXPIRED, 1),
        (410, Failure.EXPIRED, 1),
        (404, Failure.NOT_FOUND, 1),
        (503, Failure.TRANSIENT, 3),
        (500, Failure.TRANSIENT, 3),
        (400, Failure.REFUSED, 1),
    ],
)
def test_status_codes_map_to_what_happens_next(
    server: Server, http, store: FileStore, status: int, failure: Failure, tries: int
) -> None:
    url = server.route("/a.png", body(b"{}", status=status, content_type="application/json"))
    with pytest.raises(FetchError) as raised:
        fetch_file(http, store, url + "?token=s3cr3t-signature", LIMITS)
    assert (raised.value.failure, raised.value.status) == (failure, status)
    assert server.hits["/a.png"] == tries
    assert "s3cr3t" not in str(raised.value)


def test_a_transient_failure_then_success(server: Server, http, store: FileStore) -> None:
    url = server.route("/a.png", body(b"", status=503), body(b"", status=500), body(PNG))
    assert store.path_of(fetch_file(http, store, url, LIMITS).keep().path).read_bytes() == PNG


def test_a_refused_connection_is_a_network_failure(http, store: FileStore) -> None:
    with pytest.raises(FetchError) as raised:
        fetch_file(http, store, "http://127.0.0.1:9/a.png", LIMITS)
    assert raised.value.failure is Failure.NETWORK
