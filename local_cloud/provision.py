"""Create the service's resources in the local AWS from ``infra.resources`` (the one definition).

Every call is idempotent: a resource that already exists (a restart with ``--data-dir``) is reused,
so ``provision`` can run on every start. Local physical names are the spec's logical ids.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.exceptions import ClientError

from infra.resources import Bucket, CognitoPool, Index, Key, Queue, ServiceSpec, Table

logger = logging.getLogger(__name__)

BUCKET_CORS = {
    "CORSRules": [
        {
            # Browsers upload media straight to S3 with a presigned POST and read it back with GET.
            "AllowedMethods": ["POST", "GET"],
            "AllowedOrigins": ["*"],
            "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag"],
            "MaxAgeSeconds": 3000,
        }
    ]
}


class ClientSource(Protocol):
    """Anything that hands out boto3 clients: ``LocalAws``, ``aws.Clients`` or a ``boto3.Session``."""

    def client(self, service_name: str, /) -> Any: ...


@dataclass
class Provisioned:
    """Names, URLs and ARNs of what ``provision`` created, keyed by logical id."""

    region: str
    endpoint_url: str | None
    table_names: dict[str, str] = field(default_factory=dict)
    stream_arns: dict[str, str] = field(default_factory=dict)
    queue_urls: dict[str, str] = field(default_factory=dict)
    queue_arns: dict[str, str] = field(default_factory=dict)
    dlq_urls: dict[str, str] = field(default_factory=dict)
    """Keyed by the logical id of the queue the DLQ serves."""
    dlq_arns: dict[str, str] = field(default_factory=dict)
    bucket_names: dict[str, str] = field(default_factory=dict)
    user_pool_id: str = ""
    user_pool_client_id: str = ""
    env: dict[str, str] = field(default_factory=dict)
    """Resource env vars (spec names) -> values; see ``environment()``."""

    def environment(self) -> dict[str, str]:
        """Every environment variable the functions read, plus the Cognito issuer and JWKS URL."""
        env = dict(self.env)
        env["COGNITO_ISSUER"] = f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool_id}"
        if self.endpoint_url:
            # moto (and LocalStack) serve the pool's JWKS under the endpoint, not on amazonaws.com.
            env["COGNITO_JWKS_URL"] = f"{self.endpoint_url}/{self.user_pool_id}/.well-known/jwks.json"
        else:
            env["COGNITO_JWKS_URL"] = f"{env['COGNITO_ISSUER']}/.well-known/jwks.json"
        return env

    def queue_url(self, logical_id: str) -> str:
        """URL of a spec queue or of a DLQ (``<queue>-dlq``)."""
        if logical_id in self.queue_urls:
            return self.queue_urls[logical_id]
        for owner, url in self.dlq_urls.items():
            if logical_id == f"{owner}-dlq":
                return url
        raise KeyError(logical_id)


def provision(spec: ServiceSpec, clients: ClientSource) -> Provisioned:
    """Create (or reuse) every table, queue, bucket and the user pool of ``spec``."""
    ddb = clients.client("dynamodb")
    result = Provisioned(region=ddb.meta.region_name, endpoint_url=ddb.meta.endpoint_url)
    for table in spec.tables:
        _ensure_table(ddb, table, result)
    sqs = clients.client("sqs")
    for queue in spec.queues:
        _ensure_queue(sqs, queue, result)
    s3 = clients.client("s3")
    for bucket in spec.buckets:
        _ensure_bucket(s3, bucket, result)
    _ensure_user_pool(clients.client("cognito-idp"), spec.user_pool, result)
    return result


# -- DynamoDB ----------------------------------------------------------------------------------------
def _key_schema(partition: Key, sort: Key | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": partition.name, "KeyType": "HASH"}]
    if sort is not None:
        schema.append({"AttributeName": sort.name, "KeyType": "RANGE"})
    return schema


def _attribute_definitions(table: Table) -> list[dict[str, str]]:
    keys: dict[str, str] = {}
    for key in (table.partition_key, table.sort_key, *_index_keys(table.indexes)):
        if key is not None and keys.setdefault(key.name, key.type) != key.type:
            raise ValueError(f"table {table.logical_id}: attribute {key.name} has two key types")
    return [{"AttributeName": name, "AttributeType": kind} for name, kind in keys.items()]


def _index_keys(indexes: tuple[Index, ...]) -> list[Key | None]:
    return [key for index in indexes for key in (index.partition_key, index.sort_key)]


def _create_table_request(table: Table) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TableName": table.logical_id,
        "KeySchema": _key_schema(table.partition_key, table.sort_key),
        "AttributeDefinitions": _attribute_definitions(table),
        "BillingMode": "PAY_PER_REQUEST",
    }
    gsis = [i for i in table.indexes if not i.local]
    lsis = [i for i in table.indexes if i.local]
    if gsis:
        request["GlobalSecondaryIndexes"] = [
            {
                "IndexName": i.name,
                "KeySchema": _key_schema(i.partition_key, i.sort_key),
                "Projection": i.projection,
            }
            for i in gsis
        ]
    if lsis:
        request["LocalSecondaryIndexes"] = [
            {
                "IndexName": i.name,
                # An LSI shares the table's partition key whatever the Index object says.
                "KeySchema": _key_schema(table.partition_key, i.sort_key),
                "Projection": i.projection,
            }
            for i in lsis
        ]
    if table.stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": table.stream}
    return request


def _ensure_table(ddb: Any, table: Table, result: Provisioned) -> None:
    try:
        description = ddb.create_table(**_create_table_request(table))["TableDescription"]
        logger.info("created table %s", table.logical_id)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceInUseException":
            raise
        description = ddb.describe_table(TableName=table.logical_id)["Table"]
    if table.ttl_attribute:
        ttl = ddb.describe_time_to_live(TableName=table.logical_id)["TimeToLiveDescription"]
        if ttl.get("TimeToLiveStatus") != "ENABLED" or ttl.get("AttributeName") != table.ttl_attribute:
            ddb.update_time_to_live(
                TableName=table.logical_id,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
            )
    result.table_names[table.logical_id] = table.logical_id
    result.env[table.env_var] = table.logical_id
    if description.get("LatestStreamArn"):
        result.stream_arns[table.logical_id] = description["LatestStreamArn"]


# -- SQS ---------------------------------------------------------------------------------------------
def _create_or_update_queue(sqs: Any, name: str, attributes: dict[str, str]) -> str:
    try:
        url: str = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    except ClientError as error:
        # CreateQueue is idempotent only for identical attributes; bring an old queue up to the spec.
        if error.response["Error"]["Code"] not in ("QueueAlreadyExists", "QueueNameExists"):
            raise
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
    return url


def _queue_arn(sqs: Any, url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return str(attributes["QueueArn"])


def _ensure_queue(sqs: Any, queue: Queue, result: Provisioned) -> None:
    dlq_url = _create_or_update_queue(
        sqs, queue.dlq_logical_id, {"MessageRetentionPeriod": str(queue.dlq_retention_seconds)}
    )
    dlq_arn = _queue_arn(sqs, dlq_url)
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": queue.max_receive_count}
    url = _create_or_update_queue(
        sqs,
        queue.logical_id,
        {
            "VisibilityTimeout": str(queue.visibility_timeout_seconds),
            "MessageRetentionPeriod": str(queue.retention_seconds),
            "RedrivePolicy": json.dumps(redrive),
        },
    )
    result.queue_urls[queue.logical_id] = url
    result.queue_arns[queue.logical_id] = _queue_arn(sqs, url)
    result.dlq_urls[queue.logical_id] = dlq_url
    result.dlq_arns[queue.logical_id] = dlq_arn
    result.env[queue.env_var] = url


# -- S3 ----------------------------------------------------------------------------------------------
def _ensure_bucket(s3: Any, bucket: Bucket, result: Provisioned) -> None:
    try:
        # us-east-1 is the one region where CreateBucket takes no LocationConstraint.
        if s3.meta.region_name == "us-east-1":
            s3.create_bucket(Bucket=bucket.logical_id)
        else:
            s3.create_bucket(
                Bucket=bucket.logical_id,
                CreateBucketConfiguration={"LocationConstraint": s3.meta.region_name},
            )
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    s3.put_bucket_cors(Bucket=bucket.logical_id, CORSConfiguration=BUCKET_CORS)
    if bucket.notify_queue:
        # moto delivers ObjectCreated events to SQS as S3 does (with an s3:TestEvent first).
        queue = {"QueueArn": result.queue_arns[bucket.notify_queue], "Events": ["s3:ObjectCreated:*"]}
        s3.put_bucket_notification_configuration(
            Bucket=bucket.logical_id, NotificationConfiguration={"QueueConfigurations": [queue]}
        )
    result.bucket_names[bucket.logical_id] = bucket.logical_id
    result.env[bucket.env_var] = bucket.logical_id


# -- Cognito -----------------------------------------------------------------------------------------
def _find_pool_id(cognito: Any, name: str) -> str | None:
    for page in cognito.get_paginator("list_user_pools").paginate(MaxResults=60):
        for pool in page["UserPools"]:
            if pool["Name"] == name:
                return str(pool["Id"])
    return None


def _find_client_id(cognito: Any, pool_id: str, name: str) -> str | None:
    for page in cognito.get_paginator("list_user_pool_clients").paginate(UserPoolId=pool_id, MaxResults=60):
        for client in page["UserPoolClients"]:
            if client["ClientName"] == name:
                return str(client["ClientId"])
    return None


def _ensure_user_pool(cognito: Any, pool: CognitoPool, result: Provisioned) -> None:
    pool_id = _find_pool_id(cognito, pool.logical_id)
    if pool_id is None:
        pool_id = cognito.create_user_pool(
            PoolName=pool.logical_id,
            Policies={
                "PasswordPolicy": {
                    "MinimumLength": pool.password_min_length,
                    "RequireLowercase": pool.require_lowercase,
                    "RequireUppercase": pool.require_uppercase,
                    "RequireNumbers": pool.require_digits,
                    "RequireSymbols": pool.require_symbols,
                }
            },
        )["UserPool"]["Id"]
        logger.info("created user pool %s", pool.logical_id)
    client_name = f"{pool.logical_id}-client"
    client_id = _find_client_id(cognito, pool_id, client_name)
    if client_id is None:
        client_id = cognito.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName=client_name,
            GenerateSecret=False,
            # The ALLOW_ forms of USER_PASSWORD_AUTH / REFRESH_TOKEN_AUTH (AWS rejects mixing forms).
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            AccessTokenValidity=pool.access_token_minutes,
            IdTokenValidity=pool.access_token_minutes,
            RefreshTokenValidity=pool.refresh_token_days,
            TokenValidityUnits={"AccessToken": "minutes", "IdToken": "minutes", "RefreshToken": "days"},
            EnableTokenRevocation=True,  # log-out revokes the refresh token (RevokeToken)
        )["UserPoolClient"]["ClientId"]
    result.user_pool_id = pool_id
    result.user_pool_client_id = client_id
    result.env[pool.pool_env_var] = pool_id
    result.env[pool.client_env_var] = client_id


# -- parity description ------------------------------------------------------------------------------
def describe_local(clients: ClientSource, provisioned: Provisioned) -> dict[str, Any]:
    """Describe tables and queues as moto holds them, in the CDK template describer's shape.

    Everything is read back from the service (DescribeTable, DescribeTimeToLive, GetQueueAttributes),
    never from the spec, so comparing this with the template proves what the local cloud really runs.
    """
    ddb = clients.client("dynamodb")
    sqs = clients.client("sqs")
    tables = {logical_id: _describe_table(ddb, name) for logical_id, name in provisioned.table_names.items()}
    queues = {logical_id: _describe_queue(sqs, url) for logical_id, url in provisioned.queue_urls.items()}
    return {"tables": tables, "queues": queues}


def _keys(schema: list[dict[str, str]], types: dict[str, str]) -> list[tuple[str, str, str]]:
    return [(k["AttributeName"], k["KeyType"], types[k["AttributeName"]]) for k in schema]


def _describe_table(ddb: Any, name: str) -> dict[str, Any]:
    table = ddb.describe_table(TableName=name)["Table"]
    types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
    indexes: dict[str, Any] = {}
    for local, field_name in ((False, "GlobalSecondaryIndexes"), (True, "LocalSecondaryIndexes")):
        for index in table.get(field_name, []):
            indexes[index["IndexName"]] = {"keys": _keys(index["KeySchema"], types), "local": local}
    stream_spec = table.get("StreamSpecification") or {}
    ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    return {
        "keys": _keys(table["KeySchema"], types),
        "indexes": indexes,
        "stream": stream_spec.get("StreamViewType") if stream_spec.get("StreamEnabled") else None,
        "ttl": ttl.get("AttributeName") if ttl.get("TimeToLiveStatus") == "ENABLED" else None,
    }


def _describe_queue(sqs: Any, url: str) -> dict[str, Any]:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attributes.get("RedrivePolicy", "null")) or {}
    dlq_arn = redrive.get("deadLetterTargetArn")
    return {
        # Local physical names are logical ids, so the DLQ's name (last ARN field) is its logical id.
        "dlq": dlq_arn.rsplit(":", 1)[-1] if dlq_arn else None,
        "max_receive_count": int(redrive["maxReceiveCount"]) if redrive else None,
        "visibility_timeout": int(attributes["VisibilityTimeout"]),
    }
