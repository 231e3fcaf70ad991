"""Deterministic, valid, unique file bytes for every URL the simulator hands out.

A file is a tiny valid image (or an MP4 `ftyp` header) plus a block of seeded
random bytes in a chunk every decoder skips, so bytes are unique per content
key, cost one `randbytes` call to make, and are never cached. Most files are
50-300 KB; one content key in forty makes a 2-5 MB file.
"""

from __future__ import annotations

import base64
import struct
import zlib
from dataclasses import dataclass

from archiver.simulator.prng import mix, rng

CONTENT_TYPES = {
    "png": "image/png",
    "webp": "image/webp",
    "jpeg": "image/jpeg",
    "mp4": "video/mp4",
}


@dataclass(frozen=True)
class FileSpec:
    """What a URL serves: a container kind and the key its bytes derive from."""

    kind: str
    content_key: int

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.kind]

    def render(self) -> bytes:
        filler = rng(self.content_key, 0).randbytes(filler_size(self.content_key))
        return _BUILDERS[self.kind](filler)


def filler_size(content_key: int) -> int:
    roll = mix(content_key, 1)
    if roll % 40 == 0:
        return 2_000_000 + (roll >> 8) % 3_000_000
    return 50_000 + (roll >> 8) % 250_000


def _png(filler: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    side = 8
    color = filler[:3]
    rows = b"".join(b"\x00" + color * side for _ in range(side))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
        + chunk(b"raNd", filler)  # ancillary, private: decoders skip it
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


_JPEG_SEGMENT = 65_533
# An 8x8 mid-grey baseline JPEG: one DC code and one EOB code, each one bit long.
_JPEG_IMAGE = bytes.fromhex(
    "ffdb004300"
    + "01" * 64
    + "ffc0000b080008000801011100"
    + "ffc4001400"
    + "01"
    + "00" * 15
    + "00"
    + "ffc4001410"
    + "01"
    + "00" * 15
    + "00"
    + "ffda0008010100003f00"
    + "3f"
    + "ffd9"
)


def _jpeg(filler: bytes) -> bytes:
    out = [b"\xff\xd8", b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"]
    for start in range(0, len(filler), _JPEG_SEGMENT):
        part = filler[start : start + _JPEG_SEGMENT]
        out.append(b"\xff\xef" + struct.pack(">H", len(part) + 2) + part)  # APP15
    out.append(_JPEG_IMAGE)
    return b"".join(out)


# Google's 1x1 lossless WebP (the feature-detection sample of the WebP FAQ), VP8L chunk only.
_VP8L_CHUNK = base64.b64decode("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")[12:]


def _webp(filler: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return kind + struct.pack("<I", len(data)) + data + b"\x00" * (len(data) % 2)

    vp8x = chunk(b"VP8X", b"\x00\x00\x00\x00" + b"\x00\x00\x00" + b"\x00\x00\x00")
    body = b"WEBP" + vp8x + _VP8L_CHUNK + chunk(b"SIMF", filler)  # unknown chunk: skipped
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _mp4(filler: bytes) -> bytes:
    ftyp = b"ftyp" + b"isom" + struct.pack(">I", 0x200) + b"isomiso2avc1mp41"
    return struct.pack(">I", len(ftyp) + 4) + ftyp + struct.pack(">I", len(filler) + 8) + b"mdat" + filler


_BUILDERS = {"png": _png, "webp": _webp, "jpeg": _jpeg, "mp4": _mp4}
