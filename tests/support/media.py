"""Small real images made with Pillow, and uploads through the public API as a browser makes them."""

from __future__ import annotations

import base64
import io
import json
import struct
import time
import zlib
from typing import Any

import requests
from PIL import Image

from tests.support.client import Account, Api

PILLOW_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}


def image_bytes(content_type: str = "image/png", size: tuple[int, int] = (24, 16)) -> bytes:
    """A real image of ``size`` pixels in the format of ``content_type``."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (180, 40, 90)).save(buffer, PILLOW_FORMATS[content_type])
    return buffer.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG whose header claims ``width x height`` pixels (10 gigapixels by default): a few dozen
    bytes that a decoder would expand to tens of gigabytes."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", pixels) + _chunk(b"IEND", b"")


def decode_policy(fields: dict[str, str]) -> dict[str, Any]:
    policy: dict[str, Any] = json.loads(base64.b64decode(fields["policy"]))
    return policy


def ticket(api: Api, who: Account, content_type: str, size_bytes: int) -> dict[str, Any]:
    response = api.post("/media", who.token, json={"content_type": content_type, "size_bytes": size_bytes})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def form_post(upload: dict[str, Any], data: bytes, **changes: str) -> requests.Response:
    """The HTML-form POST of ``upload`` (fields in order, then the file), as ``curl -F`` sends it."""
    fields = {**upload["fields"], **changes}
    return requests.post(upload["url"], data=fields, files={"file": ("image", data)}, timeout=30)


def upload(
    api: Api, who: Account, data: bytes, content_type: str = "image/png", declared: int | None = None
) -> str:
    """Ask for an upload form, POST the bytes with it; the media id (the POST must be accepted)."""
    created = ticket(api, who, content_type, declared if declared is not None else len(data))
    response = form_post(created["upload"], data)
    assert response.status_code == 204, response.text
    return str(created["media_id"])


def settled(api: Api, who: Account, media_id: str, timeout: float = 10.0) -> dict[str, Any]:
    """The media once it is no longer pending."""
    deadline = time.monotonic() + timeout
    while True:
        media = api.get(f"/media/{media_id}", who.token).json()
        if media["status"] != "pending" or time.monotonic() > deadline:
            return media  # type: ignore[no-any-return]
        time.sleep(0.05)


def ready_media(api: Api, who: Account, content_type: str = "image/png") -> str:
    media_id = upload(api, who, image_bytes(content_type), content_type)
    assert settled(api, who, media_id)["status"] == "ready"
    return media_id
