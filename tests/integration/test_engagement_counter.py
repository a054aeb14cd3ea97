"""engagement-counter, called directly with real-shaped engagements-stream events: like counts are
applied once per tweet per batch, exactly, however records are redelivered, failed or replayed.

State lives in private copies of the tables without streams, so the local cloud's pollers cannot do the
consumer's work first.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Chirp")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "chirp")

import pytest
from boto3.dynamodb.types import TypeSerializer
from ulid import ULID

from functions.core.clock import iso_millis
from functions.core.rate_limits import TWEETS as _LIMIT
from functions.core.rate_limits import charge
from functions.tweets.dal import EngagementRecord, TweetRecord, TweetRepository, engagement_key
from functions.tweets.handlers import counter
from functions.users.dal import UserRecord
from infra.resources import ENGAGEMENTS, TWEETS, USERS
from local_cloud.lambda_runtime import LocalLambdaContext
from tests.support.events import event
from tests.support.tables import private_copies

AUTHOR = "author-0001"
_SERIALIZE = TypeSerializer().serialize


@pytest.fixture
def private_tables(cloud: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    cloud.wait_idle(10)
    for var, name in private_copies(cloud.aws, (TWEETS, ENGAGEMENTS, USERS), uuid.uuid4().hex[:8]).items():
        monkeypatch.setenv(var, name)
    counter.repository.cache_clear()
    yield
    counter.repository.cache_clear()
    monkeypatch.undo()


def _tweet() -> str:
    UserRecord(pk=AUTHOR, username=AUTHOR, email=f"{AUTHOR}@example.com", created_at=iso_millis(0)).save()
    now = time.time()
    record = TweetRecord(
        tweet_id=str(ULID()), kind="tweet", author_id=AUTHOR, created_at=iso_millis(now), text="hi"
    )
    TweetRepository().post(record, charge(_LIMIT, AUTHOR, now))
    return record.tweet_id


class Stream:
    """Engagements-stream records with increasing sequence numbers, shaped like the sample event."""

    def __init__(self) -> None:
        self.seq = 111100000000012345678950

    def record(
        self, name: str, tweet_id: str, user: str, old: dict[str, Any] | None, new: dict[str, Any] | None
    ):  # type: ignore[no-untyped-def]
        self.seq += 1
        record: dict[str, Any] = event("engagements_stream_insert.json")["Records"][0]
        record["eventID"] = uuid.uuid4().hex
        record["eventName"] = name
        keys = {"tweet_id": tweet_id, "sk": engagement_key(user)}
        change = record["dynamodb"]
        change["Keys"] = {k: _SERIALIZE(v) for k, v in keys.items()}
        change["SequenceNumber"] = str(self.seq)
        change.pop("NewImage", None)
        for field, image in (("OldImage", old), ("NewImage", new)):
            if image is not None:
                change[field] = {k: _SERIALIZE(v) for k, v in {**keys, "user_id": user, **image}.items()}
        return record

    def like(self, tweet_id: str, user: str, retweet: str | None = None) -> dict[str, Any]:
        old = {"retweet_id": retweet} if retweet else None
        new = {"liked_at": iso_millis(time.time()), **({"retweet_id": retweet} if retweet else {})}
        return self.record("MODIFY" if retweet else "INSERT", tweet_id, user, old, new)

    def unlike(self, tweet_id: str, user: str) -> dict[str, Any]:
        return self.record("REMOVE", tweet_id, user, {"liked_at": iso_millis(time.time())}, None)

    def retweet_only(self, tweet_id: str, user: str) -> dict[str, Any]:
        return self.record("INSERT", tweet_id, user, None, {"retweet_id": str(ULID())})


def _run(records: list[dict[str, Any]]) -> list[str]:
    response = counter.lambda_handler({"Records": records}, LocalLambdaContext("engagement-counter"))
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def _replay(records: list[dict[str, Any]]) -> list[str]:
    messages = [
        {"messageId": f"m{i}", "eventSource": "aws:sqs", "body": json.dumps(record)}
        for i, record in enumerate(records)
    ]
    response = counter.lambda_handler({"Records": messages}, LocalLambdaContext("engagement-counter"))
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def _count(tweet_id: str) -> int:
    return int(TweetRecord.get(tweet_id, consistent_read=True).like_count)


@pytest.mark.usefixtures("private_tables")
def test_a_batch_is_one_update_per_tweet_and_a_redelivery_changes_nothing() -> None:
    first, second = _tweet(), _tweet()
    stream = Stream()
    batch = [
        stream.like(first, "u1"),
        stream.like(second, "u1"),
        stream.like(first, "u2"),
        stream.retweet_only(first, "u3"),  # leaves the count alone
        stream.like(first, "u3"),
        stream.unlike(first, "u2"),
    ]
    assert _run(batch) == []
    assert (_count(first), _count(second)) == (2, 1)
    stored = TweetRecord.get(first, consistent_read=True)
    assert stored.like_seq == batch[-1]["dynamodb"]["SequenceNumber"].zfill(40)

    # The whole batch again, then a suffix that overlaps it and goes on: only what is new counts.
    assert _run(batch) == []
    assert _run([*batch[3:], stream.like(second, "u4")]) == []
    assert (_count(first), _count(second)) == (2, 2)


@pytest.mark.usefixtures("private_tables")
def test_a_failed_tweet_fails_only_its_records_and_the_retry_converges_exactly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    good, bad = _tweet(), _tweet()
    stream = Stream()
    batch = [stream.like(good, "u1"), stream.like(bad, "u1"), stream.like(good, "u2"), stream.like(bad, "u2")]
    real = TweetRepository.apply_like_changes

    def failing(self: TweetRepository, tweet_id: str, changes: Any) -> Any:
        if tweet_id == bad:
            raise RuntimeError("throttled")
        return real(self, tweet_id, changes)

    monkeypatch.setattr(TweetRepository, "apply_like_changes", failing)
    failed = _run(batch)
    assert failed == [batch[1]["dynamodb"]["SequenceNumber"], batch[3]["dynamodb"]["SequenceNumber"]]
    assert (_count(good), _count(bad)) == (2, 0)

    # The stream retries from the lowest failed record, so good's second like comes again.
    monkeypatch.setattr(TweetRepository, "apply_like_changes", real)
    assert _run(batch[1:]) == []
    assert (_count(good), _count(bad)) == (2, 2)


@pytest.mark.usefixtures("private_tables")
def test_a_like_that_landed_after_its_tweet_was_deleted_is_removed() -> None:
    tweet_id = _tweet()
    like = Stream().like(tweet_id, "late")
    liked_at = like["dynamodb"]["NewImage"]["liked_at"]["S"]
    EngagementRecord(tweet_id=tweet_id, sk=engagement_key("late"), user_id="late", liked_at=liked_at).save()
    TweetRecord(tweet_id=tweet_id).delete()

    assert _run([like]) == []

    assert list(EngagementRecord.query(tweet_id, consistent_read=True)) == []
    with pytest.raises(TweetRecord.DoesNotExist):  # the count's update did not create an item
        TweetRecord.get(tweet_id, consistent_read=True)


@pytest.mark.usefixtures("private_tables")
def test_a_replayed_record_recounts_its_tweet_from_the_engagement_items() -> None:
    tweet_id = _tweet()
    stream = Stream()
    for user in ("u1", "u2", "u3"):
        EngagementRecord(tweet_id=tweet_id, sk=engagement_key(user), user_id=user, liked_at="x").save()
    EngagementRecord(tweet_id=tweet_id, sk=engagement_key("rt"), user_id="rt", retweet_id="r").save()
    later = stream.like(tweet_id, "u3")
    assert _run([later]) == []  # the stream went on past a batch it gave up on
    assert _count(tweet_id) == 1

    given_up = [stream.like(tweet_id, "u1"), stream.like(tweet_id, "u2")]
    assert _replay(given_up) == []
    assert _count(tweet_id) == 3
    assert _replay(given_up) == []  # a replay sent twice: still the truth
    assert _count(tweet_id) == 3


@pytest.mark.usefixtures("private_tables")
def test_an_unreadable_record_fails_alone() -> None:
    tweet_id = _tweet()
    stream = Stream()
    broken = stream.like(tweet_id, "u1")
    broken["eventName"] = "UPSERT"
    batch = [broken, stream.like(tweet_id, "u2")]
    assert _run(batch) == [broken["dynamodb"]["SequenceNumber"]]
    assert _count(tweet_id) == 1
