"""stream-rescue over a recorded on-failure record: the failed range is read back from the stream and
handed to the consumer's replay queue as the stream delivered it; what the stream lost is reported.

moto runs in this process (``mock_aws``) with the tables and queues created from the definition; the
stream's trimming, which moto never does, is injected with botocore hooks on the streams client.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Chirp")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "chirp")

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from functions.core import config, retry
from functions.core.consumer import StreamRecord
from functions.streams.handlers import rescue as rescue_handler
from functions.streams.models import ReplayRoute, StreamFailure
from functions.streams.reader import StreamReader
from functions.streams.replay import ReplayQueues
from functions.streams.rescue import IncompleteRead, Rescue, UnknownConsumer
from functions.streams.settings import RescueSettings
from infra.grants import DeployedNames, function_environment
from infra.resources import (
    ENGAGEMENT_COUNTER_REPLAY,
    ENGAGEMENTS,
    FANOUT_DISPATCHER_REPLAY,
    FOLLOWS,
    SEARCH_INDEX,
    SPEC,
    TWEETS,
    TWEETS_CLEANUP_REPLAY,
    USERS,
    ServiceSpec,
)
from local_cloud.lambda_runtime import LocalLambdaContext, function_arn
from local_cloud.pollers import event_json
from local_cloud.provision import Provisioned, provision
from tests.support.events import event

RESCUE = SPEC.function("stream-rescue")


class InProcess:
    """Clients of the in-process moto (account endpoints off: moto routes only the regional host)."""

    def __init__(self) -> None:
        self._config = Config(account_id_endpoint_mode="disabled")
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto3.client(service, region_name="us-east-1", config=self._config)
        return self._clients[service]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[InProcess]:
    from moto import mock_aws

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # set when a local cloud runs in this session
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield InProcess()


@pytest.fixture
def provisioned(aws: InProcess) -> Provisioned:
    spec = ServiceSpec(
        tables=(TWEETS, FOLLOWS, USERS, ENGAGEMENTS),
        queues=(FANOUT_DISPATCHER_REPLAY, TWEETS_CLEANUP_REPLAY, ENGAGEMENT_COUNTER_REPLAY, SEARCH_INDEX),
        buckets=(),
        functions=(),
        routes=(),
        mappings=(),
    )
    return provision(spec, aws)


def rescue_environment(provisioned: Provisioned) -> dict[str, str]:
    """What the definition gives stream-rescue where these tables and queues are deployed."""
    names = DeployedNames(tables=provisioned.table_names, queues=provisioned.queue_urls)
    return function_environment(SPEC, RESCUE, names, stage="test", auto_confirm_signup=False)


@pytest.fixture
def routes(provisioned: Provisioned) -> tuple[ReplayRoute, ...]:
    return RescueSettings.from_environment(rescue_environment(provisioned)).routes


@pytest.fixture
def rescue(aws: InProcess, routes: tuple[ReplayRoute, ...]) -> Rescue:
    return Rescue(routes, StreamReader(aws.client("dynamodbstreams")), ReplayQueues(aws.client("sqs")))


# -- helpers -------------------------------------------------------------------------------------------
def put_tweet(aws: InProcess, tweet_id: str, text: str = "hi") -> None:
    item = {"tweet_id": {"S": tweet_id}, "author_id": {"S": "author"}, "text": {"S": text}}
    aws.client("dynamodb").put_item(TableName="tweets", Item=item)


def delete_tweet(aws: InProcess, tweet_id: str) -> None:
    aws.client("dynamodb").delete_item(TableName="tweets", Key={"tweet_id": {"S": tweet_id}})


def stream_records(aws: InProcess, provisioned: Provisioned, table: str = "tweets") -> list[dict[str, Any]]:
    """Every record of the table's stream, as GetRecords returns them."""
    streams = aws.client("dynamodbstreams")
    arn = provisioned.stream_arns[table]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    return list(streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"])


def on_failure(
    provisioned: Provisioned,
    delivered: list[dict[str, Any]],
    *,
    function: str = "fanout-dispatcher",
    table: str = "tweets",
    batch_size: int | None = None,
) -> dict[str, Any]:
    """The recorded on-failure record, moved onto the batch ``delivered`` (the records the consumer got)."""
    record = event("stream_failure_record.json")
    record["requestContext"]["functionArn"] = function_arn(function, "us-east-1")
    info = record["DDBStreamBatchInfo"]
    info["streamArn"] = provisioned.stream_arns[table]
    info["startSequenceNumber"] = delivered[0]["dynamodb"]["SequenceNumber"]
    info["endSequenceNumber"] = delivered[-1]["dynamodb"]["SequenceNumber"]
    info["batchSize"] = len(delivered) if batch_size is None else batch_size
    return record


def replayed(aws: InProcess, provisioned: Provisioned, queue: str) -> list[dict[str, Any]]:
    sqs = aws.client("sqs")
    bodies: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=provisioned.queue_urls[queue], MaxNumberOfMessages=10)
        if not messages.get("Messages"):
            return bodies
        bodies.extend(json.loads(m["Body"]) for m in messages["Messages"])


