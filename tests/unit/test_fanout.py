"""Fan-out and home-timeline logic with in-memory fakes: no AWS, no moto."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Any

# Powertools Metrics reads its namespace when functions.core.observability is first imported, which
# here is test collection, before the local cloud exports the functions' environment.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Chirp")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "chirp")

import pytest
from ulid import ULID

from functions.core.config import Settings
from functions.timeline.dal import (
    Backoff,
    FanoutQueue,
    TimelineStore,
    UnprocessedItemsError,
    ulid_lower_bound,
)
from functions.timeline.fanout import Timelines, sampled_for_trim, trim_every
from functions.timeline.models import FanoutMessage, TimelineEntry, TimelineMeta
from functions.timeline.read import HomeTimeline
from functions.tweets.dal import Hydration, TweetRecord
from functions.users.dal import UserRecord
from tests.support.fanout import RecordingQueue

NOW = 1_800_000_000.0


# ---- DynamoDB / SQS client fakes -----------------------------------------------------------------------
class FakeDynamo:
    """Just enough of the low-level client: BatchWriteItem with a throttle plan, metas, puts."""

    def __init__(self, unprocessed_plan: list[int] | None = None, active: bool = True) -> None:
        self.unprocessed_plan = list(unprocessed_plan or [])
        self.batch_writes: list[int] = []
        self.written: list[dict[str, Any]] = []
        self.active = active

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        ((table, items),) = RequestItems.items()
        assert len(items) <= 25
        self.batch_writes.append(len(items))
        leave = self.unprocessed_plan.pop(0) if self.unprocessed_plan else 0
        self.written.extend(items[: len(items) - leave])
        return {"UnprocessedItems": {table: items[len(items) - leave :]} if leave else {}}

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        ((table, request),) = RequestItems.items()
        seen = {"N": str(int(NOW if self.active else NOW - 90 * 86_400))}
        items = [
            {"user_id": k["user_id"], "entry_id": k["entry_id"], "last_seen": seen} for k in request["Keys"]
        ]
        return {"Responses": {table: items}}

    def put_item(self, **_: Any) -> dict[str, Any]:
        return {}

    def get_item(self, **_: Any) -> dict[str, Any]:
        return {}

    def update_item(self, **_: Any) -> dict[str, Any]:
        return {}

    def query(self, **_: Any) -> dict[str, Any]:
        return {"Items": []}  # a trim's look at a timeline: nothing beyond the cap


class FakeSqs:
    def __init__(self, fail_first: int = 0) -> None:
        self.calls: list[int] = []
        self.fail_first = fail_first

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(len(Entries))
        failed = [{"Id": e["Id"]} for e in Entries[: self.fail_first]]
        self.fail_first = 0
        return {"Failed": failed}


def no_sleep() -> Backoff:
    return Backoff(sleep=lambda _: None)


# ---- backoff and batch writes ----------------------------------------------------------------------------
def test_backoff_is_capped_exponential_with_full_jitter() -> None:
    slept: list[float] = []
    backoff = Backoff(base_seconds=0.1, cap_seconds=0.5, sleep=slept.append)
    for attempt in range(8):
        for _ in range(50):
            backoff.pause(attempt)
        window = slept[-50:]
        assert all(0 <= s <= min(0.5, 0.1 * 2**attempt) for s in window)
    assert max(slept[-50:]) > 0.25, "full jitter spreads over the whole capped window"


def test_unprocessed_items_are_retried_until_written() -> None:
    client = FakeDynamo(unprocessed_plan=[20, 5])
    store = TimelineStore(client=client, table_name="timelines", backoff=no_sleep())
    (chunk,) = store.put_entries((f"u{i}", TimelineEntry("E", "E", "a")) for i in range(25))

    stats = store.batch_write(chunk)

    assert (stats.calls, stats.items, stats.retried_items) == (3, 25, 25)
    assert client.batch_writes == [25, 20, 5] and len(client.written) == 25


def test_still_unprocessed_after_every_attempt_raises() -> None:
    client = FakeDynamo(unprocessed_plan=[25] * 4)
    store = TimelineStore(
        client=client, table_name="timelines", backoff=Backoff(attempts=4, sleep=lambda _: None)
    )
    (chunk,) = store.put_entries((f"u{i}", TimelineEntry("E", "E", "a")) for i in range(25))

    with pytest.raises(UnprocessedItemsError) as raised:
        store.batch_write(chunk)
    assert raised.value.remaining == 25 and len(client.batch_writes) == 4


def test_messages_go_ten_per_send_message_batch_and_failed_entries_are_resent() -> None:
    sqs = FakeSqs(fail_first=2)
    queue = FanoutQueue(client=sqs, queue_url="https://sqs/fanout", backoff=no_sleep())
    messages = [FanoutMessage(op="trim", users=[f"u{i}"]) for i in range(23)]

    calls = queue.send(messages)

    assert sqs.calls == [10, 2, 10, 3] and calls == 4


# ---- trim sampling --------------------------------------------------------------------------------------
def test_trim_sampling_is_deterministic_and_about_one_in_k() -> None:
    assert trim_every(5) == 1 and trim_every(800) == 100 and trim_every(100_000) == 100
    picks = [sampled_for_trim(f"user{i}", "01ENTRY", 100) for i in range(20_000)]
    assert 120 < sum(picks) < 280
    assert picks == [sampled_for_trim(f"user{i}", "01ENTRY", 100) for i in range(20_000)]


# ---- fan-out with fake graph ---------------------------------------------------------------------------
@dataclass
class Edge:
    follower_id: str
    followee_id: str
    follow_seq: str


class FakeGraph:
    def __init__(
        self, followers: dict[str, list[str]], following: dict[str, list[str]] | None = None
    ) -> None:
        self._followers = {
            author: [Edge(f, author, f"{i:026d}") for i, f in reversed(list(enumerate(ids)))]
            for author, ids in followers.items()
        }
        self._following = following or {}

    def followers(self, user_id: str, before_seq: str | None, limit: int) -> list[Edge]:
        edges = [
            e for e in self._followers.get(user_id, []) if before_seq is None or e.follow_seq < before_seq
        ]
        return edges[:limit]

    def following(self, user_id: str, before_seq: str | None, limit: int) -> list[Edge]:
        ids = self._following.get(user_id, [])
        return (
            [Edge(user_id, f, f"{i:026d}") for i, f in enumerate(ids)][:limit] if before_seq is None else []
        )


def settings(**overrides: Any) -> Any:
    return lambda: Settings(**overrides)


@pytest.mark.parametrize("followers", [1, 24, 25, 26, 100, 101, 499, 500, 501, 1234])
def test_n_followers_cost_exactly_ceil_n_over_25_batch_writes(followers: int) -> None:
    client = FakeDynamo()
    queue = RecordingQueue()
    ids = [f"f{i}" for i in range(followers)]
    fan = Timelines(
        TimelineStore(client=client, table_name="timelines"),
        queue,  # type: ignore[arg-type]
        FakeTweets([], {}),  # type: ignore[arg-type]
        FakeGraph({"author": ids}),  # type: ignore[arg-type]
        settings=settings(),
        clock=lambda: NOW,
        follower_page=300,
    )

    report = fan.tweet_posted(TweetRecord(tweet_id=str(ULID()), author_id="author", kind="tweet"))
    for message in queue.messages:
        if message.op == "add":
            fan.apply(message)

    adds = [m for m in queue.messages if m.op == "add"]
    written = sorted(item["PutRequest"]["Item"]["user_id"]["S"] for item in client.written)
    assert report.recipients == followers and written == sorted(ids)
    assert len(client.batch_writes) == math.ceil(followers / 25)
    if followers <= fan.inline_max:  # written by the dispatcher itself: no message
        assert report.inline and adds == []
    else:
        assert not report.inline and sorted(u for m in adds for u in m.users) == sorted(ids)
        assert all(len(m.users) == 500 for m in adds[:-1]), "chunks are multiples of 25"


def test_inactive_followers_get_nothing() -> None:
    queue = RecordingQueue()
    fan = Timelines(
        TimelineStore(client=FakeDynamo(active=False), table_name="timelines"),
        queue,  # type: ignore[arg-type]
        FakeTweets([], {}),  # type: ignore[arg-type]
        FakeGraph({"author": ["f1", "f2"]}),  # type: ignore[arg-type]
        settings=settings(),
        clock=lambda: NOW,
    )
    report = fan.tweet_posted(TweetRecord(tweet_id=str(ULID()), author_id="author", kind="tweet"))
    assert (report.recipients, report.skipped_inactive) == (0, 2)
    assert [m.op for m in queue.messages if m.op == "add"] == []


# ---- the read path with in-memory tweets, timelines and graph ---------------------------------------------
def ids(count: int, start: float) -> list[str]:
    """ULIDs one second apart, oldest first."""
    return [str(ULID.from_timestamp(start + i)) for i in range(count)]


class FakeTweets:
    def __init__(self, records: list[TweetRecord], users: dict[str, UserRecord]) -> None:
        self.records = {r.tweet_id: r for r in records}
        self.profiles = users
        self.by_author_calls = 0
        self.hydrated_keys = 0

    def by_author(self, author_id: str, after: str | None, limit: int) -> tuple[list[TweetRecord], bool]:
        self.by_author_calls += 1
        mine = sorted(
            (
                r
                for r in self.records.values()
                if r.author_id == author_id and (after is None or r.tweet_id < after)
            ),
            key=lambda r: r.tweet_id,
            reverse=True,
        )
        return mine[:limit], len(mine) <= limit

    def get_many(self, tweet_ids: Any) -> dict[str, TweetRecord]:
        return {i: self.records[i] for i in tweet_ids if i in self.records}

    def users(self, user_ids: Any) -> dict[str, UserRecord]:
        return {u: self.profiles[u] for u in user_ids if u in self.profiles}

    def engaged(self, user_id: str, tweet_ids: Any) -> set[tuple[str, str]]:
        return set()

    def hydration(
        self, tweet_ids: Any, user_ids: Any, caller: str, engaged_ids: Any, executor: Any = None
    ) -> Hydration:
        self.hydrated_keys += len(set(tweet_ids))
        return Hydration(self.get_many(tweet_ids), self.users(user_ids), self.engaged(caller, engaged_ids))

    def user(self, user_id: str) -> UserRecord | None:
        return self.profiles.get(user_id)


@dataclass
class FakeStore:
    """The read path's view of the timelines table."""

    entries: dict[str, list[TimelineEntry]] = field(default_factory=dict)
    metas: dict[str, TimelineMeta] = field(default_factory=dict)

    def query_page(
        self, user_id: str, before: str | None, limit: int, *, with_meta: bool
    ) -> tuple[TimelineMeta | None, list[TimelineEntry], bool]:
        mine = sorted(self.entries.get(user_id, []), key=lambda e: e.entry_id, reverse=True)
        older = [e for e in mine if before is None or e.entry_id < before]
        return (self.metas.get(user_id) if with_meta else None), older[:limit], len(older) > limit

    def get_meta(self, user_id: str) -> TimelineMeta | None:
        return self.metas.get(user_id)

    def touch(self, user_id: str, now: float) -> bool:
        self.metas.setdefault(user_id, TimelineMeta(user_id)).last_seen = int(now)
        return True


