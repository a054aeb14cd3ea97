"""Local event-source pollers: feed SQS queues and DynamoDB streams to handlers as Lambda does.

moto cannot run Lambda functions without Docker and ignores ``batchItemFailures`` when it drives
Lambda itself (PITFALLS.md), so these pollers play Lambda's event-source-mapping role. They honour
every ``EventSourceMapping`` setting the way Lambda documents it, so a consumer written for Lambda
(e.g. Powertools ``BatchProcessor`` + ``process_partial_response``) runs here unchanged:

* SQS: batch size and batching window; with ``report_batch_item_failures`` only successful messages
  are deleted; a handler exception or an invalid response fails the whole batch (nothing deleted).
  Failed messages reappear after the visibility timeout and moto's SQS itself moves them to the DLQ
  once ``maxReceiveCount`` is reached (measured: moto enforces the redrive policy on receive).
* DynamoDB Streams: records in order, one invocation at a time per shard; partial failures retry
  from the lowest failed sequence number; a function error bisects the batch; retries are bounded by
  ``retry_attempts``; records older than ``max_record_age_seconds`` are skipped; discarded records are
  reported to the ``on_failure`` queue in Lambda's ``DDBStreamBatchInfo`` shape.

``PollerGroup`` runs one daemon thread per mapping and offers ``wait_idle`` for end-to-end tests.

With ``LOCAL_CHAOS`` (``local_cloud.chaos``) they also do what Lambda's pollers may do and moto's SQS
never does: deliver a ``redeliver`` share of SQS messages twice (the first delivery's delete is skipped
and the message made visible again: the duplicate has the same messageId and a higher receive count,
as an at-least-once delivery does) and of stream batches twice (the same records, same eventIDs, right
after the first delivery, as after a lost checkpoint); and with ``delay_ms`` hold every delivery back
for a random 0..delay_ms, SQS messages in shuffled groups delivered by a thread of their own (so they
overtake one another) and stream batches in order within the shard (so only the streams' order
relative to one another varies). ``wait_idle`` counts held-back deliveries as work in progress.
"""

from __future__ import annotations

import base64
import heapq
import itertools
import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from infra.resources import EventSourceMapping, Function, ServiceSpec
from local_cloud.chaos import ChaosCounts, ChaosSettings, DeliveryChaos
from local_cloud.lambda_runtime import Handler, LazyHandler, LocalLambdaContext, function_arn
from local_cloud.provision import ClientSource, Provisioned

logger = logging.getLogger(__name__)


DEFAULT_POLL_INTERVAL = 0.1
DEFAULT_RETRY_DELAY = 0.1


def _context_for(function: Function | None, name: str, region: str) -> LocalLambdaContext:
    if function is None:
        return LocalLambdaContext(function_name=name, region=region)
    return LocalLambdaContext(
        function_name=function.name,
        memory_limit_in_mb=function.memory_mb,
        timeout_seconds=function.timeout_seconds,
        region=region,
    )


def parse_batch_item_failures(response: Any, item_ids: Sequence[str]) -> set[str] | None:
    """The failed item ids of a partial batch response, or None when Lambda would fail the whole batch.

    Lambda's documented rules: a null/empty response or a null/empty ``batchItemFailures`` list is a
    complete success; an empty or null ``itemIdentifier``, a wrong key name or an identifier that is
    not in the batch makes the whole batch a failure.
    """
    if response is None:
        return set()
    if not isinstance(response, dict):
        return None
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return None
    known = set(item_ids)
    failed: set[str] = set()
    for failure in failures:
        if not isinstance(failure, dict):
            return None
        identifier = failure.get("itemIdentifier")
        if not isinstance(identifier, str) or identifier not in known:
            return None
        failed.add(identifier)
    return failed


