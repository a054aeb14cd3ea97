"""The local IAM guard: every AWS call a function makes is checked against the grants it declares.

moto checks no IAM, so without this a function that lacks a grant would work locally and fail on AWS.
The guard holds the function's statements (``infra.grants.function_grants``, the list the CDK stack
attaches to the function's role, with ARNs resolved to the local cloud's) and sits on every botocore
client the function's process creates (boto3's, PynamoDB's, Powertools'): before a request is built it
works out which IAM actions on which resources the request needs, as AWS authorises them (a
TransactWriteItems needs the write action of each item on each item's table, a BatchGetItem needs
dynamodb:BatchGetItem on every table it names, a Query on an index needs dynamodb:Query on the index's
ARN, a DynamoDB Streams read needs its dynamodb: action on the stream's ARN), and refuses it with the
error AWS returns (``AccessDeniedException``; ``AccessDenied`` for SQS and S3) unless a statement allows
every one of them.

It also records which grant allowed each call, so a test can show that every declared grant is used
(removing any of them breaks something) and that nothing undeclared is.
"""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import botocore.handlers
from botocore.exceptions import ClientError

from infra.grants import COGNITO_UNAUTHENTICATED, Grant, ResourceRef
from local_cloud.aws import ACCOUNT_ID, REGION

_QUERY_PROTOCOL_DENIAL = {"sqs": "AccessDenied", "s3": "AccessDenied"}
_BATCH_AS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}
_TRANSACT_WRITE_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
_ALWAYS_ALLOWED = {("sts", "GetCallerIdentity")}
_S3_AS = {"HeadObject": "GetObject"}
"""S3 operations AWS authorises by another action's permission."""


@dataclass(frozen=True)
class Statement:
    """One grant with its resource resolved to a local ARN (``*`` matches as in IAM)."""

    grant: str
    actions: tuple[str, ...]
    resource: str

    def allows(self, action: str, resource: str) -> bool:
        return action in self.actions and fnmatch.fnmatchcase(resource, self.resource)


