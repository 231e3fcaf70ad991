"""Every provider's listing, walked over real HTTP as its documentation describes it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
import pytest

from archiver.simulator import PROVIDERS, Simulator
from fixtures.simulator import auth_headers, list_url

END = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def get(http: httpx.Client, sim: Simulator, provider: str, **params: object) -> httpx.Response:
    return http.get(list_url(sim, provider), params=params, headers=auth_headers(sim, provider))


def items_of(provider: str, body: dict) -> list[dict]:
    return {
        "qaves": lambda: body["data"],
        "aurous": lambda: body["data"],
        "imaginepro": lambda: body["images"],
        "apimall": lambda: body["data"]["items"],
    }[provider]()


def walk(http: httpx.Client, sim: Simulator, provider: str) -> list[dict]:
    """Read a whole history the documented way, largest page size."""
    found: list[dict] = []
    if provider == "aurous":
        params: dict[str, object] = {"limit": 100}
        while True:
            body = get(http, sim, provider, **params).json()
            found += body["data"]
            if not body["has_more"]:
                return found
            params["starting_after"] = body["next_cursor"]
    if provider == "qaves":
        params = {"limit": 100}
        while True:
            body = get(http, sim, provider, **params).json()
            found += body["data"]
            if body["next_before"] is None:
                return found
            params["before"] = body["next_before"] + 1  # overlap the boundary second
    size = "size" if provider == "imaginepro" else "limit"
    for page in range(1, 10_000):
        batch = items_of(provider, get(http, sim, provider, page=page, **{size: 50}).json())
        found += batch
        if len(batch) < 50:
            return found
    raise AssertionError("never ended")


def without_tokens(items: list[dict]) -> list[dict]:
    def clean(value: object) -> object:
        if isinstance(value, str) and "?token=" in value:
            return value.split("?", 1)[0]
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return [{k: clean(v) for k, v in item.items()} for item in items]


def unique(items: list[dict], key: str) -> list[dict]:
    seen: dict[str, dict] = {}
    for item in items:
        seen.setdefault(item[key], item)
    return list(seen.values())


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_full_walk_equals_the_truth(simulator: Simulator, http: httpx.Client, provider: str):
    pending = 7 if provider in ("aurous", "apimall") else 0
    simulator.seed(provider, items=537, pending=pending)
    key = "task_id" if provider == "apimall" else "id"
    walked = unique(without_tokens(walk(http, simulator, provider)), key)
    assert walked == simulator.truth(provider)
    assert len(walked) == 537


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_wrong_or_missing_key_is_401_in_the_providers_shape(
    simulator: Simulator, http: httpx.Client, provider: str
):
    url = list_url(simulator, provider)
    wrong = http.get(url, headers=auth_headers(simulator, provider, key="nope"))
    missing = http.get(url)
    assert wrong.status_code == missing.status_code == 401
    assert error_shape(provider, wrong.json()) == error_shape(provider, missing.json())


def error_shape(provider: str, body: dict) -> str:
    """Checks the provider's error envelope; returns its code or message."""
    if provider == "qaves":
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
        return body["error"]["code"]
    if provider == "aurous":
        assert set(body["error"]) == {"type", "code", "message"}
        return body["error"]["type"]
    if provider == "imaginepro":
        assert set(body) == {"statusCode", "message", "error"}
        return body["error"]
    assert body["success"] is False and set(body["error"]) == {"code", "message"}
    assert body["request_id"].startswith("req_")
    return body["error"]["code"]


BAD_PARAMS = {
    "qaves": [{"limit": 0}, {"limit": 101}, {"limit": "ten"}, {"before": -1}, {"bucket": "!!!"}],
    "aurous": [{"limit": 0}, {"limit": 101}, {"limit": "1.5"}],
    "imaginepro": [{"size": 0}, {"size": 101}, {"page": 0}, {"page": "x"}],
    "apimall": [{"limit": 0}, {"limit": 51}, {"page": 0}, {"page": "x"}],
}


@pytest.mark.parametrize(("provider", "params"), [(p, q) for p, qs in BAD_PARAMS.items() for q in qs])
def test_out_of_range_parameters_are_400_in_the_providers_shape(
    simulator: Simulator, http: httpx.Client, provider: str, params: dict
):
    simulator.seed(provider, items=10)
    response = get(http, simulator, provider, **params)
    assert response.status_code == 400
    error_shape(provider, response.json())


