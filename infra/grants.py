"""What each function may call and what it sees: its IAM grants and its environment.

Both are computed here, from the resource definition (``infra/resources.py``), by pure functions that
the CDK stack and the local runtime share:

- ``function_grants`` turns a function's declared access into IAM statements (actions on resources
  named by logical id). CDK resolves the names to ARN tokens and attaches one statement per grant; the
  local cloud resolves them to its own ARNs and its IAM guard (``local_cloud/iam.py``) refuses every call
  no statement allows, with ``AccessDeniedException`` as AWS does.
- ``function_environment`` gives the function exactly the variables of what it is granted: a table it
  has no grant on has no name in its environment, on AWS and locally alike. A function that reads
  streams and sends to replay queues also gets its replay routes (``replay_routes``).

Importable without aws-cdk-lib (the local runtime and the tests use it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from infra.resources import BucketAccess, EventSourceMapping, Function, ServiceSpec

ResourceKind = Literal["table", "stream", "queue", "bucket", "secret", "user_pool", "search_domain"]

TABLE_READ = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem")
"""Reads of a table's own items. No Scan: no access pattern of the service needs one."""
TABLE_WRITE = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem")
INDEX_QUERY = ("dynamodb:Query",)
STREAM_READ = ("dynamodb:GetShardIterator", "dynamodb:GetRecords")
"""Reading a range of a table's stream: the stream, shard and sequence numbers are known (the on-failure
record names them), so neither ListStreams nor DescribeStream is needed."""
QUEUE_SEND = ("sqs:SendMessage",)
"""SendMessageBatch is authorised as sqs:SendMessage."""
BUCKET_OBJECTS = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")
BUCKET_ACTIONS = {
    "read": ("s3:GetObject",),  # HeadObject and ranged GETs are authorised as GetObject
    "write": ("s3:PutObject",),
    "delete": ("s3:DeleteObject",),
    "tag": ("s3:PutObjectTagging",),
}
"""The actions of each ``BucketAccess`` flag, on the bucket's objects."""
SECRET_READ = ("secretsmanager:GetSecretValue",)
SEARCH_READ = ("es:ESHttpGet", "es:ESHttpPost")
"""Searches (``POST <alias>/_search``), on the indexes' ``_search`` paths only."""
SEARCH_WRITE = ("es:ESHttpHead", "es:ESHttpGet", "es:ESHttpPut", "es:ESHttpPost")
"""Indexing: index templates and the first index behind its aliases (HEAD, PUT), ``POST _bulk``. No
DELETE: documents are replaced by tombstones, never deleted (``functions/search/ports.py``)."""
SEARCH_PATHS = "/*/_search"

COGNITO_UNAUTHENTICATED = frozenset(
    {
        "SignUp",
        "ConfirmSignUp",
        "InitiateAuth",
        "RespondToAuthChallenge",
        "ResendConfirmationCode",
        "ForgotPassword",
        "ConfirmForgotPassword",
        "GetUser",
        "GlobalSignOut",
        "RevokeToken",
        "ChangePassword",
    }
)
"""Cognito user pool operations that AWS authorises by the pool client or token, not by IAM: a grant
for them would be a no-op on AWS, so the definition lists none and the local guard lets them through."""


@dataclass(frozen=True)
class ResourceRef:
    """A resource of the definition by logical id; ``suffix`` narrows it (``/index/<name>``, ``/*``)."""

    kind: ResourceKind
    logical_id: str
    suffix: str = ""


@dataclass(frozen=True)
class Grant:
    """One declared permission: removing it from the definition takes ``actions`` on ``resource`` away."""

    name: str
    """Unique within the function, e.g. ``tweets:write`` or ``tweets/index/by_author:query``."""
    actions: tuple[str, ...]
    resource: ResourceRef


