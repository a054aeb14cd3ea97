"""Stream consumer of the engagements table: keeps each tweet's ``like_count`` (``engagement-counter``).

A batch's likes and un-likes are summed per tweet and applied in one conditional UpdateItem per tweet
(``TweetRepository.apply_like_changes``: idempotent by the stream's sequence numbers). Written by hand
rather than through ``batch_consumer``: Powertools' batch processor handles records one at a time, and
what makes a burst cheap is applying one update per tweet per batch. Failures are still reported per
record (``batchItemFailures``): the changes of a tweet whose update failed, so the stream retries from
the first of them and the updates already applied are recognised by their sequence numbers.

Records that exhausted the mapping's retries come back through ``engagement-counter-replay`` (filled by
``stream-rescue``). By then later records may have been counted, so their sequence numbers no longer
say what is counted: each tweet they name is recounted from its engagement items instead.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from functions.core.config import load
from functions.core.consumer import StreamRecord, from_queue
from functions.core.observability import logger, metrics, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from functions.tweets.dal import TweetRepository


@lru_cache(maxsize=1)
def repository() -> TweetRepository:
    from functions.tweets.dal import TweetRepository
    from functions.tweets.settings import CounterSettings

    load(CounterSettings)  # fails the first call, naming what the environment lacks
    return TweetRepository()


def _records(event: dict[str, Any], replays: bool) -> tuple[list[tuple[str, StreamRecord]], list[str]]:
    """(record id, record) for every record that parses, and the ids of those that do not (reported
    failed: a stream retries them, then hands them to the on-failure queue; SQS to its DLQ)."""
    parsed: list[tuple[str, StreamRecord]] = []
    unreadable: list[str] = []
    for raw in event.get("Records") or []:
        stream_change = raw.get("dynamodb") or {}
        record_id = str(raw.get("messageId") if replays else stream_change.get("SequenceNumber"))
        try:
            body = json.loads(raw["body"]) if replays else raw
            parsed.append((record_id, StreamRecord.model_validate(body)))
        except (KeyError, TypeError, ValueError):  # pydantic's ValidationError is a ValueError
            logger.exception("unreadable engagements record", extra={"record_id": record_id})
            unreadable.append(record_id)
    return parsed, unreadable


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from functions.tweets.counts import by_tweet

    replays = from_queue(event)
    records, failed = _records(event, replays)
    repo = repository()
    outcomes: dict[str, int] = {}
    for tweet_id, group in by_tweet(records).items():
        try:
            if replays:
                outcome = "recounted" if repo.recount_likes(tweet_id) is not None else "tweet_gone"
            else:
                outcome = repo.apply_like_changes(tweet_id, [change for _, change in group]).value
        except Exception:  # noqa: BLE001 - this tweet's records fail alone; the others' updates stand
            logger.exception("like count not updated", extra={"tweet_id": tweet_id, "replay": replays})
            failed.extend(record_id for record_id, _ in group)
            continue
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    logger.info("like counts", extra={"records": len(records), "tweets": outcomes, "failed": len(failed)})
    return {"batchItemFailures": [{"itemIdentifier": record_id} for record_id in failed]}
