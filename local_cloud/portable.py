"""The portable snapshot: the embedded moto's data in AWS wire format, readable by any moto version.

``DIR/moto-state.pickle`` holds moto's own classes, so only the moto version that wrote it can read it.
Beside it every snapshot also writes ``DIR/moto-state.portable.json`` (same hold of the request gate,
same ``journal_seq``), which a start with another moto version loads instead (the migration path).

Format (one JSON object, UTF-8)::

    {"format": "local-cloud-portable", "version": 1, "moto": "5.2.5", "saved_at": 1.7e9,
     "journal_seq": 42, "checkpoints": {...},           # informational, not used on load (see below)
     "dynamodb":    [{"account", "region", "table": <DescribeTable.Table>, "ttl": <TimeToLiveDescription>,
                      "items": [<item as DynamoDB JSON>, ...]}],
     "sqs":         [{"account", "region", "name", "attributes": <GetQueueAttributes All>,
                      "messages": [{"id", "body", "message_attributes" (BinaryValue base64),
                                    "sent_timestamp", "receive_count", "first_receive_timestamp",
                                    "group_id", "deduplication_id", "sequence_number", "in_flight"}]}],
     "s3":          [{"account", "region", "bucket", "objects": [{"key", "body_base64", "content_type",
                                                               "metadata", "tags"}]}],
     "cognito-idp": [{"account", "region", "pool": <DescribeUserPool.UserPool>,
                      "clients": [<DescribeUserPoolClient.UserPoolClient>],
                      "users": [{"username", "attributes" (sub included), "status", "enabled",
                                 "password"}]}]}

Export reads resource definitions through the AWS API (Describe*/List*/Get*, run in-process against
moto's WSGI app, so nothing is journaled) and the data from moto's objects: what no API shows (SQS
messages without receiving them, Cognito passwords) and what the API would show too slowly while the
snapshot holds every request (DynamoDB items, S3 objects: a Scan of 1,000 items costs about 1.2 s).
Load re-creates each resource through the API
(CreateTable, CreateQueue, CreateBucket, CreateUserPool, ...; ``provision`` then reuses them), puts the
data back through the API (BatchWriteItem, SendMessage, PutObject, AdminCreateUser) and then sets what
no API call can set on moto's objects directly: every such touch point is a ``_moto_*`` function below,
so a moto upgrade has one place to fix.

What a portable load does not keep:
- DynamoDB Streams records and the poller checkpoints: streams start empty (each stream is turned on
  after its items are written, so the load itself emits no records) and pollers start afresh.
- In-flight SQS messages become visible again at once (at-least-once delivery; consumers are
  idempotent); their ids, receive counts and timestamps are kept.
- Tokens: the local Cognito signs with a key per process (``local_cloud/moto_cognito.py``), so tokens
  never outlive a restart; users log in again with the same password and keep their ``sub``. Pool
  and client ids are kept, so configuration holding them stays valid.
- Only current S3 object versions; DynamoDB items, tables and their indexes, TTL settings are kept.

``python -m local_cloud.portable export --data-dir DIR``, run with the moto version that wrote
``DIR/moto-state.pickle``, writes the portable snapshot from it (for data dirs older than this file).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

logger = logging.getLogger(__name__)

PORTABLE_FILE = "moto-state.portable.json"
PORTABLE_FORMAT = "local-cloud-portable"
PORTABLE_VERSION = 1
_ENDPOINT = "http://localhost:5000"
_ACCESS_KEY = "portable"


class PortableError(RuntimeError):
    """A portable snapshot cannot be read or loaded."""


# -- an in-process AWS client: botocore requests run straight through moto's WSGI app ------------------
@cache
def _moto_app() -> Any:
    """moto's server application, built once; it serves the same in-process backends as the server."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return DomainDispatcherApplication(create_backend_app)


