"""qaves.me: `GET /api/v1/images/generations`, Bearer key, per-bucket epoch-seconds cursor.

Readings of the docs: `before` is exclusive (items with created_at < before);
`next_before` is the created_at of the page's last item, or null when no item
older than it (in list order) remains, so a client that passes it back loses
the rest of a same-second burst cut by the page boundary, as a real
`WHERE created_at < ?` API would. Buckets normalize as: trim, lowercase,
whitespace runs -> '-', drop everything outside [a-z0-9_-]; an empty `bucket=`
means `default`, a name that normalizes to nothing is a 400.
"""

from __future__ import annotations

import re
from typing import Any

from archiver.simulator.apis.base import (
    BadRequest,
    Links,
    ProviderAPI,
    Request,
    Response,
    int_param,
    json_response,
    plain,
)
from archiver.simulator.files import FileSpec
from archiver.simulator.history import History
from archiver.simulator.ids import HEX
from archiver.simulator.prng import mix, rng, stream
from archiver.simulator.prompts import prompt


def normalize_bucket(raw: str) -> str:
    text = re.sub(r"\s+", "-", raw.strip().lower())
    return re.sub(r"[^a-z0-9_-]", "", text)


class Qaves(ProviderAPI):
    name = "qaves"
    list_path = "/api/v1/images/generations"
    codec = HEX
    api_key = "sk_qu_sim"
    file_path = re.compile(r"/api/i/([^/]+)\.png")

    def error(self, status: int, code: str, message: str) -> Response:
        return json_response(status, {"error": {"code": code, "message": message}})

    def listing(self, request: Request) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        raw_bucket = request.query.get("bucket", "")
        bucket = normalize_bucket(raw_bucket) if raw_bucket.strip() else "default"
        if not bucket:
            raise BadRequest("invalid_bucket", f"bucket {raw_bucket!r} has no usable characters")
        limit = int_param(request.query, "limit", 50, 1, 100)
        before = int_param(request.query, "before", 2**62, 0, 2**62)
        history = self.world.histories[self.name].get(bucket)
        items: list[dict[str, Any]] = []
        next_before = None
        if history is not None:
            end = history.first_at_or_after(before * 1000)
            start = max(0, end - limit)
            items = [self.render(history, i, plain) for i in range(end - 1, start - 1, -1)]
            if start > 0 and items:
                next_before = items[-1]["created_at"]
        envelope = {
            "bucket": bucket,
            "limit": limit,
            "count": len(items),
            "next_before": next_before,
            **self.bucket_meta(bucket, known=history is not None),
            "data": items,
        }
        return envelope, items

    def bucket_meta(self, bucket: str, known: bool) -> dict[str, Any]:
        """Buckets never seeded have no metadata row; some named buckets are public."""
        if not known:
            return {"bucket_id": None, "is_public": False, "bucket_link": None}
        key = stream("bucket", self.world.seed, bucket)
        public = bucket != "default" and key % 3 == 0
        return {
            "bucket_id": f"{key:016x}",
            "is_public": public,
            "bucket_link": self.url(f"/b/{bucket}") if public else None,
        }

    def render(self, history: History, index: int, links: Links) -> dict[str, Any]:
        item_id = history.item_id(index)
        return {
            "id": item_id,
            "url": self.url(f"/api/i/{item_id}.png"),
            "prompt": prompt(rng(history.key, index, 10)),
            "bucket": history.bucket,
            "created_at": history.created_ms(index) // 1000,
        }

    def files(self, history: History, index: int) -> dict[str, FileSpec]:
        url = self.url(f"/api/i/{history.item_id(index)}.png")
        return {url: FileSpec("png", mix(history.key, index, 100))}
