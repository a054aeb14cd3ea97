"""Stream consumer of the tweets and follows tables: turns timeline changes into fan-out work.

- tweets INSERT (tweet, reply or retweet): the author's timeline gets the entry; unless the author is a
  celebrity, ``add`` messages carry it to every active follower (the worker writes them).
- tweets REMOVE: the entry leaves the author's timeline and ``remove`` messages take it out of followers'.
- follows INSERT: backfill of the followee's newest tweets (or the pull set, for a celebrity).
- follows REMOVE: the followee's entries leave the follower's timeline.
Both streams map to this one function (``infra/resources.py``); records tell their table by their keys.
Each record is processed at most once per eventID, failures are reported per record
(``batchItemFailures``), and the mapping retries, bisects and finally reports to ``stream-failures``.
Tweet records are also passed on to the search indexer's queue (``functions.search.publish``): the
tweets stream has no room for a third reader.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from functions.core.config import load
from functions.core.consumer import LambdaHandler, StreamRecord, batch_consumer

# The domain (its models, PynamoDB, boto3) is imported on the first invocation, inside the functions
# below: importing this module stays cheap (functions.core.entry_points).
if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from functions.timeline.fanout import FanoutReport, Timelines

Change = Callable[["Timelines"], "FanoutReport"]
"""What one stream record asks of the write side."""


class FollowImage(BaseModel):
    """The part of a follows-table image the fan-out needs."""

    model_config = ConfigDict(extra="ignore", defer_build=True)  # built on the first follow record

    follower_id: str
    followee_id: str
    follow_seq: str = ""


def timelines() -> Timelines:
    """The write side of this execution environment (``wiring.timelines``, built on first use)."""
    from functions.timeline.handlers import wiring

    return wiring.timelines()


def is_modify(record: StreamRecord) -> bool:
    """MODIFY records (a count changed) mean nothing here and cost no idempotency writes. The mappings
    filter them out already (``event_names`` in infra/resources.py); this guards direct invocations."""
    return record.event_name == "MODIFY"


def parse_change(record: StreamRecord) -> Change:
    """The change an INSERT or REMOVE of a tweet or a follow stands for."""
    from functions.timeline.fanout import Timelines
    from functions.tweets.models import TweetImage

    inserted = record.event_name == "INSERT"
    change = record.change
    image = change.new_image if inserted else change.old_image
    if "tweet_id" in change.keys:
        entry = TweetImage.model_validate(image).entry()
        if entry is None:
            return _unchanged
        return partial(Timelines.tweet_posted if inserted else Timelines.tweet_removed, entry=entry)
    if "follower_id" in change.keys:
        edge = FollowImage.model_validate(image)
        apply = Timelines.followed if inserted else Timelines.unfollowed
        return partial(
            apply, follower_id=edge.follower_id, followee_id=edge.followee_id, follow_seq=edge.follow_seq
        )
    return _unchanged


def _unchanged(_: Timelines) -> FanoutReport:
    """A tweets-table item no timeline shows, or a table this function does not follow."""
    from functions.timeline.fanout import FanoutReport

    return FanoutReport()


def apply_change(change: Change) -> dict[str, Any]:
    from functions.timeline.settings import DispatcherSettings

    load(DispatcherSettings)  # fails the first call, naming what the environment lacks
    return change(timelines()).as_dict()


consume = batch_consumer(StreamRecord, apply_change, parse=parse_change, skip=is_modify, idempotent=True)


@lru_cache(maxsize=1)
def _forwarding() -> LambdaHandler:
    from functions.search.publish import forwarding

    return forwarding(consume)


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The batch's changes applied (``consume``), then its tweet records forwarded to the search
    indexer's queue (``functions.search.publish.forwarding``)."""
    return _forwarding()(event, context)