def profile(user_id: str) -> UserRecord:
    return UserRecord(
        pk=user_id, username=user_id, email=f"{user_id}@x.io", display_name=user_id, created_at="t"
    )


def tweet(tweet_id: str, author: str) -> TweetRecord:
    return TweetRecord(tweet_id=tweet_id, author_id=author, kind="tweet", created_at="t", text=tweet_id)


def read_all(home: HomeTimeline, reader: str, limit: int) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        page = home.page(reader, cursor, limit)
        seen.extend(t.tweet_id for t in page.tweets)
        if not page.has_more:
            return seen
        cursor = page.next_cursor


@pytest.fixture(autouse=True)
def _cursor_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CURSOR_SIGNING_KEY", "unit-test-key")


def test_a_celebrity_with_more_tweets_than_a_page_is_merged_without_skips() -> None:
    # The reader follows ordinary "bob" (pushed into the cache) and celebrity "cel" (merged at read);
    # cel posts in bursts, so a page's window from the cache is much wider than from cel's timeline.
    bob_ids = ids(6, NOW - 1000)
    cel_ids = ids(15, NOW - 998)
    records = [tweet(i, "bob") for i in bob_ids] + [tweet(i, "cel") for i in cel_ids]
    store = FakeStore(
        entries={"reader": [TimelineEntry(i, i, "bob", "bob") for i in bob_ids]},
        metas={"reader": TimelineMeta("reader", pull={"cel"}, last_seen=int(NOW))},
    )
    tweets = FakeTweets(records, {u: profile(u) for u in ("bob", "cel", "reader")})
    home = HomeTimeline(store, tweets, FakeGraph({}), settings=settings(), clock=lambda: NOW)  # type: ignore[arg-type]

    for limit in (1, 2, 3, 7, 100):
        assert read_all(home, "reader", limit) == sorted(bob_ids + cel_ids, reverse=True)