def _send(request: Any, account: str, **_: Any) -> Any:
    """Run one prepared botocore request through moto's app, bypassing the request gate and journal
    (callers hold the gate). Hand-written: botocore has no WSGI transport and moto's in-process mock
    (``mock_aws``) would reset the backends this must read and fill."""
    import urllib3
    from botocore.awsrequest import AWSResponse

    url = urlsplit(request.url)
    body = request.body or b""
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode()
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote(url.path),
        "QUERY_STRING": url.query,
        "SERVER_NAME": url.hostname or "localhost",
        "SERVER_PORT": str(url.port or 80),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": url.scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": url.netloc,
        "HTTP_X_MOTO_ACCOUNT_ID": account,
    }
    for name, value in request.headers.items():
        value = value.decode() if isinstance(value, bytes) else str(value)
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            environ[key] = value
        else:
            environ[f"HTTP_{key}"] = value
    started: list[Any] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        started.append((status, headers))
        return lambda _data: None

    data = b"".join(_moto_app()(environ, start_response))
    status, headers = started[-1]
    raw = urllib3.HTTPResponse(body=io.BytesIO(data), status=int(status.split(" ")[0]), preload_content=False)
    return AWSResponse(request.url, int(status.split(" ")[0]), dict(headers), raw)


@cache
def _client(service: str, account: str, region: str) -> Any:
    """A client per service, account and region, kept: building one costs about 100 ms."""
    import boto3
    from botocore.config import Config

    client = boto3.session.Session().client(
        service,  # type: ignore[call-overload]
        region_name=region,
        endpoint_url=_ENDPOINT,
        aws_access_key_id=_ACCESS_KEY,
        aws_secret_access_key=_ACCESS_KEY,
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )
    client.meta.events.register("before-send", lambda request, **kw: _send(request, account, **kw))
    return client


def _fit(shape: Any, value: Any) -> Any:
    """``value`` (a Describe* answer) cut down to what ``shape`` (a Create* input) accepts."""
    if shape.type_name == "structure":
        if not isinstance(value, dict):
            return None
        fitted = {k: _fit(shape.members[k], v) for k, v in value.items() if k in shape.members}
        # An empty list is dropped: Create* calls refuse some (min length 1), and leaving one out is
        # the same as giving none.
        return {k: v for k, v in fitted.items() if v is not None and v != []}
    if shape.type_name == "list":
        return [_fit(shape.member, v) for v in value] if isinstance(value, list) else None
    if shape.type_name == "map":
        return {k: _fit(shape.value, v) for k, v in value.items()} if isinstance(value, dict) else None
    return value


def _input(client: Any, operation: str, value: dict[str, Any]) -> dict[str, Any]:
    shape = client.meta.service_model.operation_model(operation).input_shape
    fitted: dict[str, Any] = _fit(shape, value)
    return fitted


def _backends(service: str) -> Iterator[tuple[str, str, Any]]:
    from moto.backends import get_backend

    backend_dict: Any = get_backend(service)  # type: ignore[call-overload]
    yield from backend_dict.iter_backends()


# -- moto-internal touch points (the only code that knows moto's classes) -----------------------------
def _moto_dynamodb_items(backend: Any, table_name: str) -> list[dict[str, Any]]:
    """A table's items as DynamoDB JSON: ``DynamoDBBackend.tables``, ``Table.all_items()``,
    ``Item.to_json()``. A Scan returns the same, but moto's response serialiser makes it about 50 times
    slower (1.2 s for 1,000 items), and a snapshot holds every request meanwhile."""
    return [
        {key: _binary(value, _encode_binary) for key, value in item.to_json()["Attributes"].items()}
        for item in backend.tables[table_name].all_items()
    ]


def _moto_s3_objects(backend: Any, bucket_name: str) -> list[dict[str, Any]]:
    """A bucket's current objects: ``S3Backend.buckets``, ``FakeBucket.keys`` (latest version per
    key), ``FakeKey`` fields and ``S3Backend.tagger``. GetObject per object would cost a request each
    (about 10 ms in moto) while the snapshot holds every request."""
    from moto.s3.models import FakeKey

    objects = []
    for name, key in backend.buckets[bucket_name].keys.items():
        if not isinstance(key, FakeKey):  # a delete marker
            continue
        tags = backend.tagger.list_tags_for_resource(key.arn)["Tags"]
        objects.append(
            {
                "key": name,
                "body_base64": base64.b64encode(key.value).decode(),
                "content_type": key.metadata.get("Content-Type"),
                # moto keeps user metadata with its header name, lower-case (as S3 does)
                "metadata": {
                    k.lower().removeprefix("x-amz-meta-"): v
                    for k, v in key.metadata.items()
                    if k.lower().startswith("x-amz-meta-")
                },
                "tags": {tag["Key"]: tag["Value"] for tag in tags},
            }
        )
    return objects