def as_delivered(record: dict[str, Any], provisioned: Provisioned, table: str = "tweets") -> dict[str, Any]:
    """The record as the local stream poller hands it to a consumer (Lambda's event record shape)."""
    delivered: dict[str, Any] = event_json(record)
    delivered["eventSourceARN"] = provisioned.stream_arns[table]
    return delivered


def trim_before(streams: Any, sequence_number: str) -> None:
    """Make the stream behave as if every record before ``sequence_number`` had aged out (moto never
    trims): an iterator at an older record is refused as AWS refuses it, TRIM_HORIZON starts there."""

    def before(params: dict[str, Any], **_: Any) -> None:
        kind = params["ShardIteratorType"]
        if kind == "AT_SEQUENCE_NUMBER" and int(params["SequenceNumber"]) < int(sequence_number):
            error = {"Code": "TrimmedDataAccessException", "Message": "older than the trim horizon"}
            raise ClientError({"Error": error}, "GetShardIterator")
        if kind == "TRIM_HORIZON":
            params.update(ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber=sequence_number)

    streams.meta.events.register("before-parameter-build.dynamodb-streams.GetShardIterator", before)


def shard_deleted(streams: Any) -> None:
    """The whole shard is gone (all its records expired): AWS answers ResourceNotFoundException."""

    def refuse(**_: Any) -> None:
        error = {"Code": "ResourceNotFoundException", "Message": "Requested resource not found"}
        raise ClientError({"Error": error}, "GetShardIterator")

    streams.meta.events.register("before-parameter-build.dynamodb-streams.GetShardIterator", refuse)


# -- the rescue ----------------------------------------------------------------------------------------
def test_the_failed_range_goes_back_to_the_dispatcher_as_the_stream_delivered_it(
    aws: InProcess, provisioned: Provisioned, rescue: Rescue
) -> None:
    put_tweet(aws, "t-before")
    put_tweet(aws, "t-a")
    put_tweet(aws, "t-b")
    put_tweet(aws, "t-a", text="edited")  # a MODIFY: the mapping's filter never gave it to the dispatcher
    delete_tweet(aws, "t-b")
    put_tweet(aws, "t-after")
    records = stream_records(aws, provisioned)
    assert [r["eventName"] for r in records] == ["INSERT", "INSERT", "INSERT", "MODIFY", "REMOVE", "INSERT"]
    delivered = [records[1], records[2], records[4]]  # the failed batch: what the filter let through

    report = rescue.rescue(StreamFailure.model_validate(on_failure(provisioned, delivered)))

    assert (report.replayed, report.filtered, report.lost) == (3, 1, 0)
    bodies = replayed(aws, provisioned, "fanout-dispatcher-replay")
    assert bodies == [as_delivered(r, provisioned) for r in delivered]
    assert all(StreamRecord.model_validate(body).event_id for body in bodies), "the consumer's own envelope"
    assert isinstance(bodies[0]["dynamodb"]["ApproximateCreationDateTime"], int)
    assert replayed(aws, provisioned, "tweets-cleanup-replay") == []