def test_a_page_hydrates_only_the_entries_it_has_room_for() -> None:
    # Three celebrities' timelines offer 3 x (limit + 2) candidates; only `limit` are hydrated.
    authors = ("c1", "c2", "c3")
    records = [tweet(i, a) for n, a in enumerate(authors) for i in ids(30, NOW - 900 + n)]
    store = FakeStore(metas={"reader": TimelineMeta("reader", pull=set(authors), last_seen=int(NOW))})
    tweets = FakeTweets(records, {u: profile(u) for u in (*authors, "reader")})
    home = HomeTimeline(store, tweets, FakeGraph({}), settings=settings(), clock=lambda: NOW)  # type: ignore[arg-type]

    page = home.page("reader", None, 5)

    assert [t.tweet_id for t in page.tweets] == sorted((r.tweet_id for r in records), reverse=True)[:5]
    assert page.has_more
    assert tweets.hydrated_keys == 5


def test_paging_below_the_floor_merges_every_followed_account() -> None:
    # The cache kept only the newest 4 entries (trimmed: floor = newest removed); older history comes
    # from the followed accounts' own timelines, including the reader's own tweets.
    alice_ids, carol_ids, own_ids = ids(10, NOW - 5000), ids(10, NOW - 4990), ids(3, NOW - 4995)
    everything = sorted(alice_ids + carol_ids + own_ids, reverse=True)
    authors = (
        {i: "alice" for i in alice_ids} | {i: "carol" for i in carol_ids} | {i: "reader" for i in own_ids}
    )
    kept = everything[:4]
    store = FakeStore(
        entries={"reader": [TimelineEntry(i, i, authors[i], authors[i]) for i in kept]},
        metas={"reader": TimelineMeta("reader", floor=everything[4], last_seen=int(NOW))},
    )
    tweets = FakeTweets(
        [tweet(i, a) for i, a in authors.items()], {u: profile(u) for u in ("alice", "carol", "reader")}
    )
    graph = FakeGraph({}, following={"reader": ["alice", "carol"]})
    home = HomeTimeline(store, tweets, graph, settings=settings(), clock=lambda: NOW)  # type: ignore[arg-type]

    for limit in (1, 3, 5, 100):
        assert read_all(home, "reader", limit) == everything

    inside = home.read("reader", None, 2)[1]
    assert (inside.pulled_all, inside.pull_queries) == (False, 0), "a page inside the cache pulls nothing"
    beyond = home.read("reader", None, 10)[1]
    assert (beyond.pulled_all, beyond.pull_queries) == (True, 3), "2 followed accounts and the reader"


