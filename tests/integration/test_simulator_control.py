"""The `/_sim/` control API and the `serve()` entry point, for out-of-process runs."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from archiver.simulator import Simulator
from fixtures.simulator import auth_headers, list_url


@pytest.fixture
def control(simulator: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{simulator.url}/_sim", timeout=10) as client:
        yield client


def test_the_control_api_mirrors_the_python_api(simulator: Simulator, control: httpx.Client):
    assert control.post("/seed", json={"provider": "aurous", "items": 20, "pending": 2}).json() == {
        "ok": True
    }
    added = control.post("/add", json={"provider": "aurous", "n": 3, "same_second": True}).json()
    assert len(added["ids"]) == 3
    truth = control.get("/truth", params={"provider": "aurous"}).json()["items"]
    assert truth == simulator.truth("aurous") and len(truth) == 23
    finished = control.post("/finish_pending", json={"provider": "aurous", "fail_every": 1})
    assert len(finished.json()["ids"]) == 2
    before = simulator.now
    moved = control.post("/advance", json={"seconds": 3600}).json()["now"]
    assert moved >= (before.replace(microsecond=0)).isoformat()
    assert control.get("/now").json()["now"] >= moved
    files = control.get("/truth_files", params={"provider": "aurous"}).json()["files"]
    assert files == simulator.truth_files("aurous")
    control.post("/inject", json={"provider": "aurous", "fault": "429", "params": {"retry_after": 3}})
    limited = httpx.get(list_url(simulator, "aurous"), headers=auth_headers(simulator, "aurous"))
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "3"
    assert control.get("/requests", params={"provider": "aurous"}).json() == {"count": 1}
    control.post("/reset_requests")
    assert simulator.requests("aurous") == 0
    providers = control.get("/providers").json()
    assert providers["apimall"] == {"base_url": simulator.base_url("apimall"), "api_key": "am_sim"}


def test_control_errors_are_400_and_unknown_routes_404(control: httpx.Client):
    assert control.post("/seed", json={"provider": "nope"}).status_code == 400
    assert control.post("/seed", json={"items": 5}).status_code == 400
    assert control.post("/inject", json={"provider": "qaves", "fault": "teapot"}).status_code == 400
    assert control.post("/seed", content=b"[1]").status_code == 400
    assert control.get("/whatever").status_code == 404


def test_truth_all_and_seed_end_over_http(simulator: Simulator, control: httpx.Client):
    control.post(
        "/seed",
        json={"provider": "imaginepro", "items": 10, "end": "2020-01-01T00:00:00+00:00"},
    )
    assert control.get("/truth", params={"provider": "imaginepro"}).json() == {"items": []}
    assert len(control.get("/truth_all", params={"provider": "imaginepro"}).json()["items"]) == 10


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_archiver_simulate_serves_until_sigterm():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "archiver", "simulate", "--port", str(port), "--items", "25"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                providers = httpx.get(f"{url}/_sim/providers").json()
                break
            except httpx.TransportError:
                time.sleep(0.05)
        headers = {"Authorization": f"Bearer {providers['qaves']['api_key']}"}
        body = httpx.get(f"{url}/qaves/api/v1/images/generations", headers=headers).json()
        assert body["count"] == 25
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert "127.0.0.1" in process.stdout.read()
    finally:
        process.kill()
