"""The upload processor, called directly with real-shaped SQS events carrying S3 notifications.

State lives in a private copy of the media table and a private bucket without notifications, so the
local cloud's pollers cannot do the processor's work first.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Chirp")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "chirp")

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.exceptions import ClientError
from ulid import ULID

from functions.core.clock import iso_millis
from functions.core.config import reload
from functions.core.retry import client
from functions.media.dal import MediaRecord, object_key
from functions.media.handlers import processor as processor_module
from functions.media.handlers.processor import lambda_handler
from infra.resources import MEDIA
from local_cloud.lambda_runtime import LocalLambdaContext
from tests.support.events import event
from tests.support.media import image_bytes
from tests.support.tables import private_copies

OWNER = "owner-0001"


@pytest.fixture
def bucket(cloud: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    suffix = uuid.uuid4().hex[:8]
    for var, name in private_copies(cloud.aws, (MEDIA,), suffix).items():
        monkeypatch.setenv(var, name)
    name = f"media-{suffix}"
    cloud.aws.client("s3").create_bucket(Bucket=name)
    monkeypatch.setenv("MEDIA_BUCKET_NAME", name)
    reload()
    processor_module.processor.cache_clear()
    yield name
    reload()
    processor_module.processor.cache_clear()


def pending(
    bucket: str, cloud: Any, data: bytes | None, content_type: str = "image/png", declared: int | None = None
) -> MediaRecord:
    media_id = str(ULID())
    record = MediaRecord(
        media_id=media_id,
        owner_id=OWNER,
        content_type=content_type,
        declared_size=declared if declared is not None else len(data or b"x"),
        object_key=object_key(OWNER, media_id),
        created_at=iso_millis(),
    )
    record.save()
    if data is not None:
        cloud.aws.client("s3").put_object(
            Bucket=bucket, Key=record.object_key, Body=data, ContentType=content_type
        )
    return record


def sqs_event(*bodies: str) -> dict[str, Any]:
    template = event("media_object_created_sqs_event.json")["Records"][0]
    records = []
    for i, body in enumerate(bodies):
        record = json.loads(json.dumps(template))
        record["messageId"] = f"message-{i}"
        record["body"] = body
        records.append(record)
    return {"Records": records}


def created(*keys: str) -> str:
    notification = json.loads(event("media_object_created_sqs_event.json")["Records"][0]["body"])
    template = notification["Records"][0]
    records = []
    for key in keys:
        record = json.loads(json.dumps(template))
        record["s3"]["object"]["key"] = key.replace("/", "%2F")  # keys arrive URL-encoded
        records.append(record)
    return json.dumps({"Records": records})


def run(ev: dict[str, Any]) -> list[str]:
    result = lambda_handler(ev, LocalLambdaContext("media-processor"))
    return [failure["itemIdentifier"] for failure in result["batchItemFailures"]]


def exists(cloud: Any, bucket: str, key: str) -> bool:
    try:
        cloud.aws.client("s3").head_object(Bucket=bucket, Key=key)
    except Exception:
        return False
    return True


def test_a_real_image_becomes_ready_with_its_dimensions_and_a_redelivery_changes_nothing(
    cloud: Any, bucket: str
) -> None:
    record = pending(bucket, cloud, image_bytes("image/png", (30, 20)))
    ev = sqs_event(created(record.object_key))

    assert run(ev) == []
    first = MediaRecord.get(record.media_id, consistent_read=True)
    assert run(ev) == []  # the same message again, as SQS may deliver it

    again = MediaRecord.get(record.media_id, consistent_read=True)
    assert (first.status, first.width, first.height) == ("ready", 30, 20)
    assert again.attribute_values == first.attribute_values
    assert exists(cloud, bucket, record.object_key)


def test_a_mismatched_file_is_rejected_its_object_deleted_and_a_redelivery_is_harmless(
    cloud: Any, bucket: str
) -> None:
    record = pending(bucket, cloud, image_bytes("image/gif"), content_type="image/png")
    ev = sqs_event(created(record.object_key))

    assert run(ev) == []
    assert run(ev) == []

    stored = MediaRecord.get(record.media_id, consistent_read=True)
    assert (stored.status, stored.reason) == ("rejected", "type_mismatch")
    assert not exists(cloud, bucket, record.object_key)


def test_a_file_larger_than_declared_is_rejected(cloud: Any, bucket: str) -> None:
    data = image_bytes()
    record = pending(bucket, cloud, data, declared=len(data) - 1)

    assert run(sqs_event(created(record.object_key))) == []

    assert MediaRecord.get(record.media_id, consistent_read=True).reason == "larger_than_declared"
    assert not exists(cloud, bucket, record.object_key)


def test_an_object_no_upload_form_named_is_deleted(cloud: Any, bucket: str) -> None:
    key = f"{OWNER}/{ULID()}"
    cloud.aws.client("s3").put_object(Bucket=bucket, Key=key, Body=b"stray")

    assert run(sqs_event(created(key))) == []

    assert not exists(cloud, bucket, key)


def test_only_the_failing_message_of_a_batch_is_reported_and_the_rest_stands(cloud: Any, bucket: str) -> None:
    good = pending(bucket, cloud, image_bytes())
    missing = pending(bucket, cloud, None)  # announced, but deleted before it was marked: rejected
    ev = sqs_event(created(good.object_key), "not json", created(missing.object_key))

    failures = run(ev)

    assert failures == ["message-1"]
    assert MediaRecord.get(good.media_id, consistent_read=True).status == "ready"
    assert MediaRecord.get(missing.media_id, consistent_read=True).reason == "object_missing"


def test_a_storage_failure_fails_its_message_for_a_retry(
    cloud: Any, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = pending(bucket, cloud, image_bytes())
    good = pending(bucket, cloud, image_bytes())
    failing_key = record.object_key

    def unavailable(params: dict[str, Any], **_: Any) -> None:
        if params.get("Key") == failing_key:
            error = {"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}
            raise ClientError(error, "HeadObject")

    events = client("s3").meta.events
    events.register("before-parameter-build.s3.HeadObject", unavailable)
    try:
        assert run(sqs_event(created(record.object_key), created(good.object_key))) == ["message-0"]
        with pytest.raises(BatchProcessingError):  # every record failed: the whole batch is retried
            run(sqs_event(created(record.object_key)))
    finally:
        events.unregister("before-parameter-build.s3.HeadObject", unavailable)

    assert MediaRecord.get(good.media_id, consistent_read=True).status == "ready"
    assert MediaRecord.get(record.media_id, consistent_read=True).status == "pending", (
        "retried later, unchanged"
    )


def test_the_test_event_s3_sends_when_notifications_are_configured_is_skipped(
    cloud: Any, bucket: str
) -> None:
    body = json.dumps(
        {
            "Service": "Amazon S3",
            "Event": "s3:TestEvent",
            "Time": "2026-12-02T14:29:33.613Z",
            "Bucket": bucket,
        }
    )

    assert run(sqs_event(body)) == []


def test_bytes_that_replace_a_checked_image_are_rejected_and_deleted(cloud: Any, bucket: str) -> None:
    record = pending(bucket, cloud, image_bytes())
    assert run(sqs_event(created(record.object_key))) == []
    # The upload form is still valid: the same key is posted again, with bytes nobody checked.
    cloud.aws.client("s3").put_object(
        Bucket=bucket, Key=record.object_key, Body=b"<script>", ContentType="image/png"
    )

    assert run(sqs_event(created(record.object_key))) == []
    assert run(sqs_event(created(record.object_key))) == []  # and again: still rejected, nothing left

    stored = MediaRecord.get(record.media_id, consistent_read=True)
    assert (stored.status, stored.reason) == ("rejected", "replaced_after_check")
    assert not exists(cloud, bucket, record.object_key)
