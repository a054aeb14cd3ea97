"""stream-rescue's grants as the local IAM guard enforces them: GetShardIterator and GetRecords on the
streams it declares (a GetRecords is authorised by the stream its iterator belongs to), nothing else."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from infra.grants import function_grants
from infra.resources import SPEC
from local_cloud.iam import IamGuard, required, statements

TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table"
TWEETS_STREAM = f"{TABLE}/tweets/stream/2026-11-22T00:00:00.000"
UNDECLARED_STREAM = f"{TABLE}/timelines/stream/2026-11-22T00:00:00.000"  # a stream it does not read
SHARD = "shardId-00000001541626099285-f35f62ef"


def guard_of(name: str) -> IamGuard:
    return IamGuard(name, statements(function_grants(SPEC, SPEC.function(name)), user_pool_id="pool"))


def test_stream_reads_are_authorised_on_the_stream_the_request_names() -> None:
    iterator = {"StreamArn": TWEETS_STREAM, "ShardId": SHARD, "ShardIteratorType": "TRIM_HORIZON"}
    assert required("dynamodbstreams", "GetShardIterator", iterator) == [
        ("dynamodb:GetShardIterator", TWEETS_STREAM)
    ]
    moto_iterator = {"ShardIterator": f"{TWEETS_STREAM}|1|c29tZSBieXRlcw=="}
    assert required("dynamodbstreams", "GetRecords", moto_iterator) == [
        ("dynamodb:GetRecords", TWEETS_STREAM)
    ]
    assert required("dynamodbstreams", "GetRecords", {"ShardIterator": "opaque"}) == [
        ("dynamodb:GetRecords", "*")
    ]
    assert required("dynamodbstreams", "ListStreams", {}) == [("dynamodb:ListStreams", "*")]


def test_the_rescue_reads_the_streams_it_declares_and_no_other() -> None:
    guard = guard_of("stream-rescue")
    guard.check("dynamodbstreams", "GetShardIterator", {"StreamArn": TWEETS_STREAM, "ShardId": SHARD})
    guard.check("dynamodbstreams", "GetRecords", {"ShardIterator": f"{TWEETS_STREAM}|1|abc"})
    assert guard.used == {"tweets/stream:read"}

    for operation, params in (
        ("GetShardIterator", {"StreamArn": UNDECLARED_STREAM, "ShardId": SHARD}),  # one it does not declare
        ("DescribeStream", {"StreamArn": TWEETS_STREAM}),  # the coordinates are known: not granted
        ("ListStreams", {}),
    ):
        with pytest.raises(ClientError) as refused:
            guard.check("dynamodbstreams", operation, params)
        assert refused.value.response["Error"]["Code"] == "AccessDeniedException"


def test_a_consumer_does_not_read_streams_itself() -> None:
    with pytest.raises(ClientError):
        guard_of("fanout-dispatcher").check(
            "dynamodbstreams", "GetShardIterator", {"StreamArn": TWEETS_STREAM}
        )


def test_a_guarded_streams_client_is_refused_before_anything_is_sent() -> None:
    client = guard_of("stream-rescue").attach(
        boto3.client(
            "dynamodbstreams",
            region_name="us-east-1",
            endpoint_url="http://127.0.0.1:9",  # nothing listens there
            config=Config(account_id_endpoint_mode="disabled"),
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )
    )
    with pytest.raises(ClientError) as refused:
        client.get_shard_iterator(
            StreamArn=UNDECLARED_STREAM, ShardId=SHARD, ShardIteratorType="TRIM_HORIZON"
        )
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "dynamodb:GetShardIterator" in refused.value.response["Error"]["Message"]