def test_deleted_tweets_and_second_entries_for_an_original_are_dropped() -> None:
    tid = ids(4, NOW - 100)
    original, deleted, retweet_id, other = tid
    cache = [
        TimelineEntry(original, original, "alice", "alice"),
        TimelineEntry(deleted, deleted, "alice", "alice"),
        TimelineEntry(retweet_id, original, "carol", "alice"),
        TimelineEntry(other, other, "alice", "alice"),
    ]
    retweet = TweetRecord(tweet_id=retweet_id, author_id="carol", kind="retweet", retweet_of=original)
    tweets = FakeTweets(
        [tweet(original, "alice"), tweet(other, "alice"), retweet],
        {u: profile(u) for u in ("alice", "carol")},
    )
    store = FakeStore(entries={"reader": cache}, metas={"reader": TimelineMeta("reader", last_seen=int(NOW))})
    home = HomeTimeline(store, tweets, FakeGraph({}), settings=settings(), clock=lambda: NOW)  # type: ignore[arg-type]

    page = home.page("reader", None, 10)

    assert [(t.tweet_id, t.retweeted_by.user_id if t.retweeted_by else None) for t in page.tweets] == [
        (other, None),
        (original, "carol"),
    ]


def test_ulid_lower_bound_sorts_below_every_id_of_that_moment() -> None:
    moment = time.time()
    assert ulid_lower_bound(moment) <= str(ULID.from_timestamp(moment))
