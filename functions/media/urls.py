"""Public URLs of media objects: the base that serves the bucket (CloudFront on AWS, the local gateway
locally, ``MEDIA_BASE_URL``) and the object's key."""

from __future__ import annotations

from urllib.parse import quote

from functions.core.config import env


def media_url(object_key: str) -> str:
    """The URL that serves ``object_key``; MissingSetting when the function renders no media URLs."""
    return f"{env('MEDIA_BASE_URL').rstrip('/')}/{quote(object_key)}"
