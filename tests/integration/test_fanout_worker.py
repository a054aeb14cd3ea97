"""The fan-out dispatcher and worker against the local cloud's DynamoDB (moto), called directly.

moto never returns UnprocessedItems, so throttling is injected with a botocore ``before-call`` hook that
answers a BatchWriteItem itself (after writing part of it for real).
"""

from __future__ import annotations

import json
import math
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

# Powertools Metrics reads its namespace when functions.core.observability is first imported, which
# here is test collection, before the local cloud exports the functions' environment.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Chirp")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "chirp")

import boto3
import pytest
from ulid import ULID

from functions.core.concurrency import shared_executor
from functions.graph.audience import FollowerPage, GraphAudience
from functions.graph.dal import FollowRecord, FollowRepository, new_follow
from functions.timeline.dal import Backoff, TimelineStore
from functions.timeline.fanout import Timelines
from functions.timeline.handlers import dispatcher, wiring, worker
from functions.timeline.models import AddEntry, EntryBody, FanoutMessage, TimelineEntry
from functions.tweets.models import TweetEntry
from functions.users.dal import UserRepository
from local_cloud.lambda_runtime import LocalLambdaContext
from tests.support.events import event
from tests.support.fanout import RecordingQueue


@pytest.fixture(autouse=True)
def _local_cloud(cloud: Any) -> None:
    """Every test here needs the local cloud's endpoint and table names in the environment."""


class Hooked:
    """A DynamoDB client with a call counter and an optional BatchWriteItem throttle."""

    def __init__(self) -> None:
        self.client = boto3.client("dynamodb")
        self.plain = boto3.client("dynamodb")
        self.batch_writes = 0
        self.unprocessed_plan: list[int] = []  # per call: how many items to leave unprocessed
        self.client.meta.events.register("before-call.dynamodb.BatchWriteItem", self._before)

    def _before(self, params: dict[str, Any], **_: Any) -> Any:
        self.batch_writes += 1
        if not self.unprocessed_plan:
            return None  # a real call
        leave = self.unprocessed_plan.pop(0)
        request = json.loads(params["body"])["RequestItems"]
        ((table, items),) = request.items()
        done, left = items[: len(items) - leave], items[len(items) - leave :]
        if done:
            self.plain.batch_write_item(RequestItems={table: done})
        return _Http(), {"UnprocessedItems": {table: left} if left else {}}


class _Http:
    status_code = 200
    headers: dict[str, str] = {}


def timelines(
    store: TimelineStore | None = None,
    queue: RecordingQueue | None = None,
    audience: GraphAudience | None = None,
    **options: Any,
) -> Timelines:
    """The write side as the composition root builds it, with the given store, queue and audience."""
    return Timelines(
        store or TimelineStore(),
        queue or RecordingQueue(),
        wiring.tweet_reader(),
        audience or wiring.audience(),
        executor=shared_executor(),
        **options,
    )


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def followers_of(author: str, count: int, *, active: int | None = None) -> list[str]:
    """Synthetic followers (edges written as the graph domain writes them); the first ``active`` read
    their home timeline recently."""
    ids = [new_id("f") for _ in range(count)]
    with FollowRecord.batch_write() as batch:
        for follower in ids:
            batch.save(new_follow(follower, author))
    store = TimelineStore()
    for follower in ids[: count if active is None else active]:
        store.touch(follower, time.time())
    return ids


def tweet_by(author: str) -> TweetEntry:
    return TweetEntry.tweet(str(ULID()), author)


def entry_ids(user_id: str) -> list[str]:
    _, entries, _ = TimelineStore().query_page(user_id, None, 1000, with_meta=False)
    return [e.entry_id for e in entries]


def add_message(users: list[str], entry: TimelineEntry) -> AddEntry:
    return AddEntry(users=users, entry=EntryBody.of(entry))


def sqs_event(message: FanoutMessage, message_id: str | None = None) -> dict[str, Any]:
    ev = event("fanout_sqs_event.json")
    ev["Records"][0]["messageId"] = message_id or str(uuid.uuid4())
    ev["Records"][0]["body"] = message.model_dump_json(exclude_none=True)
    return ev


@pytest.fixture
def use(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Timelines], None]]:
    """Make the handlers use the given Timelines (the composition root is a cached factory)."""

    def install(instance: Timelines) -> None:
        monkeypatch.setattr(worker, "timelines", lambda: instance)
        monkeypatch.setattr(dispatcher, "timelines", lambda: instance)

    yield install


