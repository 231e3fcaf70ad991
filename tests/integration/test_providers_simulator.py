"""Every provider against the simulator over real HTTP: the same scenarios, as a table."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import structlog
from pydantic import SecretStr

from archiver.errors import (
    AuthenticationError,
    ProviderError,
    RateLimitedError,
    SourceError,
)
from archiver.http import HttpClient, HttpSettings, build_client
from archiver.providers import PROVIDERS, Provider, provider_class
from archiver.providers.items import Page
from archiver.simulator import Simulator

ALL_PROVIDERS = sorted(PROVIDERS)
FAST = HttpSettings(
    retries=3,
    backoff_base=0.001,
    backoff_max=0.005,
    retry_after_cap=0.01,
    read_timeout=0.5,
    connect_timeout=2,
    deadline=10,
)
WRONG_KEY = "wrong-key-0123456789abcdef"


@dataclass
class Source:
    """Stands in for config.SourceConfig: only the attributes providers read."""

    name: str
    provider: str
    api_key: SecretStr
    base_url: str
    key_origin: str = "$TEST_KEY"
    buckets: list[str] = field(default_factory=lambda: ["default"])
    api_version: str = "2026-05-15"
    page_size: int | None = None
    max_pages: int = 10_000


@pytest.fixture
def http() -> Iterator[HttpClient]:
    with build_client(FAST) as client:
        yield client


def open_source(sim: Simulator, http: HttpClient, key: str, **settings: Any) -> Provider:
    source = Source(
        name=f"{key}-main",
        provider=key,
        api_key=SecretStr(settings.pop("api_key", sim.api_key(key))),
        base_url=settings.pop("base_url", sim.base_url(key)),
        **settings,
    )
    return provider_class(key)(source, http)


def walk_everything(provider: Provider) -> list[Page]:
    return [page for stream in provider.streams() for page in provider.walk(stream)]


def listed_ids(pages: list[Page]) -> list[str]:
    """Ids in first-seen order, repeats dropped."""
    return list(dict.fromkeys(item.external_id for page in pages for item in page.items))


def truth_ids(sim: Simulator, key: str, bucket: str | None = None) -> list[str]:
    id_field = "task_id" if key == "apimall" else "id"
    return [raw[id_field] for raw in sim.truth(key, bucket)]


@pytest.mark.parametrize("key", ALL_PROVIDERS)
@pytest.mark.parametrize("page_size", [None, 7])
def test_the_whole_seeded_history_is_listed_newest_first(simulator, http, key, page_size) -> None:
    simulator.seed(key, items=230)
    pages = walk_everything(open_source(simulator, http, key, page_size=page_size))
    assert listed_ids(pages) == truth_ids(simulator, key)
    assert all(page.newest_first and not page.rejected for page in pages)
    assert pages[-1].next_cursor is None
    assert all(page.served_at and page.served_at.tzinfo for page in pages)


@pytest.mark.parametrize("key", ALL_PROVIDERS)
def test_the_raw_item_is_kept_exactly_as_served(simulator, http, key) -> None:
    simulator.seed(key, items=20)
    pages = walk_everything(open_source(simulator, http, key))
    served = [re.sub(r"\?token=[^\"]*", "", json.dumps(i.raw)) for p in pages for i in p.items]
    assert served == [json.dumps(raw) for raw in simulator.truth(key)]


def test_qaves_same_second_bursts_across_page_edges_are_not_lost(simulator, http) -> None:
    simulator.seed("qaves", items=25)
    for n, same_second in ((9, True), (3, False), (9, True)):
        simulator.advance(timedelta(seconds=5))
        simulator.add("qaves", n, same_second=same_second)
    pages = walk_everything(open_source(simulator, http, "qaves", page_size=10))
    assert set(listed_ids(pages)) == set(truth_ids(simulator, "qaves"))
    assert sum(page.repeats for page in pages) > 0


def test_qaves_a_burst_larger_than_a_page_ends_with_a_warning(simulator, http) -> None:
    simulator.seed("qaves", items=12)
    simulator.advance(timedelta(seconds=5))
    burst = simulator.add("qaves", 15, same_second=True)
    with structlog.testing.capture_logs() as logs:
        pages = walk_everything(open_source(simulator, http, "qaves", page_size=10))
    older = set(truth_ids(simulator, "qaves")) - set(burst)
    assert older <= set(listed_ids(pages))
    assert [entry for entry in logs if entry["event"] == "pagination.second_skipped"]


def test_qaves_walks_each_bucket_and_keeps_its_metadata(simulator, http) -> None:
    simulator.seed("qaves", items=30, bucket="default")
    simulator.seed("qaves", items=40, bucket="client-acme")
    qaves = open_source(simulator, http, "qaves", buckets=["default", "Client ACME", "default"])
    assert qaves.streams() == ["default", "client-acme"]
    for stream in qaves.streams():
        pages = list(qaves.walk(stream))
        assert listed_ids(pages) == truth_ids(simulator, "qaves", stream)
        assert all(page.meta and page.meta["bucket"] == stream for page in pages)
        assert all(item.bucket == stream for page in pages for item in page.items)
        assert pages[0].meta["bucket_id"]


def test_aurous_pins_the_api_version_and_rejects_a_bad_one(simulator, http) -> None:
    simulator.seed("aurous", items=5)
    assert walk_everything(open_source(simulator, http, "aurous", api_version="2026-01-20"))
    with pytest.raises(ProviderError) as caught:
        walk_everything(open_source(simulator, http, "aurous", api_version="May 2026"))
    assert caught.value.status_code == 400
    assert "Aurous-Version" in str(caught.value)


def test_imaginepro_lists_only_its_window(simulator, http) -> None:
    simulator.seed("imaginepro", items=120)
    served = truth_ids(simulator, "imaginepro")
    pages = walk_everything(open_source(simulator, http, "imaginepro"))
    assert listed_ids(pages) == served


@pytest.mark.parametrize("key", ALL_PROVIDERS)
@pytest.mark.parametrize("fault", ["429", "500", "502", "503", "drop", "truncate", "slow"])
def test_transient_faults_are_retried_and_the_listing_completes(simulator, http, key, fault) -> None:
    simulator.seed(key, items=150)
    params = {"delay": 1.0} if fault == "slow" else {}
    simulator.inject(key, fault, times=2, **params)
    pages = walk_everything(open_source(simulator, http, key, page_size=50))
    assert listed_ids(pages) == truth_ids(simulator, key)
    assert simulator.requests(key) == len(pages) + 2


@pytest.mark.parametrize("key", ALL_PROVIDERS)
def test_a_wrong_key_fails_at_once_and_names_the_source_and_key_origin(simulator, http, key) -> None:
    simulator.seed(key, items=10)
    provider = open_source(simulator, http, key, api_key=WRONG_KEY, key_origin="$WRONG")
    with pytest.raises(AuthenticationError) as caught:
        walk_everything(provider)
    assert str(caught.value).startswith(f"{key}-main: the API key from $WRONG was rejected (401)")
    assert WRONG_KEY not in str(caught.value)
    assert simulator.requests(key) == 1


def test_apimall_unapproved_key_says_what_to_check(simulator, http) -> None:
    provider = open_source(simulator, http, "apimall", api_key="am_sim_unapproved")
    with pytest.raises(AuthenticationError, match=r"\(403\).*approved.*gateway host"):
        walk_everything(provider)
    assert simulator.requests("apimall") == 1


@pytest.mark.parametrize("key", ALL_PROVIDERS)
@pytest.mark.parametrize(
    ("fault", "error", "status"),
    [("429", RateLimitedError, 429), ("500", ProviderError, 500), ("503", ProviderError, 503)],
)
def test_failures_that_outlast_the_retries_give_their_typed_error(
    simulator, http, key, fault, error, status
) -> None:
    simulator.seed(key, items=10)
    simulator.inject(key, fault, times=FAST.retries + 1)
    with pytest.raises(error) as caught:
        walk_everything(open_source(simulator, http, key))
    assert f"after {FAST.retries} retries" in str(caught.value)
    assert getattr(caught.value, "status_code", status) == status
    assert simulator.requests(key) == FAST.retries + 1


@pytest.mark.parametrize("key", ALL_PROVIDERS)
def test_a_wrong_base_url_is_a_404_that_is_not_retried(simulator, http, key) -> None:
    provider = open_source(simulator, http, key, base_url=simulator.base_url(key) + "/nope")
    with pytest.raises(ProviderError, match=r"404.*check base_url") as caught:
        walk_everything(provider)
    assert caught.value.status_code == 404
    assert simulator.requests(key, "file") == 1


@pytest.mark.parametrize("key", ALL_PROVIDERS)
@pytest.mark.parametrize("kind", ["missing", "wrong_type"])
def test_a_malformed_item_is_rejected_and_its_page_kept(simulator, http, key, kind) -> None:
    simulator.seed(key, items=30)
    simulator.inject(key, "malformed_item", kind=kind, position=3)
    pages = walk_everything(open_source(simulator, http, key, page_size=10))
    rejected = [r for page in pages for r in page.rejected]
    assert len(rejected) == 1 and rejected[0].reason
    assert len(pages[0].items) == 9
    assert set(listed_ids(pages)) | {rejected[0].external_id} == set(truth_ids(simulator, key))


@pytest.mark.parametrize("key", ALL_PROVIDERS)
def test_an_odd_id_is_data_not_a_reason_to_reject(simulator, http, key) -> None:
    simulator.seed(key, items=10)
    simulator.inject(key, "evil_id", position=0)
    pages = walk_everything(open_source(simulator, http, key))
    assert pages[0].items[0].external_id.startswith("../../")
    assert not pages[0].rejected


@pytest.mark.parametrize("key", ALL_PROVIDERS)
def test_no_key_reaches_the_logs_or_the_errors(simulator, http, key, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    simulator.seed(key, items=60)
    texts: list[str] = []
    with structlog.testing.capture_logs() as logs:
        for fault in ("429", "drop", "truncate", "malformed_item"):  # 3 retries, then a page
            simulator.inject(key, fault)
        walk_everything(open_source(simulator, http, key, page_size=20))
        for fault in ("429", "503"):
            simulator.inject(key, fault, times=FAST.retries + 1)
            with pytest.raises(SourceError) as caught:
                walk_everything(open_source(simulator, http, key))
            texts.append(repr(caught.value))
        with pytest.raises(SourceError) as caught:
            walk_everything(open_source(simulator, http, key, api_key=WRONG_KEY))
        texts.append(repr(caught.value))
    texts += [json.dumps(entry, default=str) for entry in logs]
    texts += [record.getMessage() for record in caplog.records]
    assert any("http.retry" in text for text in texts)
    for secret in (simulator.api_key(key), WRONG_KEY):
        assert not [text for text in texts if secret in text]
