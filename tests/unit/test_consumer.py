"""The batch consumers' one entry point: partial batch responses, parsing, skipping and idempotency.

Idempotency runs on an in-memory persistence layer (Powertools' own base class), installed where the
consumer builds its store on first use; the real table is exercised by the integration tests.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

# Powertools Metrics reads its namespace when functions.core.observability is first imported, which
# here is test collection, before the local cloud exports the functions' environment.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Chirp")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "chirp")

import boto3
import pytest
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from pydantic import BaseModel, ConfigDict

from functions.core import consumer
from functions.core.config import MissingSetting
from functions.core.consumer import QueueMessage, StreamRecord, batch_consumer
from local_cloud.lambda_runtime import LocalLambdaContext
from tests.support.events import event


class MemoryStore(BasePersistenceLayer):
    """Idempotency records in a dict, with the table's semantics: a live record blocks a second put."""

    def __init__(self) -> None:
        super().__init__()
        self.records: dict[str, DataRecord] = {}

    def _get_record(self, idempotency_key: str) -> DataRecord:
        if idempotency_key not in self.records:
            raise IdempotencyItemNotFoundError
        return self.records[idempotency_key]

    def _put_record(self, data_record: DataRecord) -> None:
        existing = self.records.get(data_record.idempotency_key)
        if existing is not None and not existing.is_expired:
            raise IdempotencyItemAlreadyExistsError(old_data_record=existing)
        self.records[data_record.idempotency_key] = data_record

    def _update_record(self, data_record: DataRecord) -> None:
        self.records[data_record.idempotency_key] = data_record

    def _delete_record(self, data_record: DataRecord) -> None:
        self.records.pop(data_record.idempotency_key, None)


@pytest.fixture
def stores(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[MemoryStore]]:
    """Every idempotency store the consumers build, in order (none until a consumer first runs)."""
    built: list[MemoryStore] = []

    def build() -> MemoryStore:
        built.append(MemoryStore())
        return built[-1]

    monkeypatch.setattr(consumer, "idempotency_store", build)
    yield built


