"""Data access of the media domain: the ``media`` table and the media bucket. The only module that
talks to DynamoDB or S3 for media.

Table ``media`` (key declared once in ``infra/resources.py``): one item per upload, ``media_id`` (a
ULID). ``status`` moves once, from ``pending`` to ``ready`` or ``rejected`` (conditional writes, so a
redelivered event changes nothing). ``expires_at`` (TTL) drops uploads never attached; attaching an item
(``attached_to`` = a tweet id or ``avatar#<user_id>``) removes it.

Bucket: objects at ``<owner_id>/<media_id>``, uploaded by the client with a presigned POST whose policy
binds key, type, size range and the ``attached=false`` tag; attaching retags them (the bucket's lifecycle
rule deletes objects still tagged unattached).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from functions.core.config import REGION, FromEnv
from functions.core.retry import client
from functions.core.transactions import Transaction, is_condition_failure
from functions.media.models import PENDING, READY, REJECTED

UNATTACHED_TAG = ("attached", "false")
ATTACHED_TAG = ("attached", "true")
"""The object tag of an upload until it is attached, and after (``Bucket.unattached_tag``)."""


class MediaRecord(Model):
    class Meta:
        table_name = FromEnv("MEDIA_TABLE_NAME")
        region = REGION

    media_id = UnicodeAttribute(hash_key=True)
    owner_id = UnicodeAttribute()
    content_type = UnicodeAttribute()
    declared_size = NumberAttribute()
    object_key = UnicodeAttribute()
    status = UnicodeAttribute(default=PENDING)
    created_at = UnicodeAttribute()
    expires_at = NumberAttribute(null=True)
    attached_to = UnicodeAttribute(null=True)
    size_bytes = NumberAttribute(null=True)
    width = NumberAttribute(null=True)
    height = NumberAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    etag = UnicodeAttribute(null=True)
    """The ETag of the bytes that were checked: an upload form stays usable until it expires, so the
    object may be replaced after its check (a new ObjectCreated with another ETag)."""


def object_key(owner_id: str, media_id: str) -> str:
    """Every upload lives under its owner's prefix."""
    return f"{owner_id}/{media_id}"


def _tagging(tag: tuple[str, str]) -> str:
    return f"<Tagging><TagSet><Tag><Key>{tag[0]}</Key><Value>{tag[1]}</Value></Tag></TagSet></Tagging>"


UNATTACHED_TAGGING = _tagging(UNATTACHED_TAG)
"""The ``tagging`` field of an upload form (the policy requires exactly this value)."""


def claim(tx: Transaction, label: str, media_id: str, owner_id: str, holder: str) -> None:
    """Add to ``tx`` the attachment of ``media_id`` to ``holder`` (a tweet id): only the owner's ready
    media, not attached yet; it stops expiring. Two tweets racing for one upload: one transaction wins."""
    condition = (
        (MediaRecord.owner_id == owner_id)
        & (MediaRecord.status == READY)
        & MediaRecord.attached_to.does_not_exist()
    )
    actions: list[Action] = [MediaRecord.attached_to.set(holder), MediaRecord.expires_at.remove()]
    tx.update(label, MediaRecord(media_id=media_id), actions, condition)


