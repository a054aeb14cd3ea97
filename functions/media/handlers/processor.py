"""Lambda entry point of the upload processor: the media bucket's ObjectCreated events from SQS.

Each SQS message holds one S3 event notification (``Records``, or the ``s3:TestEvent`` S3 sends once when
the notification is configured, which is skipped). Every object it names is checked and its media marked
ready or rejected (``UploadProcessor``); a message that fails is retried alone (partial batch response)
and lands in the queue's DLQ after 5 receives. No idempotency table: the media item's status moves only
from pending (or, for an object replaced after its check, from ready to rejected, keyed by the checked
bytes' ETag), so a redelivery finds it settled and changes nothing.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from functions.core.config import load
from functions.core.consumer import QueueMessage, batch_consumer

# The domain (its models, PynamoDB, boto3, Pillow) is imported on the first invocation, inside the
# functions below: importing this module stays cheap (functions.core.entry_points).
if TYPE_CHECKING:
    from functions.media.logic import UploadProcessor


@lru_cache(maxsize=1)
def processor() -> UploadProcessor:
    from functions.media.dal import MediaObjects, MediaRepository
    from functions.media.logic import UploadProcessor
    from functions.media.settings import ProcessorSettings

    settings = load(ProcessorSettings)
    return UploadProcessor(MediaRepository(), MediaObjects(settings.media_bucket))


def created_keys(message: QueueMessage) -> list[str]:
    """The object keys of the notification's ObjectCreated records (keys arrive URL-encoded)."""
    body: dict[str, Any] = json.loads(message.body)
    if not isinstance(body, dict):
        raise ValueError(f"message {message.message_id} is not an S3 event notification")
    return [
        unquote_plus(record["s3"]["object"]["key"])
        for record in body.get("Records", [])
        if str(record.get("eventName", "")).startswith("ObjectCreated")
    ]


def _is_test_event(message: QueueMessage) -> bool:
    return '"s3:TestEvent"' in message.body and '"Records"' not in message.body


def handle(keys: list[str]) -> dict[str, str]:
    return {key: processor().object_created(key) for key in keys}


lambda_handler = batch_consumer(QueueMessage, handle, parse=created_keys, skip=_is_test_event)
