"""The upload form POST /media hands out: its policy decoded, condition by condition."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from functions.media.dal import UNATTACHED_TAGGING, MediaObjects, MediaRecord
from functions.media.logic import UPLOAD_FORM_SECONDS, MediaService
from functions.media.models import MAX_BYTES, MediaCreate
from local_cloud.uploads import policy_signature

NOW = time.time()


class Repo:
    def __init__(self) -> None:
        self.created: list[MediaRecord] = []

    def create(self, record: MediaRecord) -> None:
        self.created.append(record)


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("MEDIA_BASE_URL", "https://cdn.example")


def create(content_type: str = "image/png", size: int = 1000) -> tuple[Any, MediaRecord]:
    global NOW
    NOW = time.time()
    repo = Repo()
    # botocore signs the policy's expiration with the wall clock: the service's clock is the same one.
    service = MediaService(repo, MediaObjects("media", "http://127.0.0.1:3000/s3"), clock=lambda: NOW)  # type: ignore[arg-type]
    upload = service.create("user-1", MediaCreate(content_type=content_type, size_bytes=size))  # type: ignore[arg-type]
    return upload, repo.created[0]


def policy_of(upload: Any) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(base64.b64decode(upload.upload.fields["policy"]))
    return decoded


@pytest.mark.parametrize("content_type", sorted(MAX_BYTES))
def test_the_policy_binds_bucket_key_type_size_range_and_tag(content_type: str) -> None:
    upload, record = create(content_type)

    conditions = policy_of(upload)["conditions"]

    assert {"bucket": "media"} in conditions
    assert {"key": f"user-1/{upload.media_id}"} in conditions
    assert {"Content-Type": content_type} in conditions
    assert ["content-length-range", 1, MAX_BYTES[content_type]] in conditions
    assert {"tagging": UNATTACHED_TAGGING} in conditions
    assert {"x-amz-algorithm": "AWS4-HMAC-SHA256"} in conditions
    assert record.object_key == upload.upload.fields["key"] == f"user-1/{upload.media_id}"
    assert record.status == "pending" and record.declared_size == 1000


def test_the_policy_expires_five_minutes_after_it_is_issued() -> None:
    upload, record = create()

    expiration = datetime.strptime(policy_of(upload)["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)

    assert expiration.timestamp() == pytest.approx(NOW + UPLOAD_FORM_SECONDS, abs=1)
    assert upload.expires_at.startswith(expiration.strftime("%Y-%m-%dT%H:%M:%S"))
    assert record.expires_at == int(NOW + 24 * 3600), "unattached uploads go after a day"


def test_the_form_is_signed_sigv4_for_the_local_upload_endpoint() -> None:
    upload, _ = create()
    fields = upload.upload.fields

    assert upload.upload.url == "http://127.0.0.1:3000/s3/media"
    assert fields["x-amz-credential"].startswith("local/") and fields["x-amz-credential"].endswith(
        "/us-east-1/s3/aws4_request"
    )
    assert fields["x-amz-signature"] == policy_signature(
        "local", fields["x-amz-credential"], fields["policy"]
    )


def test_every_field_of_the_form_is_bound_by_a_condition() -> None:
    upload, _ = create()
    conditions = policy_of(upload)["conditions"]
    bound = {name.lower() for c in conditions if isinstance(c, dict) for name in c}

    assert {n.lower() for n in upload.upload.fields} - {"policy", "x-amz-signature"} <= bound


@pytest.mark.parametrize(
    ("content_type", "size"),
    [("image/png", 0), ("image/png", MAX_BYTES["image/png"] + 1), ("image/gif", MAX_BYTES["image/gif"] + 1)],
)
def test_sizes_outside_the_limits_are_refused_before_any_call(content_type: str, size: int) -> None:
    with pytest.raises(ValueError, match="size_bytes"):
        MediaCreate(content_type=content_type, size_bytes=size)  # type: ignore[arg-type]