LIMITS = {  # provider: (page-size parameter, default, maximum)
    "qaves": ("limit", 50, 100),
    "aurous": ("limit", 20, 100),
    "imaginepro": ("size", 10, 100),
    "apimall": ("limit", 20, 50),
}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_page_size_defaults_and_bounds(simulator: Simulator, http: httpx.Client, provider: str):
    simulator.seed(provider, items=300)
    param, default, maximum = LIMITS[provider]
    assert len(items_of(provider, get(http, simulator, provider).json())) == default
    for size in (1, maximum):
        body = get(http, simulator, provider, **{param: size}).json()
        assert len(items_of(provider, body)) == size


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_empty_history_is_an_empty_page(simulator: Simulator, http: httpx.Client, provider: str):
    response = get(http, simulator, provider)
    assert response.status_code == 200
    assert items_of(provider, response.json()) == []


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_response_is_dated_on_the_simulated_clock(
    simulator: Simulator, http: httpx.Client, provider: str
):
    simulator.advance(timedelta(days=3))
    for response in (get(http, simulator, provider), http.get(list_url(simulator, provider))):
        served = parsedate_to_datetime(response.headers["Date"])
        assert abs(served - simulator.now) < timedelta(seconds=5)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_listings_are_newest_first(simulator: Simulator, http: httpx.Client, provider: str):
    simulator.seed(provider, items=200)
    field = "createdAt" if provider == "imaginepro" else "created_at"
    stamps = [item[field] for item in simulator.truth(provider)]
    assert stamps == sorted(stamps, reverse=True)


# qaves


def test_qaves_documented_examples(simulator: Simulator, http: httpx.Client):
    simulator.seed("qaves", items=120, end=END)
    simulator.seed("qaves", items=60, bucket="client-acme", end=END)
    latest = get(http, simulator, "qaves", limit=10).json()
    assert latest["bucket"] == "default" and latest["limit"] == 10 and latest["count"] == 10
    assert set(latest) == {
        "bucket",
        "limit",
        "count",
        "next_before",
        "bucket_id",
        "is_public",
        "bucket_link",
        "data",
    }
    assert set(latest["data"][0]) == {"id", "url", "prompt", "bucket", "created_at"}
    assert isinstance(latest["data"][0]["created_at"], int)
    acme = get(http, simulator, "qaves", bucket="client-acme", limit=50).json()
    assert acme["count"] == 50 and {i["bucket"] for i in acme["data"]} == {"client-acme"}
    assert acme["data"] == simulator.truth("qaves", "client-acme")[:50]


def test_qaves_before_is_exclusive_and_next_before_is_the_last_created_at(
    simulator: Simulator, http: httpx.Client
):
    simulator.seed("qaves", items=0)
    simulator.add("qaves", n=4)
    simulator.advance(timedelta(seconds=10))
    burst = simulator.add("qaves", n=3, same_second=True)
    first = get(http, simulator, "qaves", limit=2).json()
    assert [i["id"] for i in first["data"]] == burst[::-1][:2]
    assert first["next_before"] == first["data"][-1]["created_at"]
    naive = get(http, simulator, "qaves", limit=2, before=first["next_before"]).json()
    assert burst[0] not in [i["id"] for i in naive["data"]]  # the trap a naive client falls in
    assert all(i["created_at"] < first["next_before"] for i in naive["data"])
    last = get(http, simulator, "qaves", limit=100).json()
    assert last["count"] == 7 and last["next_before"] is None


def test_qaves_bucket_names_are_normalized(simulator: Simulator, http: httpx.Client):
    simulator.seed("qaves", items=5, bucket="Client Acme")
    body = get(http, simulator, "qaves", bucket="  CLIENT   acme!! ").json()
    assert body["bucket"] == "client-acme" and body["count"] == 5
    assert body["bucket_id"] is not None


def test_qaves_unknown_bucket_has_no_metadata_row(simulator: Simulator, http: httpx.Client):
    body = get(http, simulator, "qaves", bucket="never-used").json()
    assert body == {
        "bucket": "never-used",
        "limit": 50,
        "count": 0,
        "next_before": None,
        "bucket_id": None,
        "is_public": False,
        "bucket_link": None,
        "data": [],
    }


