"""HTTP routes of the media domain: parse, call logic, shape the response. Nothing else."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body

from functions.core.config import load
from functions.core.identity import caller_id
from functions.media.dal import MediaObjects, MediaRepository
from functions.media.logic import MediaService
from functions.media.models import Media, MediaCreate, MediaUpload
from functions.media.settings import MediaApiSettings

router = Router()


@lru_cache(maxsize=1)
def service() -> MediaService:
    settings = load(MediaApiSettings)
    return MediaService(
        MediaRepository(), MediaObjects(settings.media_bucket, settings.media_upload_endpoint)
    )


@router.post(
    "/media",
    tags=["media"],
    summary="Start an image upload: a presigned HTML-form POST",
    description=(
        "Returns `upload.url` and `upload.fields`: POST the fields, in order, then the file as the last "
        "field `file`, as multipart/form-data (`curl -F`), within 5 minutes (`expires_at`). The form's "
        "policy binds the key, the Content-Type and a size of 1 byte up to the type's limit; the storage "
        "refuses anything else (403 AccessDenied, 400 EntityTooLarge). The media is `pending` until its "
        "bytes are checked (real type from the first bytes, size no larger than declared, dimensions at "
        "most 10,000 px a side and 40 megapixels), then `ready` or `rejected` (the file is deleted)."
    ),
    status_code=201,
)
def create_media(request: Annotated[MediaCreate, Body()]) -> Response[MediaUpload]:
    upload = service().create(caller_id(router.current_event), request)
    return Response(status_code=201, content_type="application/json", body=upload)


@router.get("/media/<media_id>", tags=["media"], summary="An upload of yours and its state")
def get_media(media_id: str) -> Media:
    return service().get(caller_id(router.current_event), media_id)
