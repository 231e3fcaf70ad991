"""The lazy histories: order, bursts, ids, determinism, and cheap 100k-item seeding."""

from __future__ import annotations

import itertools
import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from archiver.simulator import PROVIDERS, Simulator
from archiver.simulator.files import FileSpec, filler_size
from archiver.simulator.history import History
from archiver.simulator.ids import HEX, IMG_ULID, UUID7, ulid, ulid_ms
from archiver.simulator.prompts import prompt

END = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
END_MS = int(END.timestamp() * 1000)


def seeded(items: int, span_s: int, key: int = 42) -> History:
    return History.seed(key, HEX, "default", items, END_MS, span_s * 1000, pending=0)


@pytest.mark.parametrize("key", [1, 2, 3])
def test_times_never_decrease_and_the_newest_is_at_the_end(key: int):
    history = seeded(5000, 5000 * 60, key)
    times = [history.created_ms(i) for i in range(len(history))]
    assert times == sorted(times)
    assert times[-1] == END_MS
    assert END_MS - times[0] <= 5000 * 60 * 1000


def test_bursts_share_one_second():
    history = seeded(5000, 5000 * 60)
    seconds = [history.created_ms(i) // 1000 for i in range(len(history))]
    runs = sum(1 for a, b in itertools.pairwise(seconds) if a == b)
    assert 100 < runs < 1500


@pytest.mark.parametrize("codec", [HEX, IMG_ULID, UUID7])
def test_ids_round_trip_through_their_time(codec):
    history = History.seed(7, codec, "default", 100_000, END_MS, 100_000 * 60_000, pending=0)
    for index in random.Random(1).sample(range(100_000), 300):
        item_id = history.item_id(index)
        assert codec.time_of(item_id) == history.created_ms(index)
        assert history.index_of(item_id) == index
    assert history.index_of("nonsense") is None
    assert history.index_of(codec.make(END_MS - 1, 12345)) is None


def test_ulid_is_crockford_and_reversible():
    text = ulid(1_714_816_800_000, 2**80 - 1)
    assert len(text) == 26 and ulid_ms(text) == 1_714_816_800_000
    assert ulid_ms("img_whatever") is None


def test_first_at_or_after_is_a_bisect():
    history = seeded(1000, 1000 * 60)
    for index in (0, 1, 500, 999):
        ms = history.created_ms(index)
        found = history.first_at_or_after(ms)
        assert history.created_ms(found) == ms and found <= index
        assert found == 0 or history.created_ms(found - 1) < ms
    assert history.first_at_or_after(END_MS + 1) == 1000


def test_100k_items_per_provider_seed_and_serve_cheaply():
    with Simulator(seed=5) as sim:
        for provider in PROVIDERS:
            sim.seed(provider, items=100_000, pending=10 if provider in ("aurous", "apimall") else 0)
        api = sim.router.apis["aurous"]
        history = sim.world.histories["aurous"]["default"]
        page = [api.render(history, i, str) for i in range(50_000, 50_100)]
        assert len({item["id"] for item in page}) == 100
        assert history.index_of(page[0]["id"]) == 50_000


def test_same_seed_same_truth_other_seed_other_truth():
    def truth(seed: int) -> dict[str, str]:
        """Each provider's whole history and file hashes, with the port taken out of URLs."""
        with Simulator(seed=seed) as sim:
            for provider in PROVIDERS:
                sim.seed(provider, items=200, end=END, span=timedelta(hours=20))
            found = {p: [sim.truth_all(p), sim.truth_files(p)] for p in PROVIDERS}
            return {p: json.dumps(v).replace(sim.url, "SIM") for p, v in found.items()}

    first, again, other = truth(9), truth(9), truth(10)
    for provider in PROVIDERS:
        assert first[provider] == again[provider]
        assert first[provider] != other[provider]


def test_seeding_again_replaces_the_history(simulator: Simulator):
    simulator.seed("qaves", items=50)
    simulator.add("qaves", n=3)
    simulator.seed("qaves", items=10)
    assert len(simulator.truth("qaves")) == 10


def test_buckets_and_pending_are_checked(simulator: Simulator):
    with pytest.raises(ValueError):
        simulator.seed("aurous", items=5, bucket="other")
    with pytest.raises(ValueError):
        simulator.seed("qaves", items=5, pending=1)
    with pytest.raises(ValueError):
        simulator.add("imaginepro", pending=1)
    with pytest.raises(ValueError):
        simulator.seed("nope", items=5)


def test_qaves_truth_without_a_bucket_merges_every_bucket(simulator: Simulator):
    simulator.seed("qaves", items=5)
    simulator.seed("qaves", items=7, bucket="Other Bucket")
    everything = simulator.truth("qaves")
    assert len(everything) == 12 and len(simulator.truth("qaves", "other-bucket")) == 7
    stamps = [i["created_at"] for i in everything]
    assert stamps == sorted(stamps, reverse=True)


def test_add_keeps_order_and_same_second_shares_one_second(simulator: Simulator):
    simulator.seed("apimall", items=10)
    spread = simulator.add("apimall", n=4)
    burst = simulator.add("apimall", n=6, same_second=True, pending=2)
    truth = simulator.truth("apimall")
    assert [i["task_id"] for i in truth[:10]] == (spread + burst)[::-1]
    assert len({i["created_at"][:19] for i in truth[:6]}) == 1
    assert [i["status"] for i in truth[:2]] == ["pending", "processing"]


def test_prompts_include_long_and_unicode_text():
    texts = [prompt(random.Random(n)) for n in range(2000)]
    assert any(len(t) > 4000 for t in texts)
    assert any(not t.isascii() for t in texts)
    assert all(t for t in texts)


def test_file_sizes_are_mostly_small_some_large():
    sizes = [filler_size(key) for key in range(2000)]
    large = [s for s in sizes if s > 2_000_000]
    assert 20 < len(large) < 100
    assert all(50_000 <= s < 300_000 for s in sizes if s < 2_000_000)


@pytest.mark.parametrize("kind", ["png", "webp", "jpeg", "mp4"])
def test_files_are_deterministic_and_unique(kind: str):
    assert FileSpec(kind, 1).render() == FileSpec(kind, 1).render()
    assert FileSpec(kind, 1).render() != FileSpec(kind, 2).render()