def _moto_sqs_messages(backend: Any) -> dict[str, list[dict[str, Any]]]:
    """Queue name -> messages, in flight or not: ``SQSBackend.queues``, ``Queue._messages``, ``Message``
    attributes (ReceiveMessage would change receive counts and visibility)."""
    result: dict[str, list[dict[str, Any]]] = {}
    for name, queue in backend.queues.items():
        messages = []
        for message in queue._messages:
            attributes = {}
            for key, attribute in message.message_attributes.items():
                attribute = dict(attribute)
                if isinstance(attribute.get("BinaryValue"), bytes):
                    attribute["BinaryValue"] = base64.b64encode(attribute["BinaryValue"]).decode()
                attributes[key] = attribute
            messages.append(
                {
                    "id": message.id,
                    "body": message.body,
                    "message_attributes": attributes,
                    "sent_timestamp": message.sent_timestamp,
                    "receive_count": message.approximate_receive_count,
                    "first_receive_timestamp": message.approximate_first_receive_timestamp,
                    "group_id": message.group_id,
                    "deduplication_id": message.deduplication_id,
                    "sequence_number": message.sequence_number,
                    "in_flight": not message.visible,
                }
            )
        result[name] = messages
    return result


def _moto_set_sqs_message(backend: Any, queue_name: str, new_id: str, saved: dict[str, Any]) -> None:
    """Give a re-sent message its saved id, timestamps and receive count (``Message`` fields)."""
    queue = backend.queues[queue_name]
    message = next(m for m in queue._messages if m.id == new_id)
    message.id = saved["id"]
    message.sent_timestamp = saved["sent_timestamp"]
    message.approximate_receive_count = saved["receive_count"]
    message.approximate_first_receive_timestamp = saved["first_receive_timestamp"]
    if saved.get("sequence_number"):
        message.sequence_number = saved["sequence_number"]


def _moto_cognito_users(backend: Any, pool_id: str) -> list[dict[str, Any]]:
    """Users of a pool with their passwords: ``CognitoIdpUserPool.users``, ``CognitoIdpUser`` fields
    (no API returns a password)."""
    return [
        {
            "username": user.username,
            "attributes": list(user.attributes),
            "status": getattr(user.status, "value", user.status),  # a ``UserStatus`` member
            "enabled": user.enabled,
            "password": user.password,
        }
        for user in backend.user_pools[pool_id].users.values()
    ]


def _moto_rekey_pool(backend: Any, new_id: str, saved_id: str, saved_arn: str) -> None:
    """Give a re-created pool its saved id (``CognitoIdpBackend.user_pools`` is keyed by it)."""
    pool = backend.user_pools.pop(new_id)
    pool.id, pool.arn = saved_id, saved_arn
    backend.user_pools[saved_id] = pool


def _moto_rekey_client(backend: Any, pool_id: str, new_id: str, saved: dict[str, Any]) -> None:
    """Give a re-created app client its saved id and secret (``CognitoIdpUserPool.clients``)."""
    pool = backend.user_pools[pool_id]
    client = pool.clients.pop(new_id)
    client.id = saved["ClientId"]
    client.user_pool_id = pool_id
    if saved.get("ClientSecret"):
        client.secret = saved["ClientSecret"]
    pool.clients[client.id] = client


def _moto_set_user(backend: Any, pool_id: str, saved: dict[str, Any]) -> None:
    """Give a re-created user the saved ``sub`` (``CognitoIdpUser.id`` and its attribute), password,
    status and enabled flag (AdminCreateUser always draws a new sub)."""
    from moto.cognitoidp.models import UserStatus

    user = backend.user_pools[pool_id].users[saved["username"]]
    sub = next((a["Value"] for a in saved["attributes"] if a["Name"] == "sub"), None)
    if sub is not None:
        user.id = sub
        user.update_attributes([{"Name": "sub", "Value": sub}])
    user.password = saved["password"]
    user.status = UserStatus(saved["status"])  # moto compares it by identity to its enum members
    user.enabled = saved["enabled"]


