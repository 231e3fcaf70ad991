"""Files: every URL a listing hands out serves valid, deterministic bytes from the simulator."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from archiver.simulator import PROVIDERS, Simulator
from fixtures.simulator import auth_headers, list_url

MAGIC = {
    "image/png": b"\x89PNG\r\n\x1a\n",
    "image/jpeg": b"\xff\xd8\xff",
}


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def looks_valid(content_type: str, body: bytes) -> bool:
    if content_type == "video/mp4":
        return body[4:12] == b"ftypisom"
    if content_type == "image/webp":
        return body[:4] == b"RIFF" and body[8:12] == b"WEBP"
    return body.startswith(MAGIC[content_type])


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_file_serves_the_bytes_of_the_truth(simulator: Simulator, http: httpx.Client, provider: str):
    simulator.seed(provider, items=50)
    files = simulator.truth_files(provider)
    assert files and all(url.startswith(simulator.base_url(provider)) for url in files)
    served = served_urls(simulator, http, provider)
    assert set(served) == set(files)
    for canonical, url in served.items():
        response = http.get(url)
        assert response.status_code == 200, url
        assert int(response.headers["Content-Length"]) == len(response.content)
        assert looks_valid(response.headers["Content-Type"], response.content)
        assert hashlib.sha256(response.content).hexdigest() == files[canonical]


def served_urls(sim: Simulator, http: httpx.Client, provider: str) -> dict[str, str]:
    """canonical URL -> URL as the listing serves it (signed for Aurous), from one big page."""
    size = {"qaves": "limit", "aurous": "limit", "imaginepro": "size", "apimall": "limit"}[provider]
    body = http.get(list_url(sim, provider), params={size: 50}, headers=auth_headers(sim, provider)).json()
    if provider == "qaves":
        urls = [i["url"] for i in body["data"]]
    elif provider == "imaginepro":
        urls = [i["uri"] for i in body["images"]]
    elif provider == "apimall":
        urls = [i["image_url"] for i in body["data"]["items"] if i["image_url"]]
    else:
        urls = [
            u
            for i in body["data"]
            for u in [*i["output_urls"], i["output_video_url"], *(i["reference_image_urls"] or [])]
            if u
        ]
    return {url.split("?", 1)[0]: url for url in urls}


def test_aurous_serves_each_kind_with_its_content_type(simulator: Simulator, http: httpx.Client):
    simulator.seed("aurous", items=200)
    kinds = Counter()
    for item in simulator.truth("aurous")[:200]:
        if item["output_video_url"]:
            kinds["video"] += 1
        if item["reference_image_urls"]:
            kinds["reference"] += 1
    assert kinds["video"] and kinds["reference"]
    types = Counter(
        http.head(url).headers["Content-Type"] for url in served_urls(simulator, http, "aurous").values()
    )
    assert set(types) <= {"image/png", "video/mp4", "image/jpeg"}


def test_aurous_tokens_expire_and_a_new_listing_issues_fresh_ones(http: httpx.Client):
    with Simulator(seed=3, token_ttl=timedelta(minutes=5)) as sim:
        sim.seed("aurous", items=30)
        signed = next(u for c, u in served_urls(sim, http, "aurous").items() if "/output" in c)
        assert "?token=" in signed
        assert http.get(signed).status_code == 200
        sim.advance(timedelta(minutes=5, seconds=1))
        expired = http.get(signed)
        assert expired.status_code == 403
        assert expired.json()["error"] == {
            "type": "permission_error",
            "code": "token_expired",
            "message": "this signed URL has expired; list again",
        }
        fresh = served_urls(sim, http, "aurous")[signed.split("?")[0]]
        assert fresh != signed and http.get(fresh).status_code == 200


def test_aurous_rejects_missing_and_forged_tokens(simulator: Simulator, http: httpx.Client):
    simulator.seed("aurous", items=30)
    urls = served_urls(simulator, http, "aurous")
    canonical = next(c for c in urls if "/output" in c)
    other = next(u for c, u in urls.items() if "/output" in c and c != canonical)
    forged = canonical + "?" + other.split("?", 1)[1]
    for url in (canonical, forged, canonical + "?token=zz.zz"):
        response = http.get(url)
        assert response.status_code == 403
        assert response.json()["error"]["type"] == "permission_error"
    references = [u for c, u in urls.items() if "/uploads/" in c]
    assert references and all("?" not in u for u in references)


def test_apimall_serves_identical_bytes_for_one_task_in_fifty(simulator: Simulator):
    simulator.seed("apimall", items=500)
    repeats = Counter(simulator.truth_files("apimall").values())
    duplicated = [sha for sha, count in repeats.items() if count > 1]
    assert 3 <= len(duplicated) <= 10 and max(repeats.values()) == 2


@pytest.mark.parametrize("provider", ["qaves", "imaginepro"])
def test_file_bytes_are_unique(simulator: Simulator, provider: str):
    simulator.seed(provider, items=200)
    hashes = list(simulator.truth_files(provider).values())
    assert len(set(hashes)) == len(hashes) == 200


@pytest.mark.parametrize("provider", ["qaves", "imaginepro", "apimall"])
def test_an_unknown_file_is_404(simulator: Simulator, http: httpx.Client, provider: str):
    simulator.seed(provider, items=5)
    url = next(iter(simulator.truth_files(provider)))
    stem, dot, extension = url.rpartition(".")
    mutated = stem[:-1] + ("0" if stem[-1] != "0" else "1") + dot + extension
    for wrong in (mutated, simulator.base_url(provider) + "/no/such/file.png"):
        response = http.get(wrong)
        assert response.status_code == 404
        assert response.headers["Content-Type"].startswith("application/json")


def test_files_outlive_the_imaginepro_window(simulator: Simulator, http: httpx.Client):
    simulator.seed("imaginepro", items=5)
    urls = list(simulator.truth_files("imaginepro"))
    simulator.advance(timedelta(hours=25))
    assert simulator.truth("imaginepro") == []
    assert all(http.get(url).status_code == 200 for url in urls)
