"""Injected faults: each kind misbehaves on the wire exactly once per queued time."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import httpx
import pytest

from archiver.simulator import PROVIDERS, Simulator
from fixtures.simulator import auth_headers, list_url

ID_FIELD = {"qaves": "id", "aurous": "id", "imaginepro": "id", "apimall": "task_id"}
TIME_FIELD = {
    "qaves": "created_at",
    "aurous": "created_at",
    "imaginepro": "createdAt",
    "apimall": "created_at",
}


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


@pytest.fixture
def sim(simulator: Simulator) -> Simulator:
    for provider in PROVIDERS:
        simulator.seed(provider, items=30)
    return simulator


def listing(http: httpx.Client, sim: Simulator, provider: str) -> httpx.Response:
    return http.get(list_url(sim, provider), headers=auth_headers(sim, provider))


def page_items(provider: str, body: dict) -> list[dict]:
    """The page's items, with Aurous's per-listing tokens removed so pages compare."""
    if provider == "imaginepro":
        items = body["images"]
    else:
        items = body["data"]["items"] if provider == "apimall" else body["data"]
    return json.loads(re.sub(r"\?token=[^\"]*", "", json.dumps(items)))


def a_file_url(sim: Simulator, provider: str) -> str:
    if provider == "aurous":  # references are unsigned, so they can be fetched from the truth
        return next(u for u in sim.truth_files(provider) if "/uploads/" in u)
    return next(iter(sim.truth_files(provider)))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_429_carries_retry_after_and_then_clears(sim: Simulator, http: httpx.Client, provider: str):
    sim.inject(provider, "429", retry_after=7, times=2)
    for _ in range(2):
        limited = listing(http, sim, provider)
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
        assert limited.json()  # in the provider's own error shape
    assert listing(http, sim, provider).status_code == 200
    assert sim.requests(provider, "list") == 3


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("status", ["500", "502", "503"])
def test_server_errors(sim: Simulator, http: httpx.Client, provider: str, status: str):
    sim.inject(provider, status)
    response = listing(http, sim, provider)
    assert response.status_code == int(status)
    expected = "text/html" if status == "502" else "application/json; charset=utf-8"
    assert response.headers["Content-Type"] == expected
    assert listing(http, sim, provider).status_code == 200


@pytest.mark.parametrize("endpoint", ["list", "file"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_drop_closes_without_an_answer(sim: Simulator, http: httpx.Client, provider: str, endpoint: str):
    url = list_url(sim, provider) if endpoint == "list" else a_file_url(sim, provider)
    sim.inject(provider, "drop", endpoint=endpoint)
    with pytest.raises(httpx.RemoteProtocolError):
        http.get(url, headers=auth_headers(sim, provider))
    assert http.get(url, headers=auth_headers(sim, provider)).status_code == 200
    assert sim.requests(provider, endpoint) == 2


@pytest.mark.parametrize("endpoint", ["list", "file"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_truncate_sends_part_of_a_full_length_body(
    sim: Simulator, http: httpx.Client, provider: str, endpoint: str
):
    url = list_url(sim, provider) if endpoint == "list" else a_file_url(sim, provider)
    sim.inject(provider, "truncate", endpoint=endpoint, fraction=0.3)
    with pytest.raises(httpx.RemoteProtocolError):
        http.get(url, headers=auth_headers(sim, provider))
    assert http.get(url, headers=auth_headers(sim, provider)).status_code == 200


def test_short_body_misses_the_last_bytes(sim: Simulator, http: httpx.Client):
    url = a_file_url(sim, "apimall")
    full = http.get(url).content
    sim.inject("apimall", "short_body", endpoint="file", missing=10)
    received = bytearray()
    with pytest.raises(httpx.RemoteProtocolError), http.stream("GET", url) as response:
        assert int(response.headers["Content-Length"]) == len(full)
        for chunk in response.iter_raw():
            received += chunk
    assert bytes(received) == full[:-10]


def test_slow_answers_after_the_delay(sim: Simulator, http: httpx.Client):
    sim.inject("qaves", "slow", delay=0.3)
    started = time.monotonic()
    assert listing(http, sim, "qaves").status_code == 200
    assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize("provider", PROVIDERS)
def test_file_404(sim: Simulator, http: httpx.Client, provider: str):
    url = a_file_url(sim, provider)
    sim.inject(provider, "file_404", endpoint="file")
    assert http.get(url).status_code == 404
    assert http.get(url).status_code == 200


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("kind", ["missing", "wrong_type"])
def test_malformed_item(sim: Simulator, http: httpx.Client, provider: str, kind: str):
    clean = page_items(provider, listing(http, sim, provider).json())
    sim.inject(provider, "malformed_item", kind=kind)
    broken = page_items(provider, listing(http, sim, provider).json())
    differing = [i for i, (a, b) in enumerate(zip(clean, broken, strict=True)) if a != b]
    assert len(differing) == 1
    field = TIME_FIELD[provider]
    item = broken[differing[0]]
    if kind == "missing":
        assert field not in item
    else:
        assert type(item[field]) is not type(clean[differing[0]][field])


def test_malformed_item_can_name_the_field_and_position(sim: Simulator, http: httpx.Client):
    sim.inject("apimall", "malformed_item", kind="wrong_type", field="credits_used", position=0)
    item = page_items("apimall", listing(http, sim, "apimall").json())[0]
    assert isinstance(item["credits_used"], str)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_evil_id(sim: Simulator, http: httpx.Client, provider: str):
    sim.inject(provider, "evil_id")
    ids = [i[ID_FIELD[provider]] for i in page_items(provider, listing(http, sim, provider).json())]
    evil = [i for i in ids if "/" in i or ".." in i]
    assert len(evil) == 1


def test_faults_are_per_provider_and_endpoint(sim: Simulator, http: httpx.Client):
    sim.inject("qaves", "500", endpoint="file")
    assert listing(http, sim, "qaves").status_code == 200
    assert listing(http, sim, "aurous").status_code == 200
    assert http.get(a_file_url(sim, "qaves")).status_code == 500


@pytest.mark.parametrize(
    ("fault", "endpoint", "params"),
    [
        ("teapot", "list", {}),
        ("file_404", "list", {}),
        ("malformed_item", "file", {}),
        ("429", "nowhere", {}),
        ("429", "list", {"delay": 1}),
        ("malformed_item", "list", {"kind": "odd"}),
    ],
)
def test_misuse_of_inject_fails_at_once(sim: Simulator, fault: str, endpoint: str, params: dict):
    with pytest.raises(ValueError):
        sim.inject("qaves", fault, endpoint=endpoint, **params)


def test_requests_count_failures_and_reset(sim: Simulator, http: httpx.Client):
    http.get(list_url(sim, "aurous"))  # 401
    listing(http, sim, "aurous")
    http.get(a_file_url(sim, "aurous"))
    assert sim.requests("aurous") == 2 and sim.requests("aurous", "file") == 1
    sim.reset_requests()
    assert sim.requests("aurous") == 0
