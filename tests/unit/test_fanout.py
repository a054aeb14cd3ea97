"""Fan-out and home-timeline logic with in-memory fakes: no AWS, no moto."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

# Powertools Metrics reads its namespace when functions.core.observability is first imported, which
# here is test collection, before the local cloud exports the functions' environment.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Chirp")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "chirp")

import pytest
from pydantic import BaseModel
from ulid import ULID

from functions.core.batch_get import Read
from functions.graph.audience import FollowerPage
from functions.timeline.dal import (
    Backoff,
    FanoutQueue,
    TimelineStore,
    UnprocessedItemsError,
    ulid_lower_bound,
)
from functions.timeline.fanout import Timelines, sampled_for_trim, trim_every
from functions.timeline.models import (
    AddEntry,
    EntryBody,
    MarkPull,
    RemoveEntry,
    TimelineEntry,
    TimelineMeta,
    TrimTimelines,
    parse_fanout_message,
)
from functions.timeline.read import HomeTimeline
from functions.timeline.settings import TimelineSettings as Settings
from functions.tweets.models import Entities, EntryPage, Tweet, TweetEntry
from functions.users.models import UserSummary
from tests.support.events import event
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
    messages = [TrimTimelines(users=[f"u{i}"]) for i in range(23)]

    calls = queue.send(messages)

    assert sqs.calls == [10, 2, 10, 3] and calls == 4


# ---- the wire format of fan-out messages ------------------------------------------------------------------
TODAYS_BODIES: list[tuple[type[BaseModel], str]] = [
    (
        AddEntry,
        '{"v":1,"op":"add","users":["u1","u2"],"entry":{"entry_id":"01KQ8Z5Y3M0000000000000001",'
        '"original_id":"01KQ8Z5Y3M0000000000000000","author_id":"bob","original_author_id":"alice"}}',
    ),
    (
        RemoveEntry,
        '{"v":1,"op":"remove","users":["u1"],"entry":{"entry_id":"01KQ8Z5Y3M0000000000000000",'
        '"original_id":"01KQ8Z5Y3M0000000000000000","author_id":"alice"}}',
    ),
    (MarkPull, '{"v":1,"op":"mark_pull","users":["u1"],"author_id":"celebrity"}'),
    (TrimTimelines, '{"v":1,"op":"trim","users":["u1","u2","u3"]}'),
]
"""Bodies as the queue holds them from before messages were one model per kind."""


@pytest.mark.parametrize(("kind", "body"), TODAYS_BODIES)
def test_messages_already_on_the_queue_parse_as_their_kind_and_serialise_unchanged(
    kind: type[BaseModel], body: str
) -> None:
    message = parse_fanout_message(body)

    assert type(message) is kind
    assert message.model_dump_json(exclude_none=True) == body


def test_the_sample_queue_event_carries_an_add_message() -> None:
    message = parse_fanout_message(event("fanout_sqs_event.json")["Records"][0]["body"])
    assert isinstance(message, AddEntry) and message.entry.entry_id == message.entry.original_id


@pytest.mark.parametrize(
    "body",
    [
        '{"v":1,"op":"add","users":["u1"]}',  # an add without its entry
        '{"v":1,"op":"trim","users":["u1"],"author_id":"a"}',  # a field its kind does not have
        '{"v":1,"op":"promote","users":["u1"]}',  # an unknown kind
        '{"v":1,"op":"trim","users":[]}',  # nobody to apply it to
        "not json",
    ],
)
def test_malformed_messages_are_refused(body: str) -> None:
    with pytest.raises(ValueError):
        parse_fanout_message(body)


def test_a_new_message_is_what_the_worker_parses() -> None:
    entry = EntryBody.of(TimelineEntry("E2", "E1", "bob", "alice"))
    sent = RemoveEntry(users=["u1"], entry=entry)
    assert parse_fanout_message(sent.model_dump_json(exclude_none=True)) == sent


# ---- trim sampling --------------------------------------------------------------------------------------
def test_trim_sampling_is_deterministic_and_about_one_in_k() -> None:
    assert trim_every(5) == 1 and trim_every(800) == 100 and trim_every(100_000) == 100
    picks = [sampled_for_trim(f"user{i}", "01ENTRY", 100) for i in range(20_000)]
    assert 120 < sum(picks) < 280
    assert picks == [sampled_for_trim(f"user{i}", "01ENTRY", 100) for i in range(20_000)]


# ---- fan-out with a fake audience ------------------------------------------------------------------------
class FakeAudience:
    """The graph domain's ``Audience`` over in-memory lists (followers oldest follow first)."""

    def __init__(
        self, followers: dict[str, list[str]] | None = None, following: dict[str, list[str]] | None = None
    ) -> None:
        self._followers = {
            author: [(f"{i:026d}", f) for i, f in reversed(list(enumerate(ids)))]
            for author, ids in (followers or {}).items()
        }
        self._following = following or {}

    def followers(self, user_id: str, before: str | None, limit: int, since: str = "") -> FollowerPage:
        edges = [(s, f) for s, f in self._followers.get(user_id, []) if before is None or s < before][:limit]
        ids = [f for s, f in edges if s > since]
        last = len(edges) < limit or len(ids) < len(edges)
        return FollowerPage(ids, None if last else edges[-1][0])

    def following(self, user_id: str) -> list[str]:
        return list(self._following.get(user_id, []))

    def follower_count(self, user_id: str) -> int:
        return len(self._followers.get(user_id, []))

    def follow_check(
        self, follower_id: str, followee_ids: Iterable[str], *, consistent: bool = False
    ) -> FakeCheck:
        return FakeCheck({f: "seq" for f in self._following.get(follower_id, []) if f in set(followee_ids)})

    def follow_seq(self, follower_id: str, followee_id: str) -> str | None:
        return "seq" if followee_id in self._following.get(follower_id, []) else None

    def edge_check(self, follower_id: str, followee_id: str, follow_seq: str) -> dict[str, Any]:
        return {"ConditionCheck": {"follower": follower_id, "followee": followee_id, "seq": follow_seq}}