def function_grants(spec: ServiceSpec, fn: Function) -> tuple[Grant, ...]:
    """Every permission ``fn`` declares, one Grant per declared item (table flag, index, queue, ...)."""
    grants: list[Grant] = []
    for access in fn.tables:
        spec.table(access.table)  # unknown ids fail here, not at deploy time
        table = ResourceRef("table", access.table)
        if access.read:
            grants.append(Grant(f"{access.table}:read", TABLE_READ, table))
        if access.write:
            grants.append(Grant(f"{access.table}:write", TABLE_WRITE, table))
        known = {index.name for index in spec.table(access.table).indexes}
        for index in access.indexes:
            if index not in known:
                raise KeyError(f"{fn.name}: table {access.table} has no index {index}")
            ref = ResourceRef("table", access.table, f"/index/{index}")
            grants.append(Grant(f"{access.table}/index/{index}:query", INDEX_QUERY, ref))
    for table_id in fn.streams:
        if spec.table(table_id).stream is None:
            raise ValueError(f"{fn.name}: table {table_id} has no stream to read")
        grants.append(Grant(f"{table_id}/stream:read", STREAM_READ, ResourceRef("stream", table_id)))
    for queue_id in fn.sends_to:
        spec.queue(queue_id)
        grants.append(Grant(f"{queue_id}:send", QUEUE_SEND, ResourceRef("queue", queue_id)))
    for bucket in fn.buckets:
        if isinstance(bucket, str):
            objects = ResourceRef("bucket", bucket, "/*")
            grants.append(Grant(f"{bucket}:objects", BUCKET_OBJECTS, objects))
            continue
        objects = ResourceRef("bucket", bucket.bucket, "/*")
        for flag, actions in BUCKET_ACTIONS.items():
            if getattr(bucket, flag):
                grants.append(Grant(f"{bucket.bucket}/objects:{flag}", actions, objects))
    for secret_id in fn.secrets:
        grants.append(Grant(f"{secret_id}:read", SECRET_READ, ResourceRef("secret", secret_id)))
    for search in fn.search:
        spec.search_domain(search.domain)
        if search.read:
            ref = ResourceRef("search_domain", search.domain, SEARCH_PATHS)
            grants.append(Grant(f"{search.domain}:search", SEARCH_READ, ref))
        if search.write:
            ref = ResourceRef("search_domain", search.domain, "/*")
            grants.append(Grant(f"{search.domain}:index", SEARCH_WRITE, ref))
    for action in fn.cognito:
        if action in COGNITO_UNAUTHENTICATED:
            raise ValueError(f"{fn.name}: cognito-idp:{action} is not authorised by IAM; do not grant it")
        ref = ResourceRef("user_pool", spec.user_pool.logical_id)
        grants.append(Grant(f"cognito:{action}", (f"cognito-idp:{action}",), ref))
    names = [grant.name for grant in grants]
    if len(names) != len(set(names)):
        raise ValueError(f"{fn.name}: a grant is declared twice: {names}")
    return tuple(grants)


def _writes(fn: Function, bucket_id: str) -> bool:
    """Whether ``fn`` may put objects in the bucket (and so sign the presigned POSTs of its uploads)."""
    return any(
        b == bucket_id or (isinstance(b, BucketAccess) and b.bucket == bucket_id and b.write)
        for b in fn.buckets
    )


REPLAY_ROUTES_VARIABLE = "STREAM_REPLAY_ROUTES"
"""The environment variable that holds a rescuing function's replay routes (JSON, see ``replay_routes``)."""


def replay_routes(spec: ServiceSpec, fn: Function) -> tuple[EventSourceMapping, ...]:
    """The stream mappings whose exhausted batches ``fn`` puts back: those with a ``replay`` queue that
    ``fn`` may send to, on a table whose stream ``fn`` may read."""
    return tuple(
        m for m in spec.mappings if m.kind == "stream" and m.replay in fn.sends_to and m.source in fn.streams
    )


def named_functions(spec: ServiceSpec, fn: Function) -> frozenset[str]:
    """The functions whose physical names ``fn``'s environment holds (the CDK stack creates them first)."""
    return frozenset(m.function for m in replay_routes(spec, fn))


@dataclass(frozen=True)
class DeployedNames:
    """Physical names of the definition's resources where the functions run (tokens in CDK)."""

    tables: Mapping[str, str]
    queues: Mapping[str, str]
    """Queue URLs."""
    functions: Mapping[str, str] = field(default_factory=dict)
    """Physical function names; a function missing here is named by its definition name, as the local
    cloud names every resource by its logical id."""
    buckets: Mapping[str, str] = field(default_factory=dict)
    bucket_urls: Mapping[str, str] = field(default_factory=dict)
    """Base URL serving each bucket's objects to clients (``Bucket.public_url_env_var``)."""
    upload_urls: Mapping[str, str] = field(default_factory=dict)
    """Locally, the endpoint of each bucket's browser uploads (``Bucket.upload_url_env_var``)."""
    secrets: Mapping[str, str] = field(default_factory=dict)
    """Secret ARNs on AWS; locally the generated values themselves (see ``inline_secrets``)."""
    user_pool_id: str = ""
    user_pool_client_id: str = ""
    inline_secrets: bool = False
    """Locally a secret's value is handed over in its ``local_env_var`` (no Secrets Manager round trip)."""
    search_endpoints: Mapping[str, str] = field(default_factory=dict)
    """Per search domain: its HTTPS endpoint on AWS, the embedded engine's ``sqlite://`` URL locally."""


