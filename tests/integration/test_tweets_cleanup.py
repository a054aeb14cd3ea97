"""The tweets-cleanup stream consumer, called directly with a real-shaped DynamoDB stream REMOVE event.

State is built through the tweets repository (the API's own write path) in private copies of the
tables without streams, so the local cloud's pollers cannot do the consumer's work first.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

# Powertools Metrics reads its namespace when functions.core.observability is first imported, which
# here is test collection, before the local cloud exports the functions' environment (see report).
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Chirp")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "chirp")

import pytest
from ulid import ULID

from functions.core.clock import iso_millis
from functions.core.rate_limits import LIKES, charge
from functions.core.rate_limits import TWEETS as _LIMIT
from functions.tweets.dal import EngagementRecord, TweetRecord, TweetRepository, engagement_key
from functions.tweets.handlers.cleanup import lambda_handler
from functions.users.dal import UserRecord
from infra.resources import ENGAGEMENTS, TWEETS, USERS
from local_cloud.lambda_runtime import LocalLambdaContext
from tests.support.events import event
from tests.support.tables import private_copies

AUTHOR, BOB, CAROL = "author-0001", "retweeter-bob", "retweeter-carol"


@pytest.fixture
def private_tables(cloud: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    cloud.wait_idle(10)
    for var, name in private_copies(cloud.aws, (TWEETS, ENGAGEMENTS, USERS), uuid.uuid4().hex[:8]).items():
        monkeypatch.setenv(var, name)
    yield
    monkeypatch.undo()


def _profile(user_id: str) -> None:
    UserRecord(pk=user_id, username=user_id, email=f"{user_id}@example.com", created_at=iso_millis(0)).save()


def _tweet(
    repo: TweetRepository, author: str, kind: str = "tweet", retweet_of: str | None = None
) -> TweetRecord:
    now = time.time()
    record = TweetRecord(
        tweet_id=str(ULID()),
        kind=kind,
        author_id=author,
        created_at=iso_millis(now),
        text="hi",
        retweet_of=retweet_of,
    )
    if kind == "retweet":
        assert repo.retweet(record, charge(_LIMIT, author, now))
    else:
        repo.post(record, charge(_LIMIT, author, now))
    return record


def _flags(tweet_id: str) -> int:
    """Likes and retweets recorded against the tweet (each user's item holds both of theirs)."""
    return sum(len(item.flags()) for item in EngagementRecord.query(tweet_id, consistent_read=True))


def _remove_event(*tweets: TweetRecord) -> dict[str, Any]:
    template = event("tweets_stream_remove.json")
    records = []
    for i, tweet in enumerate(tweets):
        record = dict(template["Records"][0])
        record["dynamodb"] = dict(record["dynamodb"])
        record["dynamodb"]["Keys"] = {"tweet_id": {"S": tweet.tweet_id}}
        record["dynamodb"]["OldImage"] = dict(record["dynamodb"]["OldImage"])
        record["dynamodb"]["OldImage"]["tweet_id"] = {"S": tweet.tweet_id}
        record["dynamodb"]["OldImage"]["kind"] = {"S": tweet.kind}
        record["dynamodb"]["SequenceNumber"] = f"{111100000000012345678901 + i}"
        records.append(record)
    return {"Records": records}


def _seed(repo: TweetRepository) -> TweetRecord:
    for user in (AUTHOR, BOB, CAROL):
        _profile(user)
    original = _tweet(repo, AUTHOR)
    for user in (BOB, CAROL):
        assert repo.like(original.tweet_id, user, iso_millis(time.time()), charge(LIKES, user))
        _tweet(repo, user, kind="retweet", retweet_of=original.tweet_id)
    return original


def test_sample_event_is_a_stream_remove_with_old_image() -> None:
    sample = event("tweets_stream_remove.json")["Records"][0]
    assert sample["eventName"] == "REMOVE" and sample["eventSource"] == "aws:dynamodb"
    assert sample["dynamodb"]["OldImage"]["tweet_id"] == sample["dynamodb"]["Keys"]["tweet_id"]


@pytest.mark.usefixtures("private_tables")
def test_remove_of_an_original_purges_likes_and_retweets_and_redelivery_is_a_no_op() -> None:
    repo = TweetRepository()
    original = _seed(repo)
    assert _flags(original.tweet_id) == 4
    assert UserRecord.get(BOB).tweet_count == UserRecord.get(CAROL).tweet_count == 1
    repo.delete(original)

    ev = _remove_event(original)
    assert lambda_handler(ev, LocalLambdaContext("tweets-cleanup")) == {"batchItemFailures": []}
    assert _flags(original.tweet_id) == 0
    assert list(TweetRecord.scan()) == []  # the retweet items are gone too
    assert UserRecord.get(BOB).tweet_count == UserRecord.get(CAROL).tweet_count == 0
    assert UserRecord.get(AUTHOR).tweet_count == 0

    # Redelivery (streams are at-least-once) changes nothing.
    assert lambda_handler(ev, LocalLambdaContext("tweets-cleanup")) == {"batchItemFailures": []}
    assert UserRecord.get(BOB).tweet_count == UserRecord.get(CAROL).tweet_count == 0


@pytest.mark.usefixtures("private_tables")
def test_remove_of_a_retweet_touches_nothing_else() -> None:
    repo = TweetRepository()
    original = _seed(repo)
    retweet_id = EngagementRecord.get(original.tweet_id, engagement_key(BOB)).retweet_id
    retweet = TweetRecord.get(retweet_id)
    assert lambda_handler(_remove_event(retweet), LocalLambdaContext("tweets-cleanup")) == {
        "batchItemFailures": []
    }
    assert _flags(original.tweet_id) == 4
    assert UserRecord.get(BOB).tweet_count == 1


@pytest.mark.usefixtures("private_tables")
def test_a_bad_record_is_reported_alone_and_the_rest_of_the_batch_is_processed() -> None:
    repo = TweetRepository()
    original = _seed(repo)
    repo.delete(original)
    ev = _remove_event(original, original)
    bad = ev["Records"][0]
    bad["dynamodb"]["OldImage"] = {"kind": {"S": "tweet"}}  # no tweet_id: cannot be processed
    response = lambda_handler(ev, LocalLambdaContext("tweets-cleanup"))
    assert response == {"batchItemFailures": [{"itemIdentifier": bad["dynamodb"]["SequenceNumber"]}]}
    assert _flags(original.tweet_id) == 0  # the good record was still handled


@pytest.mark.usefixtures("private_tables")
def test_inserts_and_modifies_are_ignored() -> None:
    ev = event("tweets_stream_remove.json")
    ev["Records"][0]["eventName"] = "INSERT"
    ev["Records"][0]["dynamodb"]["NewImage"] = ev["Records"][0]["dynamodb"].pop("OldImage")
    assert lambda_handler(ev, LocalLambdaContext("tweets-cleanup")) == {"batchItemFailures": []}
