"""The one entry point of every batch consumer (DynamoDB stream and SQS event-source mappings).

A consumer is a record parser and a record handler; ``batch_consumer`` owns everything else:
- the decorator stack (logger context, tracer, metrics), as ``core.http`` does for the API functions;
- a fresh Powertools ``BatchProcessor`` per invocation (it holds the batch's state) and the partial batch
  response: a record that raises is reported alone in ``batchItemFailures``, the rest of the batch stands;
- parsing: each record is validated as the part of its envelope consumers read (``QueueMessage``,
  ``StreamRecord`` with its images as plain Python values; the envelope model also names the event
  type), records the consumer ``skip``s are done at once (no idempotency write), and the consumer's
  parser turns the rest into domain values (pydantic models of the body or image). A record that does
  not parse fails alone, before any side effect;
- optional idempotency: the handler runs at most once per record id (the stream ``eventID``, the SQS
  ``messageId``), through Powertools idempotency on the table named by IDEMPOTENCY_TABLE_NAME, built on
  first use. A repeat returns the stored result without running the handler; a failure removes the
  in-progress marker so the redelivery runs it again. Costs 1 PutItem + 1 UpdateItem per record;
- replays: a stream consumer also takes SQS messages whose body is one stream record as the stream
  delivered it (its replay queue, filled by ``stream-rescue`` with records that exhausted the stream
  mapping's retries). Each body goes through the same envelope, skip, parser and idempotency as a stream
  record, keyed by the record's own ``eventID``: a replay of a record the stream already applied, a
  replay sent twice or one redriven from the DLQ under a new messageId applies once. Failures are
  reported by messageId, as SQS expects.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar

from aws_lambda_powertools.shared.dynamodb_deserializer import TypeDeserializer
from pydantic import BaseModel, ConfigDict, Field, field_validator

from functions.core.config import env
from functions.core.observability import logger, metrics, tracer
from functions.core.retry import client

# Powertools' batch and idempotency utilities load on the first invocation: the persistence layer imports
# boto3, the batch processor every event source's data classes; neither is needed to import a handler.
if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
    from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
    from aws_lambda_powertools.utilities.typing import LambdaContext

T = TypeVar("T")
E = TypeVar("E", bound="Envelope")
Result = Mapping[str, Any] | None
"""What a record handler returns: JSON-serialisable, since idempotency stores it for repeats."""
LambdaHandler = Callable[[dict[str, Any], "LambdaContext"], dict[str, Any]]

EXPIRES_AFTER_SECONDS = 24 * 3600
"""How long a processed record is remembered: longer than any redelivery we expect (stream retries,
SQS visibility timeouts up to maxReceiveCount)."""

_DESERIALIZER = TypeDeserializer()


# Own models of the envelopes rather than Powertools' parser models: importing those loads every event
# source's models (about 170 ms of cold start), and a consumer reads only these few fields.
class Envelope(BaseModel):
    """One record of a batch, as a consumer reads it; the class names its event source."""

    # Validators built on the first record, not when a handler module is imported.
    model_config = ConfigDict(extra="ignore", defer_build=True)

    event_type: ClassVar[Literal["SQS", "DynamoDBStreams"]]
    """The source, as Powertools' ``EventType`` names it."""
    record_id: ClassVar[str]
    """The field that identifies a delivery: the idempotency key."""
    replayable: ClassVar[bool] = False
    """Whether records of this kind also arrive as SQS messages whose body is the record (a replay)."""


class QueueMessage(Envelope):
    """One SQS record of a batch: its id and body."""

    event_type = "SQS"
    record_id = "messageId"

    message_id: str = Field(alias="messageId")
    body: str


class StreamChange(BaseModel):
    """The ``dynamodb`` part of a stream record; images and keys as plain Python values."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    keys: dict[str, Any] = Field(alias="Keys")
    new_image: dict[str, Any] | None = Field(default=None, alias="NewImage")
    old_image: dict[str, Any] | None = Field(default=None, alias="OldImage")
    sequence_number: str = Field(alias="SequenceNumber")

    @field_validator("keys", "new_image", "old_image", mode="before")
    @classmethod
    def _plain(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {name: _DESERIALIZER.deserialize(attribute) for name, attribute in value.items()}


class StreamRecord(Envelope):
    """One DynamoDB stream record of a batch."""

    event_type = "DynamoDBStreams"
    record_id = "eventID"
    replayable = True

    event_id: str = Field(alias="eventID")
    event_name: Literal["INSERT", "MODIFY", "REMOVE"] = Field(alias="eventName")
    change: StreamChange = Field(alias="dynamodb")


def idempotency_store() -> BasePersistenceLayer:
    """A persistence layer on the idempotency table, over the environment's shared DynamoDB client. Each
    consumer gets its own: Powertools configures a layer for one key expression on first use."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(table_name=env("IDEMPOTENCY_TABLE_NAME"), boto3_client=client("dynamodb"))


