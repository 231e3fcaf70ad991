"""What systemd hears from `archiver daemon` over $NOTIFY_SOCKET (Type=notify, watchdog)."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

import pytest

from archiver.simulator import Simulator
from fixtures.cli import ArchiverRunner

pytestmark = pytest.mark.slow


def _collect(sock: socket.socket, until: float) -> list[str]:
    messages: list[str] = []
    while time.monotonic() < until:
        try:
            messages.extend(sock.recv(4096).decode().splitlines())
        except TimeoutError:
            continue
    return messages


def test_daemon_reports_ready_status_watchdog_and_stopping(
    archiver: ArchiverRunner, simulator: Simulator, tmp_path: Path
) -> None:
    simulator.seed("qaves", items=20)
    archiver.write_config(
        [
            {
                "name": "q",
                "provider": "qaves",
                "api_key_env": "QK",
                "base_url": simulator.base_url("qaves"),
                "interval": "1h",
                "download": False,
            }
        ],
        database_url=f"sqlite:///{tmp_path / 'a.db'}",
    )
    address = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        sock.settimeout(0.2)
        archiver.env.update(
            {"QK": simulator.api_key("qaves"), "NOTIFY_SOCKET": address, "WATCHDOG_USEC": "1000000"}
        )
        daemon = archiver.spawn("daemon")
        try:
            running = _collect(sock, time.monotonic() + 6)
            daemon.send_signal(signal.SIGTERM)
            stopping = _collect(sock, time.monotonic() + 3)
            assert daemon.wait(timeout=20) == 0
        finally:
            if daemon.poll() is None:
                daemon.kill()
    assert "READY=1" in running
    assert running.count("WATCHDOG=1") >= 4  # every half WatchdogSec while healthy
    statuses = [m for m in running if m.startswith("STATUS=")]
    assert any("q: ok at" in m for m in statuses), statuses
    assert "STOPPING=1" in stopping