POWERTOOLS_BY_STAGE: dict[str, dict[str, str]] = {
    # prod: INFO, and DEBUG for a 1% sample of invocations (Powertools' sampling), so a fault's context
    # is in the logs without paying for DEBUG everywhere; dev (and every other stage): DEBUG.
    "prod": {"LOG_LEVEL": "INFO", "POWERTOOLS_LOGGER_SAMPLE_RATE": "0.01"},
    "dev": {"LOG_LEVEL": "DEBUG", "POWERTOOLS_LOGGER_SAMPLE_RATE": "0"},
    # make dev: INFO, so the terminal shows requests and warnings, not every debug line.
    "local": {"LOG_LEVEL": "INFO", "POWERTOOLS_LOGGER_SAMPLE_RATE": "0"},
}
"""Powertools logging settings by stage; any other stage name gets dev's."""


def function_environment(
    spec: ServiceSpec,
    fn: Function,
    names: DeployedNames,
    *,
    stage: str,
    auto_confirm_signup: bool,
    settings: Mapping[str, str] = {},
    metrics_namespace: str = "Chirp",
    cors_origins: str = "",
) -> dict[str, str]:
    """The environment of ``fn``: the names of what it is granted, the settings it declares (only
    those configured; its settings model holds the defaults), and the Powertools service settings."""
    env: dict[str, str] = {}
    for access in fn.tables:
        env[spec.table(access.table).env_var] = names.tables[access.table]
    for queue_id in fn.sends_to:
        env[spec.queue(queue_id).env_var] = names.queues[queue_id]
    for bucket in spec.buckets:
        if bucket.logical_id in fn.bucket_ids:
            env[bucket.env_var] = names.buckets[bucket.logical_id]
            if (
                bucket.upload_url_env_var
                and bucket.logical_id in names.upload_urls
                and _writes(fn, bucket.logical_id)
            ):
                env[bucket.upload_url_env_var] = names.upload_urls[bucket.logical_id]
        if bucket.public_url_env_var and bucket.logical_id in fn.renders_urls_of:
            env[bucket.public_url_env_var] = names.bucket_urls[bucket.logical_id]
    for secret in spec.secrets:
        if secret.logical_id in fn.secrets:
            variable = secret.local_env_var if names.inline_secrets else secret.arn_env_var
            env[variable] = names.secrets[secret.logical_id]
    for search in fn.search:
        env[spec.search_domain(search.domain).env_var] = names.search_endpoints[search.domain]
    if fn.cognito:
        env[spec.user_pool.pool_env_var] = names.user_pool_id
        env[spec.user_pool.client_env_var] = names.user_pool_client_id
    if "AdminConfirmSignUp" in fn.cognito:
        env["AUTO_CONFIRM_SIGNUP"] = "true" if auto_confirm_signup else "false"
    routes = replay_routes(spec, fn)
    if routes:
        env[REPLAY_ROUTES_VARIABLE] = json.dumps(
            [
                {
                    "function": names.functions.get(m.function, m.function),
                    "table": names.tables[m.source],
                    "queue_url": names.queues[m.replay],
                    "event_names": list(m.event_names),
                }
                for m in routes
                if m.replay is not None
            ],
            separators=(",", ":"),
        )
    for name in fn.settings:
        if name in settings:
            env[name] = settings[name]
    if cors_origins and any(route.function == fn.name for route in spec.routes):
        env["CORS_ALLOWED_ORIGINS"] = cors_origins  # browsers of these origins may call (core/cors.py)
    env |= {
        "POWERTOOLS_SERVICE_NAME": fn.name,
        "POWERTOOLS_METRICS_NAMESPACE": metrics_namespace,
        # No response of any traced function or method goes to X-Ray (log-in responses hold tokens).
        "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
        # Events hold passwords and tokens: never logged whole, in any stage.
        "POWERTOOLS_LOGGER_LOG_EVENT": "false",
        **POWERTOOLS_BY_STAGE.get(stage, POWERTOOLS_BY_STAGE["dev"]),
        "STAGE": stage,
    }
    return env | dict(fn.environment)
