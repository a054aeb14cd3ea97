"""A stateful model-based test of the home timeline (hypothesis ``RuleBasedStateMachine``).

Follows, unfollows, posts, retweets, deletes and threshold crossings run against DynamoDB (moto, private
tables without streams, as in ``test_timeline_races``). What the streams and the queue would deliver is
held back in a pending list, and hypothesis chooses when each item is delivered, in which order, and
which ones are delivered twice: stream records keep their per-item order (as DynamoDB Streams do),
queue messages come in any order. Home reads may run at any point (they repair what they find stale).
After each drain, every user's home timeline, read through all its pages, must equal what an oracle
computes from the final follows and tweets: nothing missing, nothing extra, nothing repeated, no deleted
tweet.
"""

from __future__ import annotations

import itertools
import os
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Chirp")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "chirp")

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from functions.core.clock import iso_millis
from functions.timeline import fanout
from functions.timeline.dal import TimelineStore
from functions.timeline.models import FanoutMessage
from functions.tweets.dal import TweetRecord
from functions.tweets.models import TweetEntry
from functions.users.dal import UserRecord
from infra.resources import ENGAGEMENTS, FOLLOWS, TIMELINES, TWEETS
from infra.resources import USERS as USERS_TABLE
from tests.support.fanout import RecordingQueue
from tests.support.tables import private_copies
from tests.support.timeline_state import (
    follow,
    post,
    private_tables,
    read_side,
    shown,
    unfollow,
    write_side,
)
from tests.support.timeline_state import (
    settings as timeline_settings,
)

__all__ = ["private_tables"]  # the autouse fixture: private tables without streams

_CLOUD: list[Any] = []
_MODEL: list[HomeTimelines] = []
"""The example running now (its oracle lists the posts in the order they were made)."""


@pytest.fixture(autouse=True)
def _the_cloud(cloud: Any) -> Iterator[None]:
    """The machine provisions its tables in the session's local cloud."""
    _CLOUD[:] = [cloud]
    yield
    _CLOUD.clear()
    _MODEL.clear()


@pytest.fixture(autouse=True)
def _trim_sampling_by_ordinal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fan-out samples the timelines it trims by a hash of the entry id, and an entry id is a ULID (the
    clock and 80 random bits): different in every replay of an example, so a replay would send other
    trim messages, hold another pending list, and draw other choices (hypothesis then reports the test
    flaky). Sampled by the entry's ordinal in the example instead: the same 1/k, the same in every replay."""
    sample = fanout.sampled_for_trim

    def by_ordinal(user_id: str, entry_id: str, every: int) -> bool:
        return sample(user_id, f"post{list(_MODEL[0].oracle.entries).index(entry_id)}", every)

    monkeypatch.setattr(fanout, "sampled_for_trim", by_ordinal)


USERS = 4
THRESHOLD = 3
"""With 4 users an account has at most 3 followers: accounts start pushed (2 followers each) and cross
the threshold both ways."""
_EXAMPLES = itertools.count()


@dataclass
class Pending:
    """One delivery the pipeline owes: a stream record (``key`` orders it) or a queue message."""

    run: Callable[[], Any]
    key: str | None = None
    label: str = ""


@dataclass
class Oracle:
    follows: set[tuple[str, str]] = field(default_factory=set)
    entries: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    """entry id -> (author, original id for a retweet)."""
    deleted: set[str] = field(default_factory=set)

    def home(self, reader: str) -> list[str]:
        visible = {
            entry_id: (author, original)
            for entry_id, (author, original) in self.entries.items()
            if entry_id not in self.deleted
            and (original is None or original not in self.deleted)
            and (author == reader or (reader, author) in self.follows)
        }
        ids: list[str] = []
        for entry_id in sorted(visible, reverse=True):
            original = visible[entry_id][1] or entry_id
            if original not in ids:
                ids.append(original)
        return ids