# ---- cost ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("followers", [1, 25, 26, 130])
def test_fanning_out_to_n_followers_costs_ceil_n_over_25_batch_writes(followers: int) -> None:
    author = new_id("author")
    ids = followers_of(author, followers)
    queue = RecordingQueue()
    hooked = Hooked()
    fan = timelines(TimelineStore(client=hooked.client), queue, chunk_size=50)

    report = fan.tweet_posted(tweet := tweet_by(author))
    for message in queue.messages:
        if message.op == "add":
            fan.apply(message)

    assert report.recipients == followers and not report.celebrity
    assert hooked.batch_writes == math.ceil(followers / 25)
    assert all(tweet.entry_id in entry_ids(f) for f in ids)
    assert tweet.entry_id in entry_ids(author), "the author's own timeline gets it too"


def test_followers_are_read_in_growing_pages_and_each_page_is_sent_before_the_next_is_read() -> None:
    author = new_id("author")
    ids = followers_of(author, 130)
    events: list[tuple[Any, ...]] = []

    class Queue(RecordingQueue):
        def send(self, messages: Sequence[FanoutMessage], delay_seconds: int = 0) -> int:
            events.append(("send", len(messages)))
            return super().send(messages)

    class Audience(GraphAudience):
        def followers(self, user_id: str, before: str | None, limit: int, since: str = "") -> FollowerPage:
            page = super().followers(user_id, before, limit, since)
            events.append(("page", limit, len(page.follower_ids)))
            return page

    queue = Queue()
    audience = Audience(FollowRepository(), UserRepository())
    fan = timelines(queue=queue, audience=audience, chunk_size=10, follower_page=40)
    report = fan.tweet_posted(tweet_by(author))

    pages = [e[1:] for e in events if e[0] == "page"]
    assert pages == [(10, 10), (20, 20), (40, 40), (40, 40), (40, 20)]
    assert events[:2] == [("page", 10, 10), ("send", 1)], "the first message leaves after the first page"
    adds = [m for m in queue.messages if m.op == "add"]
    assert sorted(u for m in adds for u in m.users) == sorted(ids) and report.recipients == 130
    assert all(len(m.users) == 10 for m in adds)


@pytest.mark.parametrize("inline_max", [0, 100])
def test_inactive_followers_are_skipped_at_fan_out(inline_max: int) -> None:
    author = new_id("author")
    ids = followers_of(author, 6, active=2)
    queue = RecordingQueue()
    fan = timelines(queue=queue, inline_max=inline_max)

    report = fan.tweet_posted(tweet := tweet_by(author))
    for message in queue.messages:
        fan.apply(message)

    assert (report.followers, report.recipients, report.skipped_inactive) == (6, 2, 4)
    assert report.inline == (inline_max > 0)
    adds = [m for m in queue.messages if m.op == "add"]
    assert [set(m.users) for m in adds] == ([] if inline_max else [set(ids[:2])])
    assert [tweet.entry_id in entry_ids(f) for f in ids] == [True, True, False, False, False, False]


def test_a_small_audience_is_written_by_the_dispatcher_and_a_large_one_through_the_queue() -> None:
    small, large = new_id("author"), new_id("author")
    followers_of(small, 4)
    followers_of(large, 30)
    queue = RecordingQueue()
    fan = timelines(queue=queue, inline_max=10, chunk_size=25)

    inline = fan.tweet_posted(tweet_by(small))
    queued = fan.tweet_posted(tweet_by(large))

    assert (inline.inline, inline.messages, inline.recipients, inline.write_calls) == (True, 0, 4, 1)
    assert (queued.inline, queued.recipients) == (False, 30)
    assert [len(m.users) for m in queue.messages if m.op == "add"] == [25, 5]


# ---- UnprocessedItems --------------------------------------------------------------------------------
def test_unprocessed_items_are_retried_with_capped_jittered_backoff() -> None:
    hooked = Hooked()
    hooked.unprocessed_plan = [15, 4]  # first call writes 10 of 25, the retry 11 of 15, then the rest
    sleeps: list[float] = []
    backoff = Backoff(base_seconds=0.05, cap_seconds=0.08, sleep=sleeps.append)
    fan = timelines(TimelineStore(client=hooked.client, backoff=backoff))
    users = [new_id("u") for _ in range(25)]
    tweet_id = str(ULID())
    entry = TimelineEntry(tweet_id, tweet_id, "author", "author")

    stats = fan.apply(add_message(users, entry))

    assert (stats.calls, stats.items, stats.retried_items) == (3, 25, 19)
    assert hooked.batch_writes == 3
    assert len(sleeps) == 2 and 0 <= sleeps[0] <= 0.05 and 0 <= sleeps[1] <= 0.08
    assert all(entry_ids(u) == [entry.entry_id] for u in users)


