"""Queue consumer of ``fanout``: applies one chunk of timeline changes per message.

Each message is applied at most once per messageId (Powertools idempotency: a redelivered ``add`` after
a later ``remove`` must not resurrect the entry). A message whose BatchWriteItem still has
UnprocessedItems after the capped backoff fails alone (``batchItemFailures``); SQS redelivers it after
the visibility timeout and moves it to ``fanout-dlq`` after maxReceiveCount (``make redrive`` replays).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core.observability import logger, metrics, tracer
from functions.timeline.handlers.idempotency import Once
from functions.timeline.handlers.wiring import timelines
from functions.timeline.models import FanoutMessage


def handle_message(record: dict[str, Any]) -> dict[str, Any]:
    """Apply one fan-out message (the unit made idempotent on its messageId)."""
    message = FanoutMessage.model_validate_json(record["body"])
    stats = timelines().apply(message)
    logger.debug("fan-out message applied", extra={"op": message.op, "users": len(message.users)})
    return asdict(stats)


once = Once(handle_message, key="messageId")


def processor() -> BatchProcessor:
    """A fresh processor per invocation: it holds the batch's state, which must not outlive the batch."""
    return BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    once(record.raw_event)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    once.register(context)
    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=processor(), context=context
        )
    )
