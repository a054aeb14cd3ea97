"""Settings of the media functions: the API (upload tickets, status) and the upload processor."""

from __future__ import annotations

from pydantic import Field

from functions.core.config import FunctionSettings


class MediaTable(FunctionSettings):
    media_table: str = Field(alias="MEDIA_TABLE_NAME")


class MediaBucket(FunctionSettings):
    media_bucket: str = Field(alias="MEDIA_BUCKET_NAME")


class MediaUrls(FunctionSettings):
    """Functions that render media URLs: the base that serves the bucket's objects."""

    media_base_url: str = Field(alias="MEDIA_BASE_URL")


class MediaApiSettings(MediaTable, MediaBucket, MediaUrls):
    """The upload endpoint is S3's own on AWS (unset); locally, the local cloud's upload endpoint."""

    media_upload_endpoint: str | None = Field(default=None, alias="MEDIA_UPLOAD_ENDPOINT")


class ProcessorSettings(MediaTable, MediaBucket):
    """Reads an upload's header and size, marks it ready or rejected, deletes rejected objects."""