def event_json(value: Any) -> Any:
    """Turn boto3's parsed types back into the JSON types Lambda events carry."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, dict):
        return {k: event_json(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [event_json(v) for v in value]
    return value


# -- the poller base -----------------------------------------------------------------------------------
class Poller:
    """One event-source mapping polled by one thread (Lambda's per-shard/per-queue concurrency of 1)."""

    def __init__(
        self,
        mapping: EventSourceMapping,
        handler: Handler,
        *,
        poll_interval: float,
        chaos: DeliveryChaos | None = None,
    ) -> None:
        self.mapping = mapping
        self.handler = handler
        self.poll_interval = poll_interval
        self.name = f"{mapping.kind}:{mapping.source}->{mapping.function}"
        self.chaos = chaos or DeliveryChaos(ChaosSettings(), self.name, ChaosCounts())
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._activity = threading.Condition()
        # monotonic times for PollerGroup.wait_idle: when the last poll that found nothing started,
        # and when work was last done.
        self.idle_poll_started_at = float("-inf")
        self.last_work_at = float("-inf")

    def poll_once(self) -> int:
        """Fetch and handle at most one batch; return the number of records fetched."""
        raise NotImplementedError

    @property
    def pending(self) -> int:
        """Deliveries fetched but held back or still running outside the poll loop (chaos delays)."""
        return 0

    def start(self) -> None:
        """Run the poll loop in a daemon thread."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"poller {self.name}", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the loop to stop after the current invocation (returns at once)."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the loop thread to end."""
        if self._thread is not None:
            self._thread.join(timeout)
            if not self._thread.is_alive():
                self._thread = None

    def stop(self, timeout: float | None = None) -> None:
        """Stop the loop and wait for it."""
        self.request_stop()
        self.join(timeout)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                fetched = self.poll_once()
            except Exception:  # a poller must survive anything and retry, as Lambda's would
                logger.exception("poller %s failed; retrying", self.name)
                fetched = -1
            with self._activity:
                if fetched == 0:
                    self.idle_poll_started_at = started
                elif fetched > 0:
                    self.last_work_at = time.monotonic()
                self._activity.notify_all()
            if fetched <= 0:
                self._stop.wait(self.poll_interval)


# -- SQS -----------------------------------------------------------------------------------------------
class SqsPoller(Poller):
    """Lambda's SQS event source: receive, invoke, delete what succeeded."""

    def __init__(
        self,
        mapping: EventSourceMapping,
        queue_url: str,
        handler: Handler,
        *,
        clients: ClientSource,
        queue_arn: str | None = None,
        function: Function | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        wait_time_seconds: int = 0,
        chaos: DeliveryChaos | None = None,
    ) -> None:
        super().__init__(mapping, handler, poll_interval=poll_interval, chaos=chaos)
        self.queue_url = queue_url
        self._sqs = clients.client("sqs")
        self._region: str = self._sqs.meta.region_name
        self._queue_arn = queue_arn or self._lookup_arn()
        self._function = function
        # No long polling by default: a long poll holds moto's request gate (blocking snapshots) and
        # delays wait_idle; a short poll every poll_interval is cheap against a local server.
        self._wait_time_seconds = wait_time_seconds
        # Chaos delays: groups of received messages waiting for their time (due, order, messages),
        # delivered by a thread of their own; ``_unfinished`` counts those not yet delivered.
        self._held: list[tuple[float, int, list[dict[str, Any]]]] = []
        self._held_order = itertools.count()
        self._held_changed = threading.Condition()
        self._unfinished = 0
        self._delivery_thread: threading.Thread | None = None

    def _lookup_arn(self) -> str:
        attributes = self._sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
        return str(attributes["Attributes"]["QueueArn"])

    def _receive(self) -> list[dict[str, Any]]:
        batch_size = self.mapping.batch_size
        deadline = time.monotonic() + self.mapping.max_batching_window_seconds
        messages: list[dict[str, Any]] = []
        while len(messages) < batch_size and not self.stopping:
            got = self._sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, batch_size - len(messages)),
                WaitTimeSeconds=self._wait_time_seconds if not messages else 0,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            messages.extend(got)
            if time.monotonic() >= deadline or (not got and not messages):
                break
            if not got:
                # Inside the batching window: wait for more messages, as Lambda does.
                self._stop.wait(min(self.poll_interval, max(0.0, deadline - time.monotonic())))
        return messages

    def _event_record(self, message: dict[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": {
                name: {
                    "stringValue": value.get("StringValue"),
                    "binaryValue": event_json(value["BinaryValue"]) if "BinaryValue" in value else None,
                    "stringListValues": value.get("StringListValues", []),
                    "binaryListValues": event_json(value.get("BinaryListValues", [])),
                    "dataType": value["DataType"],
                }
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self._queue_arn,
            "awsRegion": self._region,
        }
        if "MD5OfMessageAttributes" in message:
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        return record

    def poll_once(self) -> int:
        """Receive one batch, invoke the handler once, delete the messages that succeeded (with chaos
        delays: hand the batch, in shuffled groups, to the delivery thread)."""
        messages = self._receive()
        if not messages:
            return 0
        if self.chaos.delays:
            self._hold(messages)
        else:
            self._deliver(messages)
        return len(messages)

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        ids = [m["MessageId"] for m in messages]
        failed = self._invoke({"Records": [self._event_record(m) for m in messages]}, ids)
        succeeded = [m for m in messages if m["MessageId"] not in failed]
        again = self._to_redeliver(succeeded)
        repeated = {m["MessageId"] for m in again}
        self._delete([m for m in succeeded if m["MessageId"] not in repeated])
        self._make_visible(again)
        if failed:
            logger.warning(
                "%s: %d of %d messages failed; they return after the visibility timeout",
                self.name,
                len(failed),
                len(messages),
            )

    # -- chaos -----------------------------------------------------------------------------------------
    def _to_redeliver(self, succeeded: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The successful first deliveries chaos delivers once more (at most one duplicate each)."""
        first = [m for m in succeeded if m.get("Attributes", {}).get("ApproximateReceiveCount") == "1"]
        return [m for m in first if self.chaos.redeliver()]

    def _make_visible(self, messages: list[dict[str, Any]]) -> None:
        """Leave ``messages`` in the queue, visible at once: the next receive delivers them again."""
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            self._sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for i, m in enumerate(chunk)
                ],
            )
            self.chaos.counts.add("redelivered_sqs", len(chunk))

    def _hold(self, messages: list[dict[str, Any]]) -> None:
        groups = self.chaos.shuffled_groups(messages)
        with self._held_changed:
            for group in groups:
                due = time.monotonic() + self.chaos.delay_seconds()
                heapq.heappush(self._held, (due, next(self._held_order), group))
            self._unfinished += len(groups)
            self._held_changed.notify_all()
            if self._delivery_thread is None or not self._delivery_thread.is_alive():
                self._delivery_thread = threading.Thread(
                    target=self._deliver_held, name=f"delivery {self.name}", daemon=True
                )
                self._delivery_thread.start()
        self.chaos.counts.add("delayed", len(groups))

    def _deliver_held(self) -> None:
        """Deliver held-back groups as each one's time comes, until the poller stops (what is still
        held then stays in flight in SQS and returns after its visibility timeout)."""
        while not self.stopping:
            with self._held_changed:
                if not self._held:
                    self._held_changed.wait(self.poll_interval)
                    continue
                wait = self._held[0][0] - time.monotonic()
                if wait > 0:
                    self._held_changed.wait(wait)
                    continue
                _, _, group = heapq.heappop(self._held)
            try:
                self._deliver(group)
            except Exception:  # as the poll loop: survive anything; SQS redelivers what was not deleted
                logger.exception("poller %s: delayed delivery failed", self.name)
            finally:
                with self._held_changed:
                    self._unfinished -= 1
                with self._activity:
                    self.last_work_at = time.monotonic()
                    self._activity.notify_all()
        with self._held_changed:
            self._unfinished -= len(self._held)
            self._held.clear()

    @property
    def pending(self) -> int:
        with self._held_changed:
            return self._unfinished

    def request_stop(self) -> None:
        super().request_stop()
        with self._held_changed:
            self._held_changed.notify_all()

    def join(self, timeout: float | None = None) -> None:
        super().join(timeout)
        thread = self._delivery_thread
        if thread is not None:
            thread.join(timeout)
            if not thread.is_alive():
                self._delivery_thread = None

    def _invoke(self, event: dict[str, Any], ids: list[str]) -> set[str]:
        context = _context_for(self._function, self.mapping.function, self._region)
        try:
            response = self.handler(event, context)
        except Exception:
            logger.exception("%s: handler raised; the whole batch fails", self.name)
            return set(ids)
        if not self.mapping.report_batch_item_failures:
            return set()
        failed = parse_batch_item_failures(response, ids)
        if failed is None:
            logger.error("%s: invalid batchItemFailures response; the whole batch fails", self.name)
            return set(ids)
        return failed

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            result = self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
            for failure in result.get("Failed", []):
                logger.error("%s: delete failed: %s", self.name, failure.get("Code"))


# -- DynamoDB Streams ------------------------------------------------------------------------------------
@dataclass
class _Chunk:
    records: list[dict[str, Any]]
    retries: int = 0
    invocations: int = 0


class StreamPoller(Poller):
    """Lambda's DynamoDB Streams event source for the one shard moto keeps per stream."""

    def __init__(
        self,
        mapping: EventSourceMapping,
        stream_arn: str,
        handler: Handler,
        on_failure_queue_url: str | None = None,
        *,
        clients: ClientSource,
        function: Function | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        retry_delay: float = DEFAULT_RETRY_DELAY,
        checkpoint: str | None = None,
        chaos: DeliveryChaos | None = None,
    ) -> None:
        super().__init__(mapping, handler, poll_interval=poll_interval, chaos=chaos)
        self.stream_arn = stream_arn
        self.on_failure_queue_url = on_failure_queue_url
        self._streams = clients.client("dynamodbstreams")
        self._sqs = clients.client("sqs") if on_failure_queue_url else None
        self._region: str = self._streams.meta.region_name
        self._function = function
        self._retry_delay = retry_delay
        self._shard_id: str | None = None
        self.checkpoint = checkpoint
        """Sequence number of the last record handled (or discarded); the restart point."""

    # -- reading ---------------------------------------------------------------------------------------
    def _new_iterator(self, after: str | None = None) -> str:
        if self._shard_id is None:
            description = self._streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
            # moto keeps exactly one shard per stream, never split or closed.
            self._shard_id = description["Shards"][0]["ShardId"]
        request: dict[str, Any] = {"StreamArn": self.stream_arn, "ShardId": self._shard_id}
        position = after or self.checkpoint
        if position is not None:
            request |= {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": position}
        else:
            request["ShardIteratorType"] = self.mapping.starting_position
        return str(self._streams.get_shard_iterator(**request)["ShardIterator"])

    def _get_records(self, limit: int, after: str | None = None) -> list[dict[str, Any]]:
        # A fresh iterator for every read, positioned after the checkpoint (or after the last record
        # already read into this batch). moto swaps a table's stream shard object when it rolls back
        # a failed TransactWriteItems, and an iterator taken before the swap never sees later records.
        response = self._streams.get_records(ShardIterator=self._new_iterator(after), Limit=limit)
        return list(response.get("Records", []))

    def _fetch_batch(self) -> list[dict[str, Any]]:
        batch_size = self.mapping.batch_size
        deadline = time.monotonic() + self.mapping.max_batching_window_seconds
        records = self._get_records(batch_size)
        while records and len(records) < batch_size and time.monotonic() < deadline and not self.stopping:
            self._stop.wait(min(self.poll_interval, max(0.0, deadline - time.monotonic())))
            last = str(records[-1]["dynamodb"]["SequenceNumber"])
            records.extend(self._get_records(batch_size - len(records), after=last))
        return records

    def poll_once(self) -> int:
        """Fetch one batch and deliver it completely (success, retries, bisection, on-failure).

        With ``event_names`` set, other events are dropped without an invocation, as Lambda's event
        filtering does, and the checkpoint moves past them."""
        records = self._fetch_batch()
        if not records:
            return 0
        names = self.mapping.event_names
        wanted = [r for r in records if r.get("eventName") in names] if names else records
        if wanted:
            self._hold_back()
            self._deliver(wanted)
            if not self.stopping and self.chaos.redeliver():
                # Chaos: the same records once more, as after a checkpoint Lambda failed to store.
                self.chaos.counts.add("redelivered_stream")
                self._deliver(wanted)
        if not self.stopping:
            self._advance(records[-1])
        return len(records)

    # -- delivering ------------------------------------------------------------------------------------
    def _hold_back(self) -> None:
        """Chaos delays: wait before delivering. In the poll loop, so the shard's order is kept and
        ``wait_idle`` sees the poller busy meanwhile."""
        delay = self.chaos.delay_seconds()
        if delay > 0:
            self.chaos.counts.add("delayed")
            self._stop.wait(delay)

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        work: deque[_Chunk] = deque([_Chunk(records)])
        while work:
            if self.stopping:
                # Unhandled records stay after the checkpoint: the next start reads them again.
                return
            chunk = work.popleft()
            chunk.records = self._drop_expired(chunk)
            if not chunk.records:
                continue
            first_failed, function_error = self._invoke(chunk.records)
            chunk.invocations += 1
            if first_failed >= len(chunk.records):
                self._advance(chunk.records[-1])
                continue
            if first_failed > 0:
                # Partial success: everything before the lowest failed record is done (Lambda's
                # checkpoint), and only the rest is retried.
                self._advance(chunk.records[first_failed - 1])
                chunk.records = chunk.records[first_failed:]
            if not self._may_retry(chunk):
                self._report_failure(chunk, "RetryAttemptsExhausted", function_error)
                self._advance(chunk.records[-1])
                continue
            chunk.retries += 1
            if function_error and self.mapping.bisect_on_error and len(chunk.records) > 1:
                # A bisection is one retry of each half; splitting isolates a poison record quickly.
                middle = len(chunk.records) // 2
                work.appendleft(_Chunk(chunk.records[middle:], chunk.retries, chunk.invocations))
                work.appendleft(_Chunk(chunk.records[:middle], chunk.retries, chunk.invocations))
            else:
                work.appendleft(chunk)
            self._stop.wait(self._retry_delay)

    def _may_retry(self, chunk: _Chunk) -> bool:
        attempts = self.mapping.retry_attempts
        return attempts < 0 or chunk.retries < attempts

    def _advance(self, record: dict[str, Any]) -> None:
        self.checkpoint = record["dynamodb"]["SequenceNumber"]

    def _drop_expired(self, chunk: _Chunk) -> list[dict[str, Any]]:
        max_age = self.mapping.max_record_age_seconds
        if max_age < 0:
            return chunk.records
        now = datetime.now(UTC)
        expired = [r for r in chunk.records if _age_seconds(r, now) > max_age]
        if not expired:
            return chunk.records
        # Records arrive in order, so the expired ones are the oldest, at the head of the chunk.
        self._report_failure(_Chunk(expired, chunk.retries, chunk.invocations), "RecordAgeExceeded", False)
        self._advance(expired[-1])
        return chunk.records[len(expired) :]

    def _event_record(self, record: dict[str, Any]) -> dict[str, Any]:
        event_record: dict[str, Any] = event_json(record)
        event_record["eventSourceARN"] = self.stream_arn
        return event_record

    def _invoke(self, records: list[dict[str, Any]]) -> tuple[int, bool]:
        """Invoke once; return (index of the lowest failed record or len(records), function error?)."""
        context = _context_for(self._function, self.mapping.function, self._region)
        event = {"Records": [self._event_record(r) for r in records]}
        try:
            response = self.handler(event, context)
        except Exception:
            logger.exception("%s: handler raised on %d records", self.name, len(records))
            return 0, True
        if not self.mapping.report_batch_item_failures:
            return len(records), False
        sequence_numbers = [r["dynamodb"]["SequenceNumber"] for r in records]
        failed = parse_batch_item_failures(response, sequence_numbers)
        if failed is None:
            logger.error("%s: invalid batchItemFailures response; the whole batch fails", self.name)
            return 0, True
        if not failed:
            return len(records), False
        first = min(sequence_numbers.index(s) for s in failed)
        logger.warning("%s: %d records reported failed; retrying from #%d", self.name, len(failed), first)
        return first, False

    def _report_failure(self, chunk: _Chunk, condition: str, function_error: bool) -> None:
        first, last = chunk.records[0], chunk.records[-1]
        logger.error(
            "%s: discarding %d records (%s..%s): %s",
            self.name,
            len(chunk.records),
            first["dynamodb"]["SequenceNumber"],
            last["dynamodb"]["SequenceNumber"],
            condition,
        )
        if self._sqs is None or self.on_failure_queue_url is None:
            return
        response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if function_error:
            response_context["functionError"] = "Unhandled"
        message = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": function_arn(self.mapping.function, self._region),
                "condition": condition,
                "approximateInvokeCount": chunk.invocations,
            },
            "responseContext": response_context,
            "version": "1.0",
            "timestamp": _iso(datetime.now(UTC)),
            "DDBStreamBatchInfo": {
                "shardId": self._shard_id,
                "startSequenceNumber": first["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": last["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(first["dynamodb"]["ApproximateCreationDateTime"]),
                "approximateArrivalOfLastRecord": _iso(last["dynamodb"]["ApproximateCreationDateTime"]),
                "batchSize": len(chunk.records),
                "streamArn": self.stream_arn,
            },
        }
        self._sqs.send_message(QueueUrl=self.on_failure_queue_url, MessageBody=json.dumps(message))


def _age_seconds(record: dict[str, Any], now: datetime) -> float:
    created: datetime = record["dynamodb"]["ApproximateCreationDateTime"]
    return (now - created).total_seconds()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- the group -------------------------------------------------------------------------------------------
class PollerGroup:
    """Every event-source mapping of a spec, each polled by its own daemon thread."""

    def __init__(
        self,
        spec: ServiceSpec,
        provisioned: Provisioned,
        clients: ClientSource,
        *,
        handlers: Mapping[str, Handler] | None = None,
        mappings: Iterable[EventSourceMapping] | None = None,
        checkpoints: Mapping[str, str] | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        retry_delay: float = DEFAULT_RETRY_DELAY,
        chaos: ChaosSettings | None = None,
    ) -> None:
        """Build pollers for ``mappings`` (default: ``spec.mappings``).

        ``handlers`` maps function names to callables (tests); other functions' handlers are imported
        from ``Function.handler`` on first use. ``checkpoints`` (from ``checkpoints()`` of an earlier
        run) lets stream pollers resume where they stopped instead of at the starting position.
        ``chaos``: redeliveries and delays (``local_cloud.chaos``; None: none).
        """
        self._clients = clients
        self.chaos_counts = ChaosCounts()
        """What the pollers' chaos did (redeliveries, delayed deliveries)."""
        settings = chaos or ChaosSettings()
        self._sqs = clients.client("sqs")
        self.pollers: list[Poller] = []
        self._queue_urls: list[str] = []
        handlers = handlers or {}
        checkpoints = checkpoints or {}
        for mapping in spec.mappings if mappings is None else mappings:
            function = _function_or_none(spec, mapping.function)
            chaos_of = DeliveryChaos(settings, _checkpoint_key(mapping), self.chaos_counts)
            handler = handlers.get(mapping.function)
            if handler is None:
                if function is None:
                    raise KeyError(f"no handler for function {mapping.function!r}")
                handler = LazyHandler(function.handler)
            if mapping.kind == "queue":
                url = provisioned.queue_urls[mapping.source]
                self._queue_urls.append(url)
                self.pollers.append(
                    SqsPoller(
                        mapping,
                        url,
                        handler,
                        clients=clients,
                        queue_arn=provisioned.queue_arns.get(mapping.source),
                        function=function,
                        poll_interval=poll_interval,
                        chaos=chaos_of,
                    )
                )
            else:
                on_failure = provisioned.queue_url(mapping.on_failure) if mapping.on_failure else None
                poller = StreamPoller(
                    mapping,
                    provisioned.stream_arns[mapping.source],
                    handler,
                    on_failure,
                    clients=clients,
                    function=function,
                    poll_interval=poll_interval,
                    retry_delay=retry_delay,
                    checkpoint=checkpoints.get(_checkpoint_key(mapping)),
                    chaos=chaos_of,
                )
                self.pollers.append(poller)

    @classmethod
    def for_spec(
        cls,
        spec: ServiceSpec,
        clients: ClientSource,
        provisioned: Provisioned,
        **options: Any,
    ) -> PollerGroup:
        """``PollerGroup(spec, provisioned, clients, **options)`` with the runtime's argument order."""
        return cls(spec, provisioned, clients, **options)

    def start(self) -> PollerGroup:
        """Start every poller thread."""
        for poller in self.pollers:
            poller.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop all pollers (each finishes its current invocation) and join their threads."""
        for poller in self.pollers:
            poller.request_stop()
        for poller in self.pollers:
            poller.join(timeout)

    def __enter__(self) -> PollerGroup:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def set_chaos(self, settings: ChaosSettings) -> None:
        """Redeliver and delay as ``settings`` say from now on (deliveries held back stay held)."""
        for poller in self.pollers:
            poller.chaos.settings = settings

    def checkpoints(self) -> dict[str, str]:
        """Stream checkpoints by mapping, to persist and pass to the next run's group."""
        return {
            _checkpoint_key(p.mapping): p.checkpoint
            for p in self.pollers
            if isinstance(p, StreamPoller) and p.checkpoint is not None
        }

    def drain(self, timeout: float = 10.0) -> None:
        """Return once every mapped queue is empty and every stream is caught up; else TimeoutError.

        Idle means: after a moment T, every poller has completed a poll that started after T and
        found nothing, no poller did work after T (a handler may have fed another source) or holds a
        delivery back (chaos delays), and every polled queue has no visible, in-flight or delayed
        message. Failed messages waiting for their visibility timeout or their move to the DLQ, and
        chaos's duplicates, therefore keep the group busy, as they should.
        """
        deadline = time.monotonic() + timeout
        while True:
            round_start = time.monotonic()
            self._wait_for_idle_polls(round_start, deadline)
            busy = self._busy(round_start)
            if not busy and self._queues_empty():
                # The queue counts are not one snapshot: moto computes the visible count before the
                # in-flight one, so a message whose visibility timeout ends in between is in neither,
                # and a poller may receive a message between the two. Either way a poll after the
                # check finds it, so idle means idle once more after the check.
                checked = time.monotonic()
                self._wait_for_idle_polls(checked, deadline)
                busy = self._busy(round_start)
                if not busy:
                    return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"pollers not idle after {timeout}s: {busy or 'messages in flight'}")
            time.sleep(0.02)

    def _busy(self, since: float) -> list[str]:
        return [p.name for p in self.pollers if p.last_work_at >= since or p.pending]

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Like ``drain`` but return False (and log what is busy) instead of raising on timeout."""
        try:
            self.drain(timeout)
        except TimeoutError as error:
            logger.warning("%s", error)
            return False
        return True

    def _wait_for_idle_polls(self, round_start: float, deadline: float) -> None:
        for poller in self.pollers:
            with poller._activity:
                while poller.idle_poll_started_at < round_start:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise TimeoutError(f"poller {poller.name} still busy")
                    poller._activity.wait(remaining)

    def _queues_empty(self) -> bool:
        names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ]
        for url in self._queue_urls:
            attributes = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
            if any(int(attributes.get(name, "0")) for name in names):
                return False
        return True


def _checkpoint_key(mapping: EventSourceMapping) -> str:
    return f"{mapping.source}->{mapping.function}"


def _function_or_none(spec: ServiceSpec, name: str) -> Function | None:
    try:
        return spec.function(name)
    except KeyError:
        return None
