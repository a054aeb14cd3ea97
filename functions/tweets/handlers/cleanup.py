"""Stream consumer of the tweets table: removes the likes and retweets of deleted originals.

The DELETE route removes the tweet synchronously (so it never appears again, and retweets of it are
dropped at read time); this consumer then deletes its engagement items and retweet items and takes the
retweets off the retweeters' tweet_count. Every step is conditional, so a redelivered record changes
nothing (no idempotency record is needed). Failed records are reported individually
(``batchItemFailures``); the mapping in ``infra/resources.py`` retries, bisects and finally sends them to
the ``stream-failures`` queue, from which ``stream-rescue`` brings the records back through
``tweets-cleanup-replay`` (an event source of this function too: same handler, same conditions).
"""

from __future__ import annotations

from dataclasses import asdict
from functools import lru_cache
from typing import Any

from functions.core.config import load
from functions.core.consumer import StreamRecord, batch_consumer
from functions.core.observability import logger
from functions.tweets.dal import TweetRepository
from functions.tweets.logic import CleanupService
from functions.tweets.models import TweetImage
from functions.tweets.settings import CleanupSettings


@lru_cache(maxsize=1)
def service() -> CleanupService:
    load(CleanupSettings)  # fails the first call, naming what the environment lacks
    return CleanupService(TweetRepository())


def not_a_removal(record: StreamRecord) -> bool:
    """Only REMOVE records concern the cleanup; the mapping delivers only those (this guards the rest)."""
    return record.event_name != "REMOVE"


def parse_removed(record: StreamRecord) -> TweetImage:
    return TweetImage.model_validate(record.change.old_image or {})


def purge(removed: TweetImage) -> dict[str, Any]:
    report = service().tweet_removed(removed.tweet_id, removed.kind)
    if report.likes_removed or report.retweets_removed:
        logger.info(
            "engagements of a deleted tweet removed", extra={"tweet_id": removed.tweet_id, **asdict(report)}
        )
    return asdict(report)


lambda_handler = batch_consumer(StreamRecord, purge, parse=parse_removed, skip=not_a_removal)