class Greeting(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str


def greeting(record: QueueMessage) -> Greeting:
    return Greeting.model_validate_json(record.body)


def queue_event(*bodies: str, ids: list[str] | None = None) -> dict[str, Any]:
    """The sample SQS event with one record per body (message ids ``m0``, ``m1``... unless given)."""
    template = event("fanout_sqs_event.json")["Records"][0]
    records = []
    for i, body in enumerate(bodies):
        record = json.loads(json.dumps(template))
        record["messageId"] = ids[i] if ids else f"m{i}"
        record["body"] = body
        records.append(record)
    return {"Records": records}


def context() -> Any:
    return LocalLambdaContext("consumer-test")


def test_a_failing_record_is_reported_alone_and_the_rest_of_the_batch_is_handled() -> None:
    handled: list[str] = []

    def greet(value: Greeting) -> dict[str, Any]:
        if value.name == "bob":
            raise RuntimeError("bob cannot be greeted")
        handled.append(value.name)
        return {}

    handler = batch_consumer(QueueMessage, greet, parse=greeting)
    ev = queue_event('{"name":"alice"}', '{"name":"bob"}', '{"name":"carol"}')

    response = handler(ev, context())

    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert handled == ["alice", "carol"]


@pytest.mark.parametrize("bad", ['{"name":', '{"nom":"bob"}', '{"name":"bob","admin":true}'])
def test_a_malformed_record_fails_alone_before_the_handler_runs(bad: str) -> None:
    handled: list[str] = []

    def greet(value: Greeting) -> dict[str, Any]:
        handled.append(value.name)
        return {}

    handler = batch_consumer(QueueMessage, greet, parse=greeting)

    response = handler(queue_event('{"name":"alice"}', bad), context())

    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert handled == ["alice"]


def test_a_record_without_its_envelope_fields_fails_alone() -> None:
    handler = batch_consumer(QueueMessage, lambda value: {}, parse=greeting)
    ev = queue_event('{"name":"alice"}', '{"name":"bob"}')
    del ev["Records"][1]["body"]

    assert handler(ev, context()) == {"batchItemFailures": [{"itemIdentifier": "m1"}]}


def test_a_repeated_message_id_is_applied_once(stores: list[MemoryStore]) -> None:
    handled: list[str] = []

    def greet(value: Greeting) -> dict[str, Any]:
        handled.append(value.name)
        return {"greeted": value.name}

    handler = batch_consumer(QueueMessage, greet, parse=greeting, idempotent=True)
    assert stores == [], "nothing is built before the first invocation"

    first = handler(queue_event('{"name":"alice"}', ids=["same"]), context())
    again = handler(queue_event('{"name":"alice"}', '{"name":"bob"}', ids=["same", "other"]), context())

    assert first == again == {"batchItemFailures": []}
    assert handled == ["alice", "bob"], "the redelivery of 'same' did not run the handler"
    assert len(stores) == 1 and len(stores[0].records) == 2


def test_a_failed_record_runs_again_when_redelivered(stores: list[MemoryStore]) -> None:
    attempts: list[str] = []

    def greet(value: Greeting) -> dict[str, Any]:
        attempts.append(value.name)
        if attempts.count("alice") == 1 and value.name == "alice":
            raise RuntimeError("throttled")
        return {}

    handler = batch_consumer(QueueMessage, greet, parse=greeting, idempotent=True)
    ev = queue_event('{"name":"alice"}', '{"name":"bob"}', ids=["m-retry", "m-fine"])

    assert handler(ev, context()) == {"batchItemFailures": [{"itemIdentifier": "m-retry"}]}
    ev["Records"] = ev["Records"][:1]  # SQS redelivers only the failed message
    assert handler(ev, context()) == {"batchItemFailures": []}
    assert attempts == ["alice", "bob", "alice"]


def test_stream_records_are_keyed_on_their_event_id_and_skipped_ones_cost_nothing(
    stores: list[MemoryStore],
) -> None:
    handled: list[str] = []

    def remember(tweet_id: str) -> dict[str, Any]:
        handled.append(tweet_id)
        return {}

    handler = batch_consumer(
        StreamRecord,
        remember,
        parse=lambda record: str((record.change.new_image or {})["tweet_id"]),
        skip=lambda record: record.event_name == "MODIFY",
        idempotent=True,
    )
    ev = event("tweets_stream_insert.json")
    modify = json.loads(json.dumps(ev["Records"][0]))
    modify["eventName"] = "MODIFY"
    modify["eventID"] = "a-modify"
    ev["Records"].append(modify)

    assert handler(ev, context()) == {"batchItemFailures": []}
    assert handler(ev, context()) == {"batchItemFailures": []}  # the stream redelivers the batch

    assert handled == ["01KQ8Z5Y3M0000000000000000"], "images arrive as plain values, applied once"
    assert len(stores[0].records) == 1, "the MODIFY record wrote no idempotency record"


def test_a_failing_stream_record_is_reported_by_its_sequence_number() -> None:
    def refuse(event_id: str) -> dict[str, Any]:
        if event_id == "refused":
            raise RuntimeError("no")
        return {}

    handler = batch_consumer(StreamRecord, refuse, parse=lambda record: record.event_id)
    ev = event("tweets_stream_insert.json")
    refused = json.loads(json.dumps(ev["Records"][0]))
    refused["eventID"] = "refused"
    refused["dynamodb"]["SequenceNumber"] = "111100000000012345678999"
    ev["Records"].append(refused)

    assert handler(ev, context()) == {"batchItemFailures": [{"itemIdentifier": "111100000000012345678999"}]}


def test_the_idempotency_table_comes_from_the_function_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # A client of its own: the environment's shared one is cached, and later tests configure theirs.
    monkeypatch.setattr(consumer, "client", lambda service: boto3.client(service, region_name="us-east-1"))
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", "chirp-idempotency")
    assert getattr(consumer.idempotency_store(), "table_name", None) == "chirp-idempotency"

    monkeypatch.delenv("IDEMPOTENCY_TABLE_NAME")
    with pytest.raises(MissingSetting):
        consumer.idempotency_store()