def test_qaves_public_buckets_have_a_link(simulator: Simulator, http: httpx.Client):
    for name in ("alpha", "beta", "gamma", "delta", "epsilon", "zeta"):
        simulator.seed("qaves", items=1, bucket=name)
    bodies = [
        get(http, simulator, "qaves", bucket=n).json()
        for n in ("alpha", "beta", "gamma", "delta", "epsilon", "zeta")
    ]
    assert {b["is_public"] for b in bodies} == {True, False}
    assert all((b["bucket_link"] is not None) == b["is_public"] for b in bodies)


# Aurous


def test_aurous_items_carry_every_documented_field(simulator: Simulator, http: httpx.Client):
    simulator.seed("aurous", items=400, pending=4)
    truth = simulator.truth("aurous")
    documented = {
        "id",
        "status",
        "prompt",
        "created_at",
        "media_type",
        "negative_prompt",
        "output_urls",
        "output_video_url",
        "reference_image_urls",
        "error_message",
        "duration_ms",
        "cost",
        "width",
        "height",
        "image_count",
        "size_preset",
        "inference_type",
        "seed",
        "video_duration",
        "video_resolution",
        "video_ratio",
        "video_camera_fixed",
        "character_id",
        "bundle_name",
        "loras",
        "aurous_version",
        "creation_request_id",
        "completed_at",
    }
    assert all(set(item) == documented for item in truth)
    assert {i["status"] for i in truth} == {"pending", "running", "succeeded", "failed"}
    assert {i["media_type"] for i in truth} == {"image", "video"}
    assert any(i["reference_image_urls"] for i in truth)
    assert all(i["error_message"] for i in truth if i["status"] == "failed")
    videos = [i for i in truth if i["media_type"] == "video" and i["status"] == "succeeded"]
    assert videos and all(v["output_video_url"] and not v["output_urls"] for v in videos)
    body = get(http, simulator, "aurous").json()
    assert set(body) == {"object", "data", "has_more", "next_cursor"} and body["object"] == "list"


def test_aurous_cursors_are_strict(simulator: Simulator, http: httpx.Client):
    simulator.seed("aurous", items=50)
    ids = [i["id"] for i in simulator.truth("aurous")]
    older = get(http, simulator, "aurous", starting_after=ids[9], limit=5).json()
    assert [i["id"] for i in older["data"]] == ids[10:15]
    assert older["has_more"] and older["next_cursor"] == ids[14]
    newer = get(http, simulator, "aurous", ending_before=ids[9], limit=5).json()
    assert [i["id"] for i in newer["data"]] == ids[4:9]
    assert newer["has_more"]
    top = get(http, simulator, "aurous", ending_before=ids[3], limit=5).json()
    assert [i["id"] for i in top["data"]] == ids[:3] and top["has_more"] is False
    assert top["next_cursor"] is None
    end = get(http, simulator, "aurous", starting_after=ids[-3], limit=5).json()
    assert [i["id"] for i in end["data"]] == ids[-2:]
    assert end["has_more"] is False and end["next_cursor"] is None
    assert get(http, simulator, "aurous", starting_after=ids[-1]).json()["data"] == []


def test_aurous_cursor_errors(simulator: Simulator, http: httpx.Client):
    simulator.seed("aurous", items=5)
    some_id = simulator.truth("aurous")[0]["id"]
    for params in (
        {"starting_after": "img_01HXMQ7Z3K8Y2ABCDEFGHJKM"},
        {"ending_before": "nonsense"},
        {"starting_after": some_id, "ending_before": some_id},
    ):
        response = get(http, simulator, "aurous", **params)
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("version", "status"),
    [("2026-05-15", 200), ("1999-01-01", 200), ("2026-5-15", 400), ("latest", 400), ("", 400)],
)
def test_aurous_version_header_must_match_the_pattern(
    simulator: Simulator, http: httpx.Client, version: str, status: int
):
    headers = {**auth_headers(simulator, "aurous"), "Aurous-Version": version}
    assert http.get(list_url(simulator, "aurous"), headers=headers).status_code == status


