"""Each provider's declarations and item mapping, from its doc's own examples, no network."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from archiver.errors import AuthenticationError, BadResponseError, ProviderError
from archiver.http import HttpSettings, JsonResponse, build_client
from archiver.providers import PROVIDERS, provider_class
from archiver.providers.base import Provider, status_of
from archiver.providers.fields import is_plain_id
from archiver.providers.items import AssetRef, AssetRole, Item, RejectedItem, Status

KEY = "secret-key-0123456789"


@dataclass
class Source:
    """Stands in for config.SourceConfig: only the attributes providers read."""

    provider: str
    name: str = "src"
    api_key: SecretStr = field(default_factory=lambda: SecretStr(KEY))
    key_origin: str = "$SRC_KEY"
    base_url: str = "http://127.0.0.1:9"
    buckets: list[str] = field(default_factory=lambda: ["default"])
    api_version: str = "2026-05-15"
    page_size: int | None = None
    max_pages: int = 1_000_000


def provider(key: str, **settings: Any) -> Provider:
    return provider_class(key)(Source(key, **settings), build_client(HttpSettings()))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


QAVES_DOC = {
    "id": "f0c8",
    "url": "https://qaves.me/api/i/f0c8.png",
    "prompt": "A neon orange fox",
    "bucket": "default",
    "created_at": 1778833800,
}
AUROUS_DOC = {
    "id": "img_01HX",
    "status": "succeeded",
    "prompt": "A golden sunset",
    "created_at": "2026-05-04T10:00:00Z",
    "negative_prompt": "blurry",
    "output_urls": ["https://api.aurous-labs.com/v1/images/img_01HX/output/0?token=t"],
    "output_video_url": "https://api.aurous-labs.com/v1/videos/vid_01HX/output?token=t",
    "reference_image_urls": ["https://example.com/ref1.jpg"],
    "cost": {"amount": 2, "currency": "credit"},
    "completed_at": "2026-05-04T10:00:14Z",
}
IMAGINEPRO_DOC = {
    "id": "m1",
    "type": "imagine",
    "button": "U1",
    "prompt": "a cat",
    "uri": "https://cdn/m1.png",
    "createdAt": "2026-05-04T10:00:00.000Z",
}
APIMALL_DOC = {
    "task_id": "img_01HQ",
    "model": "nano-banana",
    "source": "gempix2",
    "created_at": "2026-03-12T09:30:00.000Z",
    "status": "completed",
    "image_url": "https://cdn.apimall.ai/generated/image-01.webp",
    "credits_used": 8,
    "credits_refunded": 0,
    "completed_at": "2026-03-12T09:31:06.000Z",
}

EXPECTED = {
    "qaves": (
        QAVES_DOC,
        Item(
            "f0c8",
            Status.SUCCEEDED,
            QAVES_DOC,
            prompt="A neon orange fox",
            bucket="default",
            created_at=at("2026-05-15T08:30:00"),
            assets=(AssetRef(AssetRole.IMAGE, 0, QAVES_DOC["url"]),),
        ),
    ),
    "aurous": (
        AUROUS_DOC,
        Item(
            "img_01HX",
            Status.SUCCEEDED,
            AUROUS_DOC,
            provider_status="succeeded",
            prompt="A golden sunset",
            negative_prompt="blurry",
            created_at=at("2026-05-04T10:00:00"),
            completed_at=at("2026-05-04T10:00:14"),
            assets=(
                AssetRef(AssetRole.IMAGE, 0, AUROUS_DOC["output_urls"][0]),
                AssetRef(AssetRole.VIDEO, 0, AUROUS_DOC["output_video_url"]),
                AssetRef(AssetRole.REFERENCE, 0, "https://example.com/ref1.jpg"),
            ),
        ),
    ),
    "imaginepro": (
        IMAGINEPRO_DOC,
        Item(
            "m1",
            Status.SUCCEEDED,
            IMAGINEPRO_DOC,
            prompt="a cat",
            created_at=at("2026-05-04T10:00:00"),
            assets=(AssetRef(AssetRole.IMAGE, 0, "https://cdn/m1.png"),),
        ),
    ),
    "apimall": (
        APIMALL_DOC,
        Item(
            "img_01HQ",
            Status.SUCCEEDED,
            APIMALL_DOC,
            provider_status="completed",
            model="nano-banana",
            created_at=at("2026-03-12T09:30:00"),
            completed_at=at("2026-03-12T09:31:06"),
            assets=(AssetRef(AssetRole.IMAGE, 0, APIMALL_DOC["image_url"]),),
        ),
    ),
}
ID_FIELD = {"qaves": "id", "aurous": "id", "imaginepro": "id", "apimall": "task_id"}
TIME_FIELD = {
    "qaves": "created_at",
    "aurous": "created_at",
    "imaginepro": "createdAt",
    "apimall": "created_at",
}


def test_the_registry_knows_the_four_providers_by_key() -> None:
    assert set(PROVIDERS) == {"qaves", "aurous", "imaginepro", "apimall"}
    assert all(cls.key == key for key, cls in PROVIDERS.items())
    with pytest.raises(KeyError):
        provider_class("midjourney")


def test_declarations_the_engine_and_config_read() -> None:
    assert provider_class("imaginepro").window == timedelta(hours=24)
    assert {k for k, cls in PROVIDERS.items() if cls.window} == {"imaginepro"}
    assert all(cls.default_overlap > timedelta(0) for cls in PROVIDERS.values())
    assert provider_class("qaves").options == {"buckets"}
    assert provider_class("aurous").options == {"api_version"}
    assert not provider_class("apimall").options | provider_class("imaginepro").options


@pytest.mark.parametrize("key", EXPECTED)
def test_the_doc_example_maps_to_its_item(key: str) -> None:
    raw, expected = EXPECTED[key]
    item = provider(key)._normalize_or_reject(raw)
    assert item == expected
    assert item.raw is raw


DAMAGES = {
    "no-id": lambda raw, key: raw.pop(ID_FIELD[key]),
    "no-time": lambda raw, key: raw.pop(TIME_FIELD[key]),
    "time-list": lambda raw, key: raw.update({TIME_FIELD[key]: [1]}),
    "time-word": lambda raw, key: raw.update({TIME_FIELD[key]: "yesterday"}),
    "id-int": lambda raw, key: raw.update({ID_FIELD[key]: 42}),
    "id-nul": lambda raw, key: raw.update({ID_FIELD[key]: "a\x00b"}),
}
ID_UNREADABLE = {"no-id", "id-int", "id-nul"}


@pytest.mark.parametrize("key", EXPECTED)
@pytest.mark.parametrize("damage", DAMAGES)
def test_a_malformed_item_is_rejected_with_a_one_line_reason(key: str, damage: str) -> None:
    raw = dict(EXPECTED[key][0])
    DAMAGES[damage](raw, key)
    rejected = provider(key)._normalize_or_reject(raw)
    assert isinstance(rejected, RejectedItem)
    assert rejected.raw == raw and rejected.reason and "\n" not in rejected.reason
    expected_id = None if damage in ID_UNREADABLE else raw[ID_FIELD[key]]
    assert rejected.external_id == expected_id


@pytest.mark.parametrize("key", EXPECTED)
def test_an_odd_but_printable_id_is_kept_as_data(key: str) -> None:
    raw = {**EXPECTED[key][0], ID_FIELD[key]: "../../etc/passwd'; DROP TABLE x; --"}
    assert isinstance(provider(key)._normalize_or_reject(raw), Item)


def test_a_non_object_item_is_rejected() -> None:
    assert provider("qaves")._normalize_or_reject(["x"]).reason.startswith("expected a JSON")


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("succeeded", Status.SUCCEEDED),
        ("completed", Status.SUCCEEDED),
        ("failed", Status.FAILED),
        ("error", Status.FAILED),
        ("canceled", Status.CANCELED),
        ("cancelled", Status.CANCELED),
        ("pending", Status.PENDING),
        ("queued", Status.PENDING),
        ("processing", Status.RUNNING),
        ("running", Status.RUNNING),
        ("in_progress", Status.RUNNING),
        ("Completed", Status.SUCCEEDED),
        ("moderated", Status.UNKNOWN),
    ],
)
def test_status_words_map_to_the_normalized_set(word: str, status: Status) -> None:
    assert status_of(word) is status


def test_provider_status_keeps_the_original_word() -> None:
    item = provider("apimall")._normalize_or_reject(
        {**APIMALL_DOC, "status": "processing", "image_url": None}
    )
    assert (item.status, item.provider_status, item.assets) == (Status.RUNNING, "processing", ())


@pytest.mark.parametrize(
    ("created", "expected"),
    [
        ("2026-05-04T10:00:00Z", at("2026-05-04T10:00:00")),
        ("2026-05-04T12:00:00+02:00", at("2026-05-04T10:00:00")),
        ("2026-05-04T10:00:00", at("2026-05-04T10:00:00")),
        ("1777888800", at("2026-05-04T10:00:00")),
        ("1777888800000", at("2026-05-04T10:00:00")),
        ("1777888800.5", at("2026-05-04T10:00:00.5")),
    ],
)
def test_imaginepro_created_at_is_any_timestamp_string(created: str, expected: datetime) -> None:
    item = provider("imaginepro")._normalize_or_reject({**IMAGINEPRO_DOC, "createdAt": created})
    assert item.created_at == expected


def test_aurous_assets_skip_empty_urls_but_keep_positions() -> None:
    raw = {
        **AUROUS_DOC,
        "output_urls": ["u0", None, "", "u3"],
        "output_video_url": None,
        "reference_image_urls": None,
    }
    assert provider("aurous")._normalize_or_reject(raw).assets == (
        AssetRef(AssetRole.IMAGE, 0, "u0"),
        AssetRef(AssetRole.IMAGE, 3, "u3"),
    )


def test_qaves_streams_are_the_normalized_buckets_once_each() -> None:
    qaves = provider("qaves", buckets=["default", " Default", "Client  ACME", "client-acme"])
    assert qaves.streams() == ["default", "client-acme"]
    assert qaves.query("client-acme") == {"bucket": "client-acme"}
    assert all(provider(key).streams() == [""] for key in PROVIDERS if key != "qaves")


def test_qaves_keeps_the_bucket_metadata() -> None:
    body = {
        "bucket": "default",
        "bucket_id": "8f1c",
        "is_public": True,
        "bucket_link": "https://qaves.me/b/x",
        "data": [],
    }
    assert provider("qaves").page_meta(body) == {
        "bucket": "default",
        "bucket_id": "8f1c",
        "is_public": True,
        "bucket_link": "https://qaves.me/b/x",
    }


def test_auth_headers_follow_each_doc() -> None:
    assert provider("aurous", api_version="2026-01-20").headers() == {
        "X-Api-Key": KEY,
        "Aurous-Version": "2026-01-20",
    }
    for key in ("qaves", "imaginepro", "apimall"):
        assert provider(key).headers() == {"Authorization": f"Bearer {KEY}"}


def envelope(body: Any) -> JsonResponse:
    return JsonResponse(200, {}, body)


def test_apimall_success_false_is_a_typed_error_even_under_200() -> None:
    apimall = provider("apimall")
    unauthorized = {"success": False, "error": {"code": "unauthorized", "message": "Unauthorized"}}
    with pytest.raises(AuthenticationError, match=r"src: the API key from \$SRC_KEY was rejected"):
        apimall._check(envelope(unauthorized))
    with pytest.raises(AuthenticationError, match="base_url is the gateway host"):
        apimall._check(envelope({"success": False, "error": {"code": "forbidden"}}))
    with pytest.raises(ProviderError, match="answered 500: weird: odd"):
        apimall._check(envelope({"success": False, "error": {"code": "weird", "message": "odd"}}))
    apimall._check(envelope({"success": True, "data": {"items": [], "page": 1, "limit": 50}}))


@pytest.mark.parametrize("key", EXPECTED)
def test_an_envelope_without_its_item_list_is_a_bad_response(key: str) -> None:
    with pytest.raises(BadResponseError, match="src: the listing has no"):
        provider(key)._check(envelope({"unexpected": []}))


def test_error_bodies_are_described_from_where_each_provider_puts_them() -> None:
    default = provider("qaves").errors
    assert default.describe({"error": {"code": "x", "message": "bad key"}}) == "bad key"
    assert default.describe({"statusCode": 401, "message": "nope", "error": "Unauthorized"}) == "nope"
    assert provider("apimall").errors.describe({"error": {"code": "c", "message": "m"}}) == "c: m"


@pytest.mark.parametrize(
    ("value", "plain"),
    [
        ("img_1", True),
        ("a b~", True),
        ("snow\u2603man", True),
        ("", False),
        ("a\x00b", False),
        ("a\x1fb", False),
        ("tab\there", False),
        ("a\x7fb", False),
        (17, False),
        (None, False),
    ],
)
def test_an_external_id_is_a_non_empty_string_without_control_characters(value: Any, plain: bool) -> None:
    assert is_plain_id(value) is plain
