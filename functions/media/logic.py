"""Media rules: upload tickets, the check of uploaded bytes, and attaching media to tweets and avatars.
Receives its adapters (``MediaRepository``, ``MediaObjects``); builds none of them."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from ulid import ULID

from functions.core.clock import iso_millis
from functions.core.errors import NotFound, Unprocessable
from functions.core.ids import is_ulid
from functions.core.observability import logger
from functions.media.dal import MediaObjects, MediaRecord, MediaRepository, object_key
from functions.media.inspection import HEADER_BYTES, inspect
from functions.media.models import (
    MAX_BYTES,
    PENDING,
    READY,
    REJECTED,
    Media,
    MediaCreate,
    MediaRef,
    MediaUpload,
    UploadForm,
)
from functions.media.urls import media_url

UPLOAD_FORM_SECONDS = 300
"""How long an upload form is valid. The client asks for it with the file's size, so it already has the
file: the upload starts at once, and S3 checks the expiry when the request arrives (a 15 MB GIF that
takes minutes on a slow link still completes). Short, so a leaked form is soon worthless."""
ATTACHABLE_SECONDS = 24 * 3600
"""An upload not attached to a tweet or an avatar within a day is dropped (the item by TTL, the object
by the bucket's lifecycle rule, which waits longer: objects never go before their item can be used)."""


def _unprocessable(field: str, issue: str, message: str) -> Unprocessable:
    return Unprocessable(message, details=[{"field": field, "issue": issue, "message": message}])


class MediaService:
    """``POST /media`` and ``GET /media/{media_id}``."""

    def __init__(
        self, repo: MediaRepository, objects: MediaObjects, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.repo = repo
        self.objects = objects
        self.clock = clock

    def create(self, caller: str, request: MediaCreate) -> MediaUpload:
        """1 PutItem (the pending item) and a signed upload form (no call)."""
        now = self.clock()
        media_id = str(ULID.from_timestamp(now))
        key = object_key(caller, media_id)
        self.repo.create(
            MediaRecord(
                media_id=media_id,
                owner_id=caller,
                content_type=request.content_type,
                declared_size=request.size_bytes,
                object_key=key,
                status=PENDING,
                created_at=iso_millis(now),
                expires_at=int(now + ATTACHABLE_SECONDS),
            )
        )
        form = self.objects.upload_form(
            key, request.content_type, MAX_BYTES[request.content_type], UPLOAD_FORM_SECONDS
        )
        return MediaUpload(
            media_id=media_id,
            upload=UploadForm(url=form["url"], fields={k: str(v) for k, v in form["fields"].items()}),
            expires_at=_policy_expiry(form["fields"]["policy"]),
        )

    def get(self, caller: str, media_id: str) -> Media:
        """1 GetItem. Only the owner sees an upload's state: for anyone else it does not exist."""
        record = self.repo.get(media_id) if is_ulid(media_id) else None
        if record is None or record.owner_id != caller:
            raise NotFound("No such media.")
        return to_media(record)


def _policy_expiry(policy: str) -> str:
    """The policy's own expiration (signed with the signer's clock), in the API's time format."""
    expiration = str(json.loads(base64.b64decode(policy))["expiration"])
    return iso_millis(datetime.fromisoformat(expiration.replace("Z", "+00:00")).timestamp())


def to_media(record: MediaRecord) -> Media:
    return Media(
        media_id=record.media_id,
        content_type=record.content_type,
        url=media_url(record.object_key),
        status=record.status,  # type: ignore[arg-type]
    )


class UploadProcessor:
    """An uploaded object, checked: ready, or rejected and deleted. Safe to repeat for one object."""

    def __init__(self, repo: MediaRepository, objects: MediaObjects) -> None:
        self.repo = repo
        self.objects = objects

    def object_created(self, key: str) -> str:
        """1 GetItem, 1 HeadObject, 1 ranged GetObject, 1 UpdateItem (+1 DeleteObject when rejected).
        Returns the outcome (ready, rejected, unknown, or already settled). A rejected object is deleted
        before its media says ``rejected``, so a client that sees the status finds the bytes gone."""
        owner, _, media_id = key.partition("/")
        record = self.repo.get(media_id) if is_ulid(media_id) else None
        if record is None or record.object_key != key or record.owner_id != owner:
            # No upload form names this key (or its item expired): nothing may serve it.
            self.objects.delete(key)
            return "unknown"
        if record.status == REJECTED:
            self.objects.delete(key)  # a repeat after a crash between the update and the delete
            return "rejected"
        head = self.objects.head(key)
        if record.status == READY:
            if head is None or head.etag == record.etag:
                return READY  # a redelivery of the event that made it ready
            # The form was used again before it expired: the new bytes were never checked.
            self.objects.delete(key)
            self.repo.reject_replaced(record, head.etag)
            return REJECTED
        if head is None:
            # Announced but gone: deleted by an earlier delivery that failed before marking it rejected.
            self.repo.settle(record, REJECTED, reason="object_missing")
            return REJECTED
        first = self.objects.first_bytes(key, HEADER_BYTES)
        verdict = inspect(
            first,
            declared_type=record.content_type,
            declared_size=int(record.declared_size),
            actual_size=head.size,
            max_bytes=MAX_BYTES.get(record.content_type, 0),
        )
        if verdict.ok and head.content_type == record.content_type:
            self.repo.settle(
                record,
                READY,
                size_bytes=head.size,
                width=verdict.width,
                height=verdict.height,
                etag=head.etag,
            )
            return READY
        reason = verdict.reason or "content_type_mismatch"
        logger.info("upload rejected", extra={"media_id": media_id, "reason": reason})
        self.objects.delete(key)
        self.repo.settle(record, REJECTED, size_bytes=head.size, reason=reason)
        return REJECTED


class MediaAttachments:
    """The port other domains attach media through (tweets, avatars)."""

    def __init__(
        self, repo: MediaRepository, objects: MediaObjects, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.repo = repo
        self.objects = objects
        self.clock = clock

    def attachable(self, caller: str, media_ids: Sequence[str], field: str = "media_ids") -> list[MediaRef]:
        """The caller's ready, unattached media, in the order given; 422 naming the first that is not.

        1 BatchGetItem (consistent). The attaching write re-checks all of it in its own condition
        (``claim_condition``), so a race between two tweets attaches the media to one of them only."""
        if len(set(media_ids)) != len(media_ids):
            raise _unprocessable(field, "duplicate_media", "The same media is named twice.")
        found = self.repo.get_many(m for m in media_ids if is_ulid(m))
        now = self.clock()
        refs = []
        for media_id in media_ids:
            record = found.get(media_id)
            if record is None or record.owner_id != caller:
                raise _unprocessable(field, "unknown_media", f"No media {media_id} of yours exists.")
            if record.status != READY:
                issue = "media_rejected" if record.status == REJECTED else "media_not_ready"
                raise _unprocessable(field, issue, f"Media {media_id} is {record.status}, not ready.")
            if record.attached_to is not None and not field.startswith("avatar"):
                raise _unprocessable(field, "media_attached", f"Media {media_id} is already attached.")
            if record.attached_to is None and record.expires_at is not None and record.expires_at <= now:
                raise _unprocessable(field, "unknown_media", f"No media {media_id} of yours exists.")
            refs.append(MediaRef(record.media_id, record.content_type, record.object_key))
        return refs

    def keep(self, refs: Sequence[MediaRef]) -> None:
        """Retag the objects as attached (1 PutObjectTagging each), out of the lifecycle rule's reach.
        Done before the attaching write: a failure in between leaves an object kept for nothing, never
        an attached one deleted."""
        for ref in refs:
            self.objects.mark_attached(ref.object_key)

    def avatar(self, caller: str, media_id: str) -> str:
        """The URL of the caller's ready image, now held as their avatar: 1 GetItem, 1 PutObjectTagging,
        1 UpdateItem. 422 when it is not a ready image of theirs."""
        (ref,) = self.attachable(caller, [media_id], field="avatar_media_id")
        self.keep([ref])
        record = MediaRecord(media_id=ref.media_id)
        if not self.repo.attach_avatar(record, caller):
            raise _unprocessable(
                "avatar_media_id", "media_attached", f"Media {media_id} is attached elsewhere."
            )
        return media_url(ref.object_key)


class MediaRemoval:
    """A deleted tweet's media: the objects, then the items (both deletes are no-ops on a repeat)."""

    def __init__(self, repo: MediaRepository, objects: MediaObjects) -> None:
        self.repo = repo
        self.objects = objects

    def remove(self, refs: Sequence[MediaRef]) -> None:
        """1 DeleteObject per upload, then 1 BatchWriteItem (at most 4 deletes)."""
        for ref in refs:
            self.objects.delete(ref.object_key)
        self.repo.delete_many(ref.media_id for ref in refs)
