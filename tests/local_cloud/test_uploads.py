"""The local cloud's S3 front: presigned POST policies enforced as S3 enforces them (moto does not),
with S3's status codes and XML errors, and the CDN that serves only what it may."""

from __future__ import annotations

import base64
import io
import time
from typing import Any

import boto3
import pytest
from botocore.config import Config
from werkzeug.test import Client
from werkzeug.wrappers import Request

from infra.resources import Bucket, ServiceSpec
from local_cloud.aws import LocalAws
from local_cloud.uploads import StorageFront

BUCKET = "uploads-test"
KEY = "user-1/01KQ8Z5Y3M0000000000000000"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100


@pytest.fixture(scope="module")
def s3(aws: LocalAws) -> Any:
    client = aws.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def front(s3: Any, *, clock: float | None = None, servable: bool = True, may_put: bool = True) -> Client:
    store = StorageFront(
        ServiceSpec(
            tables=(), queues=(), buckets=(Bucket(BUCKET, "B"),), functions=(), routes=(), mappings=()
        ),
        s3,
        secrets={"local": "local"}.get,
        servable=lambda bucket, key: servable,
        authorise=lambda signer, bucket, key: may_put and signer == "local",
        clock=(lambda: clock) if clock is not None else time.time,
    )
    return Client(lambda environ, start: store.dispatch(Request(environ))(environ, start))


def form(
    expires_in: int = 300, key: str = KEY, secret: str = "local", max_bytes: int = 1000
) -> dict[str, Any]:
    signer = boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url="http://localhost/s3",
        aws_access_key_id="local",
        aws_secret_access_key=secret,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    tagging = "<Tagging><TagSet><Tag><Key>attached</Key><Value>false</Value></Tag></TagSet></Tagging>"
    result: dict[str, Any] = signer.generate_presigned_post(
        BUCKET,
        key,
        Fields={"Content-Type": "image/png", "tagging": tagging},
        Conditions=[
            {"Content-Type": "image/png"},
            {"tagging": tagging},
            ["content-length-range", 1, max_bytes],
        ],
        ExpiresIn=expires_in,
    )
    return result


def post(
    client: Client, signed: dict[str, Any], data: bytes = PNG, path: str | None = None, **changes: str
) -> Any:
    fields: dict[str, Any] = {**signed["fields"], **changes}
    fields["file"] = (io.BytesIO(data), "a.png")
    return client.post(path or f"/s3/{BUCKET}", data=fields, content_type="multipart/form-data")


def error_code(response: Any) -> str:
    assert response.headers["Content-Type"] == "application/xml"
    text = response.get_data(as_text=True)
    return text.split("<Code>", 1)[1].split("</Code>", 1)[0]


def test_a_valid_form_stores_the_object_with_its_type_and_tag(s3: Any) -> None:
    response = post(front(s3), form())

    assert response.status_code == 204
    stored = s3.get_object(Bucket=BUCKET, Key=KEY)
    assert stored["Body"].read() == PNG and stored["ContentType"] == "image/png"
    assert s3.get_object_tagging(Bucket=BUCKET, Key=KEY)["TagSet"] == [{"Key": "attached", "Value": "false"}]