class MediaRepository:
    """Every DynamoDB call on the media table goes through here."""

    def create(self, record: MediaRecord) -> None:
        """1 PutItem (the id is new: a ULID)."""
        record.save(MediaRecord.media_id.does_not_exist())

    def get(self, media_id: str) -> MediaRecord | None:
        """1 GetItem (consistent)."""
        try:
            return MediaRecord.get(media_id, consistent_read=True)
        except DoesNotExist:
            return None

    def get_many(self, media_ids: Iterable[str]) -> dict[str, MediaRecord]:
        """1 BatchGetItem (consistent) for up to 100 ids."""
        ids = set(media_ids)
        if not ids:
            return {}
        return {r.media_id: r for r in MediaRecord.batch_get(ids, consistent_read=True)}

    def settle(self, record: MediaRecord, status: str, **values: Any) -> bool:
        """1 UpdateItem: ``pending`` -> ``status`` with ``values``; False when it was no longer pending
        (another delivery of the same event settled it first)."""
        assert status in (READY, REJECTED)
        actions: list[Action] = [MediaRecord.status.set(status)]
        actions += [getattr(MediaRecord, name).set(value) for name, value in values.items()]
        try:
            record.update(actions=actions, condition=MediaRecord.status == PENDING)
        except UpdateError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def reject_replaced(self, record: MediaRecord, etag: str) -> bool:
        """1 UpdateItem: a ready item whose object was replaced by unchecked bytes (ETag ``etag``) is
        rejected, whatever holds it (the bytes are deleted: a tweet or avatar showing it shows nothing).
        False when it was no longer ready (a concurrent delivery rejected it first)."""
        try:
            record.update(
                actions=[MediaRecord.status.set(REJECTED), MediaRecord.reason.set("replaced_after_check")],
                condition=(MediaRecord.status == READY) & (MediaRecord.etag != etag),
            )
        except UpdateError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def attach_avatar(self, record: MediaRecord, user_id: str) -> bool:
        """1 UpdateItem: hold the caller's ready image as their avatar (no longer expiring); False when
        it is not (any more) a ready image of theirs free to attach."""
        holder = f"avatar#{user_id}"
        condition = (
            (MediaRecord.owner_id == user_id)
            & (MediaRecord.status == READY)
            & (MediaRecord.attached_to.does_not_exist() | (MediaRecord.attached_to == holder))
        )
        try:
            actions: list[Action] = [MediaRecord.attached_to.set(holder), MediaRecord.expires_at.remove()]
            record.update(actions=actions, condition=condition)
        except UpdateError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def delete_many(self, media_ids: Iterable[str]) -> None:
        """1 BatchWriteItem per 25 ids (a deleted tweet's media); deleting what is gone is a no-op."""
        with MediaRecord.batch_write() as batch:
            for media_id in set(media_ids):
                batch.delete(MediaRecord(media_id=media_id))


@dataclass(frozen=True)
class ObjectHead:
    size: int
    content_type: str
    etag: str


class MediaObjects:
    """The media bucket's objects: upload forms (signed, no call), heads, first bytes, tags, deletes."""

    def __init__(self, bucket: str, upload_endpoint: str | None = None) -> None:
        self.bucket = bucket
        self.upload_endpoint = upload_endpoint

    def upload_form(self, key: str, content_type: str, max_bytes: int, expires_in: int) -> dict[str, Any]:
        """A presigned POST (SigV4, no AWS call) whose policy binds the bucket, the exact key, the exact
        Content-Type, ``content-length-range`` 1..max_bytes, the unattached tag and the expiry."""
        fields = {"Content-Type": content_type, "tagging": UNATTACHED_TAGGING}
        conditions: list[Any] = [
            {"Content-Type": content_type},
            {"tagging": UNATTACHED_TAGGING},
            ["content-length-range", 1, max_bytes],
        ]
        result: dict[str, Any] = _presigner(self.upload_endpoint).generate_presigned_post(
            self.bucket, key, Fields=fields, Conditions=conditions, ExpiresIn=expires_in
        )
        return result

    def head(self, key: str) -> ObjectHead | None:
        """1 HeadObject; None when the object is gone."""
        from botocore.exceptions import ClientError

        try:
            response = client("s3").head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return ObjectHead(
            int(response["ContentLength"]),
            str(response.get("ContentType", "")),
            str(response.get("ETag", "")),
        )

    def first_bytes(self, key: str, count: int) -> bytes:
        """1 ranged GetObject: at most the first ``count`` bytes."""
        response = client("s3").get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{count - 1}")
        body: bytes = response["Body"].read()
        return body

    def delete(self, key: str) -> None:
        """1 DeleteObject (deleting a missing key succeeds, as on S3)."""
        client("s3").delete_object(Bucket=self.bucket, Key=key)

    def mark_attached(self, key: str) -> None:
        """1 PutObjectTagging: out of reach of the lifecycle rule that deletes unattached uploads."""
        tag_set = [{"Key": ATTACHED_TAG[0], "Value": ATTACHED_TAG[1]}]
        client("s3").put_object_tagging(Bucket=self.bucket, Key=key, Tagging={"TagSet": tag_set})


@lru_cache(maxsize=4)
def _presigner(endpoint: str | None) -> Any:
    """The client that signs upload forms: SigV4 (S3 refuses SigV2 policies in newer regions), path
    style for a local endpoint. Signing makes no call, so the endpoint only shapes the form's URL."""
    import boto3
    from botocore.config import Config

    style = "path" if endpoint else "virtual"
    config = Config(signature_version="s3v4", s3={"addressing_style": style})
    return boto3.client("s3", endpoint_url=endpoint, config=config)
