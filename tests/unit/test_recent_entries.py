"""The environment's cache of merged accounts' newest entries: what it serves, and when it reads again."""

from __future__ import annotations

from functions.timeline.recent import RecentEntries
from functions.tweets.models import EntryPage, TweetEntry


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Author:
    """An author's by_author Query: counts its calls; ``tweets`` newest first."""

    def __init__(self, count: int) -> None:
        self.tweets = [TweetEntry.tweet(f"t{i:03d}", "celeb") for i in range(count, 0, -1)]
        self.queries = 0

    def __call__(self, author: str, n: int) -> EntryPage:
        self.queries += 1
        return EntryPage(self.tweets[:n], exhausted=len(self.tweets) <= n)


def test_readers_within_the_ttl_share_one_query_and_after_it_the_next_reads_again() -> None:
    clock, author = Clock(), Author(30)
    recent = RecentEntries(2.0, clock=clock)
    first = recent.get("celeb", 22, author)
    assert [recent.get("celeb", 22, author) for _ in range(50)] == [first] * 50
    assert author.queries == 1 and (recent.hits, recent.misses) == (50, 1)

    author.tweets.insert(0, TweetEntry.tweet("t999", "celeb"))  # posted meanwhile
    clock.now += 1.9
    assert recent.get("celeb", 22, author).entries[0].entry_id == "t030"  # stale, within the TTL
    clock.now += 0.2
    assert recent.get("celeb", 22, author).entries[0].entry_id == "t999"
    assert author.queries == 2


def test_a_smaller_page_is_cut_from_a_larger_one_and_a_larger_one_is_read() -> None:
    clock, author = Clock(), Author(30)
    recent = RecentEntries(2.0, clock=clock)
    recent.get("celeb", 22, author)
    small = recent.get("celeb", 5, author)
    assert [e.entry_id for e in small.entries] == ["t030", "t029", "t028", "t027", "t026"]
    assert small.exhausted is False and author.queries == 1
    assert len(recent.get("celeb", 40, author).entries) == 30  # more than was read: read again
    assert author.queries == 2


def test_an_author_with_few_tweets_serves_every_size_until_it_expires() -> None:
    clock, author = Clock(), Author(3)
    recent = RecentEntries(2.0, clock=clock)
    assert recent.get("celeb", 5, author).exhausted is True
    page = recent.get("celeb", 50, author)
    assert page.exhausted is True and len(page.entries) == 3 and author.queries == 1
    page = recent.get("celeb", 2, author)
    assert page.exhausted is False and len(page.entries) == 2


def test_a_ttl_of_zero_turns_it_off() -> None:
    author = Author(30)
    recent = RecentEntries(0, clock=Clock())
    for _ in range(3):
        recent.get("celeb", 22, author)
    assert author.queries == 3