def test_a_cleanup_failure_goes_to_the_cleanup_replay_queue_with_only_what_its_filter_took(
    aws: InProcess, provisioned: Provisioned, rescue: Rescue
) -> None:
    put_tweet(aws, "t-a")
    put_tweet(aws, "t-b")
    delete_tweet(aws, "t-a")
    put_tweet(aws, "t-c")  # inside the range, but the clean-up takes only REMOVE
    delete_tweet(aws, "t-b")
    records = stream_records(aws, provisioned)
    delivered = [records[2], records[4]]

    failure = StreamFailure.model_validate(on_failure(provisioned, delivered, function="tweets-cleanup"))
    report = rescue.rescue(failure)

    assert (report.replayed, report.filtered, report.lost) == (2, 1, 0)
    assert replayed(aws, provisioned, "tweets-cleanup-replay") == [
        as_delivered(r, provisioned) for r in delivered
    ]
    assert replayed(aws, provisioned, "fanout-dispatcher-replay") == []


def test_a_follows_failure_is_read_from_the_follows_stream(
    aws: InProcess, provisioned: Provisioned, rescue: Rescue
) -> None:
    key = {"follower_id": {"S": "bob"}, "followee_id": {"S": "alice"}}
    aws.client("dynamodb").put_item(TableName="follows", Item={**key, "follow_seq": {"S": "01A"}})
    records = stream_records(aws, provisioned, "follows")

    report = rescue.rescue(StreamFailure.model_validate(on_failure(provisioned, records, table="follows")))

    assert report.replayed == 1
    assert replayed(aws, provisioned, "fanout-dispatcher-replay") == [
        as_delivered(records[0], provisioned, "follows")
    ]


def test_records_the_stream_trimmed_are_counted_lost_and_the_rest_is_replayed(
    aws: InProcess, provisioned: Provisioned, rescue: Rescue
) -> None:
    for tweet_id in ("t-1", "t-2", "t-3"):
        put_tweet(aws, tweet_id)
    records = stream_records(aws, provisioned)
    trim_before(aws.client("dynamodbstreams"), records[2]["dynamodb"]["SequenceNumber"])

    report = rescue.rescue(StreamFailure.model_validate(on_failure(provisioned, records)))

    assert (report.replayed, report.lost) == (1, 2)
    assert replayed(aws, provisioned, "fanout-dispatcher-replay") == [as_delivered(records[2], provisioned)]


def test_a_batch_whose_shard_is_gone_is_all_lost_and_not_an_error(
    aws: InProcess, provisioned: Provisioned, rescue: Rescue
) -> None:
    put_tweet(aws, "t-1")
    records = stream_records(aws, provisioned)
    shard_deleted(aws.client("dynamodbstreams"))

    report = rescue.rescue(StreamFailure.model_validate(on_failure(provisioned, records)))

    assert (report.replayed, report.lost) == (0, 1)


def test_fewer_records_in_the_range_than_the_batch_held_are_counted_lost(
    aws: InProcess, provisioned: Provisioned, rescue: Rescue
) -> None:
    put_tweet(aws, "t-1")
    put_tweet(aws, "t-2")
    records = stream_records(aws, provisioned)

    report = rescue.rescue(StreamFailure.model_validate(on_failure(provisioned, records, batch_size=5)))

    assert (report.replayed, report.lost) == (2, 3)


