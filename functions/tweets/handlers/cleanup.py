"""Stream consumer of the tweets table: removes the likes and retweets of deleted originals.

The DELETE route removes the tweet synchronously (so it never appears again, and retweets of it are
dropped at read time); this consumer then deletes its engagement items and retweet items and takes the
retweets off the retweeters' tweet_count. Every step is conditional, so a redelivered record changes
nothing. Failed records are reported individually (``batchItemFailures``); the mapping in
``infra/resources.py`` retries, bisects and finally sends them to the ``stream-failures`` queue.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, StringConstraints

from functions.core.observability import logger, metrics, tracer
from functions.tweets.dal import KIND_TWEET, TweetRepository
from functions.tweets.logic import CleanupService


class RemovedTweet(BaseModel):
    """The part of a REMOVE record's old image the cleanup needs."""

    model_config = ConfigDict(extra="ignore")

    tweet_id: Annotated[str, StringConstraints(min_length=1)]
    kind: str = KIND_TWEET


@lru_cache(maxsize=1)
def service() -> CleanupService:
    return CleanupService(TweetRepository())


@lru_cache(maxsize=1)
def processor() -> BatchProcessor:
    return BatchProcessor(event_type=EventType.DynamoDBStreams)


def record_handler(record: DynamoDBRecord) -> None:
    """Handle one stream record; an exception marks only this record as failed."""
    if record.event_name != DynamoDBRecordEventName.REMOVE:
        return
    removed = RemovedTweet.model_validate(record.dynamodb.old_image if record.dynamodb else {})
    report = service().tweet_removed(removed.tweet_id, removed.kind)
    if report.likes_removed or report.retweets_removed:
        logger.info(
            "engagements of a deleted tweet removed",
            extra={
                "tweet_id": removed.tweet_id,
                "likes": report.likes_removed,
                "retweets": report.retweets_removed,
            },
        )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor(), context=context
    )
    return dict(response)
