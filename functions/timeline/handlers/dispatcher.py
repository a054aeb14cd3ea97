"""Stream consumer of the tweets and follows tables: turns timeline changes into fan-out work.

- tweets INSERT (tweet, reply or retweet): the author's timeline gets the entry; unless the author is a
  celebrity, ``add`` messages carry it to every active follower (the worker writes them).
- tweets REMOVE: the entry leaves the author's timeline and ``remove`` messages take it out of followers'.
- follows INSERT: backfill of the followee's newest tweets (or the pull set, for a celebrity).
- follows REMOVE: the followee's entries leave the follower's timeline.
Both streams map to this one function (``infra/resources.py``); records tell their table by their keys.
Each record is processed at most once per eventID (Powertools idempotency), failures are reported per
record (``batchItemFailures``), and the mapping retries, bisects and finally reports to
``stream-failures``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from functions.core.observability import logger, metrics, tracer
from functions.timeline.fanout import FanoutReport
from functions.timeline.handlers.idempotency import Once
from functions.timeline.handlers.wiring import timelines
from functions.tweets.dal import KIND_RETWEET, KIND_TWEET, TweetRecord


class TweetImage(BaseModel):
    """The part of a tweets-table image the fan-out needs."""

    model_config = ConfigDict(extra="ignore")

    tweet_id: str
    kind: str = KIND_TWEET
    author_id: str
    retweet_of: str | None = None

    def record(self) -> TweetRecord:
        return TweetRecord(
            tweet_id=self.tweet_id, kind=self.kind, author_id=self.author_id, retweet_of=self.retweet_of
        )


class FollowImage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    follower_id: str
    followee_id: str


def handle_record(record: dict[str, Any]) -> dict[str, Any]:
    """Process one stream record (the unit made idempotent on its eventID)."""
    parsed = DynamoDBRecord(record)
    stream = parsed.dynamodb
    if stream is None:
        return {}
    keys = stream.keys or {}
    name = parsed.event_name
    report = FanoutReport()
    if "tweet_id" in keys:
        if name == DynamoDBRecordEventName.INSERT:
            tweet = TweetImage.model_validate(stream.new_image)
            if tweet.kind in (KIND_TWEET, KIND_RETWEET):
                report = timelines().tweet_posted(tweet.record())
        elif name == DynamoDBRecordEventName.REMOVE:
            tweet = TweetImage.model_validate(stream.old_image)
            if tweet.kind in (KIND_TWEET, KIND_RETWEET):
                report = timelines().tweet_removed(tweet.record())
    elif "follower_id" in keys:
        if name == DynamoDBRecordEventName.INSERT:
            edge = FollowImage.model_validate(stream.new_image)
            report = timelines().followed(edge.follower_id, edge.followee_id)
        elif name == DynamoDBRecordEventName.REMOVE:
            edge = FollowImage.model_validate(stream.old_image)
            report = timelines().unfollowed(edge.follower_id, edge.followee_id)
    result = report.as_dict()
    logger.debug("stream record dispatched", extra={"event_id": record.get("eventID"), **result})
    return result


once = Once(handle_record, key="eventID")


def processor() -> BatchProcessor:
    """A fresh processor per invocation: it holds the batch's state, which must not outlive the batch."""
    return BatchProcessor(event_type=EventType.DynamoDBStreams)


def record_handler(record: DynamoDBRecord) -> None:
    """An exception marks only this record as failed (the stream retries from it).

    MODIFY records (a count changed) mean nothing here and cost no idempotency writes. The mappings
    filter them out already (``event_names`` in infra/resources.py); this guards direct invocations."""
    if record.event_name not in (DynamoDBRecordEventName.INSERT, DynamoDBRecordEventName.REMOVE):
        return
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
