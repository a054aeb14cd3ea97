"""Timeline entries -> Tweet objects, through the tweets domain's repository and ``to_tweet``.

Adapter: the tweets domain hydrates its own lists inside ``TweetService._hydrate`` (private, and
keyed on TweetRecords already read). Home entries carry ids plus, mostly, the authors' ids, so the
tweets, the author profiles and the caller's engagements are read in ONE BatchGetItem here.
Requested from the tweets domain: a public ``hydrate(caller, entries)``; this module then shrinks to a
call into it.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor

from functions.timeline.models import TimelineEntry
from functions.tweets.dal import LIKE, RETWEET, TweetRecord, TweetRepository
from functions.tweets.logic import to_tweet
from functions.tweets.models import Tweet
from functions.users.dal import UserRecord


def hydrate(
    tweets: TweetRepository, caller: str, entries: Sequence[TimelineEntry], executor: Executor | None
) -> list[Tweet | None]:
    """One Tweet per entry, or None where the entry must not be shown (original deleted, retweet undone,
    author profile missing).

    Calls: 1 BatchGetItem across three tables (ceil(keys/100) side by side beyond 100 keys): the
    originals and retweet items (consistent), the authors and retweeters the entries name, and the
    caller's likes and retweets of the originals (consistent). A users BatchGetItem follows only for
    authors that no entry named (retweets merged from author timelines).
    """
    if not entries:
        return []
    tweet_ids = {e.original_id for e in entries} | {e.entry_id for e in entries if e.is_retweet}
    user_ids = {e.author_id for e in entries} | {
        e.original_author_id for e in entries if e.original_author_id
    }
    originals = {e.original_id for e in entries}
    read = tweets.hydration(tweet_ids, user_ids, caller, originals, executor)
    users = read.users
    missing = {r.author_id for r in read.tweets.values() if r.author_id not in users} - user_ids
    if missing:
        users = {**users, **tweets.users(missing)}
    return [_tweet(e, read.tweets, users, read.engaged) for e in entries]


def _tweet(
    entry: TimelineEntry,
    fresh: dict[str, TweetRecord],
    users: dict[str, UserRecord],
    engaged: set[tuple[str, str]],
) -> Tweet | None:
    original = fresh.get(entry.original_id)
    if original is None or original.is_retweet:
        return None
    retweeter = None
    if entry.is_retweet:
        if entry.entry_id not in fresh:
            return None  # un-retweeted (or purged with its deleted original)
        retweeter = users.get(entry.author_id)
        if retweeter is None:
            return None
    author = users.get(original.author_id)
    if author is None:
        return None
    return to_tweet(
        original,
        author,
        liked=(original.tweet_id, LIKE) in engaged,
        retweeted=(original.tweet_id, RETWEET) in engaged,
        retweeted_by=retweeter,
    )