@dataclass
class FakeCheck:
    edges: dict[str, str]
    reads: list[Read] = field(default_factory=list)

    def followed(self) -> dict[str, str]:
        return self.edges


def settings(**overrides: Any) -> Callable[[], Settings]:
    return lambda: Settings(**overrides)


@pytest.mark.parametrize("followers", [1, 24, 25, 26, 100, 101, 499, 500, 501, 1234])
def test_n_followers_cost_exactly_ceil_n_over_25_batch_writes(followers: int) -> None:
    client = FakeDynamo()
    queue = RecordingQueue()
    ids = [f"f{i}" for i in range(followers)]
    fan = Timelines(
        TimelineStore(client=client, table_name="timelines"),
        queue,
        FakeTweets(),
        FakeAudience({"author": ids}),
        settings=settings(),
        clock=lambda: NOW,
        follower_page=300,
    )

    report = fan.tweet_posted(TweetEntry.tweet(str(ULID()), "author"))
    for message in queue.messages:
        if isinstance(message, AddEntry):
            fan.apply(message)

    adds = [m for m in queue.messages if isinstance(m, AddEntry)]
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
        queue,
        FakeTweets(),
        FakeAudience({"author": ["f1", "f2"]}),
        settings=settings(),
        clock=lambda: NOW,
    )
    report = fan.tweet_posted(TweetEntry.tweet(str(ULID()), "author"))
    assert (report.recipients, report.skipped_inactive) == (0, 2)
    assert [m for m in queue.messages if isinstance(m, AddEntry)] == []


# ---- the read path with in-memory tweets, timelines and graph ---------------------------------------------
def ids(count: int, start: float) -> list[str]:
    """ULIDs one second apart, oldest first."""
    return [str(ULID.from_timestamp(start + i)) for i in range(count)]


