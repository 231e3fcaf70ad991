"""Aurous Labs: `GET /v1/images`, `X-Api-Key`, optional `Aurous-Version`, id cursors.

Readings of the docs: `starting_after` returns items strictly older (after it in
list order), `ending_before` the page of items strictly newer and closest to it,
still newest first; both at once, an unknown cursor id, or a version header not
matching ^\\d{4}-\\d{2}-\\d{2}$ are 400 `invalid_request_error`. `has_more` says
whether more items lie beyond the page in the walking direction; `next_cursor` is
the id of the page's last item when `has_more`, else null. Output URLs carry
`?token=` valid for `token_ttl` of simulated time after the listing that issued
it (a missing, forged or expired token is 403 `permission_error`); reference
images are served unsigned. Statuses: pending, running, succeeded, failed.
"""

from __future__ import annotations

import hmac
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
)
from archiver.simulator.clock import iso_seconds
from archiver.simulator.files import FileSpec
from archiver.simulator.history import History
from archiver.simulator.ids import IMG_ULID, ulid
from archiver.simulator.prng import mix, rng
from archiver.simulator.prompts import prompt

_VERSION = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
}
_PRESETS = {"square": (1024, 1024), "portrait": (832, 1216), "landscape": (1216, 832)}
_VIDEO_SIZES = {"480p": (854, 480), "720p": (1280, 720), "1080p": (1920, 1080)}
_FAILURES = ["Content policy violation", "Upstream model timeout", "Invalid reference image"]
_BUNDLES = ["Cinematic Trio", "Anime Starter", "Product Shots"]
_LORAS = ["Sunset Style", "Film Noir", "Pixel Art", "Ghibli-esque"]


class Aurous(ProviderAPI):
    name = "aurous"
    list_path = "/v1/images"
    codec = IMG_ULID
    api_key = "al_live_sim"
    has_status = True
    file_path = re.compile(
        r"/v1/images/(img_\w+)/output/\d+|/v1/videos/vid_(\w+)/output|/uploads/(img_\w+)/ref-\d+\.jpg"
    )

    def authenticate(self, request: Request) -> Response | None:
        if request.headers.get("X-Api-Key") != self.api_key:
            return self.error(401, "invalid_api_key", "Invalid or missing X-Api-Key")
        version = request.headers.get("Aurous-Version")
        if version is not None and not _VERSION.fullmatch(version):
            return self.error(400, "invalid_version", "Aurous-Version must look like 2026-05-15")
        return None

    def error(self, status: int, code: str, message: str) -> Response:
        kind = _ERROR_TYPES.get(status, "api_error")
        return json_response(status, {"error": {"type": kind, "code": code, "message": message}})

    def listing(self, request: Request) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        limit = int_param(request.query, "limit", 20, 1, 100)
        after, before = request.query.get("starting_after"), request.query.get("ending_before")
        if after is not None and before is not None:
            raise BadRequest("invalid_cursor", "pass starting_after or ending_before, not both")
        history = self.world.histories[self.name].get("default")
        total = len(history) if history else 0
        if before is not None:
            low = self._cursor(history, before, "ending_before") + 1
            indexes = range(min(total, low + limit) - 1, low - 1, -1)
            has_more = low + limit < total
        else:
            top = total if after is None else self._cursor(history, after, "starting_after")
            indexes = range(top - 1, max(0, top - limit) - 1, -1)
            has_more = top - limit > 0
        links = self.signer()
        items = [self.render(history, i, links) for i in indexes] if history else []
        next_cursor = items[-1]["id"] if has_more and items else None
        envelope = {
            "object": "list",
            "data": items,
            "has_more": has_more,
            "next_cursor": next_cursor,
        }
        return envelope, items

    def _cursor(self, history: History | None, item_id: str, param: str) -> int:
        index = history.index_of(item_id) if history else None
        if index is None:
            raise BadRequest("invalid_cursor", f"{param}: no such generation {item_id!r}")
        return index

    def signer(self) -> Links:
        """Signs output URLs with a token expiring `token_ttl` from now (simulated time)."""
        expires = self.world.clock.now_ms() + int(self.world.token_ttl.total_seconds() * 1000)

        def sign(url: str) -> str:
            return f"{url}?token={expires:x}.{self.world.sign(f'{url}|{expires}')}"

        return sign

    def token_problem(self, request: Request) -> Response | None:
        expires_hex, _, signature = request.query.get("token", "").partition(".")
        url = self.url(request.path)
        try:
            expires = int(expires_hex, 16)
        except ValueError:
            return self.error(403, "invalid_token", "missing or malformed token")
        if not hmac.compare_digest(signature, self.world.sign(f"{url}|{expires}")):
            return self.error(403, "invalid_token", "token does not match this URL")
        if expires <= self.world.clock.now_ms():
            return self.error(403, "token_expired", "this signed URL has expired; list again")
        return None

    def file_item_id(self, path: str) -> str | None:
        match = self.file_path.fullmatch(path)
        if not match:
            return None
        image, video, reference = match.groups()
        return image or reference or f"img_{video}"

    def file_at(self, request: Request) -> FileSpec | Response | None:
        if not request.path.startswith("/uploads/") and self.file_path.fullmatch(request.path):
            problem = self.token_problem(request)
            if problem is not None:
                return problem
        return super().file_at(request)

    def render(self, history: History, index: int, links: Links) -> dict[str, Any]:
        item_id = history.item_id(index)
        shape = _Shape(history, index)
        phase, completed = history.outcome(index, 0.08, shape.duration_range)
        created = history.created_ms(index)
        done = phase == "succeeded"
        outputs = [links(url) for url in self._outputs(item_id, shape)] if done else []
        cost = None
        if phase in ("succeeded", "running"):
            cost = {
                "amount": shape.base + shape.enhance,
                "currency": "credit",
                "breakdown": {"base": shape.base, "enhance": shape.enhance},
            }
        elif phase == "failed":
            cost = {"amount": 0, "currency": "credit", "breakdown": {}}
        return {
            "id": item_id,
            "status": phase,
            "prompt": prompt(rng(history.key, index, 10)),
            "created_at": iso_seconds(created),
            "media_type": "video" if shape.video else "image",
            "negative_prompt": shape.negative_prompt,
            "output_urls": [] if shape.video else outputs,
            "output_video_url": outputs[0] if shape.video and outputs else None,
            "reference_image_urls": self._references(item_id, shape) or None,
            "error_message": shape.failure if phase == "failed" else None,
            "duration_ms": completed - created if completed is not None else None,
            "cost": cost,
            "width": shape.width,
            "height": shape.height,
            "image_count": None if shape.video else shape.count,
            "size_preset": None if shape.video else shape.preset,
            "inference_type": shape.inference_type,
            "seed": shape.seed,
            "video_duration": shape.video_duration,
            "video_resolution": shape.resolution,
            "video_ratio": shape.ratio,
            "video_camera_fixed": {} if shape.video else None,
            "character_id": shape.character_id,
            "bundle_name": shape.bundle_name,
            "loras": shape.loras,
            "aurous_version": shape.version,
            "creation_request_id": shape.request_id,
            "completed_at": iso_seconds(completed) if completed is not None else None,
        }

    def _outputs(self, item_id: str, shape: _Shape) -> list[str]:
        if shape.video:
            return [self.url(f"/v1/videos/vid_{item_id[4:]}/output")]
        return [self.url(f"/v1/images/{item_id}/output/{n}") for n in range(shape.count)]

    def _references(self, item_id: str, shape: _Shape) -> list[str]:
        return [self.url(f"/uploads/{item_id}/ref-{n}.jpg") for n in range(shape.references)]

    def files(self, history: History, index: int) -> dict[str, FileSpec]:
        item_id = history.item_id(index)
        shape = _Shape(history, index)
        found = {
            url: FileSpec("jpeg", mix(history.key, index, 300 + n))
            for n, url in enumerate(self._references(item_id, shape))
        }
        if history.outcome(index, 0.08, shape.duration_range)[0] == "succeeded":
            kind = "mp4" if shape.video else "png"
            for n, url in enumerate(self._outputs(item_id, shape)):
                found[url] = FileSpec(kind, mix(history.key, index, 100 + n))
        return found


