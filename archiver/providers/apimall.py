"""APIMall image history: numbered pages inside a `success`/`error` envelope."""

from __future__ import annotations

from typing import Any

from archiver.providers.base import (
    BearerAuth,
    ErrorEnvelope,
    ItemModel,
    Provider,
    asset_refs,
    status_of,
)
from archiver.providers.fields import ExternalId, IsoTime
from archiver.providers.items import AssetRole, Item
from archiver.providers.pagination import PageNumber


class ApiMallTask(ItemModel):
    """The fields we map; `source` and the credits stay in `raw`."""

    task_id: ExternalId
    model: str | None = None
    created_at: IsoTime
    status: str
    image_url: str | None = None
    completed_at: IsoTime | None = None


class ApiMall(Provider):
    """APIMall: tasks of every status, newest first, 50 a page at most."""

    key = "apimall"
    default_base_url = "https://gateway.apimall.ai"
    path = "/api/v1/images/history"
    auth = BearerAuth()
    pages = PageNumber(page_param="page", size_param="limit", size=50, size_echo_at=("data", "limit"))
    items_at = ("data", "items")
    id_field = "task_id"
    errors = ErrorEnvelope(
        message_at=(("error", "message"),),
        code_at=("error", "code"),
        ok_at=("success",),
        # The doc shows only `unauthorized`; the others are the likely spellings of its statuses.
        code_status={
            "unauthorized": 401,
            "forbidden": 403,
            "not_found": 404,
            "rate_limited": 429,
            "rate_limit_exceeded": 429,
            "internal_error": 500,
        },
        hints={
            403: "check that the key's API access is approved and base_url is the gateway host",
        },
    )

    def normalize(self, raw: dict[str, Any]) -> Item:
        task = ApiMallTask.model_validate(raw)
        return Item(
            external_id=task.task_id,
            status=status_of(task.status),
            provider_status=task.status,
            raw=raw,
            model=task.model,
            created_at=task.created_at,
            completed_at=task.completed_at,
            assets=asset_refs(AssetRole.IMAGE, [task.image_url]),
        )
