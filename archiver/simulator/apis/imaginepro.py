"""ImaginePro: `GET /api/v1/nova/images`, Bearer key, `page`/`size`, last 24 hours only.

Readings of the docs: only items created less than 24 hours ago on the simulated
clock are listed (created_at > now - 24h), newest first; `page` >= 1 (default 1),
`size` 1-100 (default 10; the docs give no maximum, so above 100 is a 400 rather
than a silent cap a client could mistake for the last page); a page past the end
is `{"images": []}`. Errors look like NestJS's: {"statusCode", "message", "error"}.
Image files stay downloadable after the item leaves the listing window.
"""

from __future__ import annotations

import re
from datetime import timedelta
from http import HTTPStatus
from typing import Any

from archiver.simulator.apis.base import (
    Links,
    ProviderAPI,
    Request,
    Response,
    int_param,
    json_response,
    plain,
)
from archiver.simulator.clock import iso_millis
from archiver.simulator.files import FileSpec
from archiver.simulator.history import History
from archiver.simulator.ids import UUID7
from archiver.simulator.prng import mix, rng
from archiver.simulator.prompts import prompt

WINDOW = timedelta(hours=24)
_ACTIONS = [
    ("imagine", ""),
    ("imagine", ""),
    ("imagine", ""),
    ("upscale", "U1"),
    ("upscale", "U2"),
    ("upscale", "U3"),
    ("upscale", "U4"),
    ("variation", "V1"),
    ("variation", "V3"),
    ("reroll", "🔄"),
    ("zoom", "Zoom Out 2x"),
    ("zoom", "Zoom Out 1.5x"),
    ("pan", "⬅️"),
    ("pan", "⬆️"),
]


class ImaginePro(ProviderAPI):
    name = "imaginepro"
    list_path = "/api/v1/nova/images"
    codec = UUID7
    api_key = "ip_sim"
    time_field = "createdAt"
    file_path = re.compile(r"/cdn/([0-9a-f-]{36})\.png")

    def error(self, status: int, code: str, message: str) -> Response:
        phrase = HTTPStatus(status).phrase
        return json_response(status, {"statusCode": status, "message": message, "error": phrase})

    def served(self, history: History) -> range:
        cutoff = self.world.clock.now_ms() - int(WINDOW.total_seconds() * 1000)
        return range(history.first_at_or_after(cutoff + 1), len(history))

    def listing(self, request: Request) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        page = int_param(request.query, "page", 1, 1, 2**62)
        size = int_param(request.query, "size", 10, 1, 100)
        history = self.world.histories[self.name].get("default")
        items: list[dict[str, Any]] = []
        if history is not None:
            served = self.served(history)
            top = served.stop - (page - 1) * size
            bottom = max(served.start, top - size)
            items = [self.render(history, i, plain) for i in range(top - 1, bottom - 1, -1)]
        return {"images": items}, items

    def render(self, history: History, index: int, links: Links) -> dict[str, Any]:
        item_id = history.item_id(index)
        kind, button = _ACTIONS[mix(history.key, index, 20) % len(_ACTIONS)]
        return {
            "id": item_id,
            "type": kind,
            "button": button,
            "prompt": prompt(rng(history.key, index, 10)),
            "uri": self.url(f"/cdn/{item_id}.png"),
            "createdAt": iso_millis(history.created_ms(index)),
        }

    def files(self, history: History, index: int) -> dict[str, FileSpec]:
        url = self.url(f"/cdn/{history.item_id(index)}.png")
        return {url: FileSpec("png", mix(history.key, index, 100))}
