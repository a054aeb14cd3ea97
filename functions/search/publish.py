"""Forwarding tweets-stream records to the search indexer, from a consumer the stream already has.

DynamoDB Streams advises at most two concurrent Lambda readers per shard, and the tweets stream has two
(``tweets-cleanup``, ``fanout-dispatcher``). ``fanout-dispatcher`` already receives every tweet INSERT
and REMOVE, so it passes those records on, unchanged, to the ``search-index`` queue, which the indexer
consumes (with its own DLQ and retries, so search being down never holds back timelines, and posting
never depends on search at all).

``forwarding(handler)`` wraps the consumer's Lambda handler: after the handler ran, the batch's tweet
records that it did not fail are sent in SendMessageBatch calls of 10; a record whose send failed is
added to ``batchItemFailures``, so the source delivers it again (the consumer's own work is idempotent
by eventID, and the index's by sequence number).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from functions.core.concurrency import chunked
from functions.core.config import MissingSetting, load
from functions.core.observability import logger
from functions.core.retry import client
from functions.search.settings import PublishSettings

LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]
SQS_BATCH = 10


@lru_cache(maxsize=1)
def _queue_url() -> str:
    return load(PublishSettings).search_index_queue_url


def _tweet_record(raw: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(the id batchItemFailures names, the stream record) when ``raw`` carries a tweets-table INSERT or
    REMOVE (directly, or as the body of a replayed message); None for anything else."""
    if raw.get("eventSource") == "aws:sqs":
        try:
            record = json.loads(raw.get("body") or "")
        except ValueError:
            return None  # the consumer itself fails such a message
        identifier = str(raw.get("messageId"))
    else:
        record, identifier = raw, str(raw.get("dynamodb", {}).get("SequenceNumber"))
    if not isinstance(record, dict) or record.get("eventName") not in ("INSERT", "REMOVE"):
        return None
    if "tweet_id" not in (record.get("dynamodb") or {}).get("Keys", {}):
        return None
    return identifier, record


def publish(records: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Send ``records`` to the search-index queue; the ids of those not sent.
    Calls: ceil(n / 10) SendMessageBatch."""
    unsent: list[str] = []
    sqs = client("sqs")
    for chunk in chunked(records, SQS_BATCH):
        entries = [
            {"Id": str(i), "MessageBody": json.dumps(record, separators=(",", ":"))}
            for i, (_, record) in enumerate(chunk)
        ]
        try:
            response = sqs.send_message_batch(QueueUrl=_queue_url(), Entries=entries)
        except (BotoCoreError, ClientError, MissingSetting) as exc:  # the source delivers them again
            logger.warning("search forwarding failed", extra={"error": str(exc), "records": len(chunk)})
            unsent.extend(identifier for identifier, _ in chunk)
            continue
        unsent.extend(chunk[int(failure["Id"])][0] for failure in response.get("Failed", []))
    return unsent


def forwarding(handler: LambdaHandler) -> LambdaHandler:
    """``handler``, then its batch's tweet records forwarded to the search indexer (see module doc)."""

    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        result = handler(event, context)
        failures = list(result.get("batchItemFailures") or [])
        failed = {str(item.get("itemIdentifier")) for item in failures}
        found = (_tweet_record(raw) for raw in event.get("Records") or [] if isinstance(raw, dict))
        records = [item for item in found if item is not None and item[0] not in failed]
        if records:
            failures += [{"itemIdentifier": identifier} for identifier in publish(records)]
        return {**result, "batchItemFailures": failures}

    return lambda_handler