def test_a_field_the_policy_does_not_bind_is_refused(s3: Any) -> None:
    signed = form()
    signed["fields"]["success_action_status"] = "201"
    # The field must be in the policy too: unbound fields are refused.
    assert error_code(post(front(s3), signed)) == "AccessDenied"


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("expired", 403, "AccessDenied"),
        ("expired_by_the_clock", 403, "AccessDenied"),
        ("tampered_policy", 403, "SignatureDoesNotMatch"),
        ("bad_signature", 403, "SignatureDoesNotMatch"),
        ("wrong_secret", 403, "SignatureDoesNotMatch"),
        ("unknown_access_key", 403, "AccessDenied"),
        ("oversize", 400, "EntityTooLarge"),
        ("empty", 400, "EntityTooSmall"),
        ("wrong_type", 403, "AccessDenied"),
        ("wrong_key", 403, "AccessDenied"),
        ("extra_field", 403, "AccessDenied"),
        ("no_policy", 403, "AccessDenied"),
        ("unknown_bucket", 404, "NoSuchBucket"),
    ],
)
def test_a_broken_upload_is_refused_as_s3_refuses_it(s3: Any, case: str, status: int, code: str) -> None:
    key = f"user-1/{case}"
    client = front(s3, clock=time.time() + 301) if case == "expired_by_the_clock" else front(s3)
    signed = form(
        expires_in=-60 if case == "expired" else 300,
        key=key,
        secret="other" if case == "wrong_secret" else "local",
    )
    fields = signed["fields"]
    changes: dict[str, str] = {}
    data = PNG
    path = None
    if case == "tampered_policy":
        changes["policy"] = base64.b64encode(
            base64.b64decode(fields["policy"]).replace(b"1000", b"9999")
        ).decode()
    elif case == "bad_signature":
        changes["x-amz-signature"] = "0" * 64
    elif case == "unknown_access_key":
        changes["x-amz-credential"] = fields["x-amz-credential"].replace("local/", "AKIAOTHER/")
    elif case == "oversize":
        data = b"x" * 1001
    elif case == "empty":
        data = b""
    elif case == "wrong_type":
        changes["Content-Type"] = "image/gif"
    elif case == "wrong_key":
        changes["key"] = "user-2/theirs"
    elif case == "extra_field":
        changes["acl"] = "public-read"
    elif case == "no_policy":
        fields.pop("policy")
    elif case == "unknown_bucket":
        path = "/s3/another-bucket"

    response = post(client, signed, data, path, **changes)

    assert (response.status_code, error_code(response)) == (status, code), response.get_data(as_text=True)
    with pytest.raises(s3.exceptions.ClientError):
        s3.head_object(Bucket=BUCKET, Key=key)


def test_expiry_and_condition_messages_say_what_s3_says(s3: Any) -> None:
    expired = post(front(s3), form(expires_in=-60)).get_data(as_text=True)
    wrong = post(front(s3), form(), **{"Content-Type": "image/gif"}).get_data(as_text=True)

    assert "Invalid according to Policy: Policy expired." in expired
    assert 'Policy Condition failed: ["eq", "$Content-Type", "image/png"]' in wrong


def test_a_body_that_is_not_a_form_is_refused(s3: Any) -> None:
    response = front(s3).post(f"/s3/{BUCKET}", data=b"{}", content_type="application/json")

    assert (response.status_code, error_code(response)) == (412, "PreconditionFailed")


def test_the_cdn_serves_bytes_with_their_type_only_when_servable(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="user-1/served", Body=PNG, ContentType="image/png")

    served = front(s3).get(f"/cdn/{BUCKET}/user-1/served")
    hidden = front(s3, servable=False).get(f"/cdn/{BUCKET}/user-1/served")
    missing = front(s3).get(f"/cdn/{BUCKET}/user-1/nothing")
    written = front(s3).put(f"/cdn/{BUCKET}/user-1/served", data=b"x")

    assert served.status_code == 200 and served.data == PNG
    assert served.headers["Content-Type"] == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert (hidden.status_code, missing.status_code, written.status_code) == (404, 404, 405)


def test_browsers_may_upload_and_read_from_any_page_as_the_buckets_cors_rule_allows(s3: Any) -> None:
    preflight = front(s3).options(f"/s3/{BUCKET}", headers={"Origin": "https://app.example"})
    uploaded = post(front(s3), form(key="user-1/cors"))

    assert preflight.status_code == 200
    for response in (preflight, uploaded):
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "POST" in response.headers["Access-Control-Allow-Methods"]


def test_a_form_whose_signer_may_not_put_the_key_is_refused(s3: Any) -> None:
    response = post(front(s3, may_put=False), form(key="user-1/unauthorised"))

    assert (response.status_code, error_code(response)) == (403, "AccessDenied")
    with pytest.raises(s3.exceptions.ClientError):
        s3.head_object(Bucket=BUCKET, Key="user-1/unauthorised")