def _encode_binary(value: bytes | str) -> str:
    """moto holds a binary as bytes or as its base64 text, depending on how it arrived."""
    return base64.b64encode(value).decode() if isinstance(value, bytes) else value


def _binary(value: dict[str, Any], convert: Callable[[Any], Any]) -> dict[str, Any]:
    """A DynamoDB attribute value with ``convert`` applied to every binary in it (bytes <-> base64:
    the file holds the wire form, the boto3 client takes and returns bytes)."""
    ((kind, inner),) = value.items()
    if kind == "B":
        return {kind: convert(inner)}
    if kind == "BS":
        return {kind: [convert(v) for v in inner]}
    if kind == "L":
        return {kind: [_binary(v, convert) for v in inner]}
    if kind == "M":
        return {kind: {k: _binary(v, convert) for k, v in inner.items()}}
    return value


# -- export --------------------------------------------------------------------------------------------
def _export_dynamodb() -> list[dict[str, Any]]:
    entries = []
    for account, region, backend in _backends("dynamodb"):
        if not backend.tables:  # which accounts and regions hold tables
            continue
        ddb = _client("dynamodb", account, region)
        for name in [n for page in ddb.get_paginator("list_tables").paginate() for n in page["TableNames"]]:
            table_items = _moto_dynamodb_items(backend, name)
            entries.append(
                {
                    "account": account,
                    "region": region,
                    "table": ddb.describe_table(TableName=name)["Table"],
                    "ttl": ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"],
                    "items": table_items,
                }
            )
    return entries


def _export_sqs() -> list[dict[str, Any]]:
    entries = []
    for account, region, backend in _backends("sqs"):
        messages = _moto_sqs_messages(backend)
        if not messages:
            continue
        sqs = _client("sqs", account, region)
        for name, queue_messages in messages.items():
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            entries.append(
                {
                    "account": account,
                    "region": region,
                    "name": name,
                    "attributes": attributes,
                    "messages": queue_messages,
                }
            )
    return entries


def _export_s3() -> list[dict[str, Any]]:
    entries = []
    seen: set[tuple[str, str]] = set()
    for account, _region, backend in _backends("s3"):
        names = [name for name in backend.buckets if (account, name) not in seen]
        seen.update((account, name) for name in names)
        if not names:
            continue
        for name in names:
            bucket_region = backend.buckets[name].region_name
            objects = _moto_s3_objects(backend, name)
            entries.append({"account": account, "region": bucket_region, "bucket": name, "objects": objects})
    return entries


def _export_cognito() -> list[dict[str, Any]]:
    entries = []
    for account, region, backend in _backends("cognito-idp"):
        if not backend.user_pools:
            continue
        cognito = _client("cognito-idp", account, region)
        for pool_id in list(backend.user_pools):
            pool = cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]
            clients = []
            for page in cognito.get_paginator("list_user_pool_clients").paginate(
                UserPoolId=pool_id, MaxResults=60
            ):
                for listed in page["UserPoolClients"]:
                    described = cognito.describe_user_pool_client(
                        UserPoolId=pool_id, ClientId=listed["ClientId"]
                    )
                    clients.append(described["UserPoolClient"])
            users = _moto_cognito_users(backend, pool_id)
            entries.append(
                {"account": account, "region": region, "pool": pool, "clients": clients, "users": users}
            )
    return entries


def export_state(*, journal_seq: int, checkpoints: dict[str, str] | None = None) -> dict[str, Any]:
    """The portable snapshot of the in-process moto backends (hold the request gate while calling)."""
    return {
        "format": PORTABLE_FORMAT,
        "version": PORTABLE_VERSION,
        "moto": version("moto"),
        "saved_at": time.time(),
        "journal_seq": journal_seq,
        "checkpoints": dict(checkpoints or {}),
        "dynamodb": _export_dynamodb(),
        "sqs": _export_sqs(),
        "s3": _export_s3(),
        "cognito-idp": _export_cognito(),
    }


