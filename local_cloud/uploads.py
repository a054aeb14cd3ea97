"""The local cloud's S3 front: browser uploads by presigned POST, and the CDN that serves media.

moto stores an HTML-form POST without checking its policy, so uploads go here instead (the media
functions' ``MEDIA_UPLOAD_ENDPOINT``). ``StorageFront`` does what S3 does with such a POST
(``multipart/form-data``, as ``curl -F`` sends it), with S3's status codes and XML errors:

- the SigV4 signature of the policy, with the secret of the access key that signed it (each function
  process runs with an access key of its own, ``LocalCloud.function_environment``): 403
  ``SignatureDoesNotMatch``; and, as S3 authorises the POST as the signer's ``s3:PutObject``, that the
  signing function's grants allow it on the key (403 ``AccessDenied``);
- the policy (base64 JSON): its expiration (403 ``AccessDenied``, "Policy expired"), each condition
  (exact match, ``eq``, ``starts-with``, ``content-length-range``) against the form's fields and the
  file (403 ``AccessDenied`` "Policy Condition failed", 400 ``EntityTooSmall`` / ``EntityTooLarge``),
  and no form field left uncovered by a condition (403 "Extra input fields");
- then stores the object in moto with the form's Content-Type and tagging, and moto sends the bucket's
  ObjectCreated notification to its queue, as S3 does (204, or ``success_action_status``).

The CDN (CloudFront in front of the private bucket on AWS) is ``GET /cdn/<bucket>/<key>``: read-only,
the object's bytes with its Content-Type, and only for media that the processor marked ready.

Hand-written because no library verifies POST policies server-side (botocore only signs them); the
SigV4 key derivation is the documented four HMAC steps.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
import uuid
from calendar import timegm
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from botocore.exceptions import ClientError
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from infra.resources import ServiceSpec

UPLOAD_PREFIX = "/s3"
"""Uploads: ``POST /s3/<bucket>`` (the presigned POST's URL, path style)."""
CDN_PREFIX = "/cdn"
"""Serving: ``GET /cdn/<bucket>/<key>`` (the bucket's ``public_url_env_var`` base)."""
MAX_UPLOAD_BYTES = 16 * 1024 * 1024
"""The largest form body read at all (the biggest limit, 15 MB GIFs, plus the fields)."""
_ALWAYS_ALLOWED_FIELDS = {"policy", "x-amz-signature", "file"}
_ISO_EXPIRATION = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?Z$")

Secrets = Callable[[str], str | None]
"""Access key id -> its secret access key (None: unknown key)."""
Servable = Callable[[str, str], bool]
"""(bucket, key) -> whether the CDN may serve the object."""
Authorise = Callable[[str, str, str], bool]
"""(access key id, bucket, key) -> whether the form's signer may s3:PutObject the key."""


class S3Error(Exception):
    """An answer S3 gives to a broken upload: status, code and message, as XML."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> Response:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{self.code}</Code><Message>{escape(self.message)}</Message>"
            f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>"
        )
        return Response(body, status=self.status, content_type="application/xml")


def _denied(message: str) -> S3Error:
    return S3Error(403, "AccessDenied", message)


def signing_key(secret: str, date: str, region: str, service: str = "s3") -> bytes:
    """SigV4: kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")."""
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def policy_signature(secret: str, credential: str, policy_b64: str) -> str:
    """The x-amz-signature of a POST policy signed with ``credential`` (``AKID/date/region/s3/...``)."""
    _, date, region, service, _ = credential.split("/")
    return hmac.new(
        signing_key(secret, date, region, service), policy_b64.encode(), hashlib.sha256
    ).hexdigest()


def _expiration_epoch(value: Any) -> float:
    match = _ISO_EXPIRATION.match(str(value))
    if match is None:
        raise S3Error(400, "InvalidPolicyDocument", "Invalid Policy: Invalid 'expiration' value.")
    year, month, day, hour, minute, second = (int(g) for g in match.groups())
    return float(timegm((year, month, day, hour, minute, second, 0, 0, 0)))


@dataclass
class _Form:
    bucket: str
    fields: dict[str, str]
    """Lower-cased field names (S3 matches them ignoring case), the bucket added as ``bucket``."""
    file: bytes


class StorageFront:
    """The upload endpoint and the CDN of the spec's buckets, in front of moto."""

    def __init__(
        self,
        spec: ServiceSpec,
        s3: Any,
        *,
        secrets: Secrets,
        servable: Servable,
        authorise: Authorise | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``s3``: the local cloud's own S3 client (it acts as the service)."""
        self.buckets = {b.logical_id for b in spec.buckets}
        self.s3 = s3
        self.secrets = secrets
        self.servable = servable
        self.authorise = authorise
        self.clock = clock

    @staticmethod
    def handles(path: str) -> bool:
        return path.startswith((UPLOAD_PREFIX + "/", CDN_PREFIX + "/"))

    def dispatch(self, request: Request) -> Response:
        try:
            if request.method == "OPTIONS":
                response = Response(status=200)  # a browser's preflight, answered as the buckets' CORS rule
            elif request.path.startswith(UPLOAD_PREFIX + "/") and request.method == "POST":
                response = self.upload(request)
            elif request.path.startswith(CDN_PREFIX + "/") and request.method in ("GET", "HEAD"):
                response = self.serve(request)
            else:
                raise S3Error(
                    405, "MethodNotAllowed", "The specified method is not allowed against this resource."
                )
        except S3Error as error:
            response = error.response()
        # The buckets' CORS rule (local_cloud.provision.BUCKET_CORS): browsers upload and read from any page.
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Allow-Methods"] = "POST, GET"
        response.headers["Access-Control-Allow-Headers"] = "*"
        response.headers["Access-Control-Expose-Headers"] = "ETag"
        return response

    # -- uploads -----------------------------------------------------------------------------------
    def upload(self, request: Request) -> Response:
        form = self._form(request)
        policy = self._verified_policy(form)
        self._check_policy(policy, form)
        key = form.fields["key"]
        signer = form.fields["x-amz-credential"].split("/", 1)[0]
        if self.authorise is not None and not self.authorise(signer, form.bucket, key):
            raise _denied("Access Denied")  # S3 authorises the POST as the signer's s3:PutObject
        put: dict[str, Any] = {"Bucket": form.bucket, "Key": key, "Body": form.file}
        if "content-type" in form.fields:
            put["ContentType"] = form.fields["content-type"]
        if "tagging" in form.fields:
            put["Tagging"] = _tagging_query(form.fields["tagging"])
        stored = self.s3.put_object(**put)
        status = form.fields.get("success_action_status", "204")
        location = f"{request.host_url.rstrip('/')}{UPLOAD_PREFIX}/{form.bucket}/{quote(key)}"
        headers = {"ETag": stored.get("ETag", ""), "Location": location}
        if status == "201":
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse>'
                f"<Location>{escape(location)}</Location><Bucket>{escape(form.bucket)}</Bucket>"
                f"<Key>{escape(key)}</Key><ETag>{escape(headers['ETag'])}</ETag></PostResponse>"
            )
            return Response(body, status=201, content_type="application/xml", headers=headers)
        return Response(status=200 if status == "200" else 204, headers=headers)

    def _form(self, request: Request) -> _Form:
        bucket = request.path[len(UPLOAD_PREFIX) + 1 :].strip("/")
        if bucket not in self.buckets:
            raise S3Error(404, "NoSuchBucket", "The specified bucket does not exist.")
        if (request.content_length or 0) > MAX_UPLOAD_BYTES:
            raise S3Error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
        if request.mimetype != "multipart/form-data":
            raise S3Error(
                412, "PreconditionFailed", "Bucket POST must be of the enclosure-type multipart/form-data"
            )
        request.max_content_length = MAX_UPLOAD_BYTES
        request.max_form_memory_size = 64 * 1024
        try:
            fields = {name.lower(): value for name, value in request.form.items()}
            upload = request.files.get("file")
            if upload is None:
                raise S3Error(400, "InvalidArgument", "POST requires exactly one file upload per request.")
            data = upload.read()
        except RequestEntityTooLarge:
            raise S3Error(
                400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size"
            ) from None
        if "key" not in fields:
            raise S3Error(400, "InvalidArgument", "Bucket POST must contain a field named 'key'.")
        fields["bucket"] = bucket
        return _Form(bucket, fields, data)

    def _verified_policy(self, form: _Form) -> dict[str, Any]:
        fields = form.fields
        if "policy" not in fields or "x-amz-signature" not in fields:
            raise _denied("Access Denied")  # an anonymous upload to a private bucket
        if fields.get("x-amz-algorithm") != "AWS4-HMAC-SHA256":
            raise S3Error(400, "InvalidArgument", "Only AWS4-HMAC-SHA256 is supported as x-amz-algorithm.")
        credential = fields.get("x-amz-credential", "")
        parts = credential.split("/")
        if len(parts) != 5 or parts[3] != "s3" or parts[4] != "aws4_request":
            raise S3Error(400, "InvalidArgument", "Invalid x-amz-credential.")
        secret = self.secrets(parts[0])
        if secret is None:
            raise _denied("The AWS Access Key Id you provided does not exist in our records.")
        expected = policy_signature(secret, credential, fields["policy"])
        if not hmac.compare_digest(expected, fields["x-amz-signature"].lower()):
            raise S3Error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. "
                "Check your key and signing method.",
            )
        try:
            policy = json.loads(base64.b64decode(fields["policy"], validate=True))
        except (binascii.Error, ValueError):
            raise S3Error(400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON.") from None
        if not isinstance(policy, dict) or not isinstance(policy.get("conditions"), list):
            raise S3Error(400, "InvalidPolicyDocument", "Invalid Policy: Policy missing conditions.")
        if self.clock() >= _expiration_epoch(policy.get("expiration")):
            raise _denied("Invalid according to Policy: Policy expired.")
        return policy

    def _check_policy(self, policy: dict[str, Any], form: _Form) -> None:
        covered: set[str] = set()
        size_range: tuple[int, int] | None = None
        for condition in policy["conditions"]:
            if isinstance(condition, dict) and len(condition) == 1:
                ((name, value),) = condition.items()
                condition = ["eq", f"${name}", value]
            if not isinstance(condition, list) or len(condition) != 3:
                raise S3Error(400, "InvalidPolicyDocument", f"Invalid Policy: Invalid Condition: {condition}")
            operator = str(condition[0]).lower()
            if operator == "content-length-range":
                size_range = (int(condition[1]), int(condition[2]))
                continue
            name = str(condition[1]).lstrip("$").lower()
            covered.add(name)
            actual = form.fields.get(name, "")
            holds = actual == str(condition[2]) if operator == "eq" else actual.startswith(str(condition[2]))
            if operator not in ("eq", "starts-with") or not holds:
                raise _denied(
                    f"Invalid according to Policy: Policy Condition failed: {json.dumps(condition)}"
                )
        extra = sorted(
            name
            for name in form.fields
            if name not in covered and name not in _ALWAYS_ALLOWED_FIELDS and not name.startswith("x-ignore-")
        )
        if extra:
            raise _denied(f"Invalid according to Policy: Extra input fields: {', '.join(extra)}")
        if size_range is not None:
            low, high = size_range
            if len(form.file) < low:
                raise S3Error(
                    400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size"
                )
            if len(form.file) > high:
                raise S3Error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")

    # -- the CDN -----------------------------------------------------------------------------------
    def serve(self, request: Request) -> Response:
        bucket, _, key = request.path[len(CDN_PREFIX) + 1 :].partition("/")
        if bucket not in self.buckets or not key or not self.servable(bucket, key):
            raise S3Error(404, "NoSuchKey", "The specified key does not exist.")
        try:
            stored = self.s3.get_object(Bucket=bucket, Key=key)
        except ClientError:
            raise S3Error(404, "NoSuchKey", "The specified key does not exist.") from None
        body = stored["Body"].read()
        headers = {
            "ETag": stored.get("ETag", ""),
            "Cache-Control": "public, max-age=86400",
            "X-Content-Type-Options": "nosniff",
        }
        content_type = stored.get("ContentType", "application/octet-stream")
        return Response(b"" if request.method == "HEAD" else body, content_type=content_type, headers=headers)


def _tagging_query(xml: str) -> str:
    """The form's ``tagging`` XML as the ``Tagging`` parameter of PutObject (URL query form)."""
    try:
        root = ElementTree.fromstring(xml)  # noqa: S314 - the policy already required this exact value
    except ElementTree.ParseError:
        raise S3Error(400, "MalformedXML", "The XML you provided was not well-formed.") from None
    pairs = [(tag.findtext("Key") or "", tag.findtext("Value") or "") for tag in root.iter("Tag")]
    return "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs)


def media_servable(dynamodb: Any, table: str) -> Servable:
    """The CDN's rule locally: serve ``<owner>/<media_id>`` only while that media item is ready."""

    def servable(bucket: str, key: str) -> bool:
        media_id = key.rsplit("/", 1)[-1]
        item = dynamodb.get_item(TableName=table, Key={"media_id": {"S": media_id}}, ConsistentRead=True)
        found: Mapping[str, Any] = item.get("Item") or {}
        return found.get("status", {}).get("S") == "ready" and found.get("object_key", {}).get("S") == key

    return servable
