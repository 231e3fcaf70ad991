"""The socket layer: a threaded HTTP/1.1 keep-alive server that writes router replies.

Every response carries a `Date` header on the simulated clock; faults that break
the transport (dropped connections, bodies shorter than Content-Length) are
carried out here, exactly as a misbehaving server would on the wire.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from archiver.simulator.apis.base import Request, json_response
from archiver.simulator.clock import http_date
from archiver.simulator.router import Reply, Router


class SimServer(ThreadingHTTPServer):
    """Daemon handler threads; open keep-alive connections are cut when it stops."""

    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], router: Router) -> None:
        self.router = router
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up mid-answer is normal here (timeouts, fault tests): stay quiet."""
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self.connections_lock:
            for connection in list(self.connections):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SimServer
    timeout = 120  # an idle keep-alive connection frees its thread after this
    disable_nagle_algorithm = True  # headers and body go out as separate writes

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def date_time_string(self, timestamp: float | None = None) -> str:
        return http_date(self.server.router.world.clock.now())

    def log_message(self, format: str, *args: object) -> None:
        """Silent: tests and benchmarks read counts from the API, not from stderr."""

    def _dispatch(self) -> None:
        target = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(target.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(self.command, target.path, query, self.headers)
        try:
            reply = self.server.router.route(request, body)
        except Exception as bug:  # a simulator bug must answer, not hang the client
            traceback.print_exc()
            reply = Reply(json_response(500, {"error": f"simulator bug: {bug!r}"}))
        self._write(reply)

    def _write(self, reply: Reply) -> None:
        response = reply.response
        if response is None:
            self.close_connection = True
            return
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        body = response.body if reply.body_bytes is None else response.body[: reply.body_bytes]
        self.wfile.write(body)
        if reply.body_bytes is not None:
            self.close_connection = True
