"""Consumer that keeps the search indexes in step with the tweets and users tables.

Sources (``infra/resources.py``): the users table's stream (this function is its only reader), and the
``search-index`` queue, whose bodies are stream records as the stream delivered them: tweets-table
records forwarded by ``fanout-dispatcher`` (the tweets stream already has its two readers) and users-
stream records that ``stream-rescue`` replays after they failed past the mapping's retries.

Per batch: every record becomes an index change (``functions.search.documents``), all changes go to the
engine in ONE bulk request, and the records whose change failed (or that did not parse) are reported in
``batchItemFailures``: the stream retries from the first of them, the queue redelivers just them (and
after 10 receives moves them to its DLQ). Applying is idempotent and ordering-safe by the records'
sequence numbers, so no idempotency table is needed: a repeat or a late record is a no-op in the engine.

Not Powertools' ``BatchProcessor``: it calls a handler per record, and the bulk request must see the
whole batch at once; the response shape is the same.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from functions.core.consumer import StreamRecord
from functions.core.observability import logger, metrics, tracer

# The domain (the search client, PynamoDB, boto3) is imported on the first invocation, inside the
# functions below: importing this module stays cheap (functions.core.entry_points).
if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from functions.search.ports import Change, SearchEngine


def _stream_record(raw: dict[str, Any]) -> tuple[str, StreamRecord]:
    """(the id batchItemFailures names, the stream record) of one event record."""
    if raw.get("eventSource") == "aws:sqs":
        body = json.loads(raw["body"])
        if not isinstance(body, dict):
            raise ValueError("the message does not hold a stream record")
        return str(raw["messageId"]), StreamRecord.model_validate(body)
    record = StreamRecord.model_validate(raw)
    return record.change.sequence_number, record


def index_engine() -> SearchEngine:
    """The indexes' engine of this execution environment (``wiring.index_engine``, built on first use)."""
    from functions.search.handlers import wiring

    return wiring.index_engine()


def index_batch(event: dict[str, Any]) -> dict[str, Any]:
    """Apply a batch of records to the indexes; ``{"batchItemFailures": [...]}``."""
    from functions.search.documents import change_of
    from functions.search.ports import EngineUnavailable

    failed: list[str] = []
    pending: list[tuple[str, Change]] = []
    for raw in event.get("Records") or []:
        try:
            identifier, record = _stream_record(raw)
            change = change_of(record)
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            identifier = str(raw.get("messageId") or raw.get("dynamodb", {}).get("SequenceNumber", ""))
            logger.error(
                "record is not an indexable stream record", extra={"id": identifier, "error": str(exc)}
            )
            failed.append(identifier)
            continue
        if change is not None:
            pending.append((identifier, change))
    if pending:
        try:
            reasons = index_engine().apply([change for _, change in pending])
        except EngineUnavailable as exc:
            logger.warning("search engine unavailable; the batch is retried", extra={"error": str(exc)})
            reasons = [str(exc)] * len(pending)
        for (identifier, change), reason in zip(pending, reasons, strict=True):
            if reason is not None:
                logger.warning(
                    "change not applied", extra={"id": identifier, "doc": change.doc_id, "reason": reason}
                )
                failed.append(identifier)
    logger.info("indexed", extra={"changes": len(pending), "failed": len(failed)})
    return {"batchItemFailures": [{"itemIdentifier": identifier} for identifier in dict.fromkeys(failed)]}


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return index_batch(event)
