"""ImaginePro history: numbered pages of finished images from the last 24 hours only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from archiver.providers.base import BearerAuth, ItemModel, Provider, asset_refs
from archiver.providers.fields import AnyTime, ExternalId
from archiver.providers.items import AssetRole, Item, Status
from archiver.providers.pagination import PageNumber


class ImagineProImage(ItemModel):
    """All six documented fields are required; `type` and `button` stay in `raw`."""

    id: ExternalId
    type: str
    button: str
    prompt: str
    uri: str
    # Documented only as "string": ISO-8601 and epoch seconds or milliseconds are accepted.
    createdAt: AnyTime


class ImaginePro(Provider):
    """ImaginePro: what is not archived within 24 hours of its creation is gone."""

    key = "imaginepro"
    default_base_url = "https://api.imaginepro.ai"
    path = "/api/v1/nova/images"
    auth = BearerAuth()
    pages = PageNumber(page_param="page", size_param="size", size=100)
    items_at = ("images",)
    window = timedelta(hours=24)
    # createdAt is when the job was created; the image is listed only once it is done,
    # which for Midjourney can be minutes later.
    default_overlap = timedelta(minutes=10)

    def normalize(self, raw: dict[str, Any]) -> Item:
        image = ImagineProImage.model_validate(raw)
        return Item(
            external_id=image.id,
            status=Status.SUCCEEDED,
            raw=raw,
            prompt=image.prompt,
            created_at=image.createdAt,
            assets=asset_refs(AssetRole.IMAGE, [image.uri]),
        )
