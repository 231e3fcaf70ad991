"""Aurous Labs generation history: an opaque id cursor and a pinned API version."""

from __future__ import annotations

from typing import Any

from archiver.providers.base import HeaderKeyAuth, ItemModel, Provider, asset_refs, status_of
from archiver.providers.fields import ExternalId, IsoTime
from archiver.providers.items import AssetRole, Item
from archiver.providers.pagination import IdCursor


class AurousGeneration(ItemModel):
    """The fields we map; the doc's many others (cost, loras, seed, ...) stay in `raw`."""

    id: ExternalId
    status: str
    prompt: str | None = None
    negative_prompt: str | None = None
    created_at: IsoTime
    completed_at: IsoTime | None = None
    output_urls: list[str | None] | None = None
    output_video_url: str | None = None
    reference_image_urls: list[str | None] | None = None


class Aurous(Provider):
    """Aurous: images and videos of every status, newest first."""

    key = "aurous"
    default_base_url = "https://api.aurous-labs.com"
    path = "/v1/images"
    auth = HeaderKeyAuth("X-Api-Key")
    pages = IdCursor(
        param="starting_after",
        has_more_at=("has_more",),
        next_at=("next_cursor",),
        size_param="limit",
        size=100,
    )
    items_at = ("data",)
    options = frozenset({"api_version"})

    def headers(self) -> dict[str, str]:
        # Pinned so a change of the team's default version cannot change the shape we read.
        return {**super().headers(), "Aurous-Version": self.source.api_version}

    def normalize(self, raw: dict[str, Any]) -> Item:
        generation = AurousGeneration.model_validate(raw)
        return Item(
            external_id=generation.id,
            status=status_of(generation.status),
            provider_status=generation.status,
            raw=raw,
            prompt=generation.prompt,
            negative_prompt=generation.negative_prompt,
            created_at=generation.created_at,
            completed_at=generation.completed_at,
            assets=(
                asset_refs(AssetRole.IMAGE, generation.output_urls)
                + asset_refs(AssetRole.VIDEO, [generation.output_video_url])
                + asset_refs(AssetRole.REFERENCE, generation.reference_image_urls)
            ),
        )
