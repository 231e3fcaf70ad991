"""qaves.me image history: one listing per bucket, an epoch-seconds `before` cursor."""

from __future__ import annotations

import re
from typing import Any

from archiver.providers.base import BearerAuth, ItemModel, Provider, asset_refs
from archiver.providers.fields import EpochTime, ExternalId
from archiver.providers.items import AssetRole, Item, Status
from archiver.providers.pagination import EpochCursor


class QavesImage(ItemModel):
    """The doc's item: `id`, `url`, `prompt`, `bucket`, `created_at` (epoch seconds)."""

    id: ExternalId
    url: str | None = None
    prompt: str | None = None
    bucket: str | None = None
    created_at: EpochTime


def normalize_bucket(name: str) -> str:
    """Our reading of "auto-normalized": case and blanks do not matter (trim, lowercase,
    whitespace runs -> '-'). Any further rule is left to the server, which echoes the
    bucket it used (kept in `Page.meta`)."""
    return re.sub(r"\s+", "-", name.strip().lower()) or "default"


class Qaves(Provider):
    """qaves.me: finished images only, newest first, read bucket by bucket."""

    key = "qaves"
    default_base_url = "https://qaves.me"
    path = "/api/v1/images/generations"
    auth = BearerAuth()
    pages = EpochCursor(param="before", next_at=("next_before",), size_param="limit", size=100)
    items_at = ("data",)
    options = frozenset({"buckets"})

    def streams(self) -> list[str]:
        return list(dict.fromkeys(normalize_bucket(name) for name in self.source.buckets))

    def query(self, stream: str) -> dict[str, str | int]:
        return {"bucket": stream}

    def page_meta(self, body: Any) -> dict[str, Any]:
        return {name: body.get(name) for name in ("bucket", "bucket_id", "is_public", "bucket_link")}

    def normalize(self, raw: dict[str, Any]) -> Item:
        image = QavesImage.model_validate(raw)
        return Item(
            external_id=image.id,
            status=Status.SUCCEEDED,
            raw=raw,
            prompt=image.prompt,
            bucket=image.bucket,
            created_at=image.created_at,
            assets=asset_refs(AssetRole.IMAGE, [image.url]),
        )
