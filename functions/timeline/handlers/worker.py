"""Queue consumer of ``fanout``: applies one chunk of timeline changes per message.

Each message is applied at most once per messageId (a redelivered ``add`` after a later ``remove`` must
not resurrect the entry). A message whose BatchWriteItem still has UnprocessedItems after the capped
backoff fails alone (``batchItemFailures``); SQS redelivers it after the visibility timeout and moves it
to ``fanout-dlq`` after maxReceiveCount (``make redrive`` replays).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from functions.core.config import load
from functions.core.consumer import QueueMessage, batch_consumer
from functions.core.observability import metrics

# The domain (its models, PynamoDB, boto3) is imported on the first invocation, inside the functions
# below: importing this module stays cheap (functions.core.entry_points).
if TYPE_CHECKING:
    from functions.timeline.fanout import Timelines
    from functions.timeline.models import FanoutMessage


def timelines() -> Timelines:
    """The write side of this execution environment (``wiring.timelines``, built on first use)."""
    from functions.timeline.handlers import wiring

    return wiring.timelines()


def parse_message(record: QueueMessage) -> FanoutMessage:
    from functions.timeline.models import parse_fanout_message

    return parse_fanout_message(record.body)


def apply_message(message: FanoutMessage) -> dict[str, Any]:
    from functions.timeline.settings import WorkerSettings

    load(WorkerSettings)  # fails the first call, naming what the environment lacks
    stats = timelines().apply(message)
    metrics.add_metric(name="FanoutWrites", unit=MetricUnit.Count, value=stats.items)
    return asdict(stats)


lambda_handler = batch_consumer(QueueMessage, apply_message, parse=parse_message, idempotent=True)
