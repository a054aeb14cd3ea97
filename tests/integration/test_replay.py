"""Replays: a stream consumer takes its replay queue's messages (each body one stream record, as the
stream delivered it) and applies each record once, whatever the messageId it arrives under.

Idempotency runs on the real persistence layer over an ``idempotency`` table created from the
definition in an in-process moto; the consumers' own handlers show that they accept the queue.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Iterator
from typing import Any

os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Chirp")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "chirp")

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from functions.core import consumer
from functions.core.consumer import StreamRecord, batch_consumer
from infra.resources import IDEMPOTENCY, ServiceSpec
from local_cloud.lambda_runtime import LocalLambdaContext
from local_cloud.provision import provision
from tests.support.events import event


class InProcess:
    def __init__(self) -> None:
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto3.client(service, region_name="us-east-1")
        return self._clients[service]


@pytest.fixture
def idempotency_table(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The idempotency table of the definition, and the consumers' store built on it."""
    from moto import mock_aws

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # set when a local cloud runs in this session
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": "fanout-dispatcher",  # Powertools prefixes the stored keys with it
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        aws = InProcess()
        spec = ServiceSpec(tables=(IDEMPOTENCY,), queues=(), buckets=(), functions=(), routes=(), mappings=())
        provision(spec, aws)
        ddb = aws.client("dynamodb")
        monkeypatch.setattr(
            consumer, "idempotency_store", lambda: DynamoDBPersistenceLayer("idempotency", boto3_client=ddb)
        )
        yield ddb


def stream_record(event_id: str = "a87ff679a2f3e71d9181a67b7542122c", name: str = "INSERT") -> dict[str, Any]:
    record = event("tweets_stream_insert.json")["Records"][0]
    record["eventID"] = event_id
    record["eventName"] = name
    return record


def stream_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def replay_event(*bodies: dict[str, Any] | str, ids: list[str]) -> dict[str, Any]:
    """Messages of a replay queue, with the given messageIds."""
    template = event("fanout_sqs_event.json")["Records"][0]
    records = []
    for message_id, body in zip(ids, bodies, strict=True):
        text = body if isinstance(body, str) else json.dumps(body)
        records.append(
            dict(
                template,
                messageId=message_id,
                body=text,
                eventSourceARN="arn:aws:sqs:us-east-1:123456789012:fanout-dispatcher-replay",
            )
        )
    return {"Records": records}


def context() -> Any:
    return LocalLambdaContext("fanout-dispatcher")


class Counting:
    """A record handler that remembers every tweet it applied and fails while ``failing``."""

    def __init__(self) -> None:
        self.applied: list[str] = []
        self.failing = False

    def __call__(self, tweet_id: str) -> dict[str, Any]:
        if self.failing:
            raise RuntimeError("the fault is not cleared yet")
        self.applied.append(tweet_id)
        return {"tweet_id": tweet_id}


def new_tweet_id(record: StreamRecord) -> str:
    return str((record.change.new_image or {})["tweet_id"])


def stored_keys(ddb: Any) -> list[str]:
    return [item["id"]["S"] for item in ddb.scan(TableName="idempotency")["Items"]]


def test_a_replay_sent_twice_or_redriven_under_a_new_message_id_applies_once(idempotency_table: Any) -> None:
    apply = Counting()
    handler = batch_consumer(StreamRecord, apply, parse=new_tweet_id, idempotent=True)
    record = stream_record()

    # The stream delivery fails past its retries (every record failed: a function error), so nothing is
    # applied and nothing is remembered.
    apply.failing = True
    with pytest.raises(BatchProcessingError):
        handler(stream_event(record), context())
    assert stored_keys(idempotency_table) == []

    # The fault is cleared; the rescue's replay arrives, then a duplicate, then a DLQ redrive.
    apply.failing = False
    for message_id in ("replay-1", "replay-1-duplicate", "redriven-from-dlq"):
        assert handler(replay_event(record, ids=[message_id]), context()) == {"batchItemFailures": []}

    assert apply.applied == ["01KQ8Z5Y3M0000000000000000"], "applied once"
    assert len(stored_keys(idempotency_table)) == 1, "keyed by the record's eventID, not the messageId"


def test_a_replay_of_a_record_the_stream_already_applied_is_a_no_op(idempotency_table: Any) -> None:
    # A failed batch's range starts at the failing record but may hold records the consumer applied
    # on an earlier attempt (partial batch failures retry from the lowest failed record).
    apply = Counting()
    handler = batch_consumer(StreamRecord, apply, parse=new_tweet_id, idempotent=True)
    record = stream_record()
    assert handler(stream_event(record), context()) == {"batchItemFailures": []}

    assert handler(replay_event(record, ids=["replay-1"]), context()) == {"batchItemFailures": []}

    assert apply.applied == ["01KQ8Z5Y3M0000000000000000"]


def test_replays_fail_by_message_id_and_keep_the_consumers_skip_filter(idempotency_table: Any) -> None:
    apply = Counting()
    handler = batch_consumer(
        StreamRecord, apply, parse=new_tweet_id, skip=lambda r: r.event_name == "MODIFY", idempotent=True
    )
    good = stream_record("e-good")
    modify = stream_record("e-modify", name="MODIFY")
    broken = stream_record("e-broken")
    del broken["dynamodb"]

    response = handler(
        replay_event(good, "{not json", modify, "[1, 2]", broken, ids=["m0", "m1", "m2", "m3", "m4"]),
        context(),
    )

    assert response == {"batchItemFailures": [{"itemIdentifier": i} for i in ("m1", "m3", "m4")]}
    assert apply.applied == ["01KQ8Z5Y3M0000000000000000"]
    assert len(stored_keys(idempotency_table)) == 1, "the skipped MODIFY wrote no idempotency record"


@pytest.fixture
def fresh_module(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The consumer's handler module; reloaded afterwards, since its handler keeps the idempotency
    store it built on this test's moto."""
    module = importlib.import_module(request.param)
    yield module
    importlib.reload(module)


@pytest.mark.parametrize(
    ("fresh_module", "skipped"),
    [
        ("functions.timeline.handlers.dispatcher", "MODIFY"),  # the dispatcher's filter
        ("functions.tweets.handlers.cleanup", "INSERT"),  # the clean-up takes only REMOVE
    ],
    indirect=["fresh_module"],
)
def test_the_stream_consumers_take_their_replay_queues(
    idempotency_table: Any, fresh_module: Any, skipped: str
) -> None:
    ev = replay_event(stream_record("e-skip", name=skipped), "{}", ids=["skipped", "malformed"])

    assert fresh_module.lambda_handler(ev, context()) == {
        "batchItemFailures": [{"itemIdentifier": "malformed"}]
    }
    assert stored_keys(idempotency_table) == []
