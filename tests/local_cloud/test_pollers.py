"""The local pollers behave like Lambda's event-source mappings for SQS and DynamoDB Streams."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from infra.resources import EventSourceMapping, Key, Queue, Table
from local_cloud.aws import LocalAws
from local_cloud.pollers import PollerGroup, StreamPoller
from local_cloud.provision import Provisioned, provision
from tests.local_cloud.conftest import make_spec

Event = dict[str, Any]


class Recorder:
    """A handler that records every event and fails the way ``decide`` says."""

    def __init__(self, decide: Callable[[Event, int], Any] | None = None) -> None:
        self.events: list[Event] = []
        self._decide = decide
        self._lock = threading.Lock()

    def __call__(self, event: Event, context: Any) -> Any:
        with self._lock:
            self.events.append(event)
            call = len(self.events)
        return self._decide(event, call) if self._decide else {"batchItemFailures": []}

    def bodies(self) -> list[list[str]]:
        return [[r["body"] for r in e["Records"]] for e in self.events]

    def keys(self) -> list[list[str]]:
        return [[r["dynamodb"]["Keys"]["pk"]["S"] for r in e["Records"]] for e in self.events]


def fail_bodies(*bad: str) -> Callable[[Event, int], Any]:
    def decide(event: Event, call: int) -> Any:
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] in bad
            ]
        }

    return decide


# -- SQS ------------------------------------------------------------------------------------------------
def _queue_setup(aws: LocalAws, name: str, **mapping: Any) -> tuple[Provisioned, Any, EventSourceMapping]:
    queue = Queue(name, "Q_URL", visibility_timeout_seconds=1, max_receive_count=2)
    esm = EventSourceMapping(function="consumer", source=name, kind="queue", **mapping)
    spec = make_spec(queues=(queue,), mappings=(esm,))
    return provision(spec, aws), spec, esm


def _send(aws: LocalAws, url: str, *bodies: str) -> None:
    for body in bodies:
        aws.client("sqs").send_message(
            QueueUrl=url,
            MessageBody=body,
            MessageAttributes={"kind": {"DataType": "String", "StringValue": "test"}},
        )


def _count(aws: LocalAws, url: str) -> int:
    attributes = aws.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_sqs_success_invokes_with_lambda_shaped_records_and_deletes(aws: LocalAws, name: str) -> None:
    provisioned, spec, _ = _queue_setup(aws, name)
    handler = Recorder()
    url = provisioned.queue_urls[name]
    _send(aws, url, "a", "b", "c")

    with PollerGroup(spec, provisioned, aws, handlers={"consumer": handler}, poll_interval=0.05) as group:
        group.drain(timeout=20)

    record = handler.events[0]["Records"][0]
    assert sorted(b for batch in handler.bodies() for b in batch) == ["a", "b", "c"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == provisioned.queue_arns[name]
    assert record["awsRegion"] == "us-east-1"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["kind"]["stringValue"] == "test"
    assert record["messageAttributes"]["kind"]["dataType"] == "String"
    assert {"messageId", "receiptHandle", "md5OfBody"} <= record.keys()
    assert _count(aws, url) == 0


def test_sqs_partial_failure_redelivers_only_the_failed_message(aws: LocalAws, name: str) -> None:
    provisioned, spec, _ = _queue_setup(aws, name)
    handler = Recorder(lambda event, call: fail_bodies("bad")(event, call) if call == 1 else None)
    _send(aws, provisioned.queue_urls[name], "good", "bad")

    with PollerGroup(spec, provisioned, aws, handlers={"consumer": handler}, poll_interval=0.05) as group:
        group.drain(timeout=20)

    assert sorted(handler.bodies()[0]) == ["bad", "good"]
    assert handler.bodies()[1:] == [["bad"]]
    assert handler.events[1]["Records"][0]["attributes"]["ApproximateReceiveCount"] == "2"


def test_drain_does_not_trust_one_read_of_the_queue_counts(aws: LocalAws, name: str) -> None:
    """The visible and in-flight counts are two reads: a failed message coming back into view between
    them is in neither, and the queue reads empty. Simulated: the first count check after the failure
    lasts until the message is visible again (the poller's receives in the meantime come back empty, as
    polls that started before it was visible would) and reports the queue empty. Drain must not return
    before the message is redelivered."""
    provisioned, spec, _ = _queue_setup(aws, name)
    handler = Recorder(lambda event, call: fail_bodies("bad")(event, call) if call == 1 else None)
    _send(aws, provisioned.queue_urls[name], "good", "bad")

    with PollerGroup(spec, provisioned, aws, handlers={"consumer": handler}, poll_interval=0.05) as group:
        (poller,) = group.pollers
        hidden = threading.Event()
        poller._sqs = _HidingSqs(poller._sqs, hidden)  # type: ignore[attr-defined]
        counted = group._queues_empty
        torn: list[bool] = []

        def queues_empty() -> bool:
            if not handler.events or torn:
                return counted()
            torn.append(True)
            hidden.set()
            time.sleep(1.3)  # past the 1 s visibility timeout of the failed receive
            hidden.clear()
            return True

        group._queues_empty = queues_empty  # type: ignore[method-assign]
        group.drain(timeout=20)
        redelivered = handler.bodies()[1:]

    assert torn == [True]
    assert redelivered == [["bad"]]


class _HidingSqs:
    """An SQS client whose receives find nothing while ``hidden`` is set."""

    def __init__(self, client: Any, hidden: threading.Event) -> None:
        self._client = client
        self._hidden = hidden

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        if self._hidden.is_set():
            return {"Messages": []}
        return dict(self._client.receive_message(**kwargs))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_sqs_message_failing_max_receive_count_times_lands_in_dlq(aws: LocalAws, name: str) -> None:
    provisioned, spec, _ = _queue_setup(aws, name)
    handler = Recorder(fail_bodies("poison"))
    _send(aws, provisioned.queue_urls[name], "poison")

    with PollerGroup(spec, provisioned, aws, handlers={"consumer": handler}, poll_interval=0.05) as group:
        group.drain(timeout=20)

    dlq = aws.client("sqs").receive_message(QueueUrl=provisioned.dlq_urls[name], WaitTimeSeconds=2)[
        "Messages"
    ]
    assert handler.bodies() == [["poison"], ["poison"]]
    assert [m["Body"] for m in dlq] == ["poison"]


def test_sqs_handler_exception_fails_the_whole_batch(aws: LocalAws, name: str) -> None:
    provisioned, spec, _ = _queue_setup(aws, name)

    def decide(event: Event, call: int) -> Any:
        if call == 1:
            raise RuntimeError("downstream unavailable")
        return None

    handler = Recorder(decide)
    _send(aws, provisioned.queue_urls[name], "x", "y")

    with PollerGroup(spec, provisioned, aws, handlers={"consumer": handler}, poll_interval=0.05) as group:
        group.drain(timeout=20)

    delivered = [sorted(batch) for batch in handler.bodies()]
    assert delivered[0] == ["x", "y"]
    assert sorted(b for batch in delivered[1:] for b in batch) == ["x", "y"]


def test_sqs_unknown_item_identifier_fails_the_whole_batch(aws: LocalAws, name: str) -> None:
    provisioned, spec, _ = _queue_setup(aws, name)
    handler = Recorder(
        lambda event, call: {"batchItemFailures": [{"itemIdentifier": "nope"}]} if call == 1 else None
    )
    _send(aws, provisioned.queue_urls[name], "m")

    with PollerGroup(spec, provisioned, aws, handlers={"consumer": handler}, poll_interval=0.05) as group:
        group.drain(timeout=20)

    assert handler.bodies() == [["m"], ["m"]]


def test_sqs_batch_size_is_honoured(aws: LocalAws, name: str) -> None:
    provisioned, spec, _ = _queue_setup(aws, name, batch_size=2)
    handler = Recorder()
    _send(aws, provisioned.queue_urls[name], *[str(i) for i in range(5)])

    with PollerGroup(spec, provisioned, aws, handlers={"consumer": handler}, poll_interval=0.05) as group:
        group.drain(timeout=20)

    assert max(len(batch) for batch in handler.bodies()) == 2
    assert sorted(b for batch in handler.bodies() for b in batch) == ["0", "1", "2", "3", "4"]


# -- DynamoDB Streams -------------------------------------------------------------------------------------
def _stream_setup(aws: LocalAws, name: str, **mapping: Any) -> tuple[Provisioned, EventSourceMapping]:
    table = Table(name, "T_NAME", partition_key=Key("pk"), stream="NEW_AND_OLD_IMAGES")
    failures = Queue(f"{name}-failures", "F_URL")
    esm = EventSourceMapping(
        function="projector", source=name, kind="stream", on_failure=f"{name}-failures", **mapping
    )
    return provision(make_spec(tables=(table,), queues=(failures,), mappings=(esm,)), aws), esm


def _poller(
    aws: LocalAws, provisioned: Provisioned, esm: EventSourceMapping, handler: Recorder
) -> StreamPoller:
    return StreamPoller(
        esm,
        provisioned.stream_arns[esm.source],
        handler,
        provisioned.queue_urls[f"{esm.source}-failures"],
        clients=aws,
        retry_delay=0,
    )


def _put(aws: LocalAws, table: str, *keys: str) -> None:
    for key in keys:
        aws.client("dynamodb").put_item(TableName=table, Item={"pk": {"S": key}, "v": {"N": "1"}})


def _drain(poller: StreamPoller) -> None:
    while poller.poll_once():
        pass


def _failures(aws: LocalAws, provisioned: Provisioned, name: str) -> list[dict[str, Any]]:
    url = provisioned.queue_urls[f"{name}-failures"]
    messages = aws.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_stream_records_arrive_in_order_with_old_and_new_images(aws: LocalAws, name: str) -> None:
    provisioned, esm = _stream_setup(aws, name)
    handler = Recorder()
    ddb = aws.client("dynamodb")
    _put(aws, name, "k")
    ddb.update_item(
        TableName=name,
        Key={"pk": {"S": "k"}},
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"N": "2"}},
    )
    ddb.delete_item(TableName=name, Key={"pk": {"S": "k"}})

    _drain(_poller(aws, provisioned, esm, handler))

    records = handler.events[0]["Records"]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    assert records[1]["dynamodb"]["OldImage"]["v"] == {"N": "1"}
    assert records[1]["dynamodb"]["NewImage"]["v"] == {"N": "2"}
    assert records[1]["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert isinstance(records[0]["dynamodb"]["ApproximateCreationDateTime"], int)
    assert records[0]["eventSourceARN"] == provisioned.stream_arns[name]
    sequence = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert sequence == sorted(sequence)


def test_stream_event_filter_drops_other_events_without_an_invocation(aws: LocalAws, name: str) -> None:
    provisioned, esm = _stream_setup(aws, name, event_names=("REMOVE",))
    handler = Recorder()
    ddb = aws.client("dynamodb")
    _put(aws, name, "k", "j")
    ddb.update_item(
        TableName=name,
        Key={"pk": {"S": "k"}},
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"N": "2"}},
    )
    poller = _poller(aws, provisioned, esm, handler)
    _drain(poller)
    assert handler.events == []  # three records read, none delivered
    assert poller.checkpoint is not None  # ... and consumed: they are not read again

    ddb.delete_item(TableName=name, Key={"pk": {"S": "k"}})
    _drain(poller)

    assert [[r["eventName"] for r in e["Records"]] for e in handler.events] == [["REMOVE"]]


def test_stream_partial_failure_retries_from_the_lowest_failed_record(aws: LocalAws, name: str) -> None:
    provisioned, esm = _stream_setup(aws, name)

    def decide(event: Event, call: int) -> Any:
        failed = [r for r in event["Records"] if r["dynamodb"]["Keys"]["pk"]["S"] in ("c", "d")]
        if call == 1:
            return {
                "batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in failed]
            }
        return None

    handler = Recorder(decide)
    _put(aws, name, "a", "b", "c", "d", "e")

    poller = _poller(aws, provisioned, esm, handler)
    _drain(poller)

    assert handler.keys() == [["a", "b", "c", "d", "e"], ["c", "d", "e"]]
    assert _failures(aws, provisioned, name) == []
    assert poller.checkpoint == handler.events[0]["Records"][-1]["dynamodb"]["SequenceNumber"]


def test_stream_function_error_bisects_to_isolate_the_poison_record(aws: LocalAws, name: str) -> None:
    provisioned, esm = _stream_setup(aws, name, retry_attempts=3, bisect_on_error=True)

    def decide(event: Event, call: int) -> Any:
        if any(r["dynamodb"]["Keys"]["pk"]["S"] == "d" for r in event["Records"]):
            raise ValueError("poison")
        return None

    handler = Recorder(decide)
    _put(aws, name, "a", "b", "c", "d")

    _drain(_poller(aws, provisioned, esm, handler))

    assert handler.keys()[:4] == [["a", "b", "c", "d"], ["a", "b"], ["c", "d"], ["c"]]
    assert set(map(tuple, handler.keys()[4:])) == {("d",)}
    [failure] = _failures(aws, provisioned, name)
    info = failure["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1
    assert info["startSequenceNumber"] == info["endSequenceNumber"]
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"


def test_stream_exhausted_retries_send_batch_info_to_on_failure_queue(aws: LocalAws, name: str) -> None:
    provisioned, esm = _stream_setup(aws, name, retry_attempts=2, bisect_on_error=False)

    def always_fail(event: Event, call: int) -> Any:
        raise RuntimeError("boom")

    handler = Recorder(always_fail)
    _put(aws, name, "a", "b")

    poller = _poller(aws, provisioned, esm, handler)
    _drain(poller)
    _put(aws, name, "c")  # the stream moves on after the discarded batch
    handler._decide = None
    _drain(poller)

    [failure] = _failures(aws, provisioned, name)
    info = failure["DDBStreamBatchInfo"]
    assert handler.keys() == [["a", "b"]] * 3 + [["c"]]
    assert failure["requestContext"]["approximateInvokeCount"] == 3
    assert failure["requestContext"]["functionArn"].endswith(":function:projector")
    assert failure["responseContext"]["functionError"] == "Unhandled"
    assert info["batchSize"] == 2
    assert info["streamArn"] == provisioned.stream_arns[name]
    assert info["shardId"].startswith("shardId-")
    assert int(info["startSequenceNumber"]) < int(info["endSequenceNumber"])
    assert info["approximateArrivalOfFirstRecord"].endswith("Z")


def test_stream_records_older_than_max_age_are_skipped_to_on_failure(aws: LocalAws, name: str) -> None:
    provisioned, esm = _stream_setup(aws, name, max_record_age_seconds=1)
    handler = Recorder()
    _put(aws, name, "old")
    time.sleep(1.2)
    _put(aws, name, "new")

    _drain(_poller(aws, provisioned, esm, handler))

    [failure] = _failures(aws, provisioned, name)
    assert handler.keys() == [["new"]]
    assert failure["requestContext"]["condition"] == "RecordAgeExceeded"
    assert failure["DDBStreamBatchInfo"]["batchSize"] == 1


def test_group_waits_for_streams_and_resumes_from_checkpoints(aws: LocalAws, name: str) -> None:
    provisioned, esm = _stream_setup(aws, name, batch_size=2)
    spec = make_spec(mappings=(esm,))
    handler = Recorder()
    _put(aws, name, "a", "b", "c")

    with PollerGroup(spec, provisioned, aws, handlers={"projector": handler}, poll_interval=0.05) as group:
        group.drain(timeout=20)
        checkpoints = group.checkpoints()
    _put(aws, name, "d")
    with PollerGroup(
        spec, provisioned, aws, handlers={"projector": handler}, checkpoints=checkpoints, poll_interval=0.05
    ) as group:
        assert group.wait_idle(timeout=5)

    assert handler.keys() == [["a", "b"], ["c"], ["d"]]


def test_group_resolves_handlers_lazily_from_dotted_paths(aws: LocalAws, name: str) -> None:
    provisioned, esm = _stream_setup(aws, name)
    spec = make_spec(mappings=(esm,))

    group = PollerGroup(spec, provisioned, aws)  # "tests.unused.handler" does not exist

    assert len(group.pollers) == 1
    with pytest.raises(ModuleNotFoundError):
        group.pollers[0].handler({}, None)