def encode(state: dict[str, Any]) -> bytes:
    return json.dumps(state, default=str, separators=(",", ":")).encode()


def read_portable(path: Path) -> dict[str, Any]:
    try:
        state: dict[str, Any] = json.loads(path.read_bytes())
    except (OSError, ValueError) as error:
        raise PortableError(f"cannot read {path}: {error}") from error
    if state.get("format") != PORTABLE_FORMAT or state.get("version") != PORTABLE_VERSION:
        raise PortableError(
            f"{path} is not a portable snapshot of version {PORTABLE_VERSION} "
            f"(format {state.get('format')!r}, version {state.get('version')!r})"
        )
    return state


# -- load ----------------------------------------------------------------------------------------------
def _create_table_request(ddb: Any, table: dict[str, Any]) -> dict[str, Any]:
    request = _input(ddb, "CreateTable", table)
    request.pop("StreamSpecification", None)  # turned on after the items, see the module docstring
    billing = (table.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED")
    request["BillingMode"] = billing
    if billing == "PAY_PER_REQUEST":
        request.pop("ProvisionedThroughput", None)
        for index in request.get("GlobalSecondaryIndexes", []):
            index.pop("ProvisionedThroughput", None)
    return request


def _load_dynamodb(entries: list[dict[str, Any]]) -> None:
    for entry in entries:
        ddb = _client("dynamodb", entry["account"], entry["region"])
        table = entry["table"]
        name = table["TableName"]
        try:
            ddb.describe_table(TableName=name)
        except ddb.exceptions.ResourceNotFoundException:
            ddb.create_table(**_create_table_request(ddb, table))
        items = entry["items"]
        for start in range(0, len(items), 25):
            batch = [
                {"PutRequest": {"Item": {k: _binary(v, base64.b64decode) for k, v in item.items()}}}
                for item in items[start : start + 25]
            ]
            ddb.batch_write_item(RequestItems={name: batch})
        ttl = entry.get("ttl") or {}
        if ttl.get("TimeToLiveStatus") == "ENABLED":
            ddb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        stream = table.get("StreamSpecification") or {}
        if stream.get("StreamEnabled"):
            ddb.update_table(TableName=name, StreamSpecification=stream)


_SETTABLE_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "FifoQueue",
    "ContentBasedDeduplication",
)


def _load_sqs(entries: list[dict[str, Any]]) -> None:
    from moto.sqs.models import sqs_backends

    urls: dict[tuple[str, str, str], str] = {}
    for entry in entries:  # every queue first: a redrive policy names its DLQ
        sqs = _client("sqs", entry["account"], entry["region"])
        attributes = {k: v for k, v in entry["attributes"].items() if k in _SETTABLE_QUEUE_ATTRIBUTES}
        url = sqs.create_queue(QueueName=entry["name"], Attributes=attributes)["QueueUrl"]
        urls[(entry["account"], entry["region"], entry["name"])] = url
    for entry in entries:
        sqs = _client("sqs", entry["account"], entry["region"])
        url = urls[(entry["account"], entry["region"], entry["name"])]
        if entry["attributes"].get("RedrivePolicy"):
            sqs.set_queue_attributes(
                QueueUrl=url, Attributes={"RedrivePolicy": entry["attributes"]["RedrivePolicy"]}
            )
        backend = sqs_backends[entry["account"]][entry["region"]]
        for saved in entry["messages"]:
            request: dict[str, Any] = {"QueueUrl": url, "MessageBody": saved["body"]}
            if saved["message_attributes"]:
                attributes = {}
                for key, attribute in saved["message_attributes"].items():
                    attribute = {
                        k: v for k, v in attribute.items() if k in ("DataType", "StringValue", "BinaryValue")
                    }
                    if "BinaryValue" in attribute:
                        attribute["BinaryValue"] = base64.b64decode(attribute["BinaryValue"])
                    attributes[key] = attribute
                request["MessageAttributes"] = attributes
            if saved.get("group_id"):
                request["MessageGroupId"] = saved["group_id"]
                request["MessageDeduplicationId"] = saved.get("deduplication_id") or saved["id"]
            else:
                request["DelaySeconds"] = 0
            new_id = sqs.send_message(**request)["MessageId"]
            _moto_set_sqs_message(backend, entry["name"], new_id, saved)