class _Shape:
    """Everything about an Aurous item that does not depend on its status, drawn in one order."""

    def __init__(self, history: History, index: int) -> None:
        r = rng(history.key, index, 20)
        created = history.created_ms(index)
        self.video = r.random() < 0.12
        self.duration_range = (20_000, 180_000) if self.video else (3_000, 40_000)
        self.references = r.choice([0, 0, 0, 1, 2])
        self.count = r.randint(1, 4)
        self.preset = r.choice(list(_PRESETS))
        self.resolution = r.choice(list(_VIDEO_SIZES)) if self.video else None
        self.width, self.height = _VIDEO_SIZES[self.resolution] if self.resolution else _PRESETS[self.preset]
        self.ratio = r.choice(["16:9", "9:16", "1:1"]) if self.video else None
        self.video_duration = r.choice([5, 10]) if self.video else None
        prefix = "i2" if self.references else "t2"
        self.inference_type = prefix + ("v" if self.video else "i")
        self.negative_prompt = r.choice([None, None, "blurry, low quality", "text, watermark"])
        self.seed = r.choice([None, r.randrange(2**31)])
        self.base, self.enhance = r.randint(1, 4), r.choice([0, 0, 1])
        self.failure = r.choice(_FAILURES)
        self.character_id = f"char_{ulid(created, r.getrandbits(80))}" if r.random() < 0.1 else None
        self.bundle_name = r.choice(_BUNDLES) if r.random() < 0.07 else None
        self.loras = (
            [{"id": f"lora_{ulid(created, r.getrandbits(80))}", "name": r.choice(_LORAS)}]
            if r.random() < 0.2
            else None
        )
        self.version = r.choice(["2026-05-15", "2026-01-20", "2025-11-03"])
        self.request_id = f"req_{ulid(created, r.getrandbits(80))}"