class HomeTimelines(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # Fresh tables per example, so user ids are the same in every replay of it (hypothesis replays
        # an example's choices and needs the same outcome: ids that vary would change which timelines a
        # hash samples for trimming, and with it what is pending).
        suffix = f"m{next(_EXAMPLES)}-{uuid.uuid4().hex[:6]}"
        tables = (TWEETS, ENGAGEMENTS, USERS_TABLE, FOLLOWS, TIMELINES)
        os.environ.update(private_copies(_CLOUD[0].aws, tables, suffix))
        self.users = [f"u{i}" for i in range(USERS)]
        _MODEL[:] = [self]
        store = TimelineStore()
        for u in self.users:
            UserRecord(pk=u, username=u, email=f"{u}@example.com", created_at=iso_millis(0)).save()
            store.touch(u, time.time())
        self.clock = time.time() - 60
        self.oracle = Oracle()
        self.seqs: dict[tuple[str, str], str] = {}
        self.pending: list[Pending] = []
        self.queue = _Capture(self)
        self.fan = write_side(
            self.queue,
            settings=timeline_settings(CELEBRITY_FOLLOWER_THRESHOLD=THRESHOLD),
            chunk_size=2,
            inline_max=0,
        )
        self.limit = 3
        self.count: dict[str, int] = dict.fromkeys(self.users, 0)

    @initialize()
    def everyone_follows_two(self) -> None:
        """Start from a graph where each account has two followers, one short of the threshold: posts
        are pushed, so every unfollow can race the adds already queued, and one follow makes a
        celebrity."""
        for i, follower in enumerate(self.users):
            for step in (1, 2):
                followee = self.users[(i + step) % USERS]
                seq = follow(follower, followee)
                self._count(followee, +1)
                self.seqs[(follower, followee)] = seq
                self.oracle.follows.add((follower, followee))
                self.fan.followed(follower, followee, seq)
        while self.pending:
            self.pending.pop(0).run()

    # ---- operations (their stream records join the pending list) -----------------------------------------
    @rule(pick=st.integers(0, 7))
    def follow(self, pick: int) -> None:
        pairs = [
            (a, b) for a in self.users for b in self.users if a != b and (a, b) not in self.oracle.follows
        ]
        if not pairs:
            return
        follower, followee = pairs[pick % len(pairs)]
        seq = follow(follower, followee)
        self._count(followee, +1)
        self.seqs[(follower, followee)] = seq
        self.oracle.follows.add((follower, followee))
        self._stream(f"f:{follower}:{followee}", lambda: self.fan.followed(follower, followee, seq))

    @precondition(lambda self: bool(self.oracle.follows))
    @rule(pick=st.integers(0, 7))
    def unfollow(self, pick: int) -> None:
        follower, followee = sorted(self.oracle.follows)[pick % len(self.oracle.follows)]
        unfollow(follower, followee)
        self._count(followee, -1)
        seq = self.seqs.pop((follower, followee))
        self.oracle.follows.discard((follower, followee))
        self._stream(f"f:{follower}:{followee}", lambda: self.fan.unfollowed(follower, followee, seq))

    @precondition(lambda self: bool(self.oracle.follows))
    @rule(pick=st.integers(0, 7))
    def unfollow_ahead_of_the_queue(self, pick: int) -> None:
        """An unfollow whose stream record is delivered at once, ahead of every queued message: the
        orders where an add computed before it lands after its removal (or a mark after its prune)."""
        self.unfollow(pick)
        index = max(i for i, p in enumerate(self.pending) if p.key is not None)
        if self._first_of_key(index):
            self.pending.pop(index).run()

    @rule(a=st.integers(0, USERS - 1))
    def post(self, a: int) -> None:
        entry = post(self.users[a], at=self._tick())
        self.oracle.entries[entry.entry_id] = (entry.author_id, None)
        self._stream(f"t:{entry.entry_id}", lambda: self.fan.tweet_posted(entry))

    @rule(a=st.integers(0, USERS - 1), pick=st.integers(0, 7))
    def post_racing_an_unfollow(self, a: int, pick: int) -> None:
        """A post whose audience is computed (its stream record delivered), then one of its followers
        unfollows ahead of the queue: the adds already queued land after the removal (E1)."""
        self.post(a)
        self.pending.pop().run()
        author = self.users[a]
        followers = sorted(f for f, g in self.oracle.follows if g == author)
        if followers:
            pairs = sorted(self.oracle.follows)
            self.unfollow_ahead_of_the_queue(pairs.index((followers[pick % len(followers)], author)))

    @precondition(lambda self: any(o is None for o in self.oracle.entries.values()))
    @rule(a=st.integers(0, USERS - 1), pick=st.integers(0, 10_000))
    def retweet(self, a: int, pick: int) -> None:
        originals = sorted(
            e for e, (_, o) in self.oracle.entries.items() if o is None and e not in self.oracle.deleted
        )
        if not originals:
            return
        original = originals[pick % len(originals)]
        entry = post(self.users[a], retweet_of=original, at=self._tick())
        self.oracle.entries[entry.entry_id] = (entry.author_id, original)
        self._stream(f"t:{entry.entry_id}", lambda: self.fan.tweet_posted(entry))

    @precondition(lambda self: bool(set(self.oracle.entries) - self.oracle.deleted))
    @rule(pick=st.integers(0, 10_000))
    def delete(self, pick: int) -> None:
        alive = sorted(set(self.oracle.entries) - self.oracle.deleted)
        entry_id = alive[pick % len(alive)]
        author, original = self.oracle.entries[entry_id]
        TweetRecord(tweet_id=entry_id).delete()
        self.oracle.deleted.add(entry_id)
        entry = (
            TweetEntry.retweet(entry_id, author, original) if original else TweetEntry.tweet(entry_id, author)
        )
        self._stream(f"t:{entry_id}", lambda: self.fan.tweet_removed(entry))

    @rule(a=st.integers(0, USERS - 1))
    def read(self, a: int) -> None:
        """A home read in the middle of it all (it may repair the cache and prune the pull set)."""
        read_side().page(self.users[a], None, self.limit)

    # ---- the pipeline ---------------------------------------------------------------------------------
    @precondition(lambda self: bool(self.pending))
    @rule(pick=st.integers(0, 7), twice=st.booleans(), streams_first=st.booleans())
    def deliver(self, pick: int, twice: bool, streams_first: bool) -> None:
        """Deliver one pending item: any queue message, or the oldest record of some item's stream.
        ``streams_first``: a stream record if there is one (the queue lags behind the streams)."""
        ready = [i for i, p in enumerate(self.pending) if p.key is None or self._first_of_key(i)]
        streams = [i for i in ready if self.pending[i].key is not None]
        if streams_first and streams:
            ready = streams
        item = self.pending.pop(ready[pick % len(ready)])
        item.run()
        if twice:
            item.run()  # at-least-once delivery, or a replay

    @rule(order=st.randoms(use_true_random=False), streams_first=st.booleans())
    def drain(self, order: random.Random, streams_first: bool) -> None:
        """Deliver everything, in an order hypothesis chooses (per-item stream order kept)."""
        while self.pending:
            self.deliver(order.randrange(8), order.random() < 0.2, streams_first)

    @invariant()
    def drained_timelines_match_the_oracle(self) -> None:
        if self.pending:
            return
        home = read_side()
        for u in self.users:
            assert shown(home, u, self.limit) == self.oracle.home(u), u

    # ---- helpers ----------------------------------------------------------------------------------------
    def _stream(self, key: str, run: Callable[[], Any]) -> None:
        self.pending.append(Pending(run, key=key))

    def _first_of_key(self, index: int) -> bool:
        key = self.pending[index].key
        return all(p.key != key for p in self.pending[:index])

    def _tick(self) -> float:
        """Tweet times 5 ms apart: ids in a fixed order (two in one millisecond would sort at random)."""
        self.clock += 0.005
        return self.clock

    def _count(self, user_id: str, delta: int) -> None:
        self.count[user_id] += delta
        UserRecord(pk=user_id).update(actions=[UserRecord.follower_count.add(delta)])


class _Capture(RecordingQueue):
    """The fan-out queue: every message sent becomes a pending delivery (delays are ignored: the test
    decides when it arrives)."""

    def __init__(self, machine: HomeTimelines) -> None:
        super().__init__()
        self.machine = machine

    def send(self, messages: Any, delay_seconds: int = 0) -> int:
        for message in messages:
            self.machine.pending.append(Pending(_applier(self.machine, message)))
        return len(messages)


def _applier(machine: HomeTimelines, message: FanoutMessage) -> Callable[[], Any]:
    return lambda: machine.fan.apply(message)


HomeTimelines.TestCase.settings = settings(
    max_examples=int(os.environ.get("TIMELINE_MODEL_EXAMPLES", "20")),
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
TestHomeTimelines = HomeTimelines.TestCase