class _Once(Generic[T]):
    """``handler(value)`` at most once per ``record[key]``, built on first use (never at import time).

    An execution environment runs one invocation at a time (the local runtime too), so the config that
    holds the invocation's context can be shared by the invocations that follow."""

    def __init__(self, handler: Callable[[T], Result], key: str) -> None:
        self.handler = handler
        self.key = key
        self._built: tuple[IdempotencyConfig, Callable[..., Result]] | None = None

    def _state(self) -> tuple[IdempotencyConfig, Callable[..., Result]]:
        if self._built is None:
            from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

            config = IdempotencyConfig(
                event_key_jmespath=self.key,
                expires_after_seconds=EXPIRES_AFTER_SECONDS,
                raise_on_no_idempotency_key=True,  # a record without its id must not run unguarded
            )

            # Named after the handler: Powertools prefixes the stored keys with the function's name.
            @functools.wraps(self.handler)
            def run(record: dict[str, Any], value: T) -> Result:
                return self.handler(value)

            wrapped = idempotent_function(
                data_keyword_argument="record", persistence_store=idempotency_store(), config=config
            )(run)
            self._built = (config, wrapped)
        return self._built

    def register(self, context: LambdaContext) -> None:
        """Give Powertools the invocation's context (it bounds in-progress markers by remaining time)."""
        self._state()[0].register_lambda_context(context)

    def __call__(self, record: dict[str, Any], value: T) -> Result:
        return self._state()[1](record=record, value=value)


def batch_consumer(
    envelope: type[E],
    record_handler: Callable[[T], Result],
    *,
    parse: Callable[[E], T],
    skip: Callable[[E], bool] | None = None,
    idempotent: bool = False,
) -> LambdaHandler:
    """The Lambda handler of a consumer of ``envelope`` records (``QueueMessage``: an SQS queue,
    ``StreamRecord``: a DynamoDB stream, and its replay queue, whose bodies are stream records).

    Per record: the envelope is validated, ``skip(envelope)`` records are done at once, then
    ``record_handler(parse(envelope))`` runs (an exception in either fails this record only), at most
    once per record id when ``idempotent``. Returns ``{"batchItemFailures": [...]}`` for the mapping's
    ReportBatchItemFailures.
    """
    once = _Once(record_handler, envelope.record_id) if idempotent else None

    def apply(raw: dict[str, Any]) -> Result:
        parsed = envelope.model_validate(raw)
        if skip is not None and skip(parsed):
            return None
        value = parse(parsed)
        result = once(raw, value) if once is not None else record_handler(value)
        logger.debug("record processed", extra={"record_id": raw.get(envelope.record_id), "result": result})
        return result

    def handle(record: SQSRecord | DynamoDBRecord) -> Result:
        return apply(record.raw_event)

    def handle_replay(record: SQSRecord) -> Result:
        raw = json.loads(record.body)  # the record as the stream delivered it; not an object: fails alone
        if not isinstance(raw, dict):
            raise ValueError(f"message {record.message_id} does not hold one {envelope.__name__}")
        logger.info(
            "replayed record",
            extra={"message_id": record.message_id, "record_id": raw.get(envelope.record_id)},
        )
        return apply(raw)

    @logger.inject_lambda_context
    @tracer.capture_lambda_handler(capture_response=False)
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

        if once is not None:
            once.register(context)
        replays = envelope.replayable and from_queue(event)
        # Per invocation: the processor holds this batch. Lambda never mixes sources in one event.
        processor = BatchProcessor(event_type=EventType("SQS" if replays else envelope.event_type))
        return dict(
            process_partial_response(
                event=event,
                record_handler=handle_replay if replays else handle,
                processor=processor,
                context=context,
            )
        )

    return lambda_handler


def from_queue(event: Mapping[str, Any]) -> bool:
    """Whether the event's records come from an SQS queue (a replay queue, for a stream consumer)."""
    records = event.get("Records") or []
    return bool(records) and isinstance(records[0], dict) and records[0].get("eventSource") == "aws:sqs"