def _load_s3(entries: list[dict[str, Any]]) -> None:
    for entry in entries:
        s3 = _client("s3", entry["account"], "us-east-1")
        name, region = entry["bucket"], entry["region"]
        try:
            s3.head_bucket(Bucket=name)
        except s3.exceptions.ClientError:
            if region in ("us-east-1", "global", None):
                s3.create_bucket(Bucket=name)
            else:
                s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
        for saved in entry["objects"]:
            request: dict[str, Any] = {
                "Bucket": name,
                "Key": saved["key"],
                "Body": base64.b64decode(saved["body_base64"]),
                "Metadata": saved.get("metadata") or {},
            }
            if saved.get("content_type"):
                request["ContentType"] = saved["content_type"]
            if saved.get("tags"):
                request["Tagging"] = urlencode(saved["tags"], quote_via=quote)
            s3.put_object(**request)


def _load_cognito(entries: list[dict[str, Any]]) -> None:
    from moto.cognitoidp.models import cognitoidp_backends

    for entry in entries:
        cognito = _client("cognito-idp", entry["account"], entry["region"])
        backend = cognitoidp_backends[entry["account"]][entry["region"]]
        pool = dict(entry["pool"])
        pool_id = pool["Id"]
        if pool_id not in backend.user_pools:
            pool["PoolName"] = pool.get("Name")
            # Standard attributes are always there; only custom ones are declared (without the prefix).
            pool["Schema"] = [
                dict(attribute, Name=attribute["Name"].removeprefix("custom:"))
                for attribute in pool.get("SchemaAttributes", [])
                if attribute.get("Name", "").startswith("custom:")
            ]
            new_id = cognito.create_user_pool(**_input(cognito, "CreateUserPool", pool))["UserPool"]["Id"]
            _moto_rekey_pool(backend, new_id, pool_id, pool["Arn"])
        for saved in entry["clients"]:
            if saved["ClientId"] in backend.user_pools[pool_id].clients:
                continue
            request = _input(cognito, "CreateUserPoolClient", saved)
            request["GenerateSecret"] = bool(saved.get("ClientSecret"))
            new_client = cognito.create_user_pool_client(**request)["UserPoolClient"]["ClientId"]
            _moto_rekey_client(backend, pool_id, new_client, saved)
        for user in entry["users"]:
            attributes = [a for a in user["attributes"] if a["Name"] != "sub"]
            cognito.admin_create_user(
                UserPoolId=pool_id,
                Username=user["username"],
                UserAttributes=attributes,
                MessageAction="SUPPRESS",
            )
            _moto_set_user(backend, pool_id, user)


def load_state(state: dict[str, Any]) -> None:
    """Re-create resources and data from a portable snapshot (hold the request gate while calling)."""
    _load_dynamodb(state.get("dynamodb", []))
    _load_sqs(state.get("sqs", []))
    _load_s3(state.get("s3", []))
    _load_cognito(state.get("cognito-idp", []))


# -- export command --------------------------------------------------------------------------------------
def export_pickle(data_dir: str | os.PathLike[str]) -> Path:
    """Write ``DIR/moto-state.portable.json`` from ``DIR/moto-state.pickle`` (with the moto that wrote it)."""
    from local_cloud.persistence import SNAPSHOT_FILE, _read_pickle, _restore, write_portable

    directory = Path(data_dir).resolve()
    header, services = _read_pickle(directory / SNAPSHOT_FILE)
    _restore(services)
    state = export_state(journal_seq=int(header.get("journal_seq", 0)), checkpoints=header.get("checkpoints"))
    return write_portable(directory, state)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_cloud.portable", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="write the portable snapshot of DIR from its pickle")
    export.add_argument("--data-dir", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    path = export_pickle(args.data_dir)
    print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
