"""Queue consumer of ``stream-failures``: each message is Lambda's on-failure record of one stream batch.

The batch's records are read back from the stream and put on the failed consumer's replay queue
(``functions.streams.rescue``). Records the stream no longer holds are lost: that is logged as an error
with the batch's coordinates and counted in the ``StreamRecordsLost`` metric, and the message is done
(retrying cannot bring them back). A message that fails otherwise (throttling, an unknown consumer)
fails alone (``batchItemFailures``), is received again after the visibility timeout and lands in
``stream-failures-dlq`` after maxReceiveCount.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from functions.core.config import load
from functions.core.consumer import QueueMessage, batch_consumer
from functions.core.observability import logger, metrics
from functions.core.retry import client

# The domain (its models, PynamoDB, boto3) is imported on the first invocation, inside the functions
# below: importing this module stays cheap (functions.core.entry_points).
if TYPE_CHECKING:
    from functions.streams.models import StreamFailure
    from functions.streams.rescue import Rescue


@lru_cache(maxsize=1)
def rescuer() -> Rescue:
    from functions.streams.reader import StreamReader
    from functions.streams.replay import ReplayQueues
    from functions.streams.rescue import Rescue
    from functions.streams.settings import RescueSettings

    settings = load(RescueSettings)  # fails the first call, naming what the environment lacks
    return Rescue(settings.routes, StreamReader(client("dynamodbstreams")), ReplayQueues(client("sqs")))


def parse_failure(record: QueueMessage) -> StreamFailure:
    from functions.streams.models import StreamFailure

    return StreamFailure.model_validate_json(record.body)


def rescue(failure: StreamFailure) -> dict[str, Any]:
    report = rescuer().rescue(failure)
    metrics.add_metric(name="StreamRecordsReplayed", unit=MetricUnit.Count, value=report.replayed)
    if report.lost:
        metrics.add_metric(name="StreamRecordsLost", unit=MetricUnit.Count, value=report.lost)
        logger.error(
            "stream records expired before they could be replayed: their changes are lost",
            extra={**failure.describe(), **report.as_dict()},
        )
    else:
        logger.info("stream batch replayed", extra={**failure.describe(), **report.as_dict()})
    return report.as_dict()


lambda_handler = batch_consumer(QueueMessage, rescue, parse=parse_failure)
