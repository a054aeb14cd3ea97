"""Shapes of the media domain: requests and responses (the typed edge of the API), the limits of the
contract, and the values other domains receive (``MediaRef``) instead of PynamoDB records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MIB = 1024 * 1024
MAX_BYTES: dict[str, int] = {
    "image/jpeg": 5 * MIB,
    "image/png": 5 * MIB,
    "image/webp": 5 * MIB,
    "image/gif": 15 * MIB,
}
"""The contract's types and their size limits: 5 MB, GIF 15 MB (MB = 1,048,576 bytes)."""

ContentType = Literal["image/jpeg", "image/png", "image/gif", "image/webp"]
MediaStatus = Literal["pending", "ready", "rejected"]
PENDING, READY, REJECTED = "pending", "ready", "rejected"


class MediaCreate(BaseModel):
    """What the client is about to upload: its type and its size in bytes."""

    model_config = ConfigDict(extra="forbid")

    content_type: ContentType = Field(description="image/jpeg, image/png, image/gif or image/webp.")
    size_bytes: int = Field(ge=1, description="The file's size in bytes: 1..5,242,880 (GIF 1..15,728,640).")

    @model_validator(mode="after")
    def _within_limit(self) -> MediaCreate:
        limit = MAX_BYTES[self.content_type]
        if self.size_bytes > limit:
            raise ValueError(f"size_bytes must be at most {limit} for {self.content_type}")
        return self


class UploadForm(BaseModel):
    url: str = Field(description="POST the form here (an HTML-form upload, multipart/form-data).")
    fields: dict[str, str] = Field(
        description="Every field, in this order, before the file itself (the form's last field, `file`)."
    )


class MediaUpload(BaseModel):
    media_id: str
    upload: UploadForm
    expires_at: str = Field(description="ISO-8601 UTC: the upload form is refused after this instant.")


class Media(BaseModel):
    media_id: str
    type: Literal["image"] = "image"
    content_type: str
    url: str = Field(description="Serves the bytes once the media is ready.")
    status: MediaStatus


@dataclass(frozen=True)
class MediaRef:
    """Media as other domains hold it (denormalised on a tweet): enough to render it without a read."""

    media_id: str
    content_type: str
    object_key: str
