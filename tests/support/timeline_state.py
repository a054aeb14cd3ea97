"""State, sides and lagging indexes for the home timeline's race and paging tests.

Tests build their state in private copies of the tables without streams (the local cloud's pollers
cannot act in between), drive the write side (``Timelines``) and the read side (``HomeTimeline``) in
the order under test, and check what a reader sees and what is stored. Index lag is played by wrappers
that answer from an older view of ``by_followee`` / ``by_author``, as a GSI on AWS can. A test module
uses the tables by importing the ``private_tables`` fixture.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Chirp")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "chirp")

import pytest
from ulid import ULID

from functions.core.clock import iso_millis
from functions.core.concurrency import shared_executor
from functions.graph.audience import FollowCheck, FollowerPage, GraphAudience
from functions.graph.dal import FollowRecord, FollowRepository, new_follow
from functions.timeline.dal import TimelineStore
from functions.timeline.fanout import Timelines
from functions.timeline.models import TimelineEntry, TimelineMeta
from functions.timeline.read import HomeTimeline
from functions.timeline.settings import TimelineSettings
from functions.tweets.dal import TweetRecord, TweetRepository
from functions.tweets.models import EntryPage, TweetPage
from functions.tweets.reads import TweetReads
from functions.users.dal import UserRecord, UserRepository
from infra.resources import ENGAGEMENTS, FOLLOWS, TIMELINES, TWEETS, USERS
from tests.support.fanout import RecordingQueue
from tests.support.tables import private_copies


@pytest.fixture(autouse=True)
def private_tables(cloud: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    tables = (TWEETS, ENGAGEMENTS, USERS, FOLLOWS, TIMELINES)
    for var, name in private_copies(cloud.aws, tables, uuid.uuid4().hex[:8]).items():
        monkeypatch.setenv(var, name)
    monkeypatch.setenv("CURSOR_SIGNING_KEY", "race-test-key")
    yield
    monkeypatch.undo()


# ---- state ----------------------------------------------------------------------------------------------
def user(name: str, followers: int = 0) -> str:
    user_id = f"{name}-{uuid.uuid4().hex[:8]}"
    UserRecord(
        pk=user_id,
        username=user_id,
        email=f"{user_id}@example.com",
        created_at=iso_millis(0),
        follower_count=followers,
    ).save()
    return user_id


def follow(follower: str, followee: str) -> str:
    edge = new_follow(follower, followee)
    edge.save()
    return str(edge.follow_seq)


def unfollow(follower: str, followee: str) -> None:
    FollowRecord(follower_id=follower, followee_id=followee).delete()


def post(author: str, retweet_of: str | None = None, at: float | None = None) -> TimelineEntry:
    moment = time.time() if at is None else at
    tweet_id = str(ULID.from_timestamp(moment))
    record = TweetRecord(
        tweet_id=tweet_id,
        author_id=author,
        created_at=iso_millis(moment),
        text=None if retweet_of else f"by {author}",
        kind="retweet" if retweet_of else "tweet",
        retweet_of=retweet_of,
    )
    record.save()
    if retweet_of:
        return TimelineEntry.retweet(tweet_id, author, retweet_of)
    return TimelineEntry.tweet(tweet_id, author)


def settings(**overrides: Any) -> Callable[[], TimelineSettings]:
    return lambda: TimelineSettings(**overrides)


def write_side(
    queue: RecordingQueue | None = None, audience: Any = None, tweets: Any = None, **options: Any
) -> Timelines:
    return Timelines(
        TimelineStore(),
        queue if queue is not None else RecordingQueue(),
        tweets or TweetReads(TweetRepository(), shared_executor()),
        audience or GraphAudience(FollowRepository(), UserRepository()),
        executor=shared_executor(),
        **options,
    )


def read_side(**options: Any) -> HomeTimeline:
    return HomeTimeline(
        TimelineStore(),
        TweetReads(TweetRepository(), shared_executor()),
        GraphAudience(FollowRepository(), UserRepository()),
        executor=shared_executor(),
        queue=RecordingQueue(),
        **options,
    )


def reader(name: str = "reader") -> str:
    """An active reader (seen now), so fan-out includes them and a read does not rebuild."""
    user_id = user(name)
    TimelineStore().touch(user_id, time.time())
    return user_id


def cached(user_id: str) -> list[str]:
    _, entries, _ = TimelineStore().query_page(user_id, None, 1000, with_meta=False)
    return [e.entry_id for e in entries]


def meta(user_id: str) -> TimelineMeta:
    return TimelineStore().get_meta(user_id) or TimelineMeta(user_id=user_id)


def shown(home: HomeTimeline, user_id: str, limit: int = 20) -> list[str]:
    """Every tweet id (original) the reader's pages show, in order, paging to the end."""
    ids: list[str] = []
    cursor = None
    while True:
        page: TweetPage = home.page(user_id, cursor, limit)
        ids.extend(t.tweet_id for t in page.tweets)
        if not page.has_more:
            return ids
        cursor = page.next_cursor


def apply_all(fan: Timelines, queue: RecordingQueue, kind: type | None = None) -> None:
    while queue.messages:
        message = queue.messages.pop(0)
        if kind is None or isinstance(message, kind):
            fan.apply(message)


# ---- lagging indexes -------------------------------------------------------------------------------------
class LaggingAudience(GraphAudience):
    """``by_followee`` as it was before ``hidden`` followed anyone (a GSI that has not caught up)."""

    def __init__(self, hidden: set[str]) -> None:
        super().__init__(FollowRepository(), UserRepository())
        self.hidden = hidden

    def followers(self, user_id: str, before: str | None, limit: int, since: str = "") -> FollowerPage:
        page = super().followers(user_id, before, limit, since)
        keep = [i for i, f in enumerate(page.follower_ids) if f not in self.hidden]
        return FollowerPage(
            [page.follower_ids[i] for i in keep], page.next_position, [page.follow_seqs[i] for i in keep]
        )


class StaleEdges(GraphAudience):
    """Eventually consistent edge reads that have not seen the follows of ``hidden`` yet (consistent
    reads see them)."""

    def __init__(self, hidden: set[str]) -> None:
        super().__init__(FollowRepository(), UserRepository())
        self.hidden = hidden

    def follow_check(
        self, follower_id: str, followee_ids: Iterable[str], *, consistent: bool = False
    ) -> FollowCheck:
        asked = list(followee_ids) if consistent else [f for f in followee_ids if f not in self.hidden]
        return super().follow_check(follower_id, asked, consistent=consistent)


class LaggingTweets(TweetReads):
    """``by_author`` without the tweets in ``hidden`` (written, not yet in the index)."""

    def __init__(self, hidden: set[str]) -> None:
        super().__init__(TweetRepository(), shared_executor())
        self.hidden = hidden

    def by_author(self, author_id: str, after: str | None, limit: int) -> EntryPage:
        page = super().by_author(author_id, after, limit)
        return EntryPage([e for e in page.entries if e.entry_id not in self.hidden], page.exhausted)