class FakeTweets:
    """The tweets domain's ``TweetReader`` over in-memory items: ``users`` have profiles; an item not
    held (deleted, un-retweeted) is not shown."""

    def __init__(self, items: Sequence[TweetEntry] = (), users: Sequence[str] = ()) -> None:
        self.items = {i.entry_id: i for i in items}
        self.users = set(users)
        self.hydrated = 0

    def original_author(self, tweet_id: str) -> str | None:
        item = self.items.get(tweet_id)
        return None if item is None or item.is_retweet else item.author_id

    def by_author(self, author_id: str, after: str | None, limit: int) -> EntryPage:
        mine = sorted(
            (
                i
                for i in self.items.values()
                if i.author_id == author_id and (after is None or i.entry_id < after)
            ),
            key=lambda i: i.entry_id,
            reverse=True,
        )
        return EntryPage(mine[:limit], exhausted=len(mine) <= limit)

    def hydrate(
        self, caller: str, items: Sequence[TimelineEntry], also: Sequence[Read] = ()
    ) -> list[Tweet | None]:
        self.hydrated += len(items)
        return [self._shown(entry) for entry in items]

    def _shown(self, entry: TimelineEntry) -> Tweet | None:
        original = self.items.get(entry.original_id)
        if original is None or original.is_retweet or entry.entry_id not in self.items:
            return None
        retweeter = summary(entry.author_id) if entry.is_retweet else None
        if original.author_id not in self.users or (entry.is_retweet and entry.author_id not in self.users):
            return None
        return Tweet(
            tweet_id=original.entry_id,
            user=summary(original.author_id),
            text=original.entry_id,
            entities=Entities(hashtags=[], mentions=[], urls=[]),
            media=[],
            reply_to=None,
            created_at="t",
            like_count=0,
            retweet_count=0,
            reply_count=0,
            liked_by_me=False,
            retweeted_by_me=False,
            retweeted_by=retweeter,
        )


@dataclass
class FakeStore(TimelineStore):
    """The read path's view of the timelines table, in memory."""

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


def summary(user_id: str) -> UserSummary:
    return UserSummary(user_id=user_id, username=user_id, display_name=user_id, avatar_url=None)


def tweet(tweet_id: str, author: str) -> TweetEntry:
    return TweetEntry.tweet(tweet_id, author)


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
        metas={"reader": TimelineMeta("reader", pulls={"cel": "k:"}, last_seen=int(NOW))},
    )
    tweets = FakeTweets(records, ("bob", "cel", "reader"))
    audience = FakeAudience(following={"reader": ["bob", "cel"]})
    home = HomeTimeline(store, tweets, audience, settings=settings(), clock=lambda: NOW)

    for limit in (1, 2, 3, 7, 100):
        assert read_all(home, "reader", limit) == sorted(bob_ids + cel_ids, reverse=True)


def test_a_page_hydrates_only_the_entries_it_has_room_for() -> None:
    # Three celebrities' timelines offer 3 x (limit + 2) candidates; only `limit` are hydrated.
    authors = ("c1", "c2", "c3")
    records = [tweet(i, a) for n, a in enumerate(authors) for i in ids(30, NOW - 900 + n)]
    pulls = dict.fromkeys(authors, "k:")
    store = FakeStore(metas={"reader": TimelineMeta("reader", pulls=pulls, last_seen=int(NOW))})
    tweets = FakeTweets(records, (*authors, "reader"))
    audience = FakeAudience(following={"reader": list(authors)})
    home = HomeTimeline(store, tweets, audience, settings=settings(), clock=lambda: NOW)

    page = home.page("reader", None, 5)

    assert [t.tweet_id for t in page.tweets] == sorted((r.entry_id for r in records), reverse=True)[:5]
    assert page.has_more
    assert tweets.hydrated == 5


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
    tweets = FakeTweets([tweet(i, a) for i, a in authors.items()], ("alice", "carol", "reader"))
    audience = FakeAudience(following={"reader": ["alice", "carol"]})
    home = HomeTimeline(store, tweets, audience, settings=settings(), clock=lambda: NOW)

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
    retweet = TweetEntry.retweet(retweet_id, "carol", original)
    tweets = FakeTweets([tweet(original, "alice"), tweet(other, "alice"), retweet], ("alice", "carol"))
    store = FakeStore(entries={"reader": cache}, metas={"reader": TimelineMeta("reader", last_seen=int(NOW))})
    audience = FakeAudience(following={"reader": ["alice", "carol"]})
    home = HomeTimeline(store, tweets, audience, settings=settings(), clock=lambda: NOW)

    page = home.page("reader", None, 10)

    assert [(t.tweet_id, t.retweeted_by.user_id if t.retweeted_by else None) for t in page.tweets] == [
        (other, None),
        (original, "carol"),
    ]


def test_ulid_lower_bound_sorts_below_every_id_of_that_moment() -> None:
    moment = time.time()
    assert ulid_lower_bound(moment) <= str(ULID.from_timestamp(moment))
