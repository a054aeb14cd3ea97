"""Stream consumer of the tweets table: removes the likes, retweets and media of deleted originals.

The DELETE route removes the tweet synchronously (so it never appears again, and retweets of it are
dropped at read time); this consumer then deletes its engagement items and retweet items, takes the
retweets off the retweeters' tweet_count, and deletes its media (the objects, then the items). Every
step is conditional or a delete, so a redelivered record changes nothing (no idempotency record is
needed). Failed records are reported individually (``batchItemFailures``); the mapping in
``infra/resources.py`` retries, bisects and finally sends them to the ``stream-failures`` queue, from
which ``stream-rescue`` brings the records back through ``tweets-cleanup-replay`` (an event source of
this function too: same handler, same conditions).
"""

from __future__ import annotations

from dataclasses import asdict
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from functions.core.config import load
from functions.core.consumer import StreamRecord, batch_consumer
from functions.core.observability import logger

# The domain (its models, PynamoDB, boto3) is imported on the first invocation, inside the functions
# below: importing this module stays cheap (functions.core.entry_points).
if TYPE_CHECKING:
    from functions.tweets.logic import CleanupService
    from functions.tweets.models import TweetImage


@lru_cache(maxsize=1)
def service() -> CleanupService:
    from functions.media.dal import MediaObjects, MediaRepository
    from functions.media.logic import MediaRemoval
    from functions.tweets.dal import TweetRepository
    from functions.tweets.logic import CleanupService
    from functions.tweets.settings import CleanupSettings

    settings = load(CleanupSettings)  # fails the first call, naming what the environment lacks
    return CleanupService(
        TweetRepository(), MediaRemoval(MediaRepository(), MediaObjects(settings.media_bucket))
    )


def not_a_removal(record: StreamRecord) -> bool:
    """Only REMOVE records concern the cleanup; the mapping delivers only those (this guards the rest)."""
    return record.event_name != "REMOVE"


def parse_removed(record: StreamRecord) -> TweetImage:
    from functions.tweets.models import TweetImage

    return TweetImage.model_validate(record.change.old_image or {})


def purge(removed: TweetImage) -> dict[str, Any]:
    from functions.media.models import MediaRef

    media = [MediaRef(m["media_id"], m.get("content_type", ""), m["object_key"]) for m in removed.media]
    report = service().tweet_removed(removed.tweet_id, removed.kind, media)
    if report.likes_removed or report.retweets_removed:
        logger.info(
            "engagements of a deleted tweet removed", extra={"tweet_id": removed.tweet_id, **asdict(report)}
        )
    return asdict(report)


lambda_handler = batch_consumer(StreamRecord, purge, parse=parse_removed, skip=not_a_removal)