def test_a_message_still_throttled_after_every_retry_fails_alone_and_succeeds_on_redelivery(
    use: Callable[[Timelines], None],
) -> None:
    hooked = Hooked()
    hooked.unprocessed_plan = [25, 25, 25]  # the first message's three attempts
    store = TimelineStore(client=hooked.client, backoff=Backoff(attempts=3, sleep=lambda _: None))
    use(timelines(store))
    throttled, fine = [new_id("u") for _ in range(25)], [new_id("u")]
    tweet_id = str(ULID())
    entry = TimelineEntry(tweet_id, tweet_id, "author")
    ev = sqs_event(add_message(throttled, entry))
    second = sqs_event(add_message(fine, entry))["Records"][0]
    ev["Records"].append(second)
    failing_id = ev["Records"][0]["messageId"]

    response = worker.lambda_handler(ev, LocalLambdaContext("fanout-worker"))

    assert response["batchItemFailures"] == [{"itemIdentifier": failing_id}]
    assert hooked.batch_writes == 4 and entry_ids(fine[0]) == [tweet_id]

    # SQS redelivers the failed message after the visibility timeout; the throttle is over.
    ev["Records"] = ev["Records"][:1]
    response = worker.lambda_handler(ev, LocalLambdaContext("fanout-worker"))
    assert response["batchItemFailures"] == []
    assert all(entry_ids(u) == [tweet_id] for u in throttled)


# ---- duplicate deliveries -----------------------------------------------------------------------------
def test_a_redelivered_message_changes_nothing(use: Callable[[Timelines], None]) -> None:
    hooked = Hooked()
    use(timelines(TimelineStore(client=hooked.client)))
    reader = new_id("u")
    tweet_id = str(ULID())
    ev = sqs_event(add_message([reader], TimelineEntry(tweet_id, tweet_id, "author")))

    assert worker.lambda_handler(ev, LocalLambdaContext("fanout-worker"))["batchItemFailures"] == []
    TimelineStore().delete_entry(reader, tweet_id)  # e.g. the tweet was deleted meanwhile
    assert worker.lambda_handler(ev, LocalLambdaContext("fanout-worker"))["batchItemFailures"] == []

    assert entry_ids(reader) == [], "the duplicate did not resurrect the entry"
    assert hooked.batch_writes == 1


@pytest.mark.parametrize("inline_max", [0, 100])
def test_a_redelivered_stream_record_changes_nothing(
    use: Callable[[Timelines], None], inline_max: int
) -> None:
    author = new_id("author")
    ids = followers_of(author, 3)
    queue = RecordingQueue()
    use(timelines(queue=queue, inline_max=inline_max))
    tweet_id = str(ULID())
    ev = event("tweets_stream_insert.json")
    record = ev["Records"][0]
    record["eventID"] = uuid.uuid4().hex
    record["dynamodb"]["Keys"]["tweet_id"]["S"] = tweet_id
    record["dynamodb"]["NewImage"]["tweet_id"]["S"] = tweet_id
    record["dynamodb"]["NewImage"]["author_id"]["S"] = author

    assert dispatcher.lambda_handler(ev, LocalLambdaContext("fanout-dispatcher"))["batchItemFailures"] == []
    sent = list(queue.messages)
    TimelineStore().delete_entry(author, tweet_id)
    if inline_max:
        assert tweet_id in entry_ids(ids[0]), "written by the dispatcher"
        TimelineStore().delete_entry(ids[0], tweet_id)
    assert dispatcher.lambda_handler(ev, LocalLambdaContext("fanout-dispatcher"))["batchItemFailures"] == []

    assert queue.messages == sent, "no second round of messages"
    if inline_max:
        assert sent == [] and tweet_id not in entry_ids(ids[0]), "the redelivery wrote nothing"
    else:
        assert [m.op for m in sent if m.op == "add"] == ["add"] and len(sent[0].users) == 3
    assert tweet_id not in entry_ids(author)


def test_a_failing_stream_record_is_reported_alone(use: Callable[[Timelines], None]) -> None:
    use(timelines())
    ev = event("follows_stream_insert.json")
    good = ev["Records"][0]
    bad = json.loads(json.dumps(good))
    bad["eventID"] = uuid.uuid4().hex
    del bad["dynamodb"]["NewImage"]["followee_id"]  # malformed image: this record fails
    bad["dynamodb"]["SequenceNumber"] = "111200000000012345678999"
    good["eventID"] = uuid.uuid4().hex
    ev["Records"] = [good, bad]

    response = dispatcher.lambda_handler(ev, LocalLambdaContext("fanout-dispatcher"))

    assert response["batchItemFailures"] == [{"itemIdentifier": "111200000000012345678999"}]