def test_a_range_the_stream_does_not_reach_yet_is_retried_not_counted_lost(
    aws: InProcess, provisioned: Provisioned, rescue: Rescue
) -> None:
    put_tweet(aws, "t-1")
    records = stream_records(aws, provisioned)
    failure = on_failure(provisioned, records)
    failure["DDBStreamBatchInfo"]["endSequenceNumber"] = str(
        int(records[0]["dynamodb"]["SequenceNumber"]) + 5
    )

    with pytest.raises(IncompleteRead):
        rescue.rescue(StreamFailure.model_validate(failure))
    assert replayed(aws, provisioned, "fanout-dispatcher-replay") == []


def test_a_function_without_a_route_is_an_error(
    aws: InProcess, provisioned: Provisioned, rescue: Rescue
) -> None:
    put_tweet(aws, "t-1")
    records = stream_records(aws, provisioned)

    with pytest.raises(UnknownConsumer, match="users-api"):
        rescue.rescue(StreamFailure.model_validate(on_failure(provisioned, records, function="users-api")))


def test_the_recorded_on_failure_record_parses_with_its_coordinates() -> None:
    failure = StreamFailure.model_validate(event("stream_failure_record.json"))

    assert failure.invocation.function_name == "fanout-dispatcher"
    assert failure.invocation.condition == "RetryAttemptsExhausted"
    assert failure.batch.table_name == "tweets"
    assert failure.batch.batch_size == 1
    assert failure.batch.shard_id.startswith("shardId-")
    qualified = event("stream_failure_record.json")
    qualified["requestContext"]["functionArn"] += ":live"  # a mapping on an alias
    assert StreamFailure.model_validate(qualified).invocation.function_name == "fanout-dispatcher"


# -- the handler ---------------------------------------------------------------------------------------
@pytest.fixture
def handler_environment(provisioned: Provisioned, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """stream-rescue's own environment, and fresh caches of its settings, clients and wiring."""
    for name, value in rescue_environment(provisioned).items():
        monkeypatch.setenv(name, value)

    def forget() -> None:
        config.reload()
        retry.client.cache_clear()
        rescue_handler.rescuer.cache_clear()

    forget()
    yield
    forget()  # the clients above belong to this test's moto


def sqs_event(*bodies: dict[str, Any]) -> dict[str, Any]:
    template = event("fanout_sqs_event.json")["Records"][0]
    records = []
    for i, body in enumerate(bodies):
        record = dict(template, messageId=f"m{i}", body=json.dumps(body))
        record["eventSourceARN"] = "arn:aws:sqs:us-east-1:123456789012:stream-failures"
        records.append(record)
    return {"Records": records}


def test_the_handler_finishes_lost_batches_loudly_and_fails_only_what_may_succeed_later(
    aws: InProcess,
    provisioned: Provisioned,
    handler_environment: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    put_tweet(aws, "t-1")
    records = stream_records(aws, provisioned)
    partly_lost = on_failure(provisioned, records, batch_size=3)
    unroutable = on_failure(provisioned, records, function="users-api")
    metrics: list[tuple[str, float]] = []
    errors: list[dict[str, Any]] = []
    monkeypatch.setattr(
        rescue_handler.metrics, "add_metric", lambda name, unit, value: metrics.append((name, value))
    )
    monkeypatch.setattr(rescue_handler.logger, "error", lambda message, extra: errors.append(extra))

    response = rescue_handler.lambda_handler(
        sqs_event(partly_lost, unroutable), LocalLambdaContext("stream-rescue")
    )

    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}, "the lost batch is done"
    assert ("StreamRecordsLost", 2) in metrics and ("StreamRecordsReplayed", 1) in metrics
    [error] = errors
    assert error["lost"] == 2 and error["function"] == "fanout-dispatcher"
    assert error["start_sequence_number"] == records[0]["dynamodb"]["SequenceNumber"]
    assert replayed(aws, provisioned, "fanout-dispatcher-replay") == [as_delivered(records[0], provisioned)]