def local_arn(ref: ResourceRef, *, user_pool_id: str = "", region: str = REGION) -> str:
    """The ARN the local cloud gives a resource of the definition (physical names are logical ids)."""
    if ref.kind == "table":
        return f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{ref.logical_id}{ref.suffix}"
    if ref.kind == "stream":
        # The table's current stream: moto labels it with its creation time, known only once created.
        return f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{ref.logical_id}/stream/*"
    if ref.kind == "queue":
        return f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{ref.logical_id}"
    if ref.kind == "bucket":
        return f"arn:aws:s3:::{ref.logical_id}{ref.suffix}"
    if ref.kind == "secret":
        return f"arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:{ref.logical_id}-*"
    if ref.kind == "search_domain":
        return f"arn:aws:es:{region}:{ACCOUNT_ID}:domain/{ref.logical_id}{ref.suffix}"
    return f"arn:aws:cognito-idp:{region}:{ACCOUNT_ID}:userpool/{user_pool_id}"


def statements(grants: Iterable[Grant], *, user_pool_id: str, region: str = REGION) -> list[Statement]:
    return [
        Statement(g.name, g.actions, local_arn(g.resource, user_pool_id=user_pool_id, region=region))
        for g in grants
    ]


def required(
    service: str, operation: str, params: dict[str, Any], region: str = REGION
) -> list[tuple[str, str]]:
    """The (IAM action, resource ARN) pairs AWS authorises a request by."""
    if (service, operation) in _ALWAYS_ALLOWED:
        return []
    if service == "dynamodbstreams":
        return [(f"dynamodb:{operation}", _stream_arn(params))]
    if service == "dynamodb":
        return _dynamodb(operation, params, region)
    if service == "sqs":
        action = f"sqs:{_BATCH_AS.get(operation, operation)}"
        url = params.get("QueueUrl")
        name = urlparse(url).path.rstrip("/").rsplit("/", 1)[-1] if url else params.get("QueueName", "*")
        return [(action, f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{name}")]
    if service == "cognito-idp":
        if operation in COGNITO_UNAUTHENTICATED:
            return []
        pool = params.get("UserPoolId", "*")
        return [(f"cognito-idp:{operation}", f"arn:aws:cognito-idp:{region}:{ACCOUNT_ID}:userpool/{pool}")]
    if service == "s3":
        bucket, key = params.get("Bucket", "*"), params.get("Key")
        action = _S3_AS.get(operation, operation)
        return [(f"s3:{action}", f"arn:aws:s3:::{bucket}" + (f"/{key}" if key else ""))]
    if service == "es":
        # The embedded search engine's requests (``install``): the OpenSearch HTTP call each stands for.
        domain, path = params.get("domain", "*"), params.get("path", "/")
        return [(f"es:{operation}", f"arn:aws:es:{region}:{ACCOUNT_ID}:domain/{domain}{path}")]
    if service == "secretsmanager":
        secret = str(params.get("SecretId", "*"))
        prefix = f"arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:"
        arn = secret if secret.startswith("arn:") else prefix + secret
        return [(f"secretsmanager:{operation}", arn)]
    return [(f"{service}:{operation}", "*")]


def _stream_arn(params: dict[str, Any]) -> str:
    """The stream a DynamoDB Streams request names: its StreamArn, or for GetRecords the stream of its
    shard iterator (opaque on AWS; moto's iterators begin with the stream ARN and a ``|``)."""
    if "StreamArn" in params:
        return str(params["StreamArn"])
    iterator = str(params.get("ShardIterator", ""))
    return iterator.split("|", 1)[0] if iterator.startswith("arn:") and "|" in iterator else "*"


def _table_arn(name: str, region: str, index: str | None = None) -> str:
    base = name if name.startswith("arn:") else f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{name}"
    return f"{base}/index/{index}" if index else base


def _dynamodb(operation: str, params: dict[str, Any], region: str) -> list[tuple[str, str]]:
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(f"dynamodb:{operation}", _table_arn(t, region)) for t in params.get("RequestItems", {})]
    if operation in ("TransactWriteItems", "TransactGetItems"):
        needed = []
        for item in params.get("TransactItems", []):
            for kind, request in item.items():
                action = "GetItem" if kind == "Get" else _TRANSACT_WRITE_ACTIONS[kind]
                needed.append((f"dynamodb:{action}", _table_arn(request["TableName"], region)))
        return needed
    if "TableName" in params:
        return [(f"dynamodb:{operation}", _table_arn(params["TableName"], region, params.get("IndexName")))]
    return [(f"dynamodb:{operation}", "*")]


@dataclass
class IamGuard:
    """Checks calls against ``statements`` on behalf of ``principal`` (the function's name)."""

    principal: str
    statements: list[Statement]
    region: str = REGION
    used: set[str] = field(default_factory=set)
    """Names of the grants that allowed at least one call."""
    denied: list[tuple[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def check(self, service: str, operation: str, params: dict[str, Any]) -> None:
        """Raise ClientError(AccessDenied...) unless every action the request needs is allowed."""
        for action, resource in required(service, operation, params, self.region):
            grant = next((s.grant for s in self.statements if s.allows(action, resource)), None)
            with self._lock:
                if grant is None:
                    self.denied.append((action, resource))
                else:
                    self.used.add(grant)
            if grant is None:
                raise self._denial(service, operation, action, resource)

    def _denial(self, service: str, operation: str, action: str, resource: str) -> ClientError:
        role = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{self.principal}-role/{self.principal}"
        message = (
            f"User: {role} is not authorized to perform: {action} on resource: {resource} "
            f"because no identity-based policy allows the {action} action"
        )
        code = _QUERY_PROTOCOL_DENIAL.get(service, "AccessDeniedException")
        status = 403 if service == "s3" else 400
        return ClientError(
            {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
            operation,
        )

    # -- botocore wiring ---------------------------------------------------------------------------
    def _on_parameter_build(
        self, params: dict[str, Any], model: Any, context: dict[str, Any] | None = None, **_: Any
    ) -> None:
        if context and context.get("is_presign_request"):
            return  # signing a URL or POST form sends nothing; AWS authorises the signer when it is used
        service_model = model.service_model
        # DynamoDB Streams signs as dynamodb (its actions are dynamodb:*) but names streams, not tables.
        service = (
            "dynamodbstreams"
            if service_model.service_name == "dynamodbstreams"
            else service_model.signing_name or service_model.endpoint_prefix
        )
        self.check(str(service), str(model.name), params)

    def attach(self, client: Any) -> Any:
        """Guard one botocore client (tests that run a function's code in their own process)."""
        client.meta.events.register("before-parameter-build", self._on_parameter_build)
        return client

    def install(self) -> None:
        """Put the guard on every botocore session created in this process from now on, and so on all
        their clients (call it before the function's code runs: its sessions and clients are made
        lazily, on first use). botocore registers ``BUILTIN_HANDLERS`` on each new session."""
        # before-parameter-build carries the caller's API parameters and the operation model; a handler
        # that raises ends the call before anything is sent, as a refused request would.
        botocore.handlers.BUILTIN_HANDLERS.append(("before-parameter-build", self._on_parameter_build))
        # The local search engine stands in for an OpenSearch domain, which authorises each HTTP
        # request by IAM (es:ESHttp<Method> on domain/<name>/<path>): it asks the guard first.
        from functions.search.engines import sqlite as local_search

        local_search.guard_requests(
            lambda method, domain, path: self.check("es", f"ESHttp{method}", {"domain": domain, "path": path})
        )