def test_aurous_pending_items_finish_with_outputs_or_errors(simulator: Simulator):
    simulator.seed("aurous", items=20, pending=6)
    pending = [i["id"] for i in simulator.truth("aurous") if i["status"] in ("pending", "running")]
    assert len(pending) == 6
    simulator.advance(timedelta(minutes=2))
    finished = simulator.finish_pending("aurous", fail_every=3)
    assert sorted(finished) == sorted(pending)
    by_id = {i["id"]: i for i in simulator.truth("aurous")}
    outcomes = [by_id[i] for i in finished]
    assert [o["status"] for o in outcomes].count("failed") == 2
    for item in outcomes:
        assert item["completed_at"] is not None and item["duration_ms"] > 0
        if item["status"] == "failed":
            assert item["error_message"] and not item["output_urls"]
        else:
            assert item["output_urls"] or item["output_video_url"]
    assert simulator.finish_pending("aurous") == []


# ImaginePro


def test_imaginepro_documented_example(simulator: Simulator, http: httpx.Client):
    simulator.seed("imaginepro", items=30)
    body = get(http, simulator, "imaginepro", page=1, size=10).json()
    assert list(body) == ["images"] and len(body["images"]) == 10
    assert all(set(i) == {"id", "type", "button", "prompt", "uri", "createdAt"} for i in body["images"])
    assert all(isinstance(v, str) for i in body["images"] for v in i.values())
    stamp = body["images"][0]["createdAt"]
    assert stamp.endswith("Z") and len(stamp) == len("2026-03-12T09:30:00.000Z")
    assert get(http, simulator, "imaginepro", page=4, size=10).json() == {"images": []}


def test_imaginepro_serves_only_the_last_24_hours(simulator: Simulator, http: httpx.Client):
    simulator.seed("imaginepro", items=1000, span=timedelta(hours=48))
    served = simulator.truth("imaginepro")
    assert 400 < len(served) < 600 and len(simulator.truth_all("imaginepro")) == 1000
    assert walk(http, simulator, "imaginepro") == served
    simulator.advance(timedelta(hours=12))
    later = simulator.truth("imaginepro")
    assert 150 < len(later) < 350 and later == served[: len(later)]
    assert walk(http, simulator, "imaginepro") == later
    cutoff = simulator.now - timedelta(hours=24)
    assert all(datetime.fromisoformat(i["createdAt"]) > cutoff for i in later)
    simulator.advance(timedelta(hours=13))
    assert get(http, simulator, "imaginepro").json() == {"images": []}
    new = simulator.add("imaginepro", n=3)
    assert [i["id"] for i in get(http, simulator, "imaginepro").json()["images"]] == new[::-1]


# APIMall


def test_apimall_documented_example(simulator: Simulator, http: httpx.Client):
    simulator.seed("apimall", items=300, pending=5)
    body = get(http, simulator, "apimall", page=1, limit=20).json()
    assert body["success"] is True and body["request_id"].startswith("req_")
    assert body["data"]["page"] == 1 and body["data"]["limit"] == 20
    fields = {
        "task_id",
        "model",
        "source",
        "created_at",
        "status",
        "image_url",
        "credits_used",
        "credits_refunded",
        "completed_at",
    }
    truth = simulator.truth("apimall")
    assert all(set(i) == fields for i in truth)
    assert {i["status"] for i in truth} == {"completed", "failed", "pending", "processing"}
    assert all((i["image_url"] is not None) == (i["status"] == "completed") for i in truth)
    assert all(i["credits_refunded"] == i["credits_used"] for i in truth if i["status"] == "failed")
    past = get(http, simulator, "apimall", page=99, limit=20).json()
    assert past["data"] == {"items": [], "page": 99, "limit": 20}


def test_apimall_unapproved_key_and_unknown_path(simulator: Simulator, http: httpx.Client):
    forbidden = get_with_key(http, simulator, "am_sim_unapproved")
    assert forbidden.status_code == 403 and error_shape("apimall", forbidden.json()) == "forbidden"
    missing = http.get(
        simulator.base_url("apimall") + "/api/v1/nope", headers=auth_headers(simulator, "apimall")
    )
    assert missing.status_code == 404 and error_shape("apimall", missing.json()) == "not_found"


def get_with_key(http: httpx.Client, sim: Simulator, key: str) -> httpx.Response:
    return http.get(list_url(sim, "apimall"), headers=auth_headers(sim, "apimall", key))


def test_new_items_shift_page_numbers(simulator: Simulator, http: httpx.Client):
    simulator.seed("apimall", items=40)
    first = get(http, simulator, "apimall", page=2, limit=10).json()["data"]["items"]
    simulator.add("apimall", n=3)
    shifted = get(http, simulator, "apimall", page=2, limit=10).json()["data"]["items"]
    assert shifted[3:] == first[:7]
