"""APIMall: `GET /api/v1/images/history`, Bearer key, `page`/`limit` 1-50, envelopes.

Readings of the docs: newest first; `page` >= 1 (default 1), `limit` 1-50
(default 20); a page past the end has no items. Statuses: completed, failed,
pending, processing; `image_url` only when completed, `completed_at` when
completed or failed, failed tasks refund their credits. Every error uses the
documented envelope; a 400 (not in the docs' table) names the parameter in its
code (`invalid_limit`, `invalid_page`).
The key `am_sim_unapproved` is known but not approved: 403 `forbidden`.
One completed task in fifty (index % 50 == 49) serves exactly the bytes of the
task just before it, under its own URL, so content-addressed dedup is exercised.
"""

from __future__ import annotations

import re
from typing import Any

from archiver.simulator.apis.base import (
    Links,
    ProviderAPI,
    Request,
    Response,
    bearer_token,
    int_param,
    json_response,
    plain,
)
from archiver.simulator.clock import iso_millis
from archiver.simulator.files import FileSpec
from archiver.simulator.history import History
from archiver.simulator.ids import IMG_ULID, ulid
from archiver.simulator.prng import mix, rng, wide

UNAPPROVED_KEY = "am_sim_unapproved"
DUPLICATE_EVERY = 50
_PHASES = {
    "pending": "pending",
    "running": "processing",
    "succeeded": "completed",
    "failed": "failed",
}
_MODELS = [
    ("nano-banana", "gempix2"),
    ("nano-banana-pro", "gempix2"),
    ("gpt-image-1", "openai"),
    ("seedream-4.0", "bytedance"),
    ("flux-kontext-pro", "bfl"),
]


class APIMall(ProviderAPI):
    name = "apimall"
    list_path = "/api/v1/images/history"
    codec = IMG_ULID
    api_key = "am_sim"
    id_field = "task_id"
    has_status = True
    file_path = re.compile(r"/cdn/generated/(img_\w+)\.webp")

    def authenticate(self, request: Request) -> Response | None:
        token = bearer_token(request.headers)
        if token == UNAPPROVED_KEY:
            return self.error(403, "forbidden", "API access not approved")
        return super().authenticate(request)

    def error(self, status: int, code: str, message: str) -> Response:
        payload = {"success": False, "error": {"code": code, "message": message}}
        return json_response(status, {**payload, "request_id": self.request_id()})

    def request_id(self) -> str:
        number = self.world.next_number()
        return f"req_{ulid(self.world.clock.now_ms(), wide(self.world.seed, number))}"

    def listing(self, request: Request) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        page = int_param(request.query, "page", 1, 1, 2**62)
        limit = int_param(request.query, "limit", 20, 1, 50)
        history = self.world.histories[self.name].get("default")
        items: list[dict[str, Any]] = []
        if history is not None:
            top = len(history) - (page - 1) * limit
            items = [self.render(history, i, plain) for i in range(top - 1, max(0, top - limit) - 1, -1)]
        data = {"items": items, "page": page, "limit": limit}
        return {"success": True, "data": data, "request_id": self.request_id()}, items

    def render(self, history: History, index: int, links: Links) -> dict[str, Any]:
        r = rng(history.key, index, 20)
        model, source = r.choice(_MODELS)
        credits = r.choice([4, 8, 8, 12, 20])
        phase, completed = history.outcome(index, 0.1, (4_000, 90_000))
        status = _PHASES[phase]
        image_url = self._image_url(history, index) if status == "completed" else None
        return {
            "task_id": history.item_id(index),
            "model": model,
            "source": source,
            "created_at": iso_millis(history.created_ms(index)),
            "status": status,
            "image_url": image_url,
            "credits_used": credits,
            "credits_refunded": credits if status == "failed" else 0,
            "completed_at": iso_millis(completed) if completed is not None else None,
        }

    def _image_url(self, history: History, index: int) -> str:
        return self.url(f"/cdn/generated/{history.item_id(index)}.webp")

    def files(self, history: History, index: int) -> dict[str, FileSpec]:
        if history.outcome(index, 0.1, (4_000, 90_000))[0] != "succeeded":
            return {}
        source = index - 1 if index % DUPLICATE_EVERY == DUPLICATE_EVERY - 1 else index
        return {self._image_url(history, index): FileSpec("webp", mix(history.key, source, 100))}
