"""The reads lists are made of, for this domain's routes and for other domains (the home timeline).

- ``TweetReads.hydrate``: list entries (a tweet or a retweet, and the original it shows) rendered as
  ``Tweet`` values, with the caller's likes and retweets, in one BatchGetItem across three tables;
- ``TweetReads.by_author``: an author's timeline as ``TweetEntry`` values;
- ``TweetReads.original_author``: whom a retweet's original belongs to (and whether it still exists).

Other domains get values (``Tweet``, ``TweetEntry``, ``EntryPage``), never PynamoDB records. The
tweets API renders its own lists through ``read`` and ``render`` too, so there is one rendering path:
a tweet looks the same in every list.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field

from functions.core.batch_get import Read
from functions.core.observability import logger
from functions.media.models import READY, Media
from functions.media.urls import media_url
from functions.tweets.dal import LIKE, RETWEET, TweetRecord, TweetRepository
from functions.tweets.models import Entities, EntryPage, Tweet, TweetEntry
from functions.users.dal import UserRecord
from functions.users.logic import to_summary


@dataclass
class Known:
    """What has been read for rendering: tweets (consistent), profiles, the caller's engagements
    ({(tweet_id, "like"|"retweet")}) and every user id already asked for (found or not)."""

    tweets: dict[str, TweetRecord] = field(default_factory=dict)
    users: dict[str, UserRecord] = field(default_factory=dict)
    engaged: set[tuple[str, str]] = field(default_factory=set)
    asked: set[str] = field(default_factory=set)


def entry_of(record: TweetRecord) -> TweetEntry:
    """The list entry a tweets-table record stands for."""
    if record.is_retweet:
        return TweetEntry.retweet(record.tweet_id, record.author_id, str(record.retweet_of))
    return TweetEntry.tweet(record.tweet_id, record.author_id)


def page_of(result: tuple[list[TweetRecord], bool]) -> EntryPage:
    """An index Query's (records, exhausted) as a page of entries."""
    records, exhausted = result
    return EntryPage([entry_of(r) for r in records], exhausted)


def to_tweet(
    record: TweetRecord,
    author: UserRecord,
    *,
    liked: bool,
    retweeted: bool,
    retweeted_by: UserRecord | None = None,
) -> Tweet:
    """The response shape of an original tweet, for the caller (``liked``/``retweeted``), as a retweet
    entry when ``retweeted_by`` is given."""
    return Tweet(
        tweet_id=record.tweet_id,
        user=to_summary(author),
        text=record.text or "",
        entities=Entities(
            hashtags=list(record.hashtags or []),
            mentions=list(record.mentions or []),
            urls=list(record.urls or []),
        ),
        # Only ready uploads attach, and they stay ready: the tweet renders its media without a read.
        media=[
            Media(
                media_id=str(m.media_id),
                content_type=str(m.content_type),
                url=media_url(str(m.object_key)),
                status=READY,
            )
            for m in record.media or []
        ],
        reply_to=record.reply_to,
        created_at=record.created_at,
        like_count=max(0, int(record.like_count)),
        retweet_count=max(0, int(record.retweet_count)),
        reply_count=max(0, int(record.reply_count)),
        liked_by_me=liked,
        retweeted_by_me=retweeted,
        retweeted_by=to_summary(retweeted_by) if retweeted_by is not None else None,
    )


class TweetReads:
    """Reads of tweets for lists. ``executor`` runs a BatchGetItem's calls side by side beyond 100 keys."""

    def __init__(self, repo: TweetRepository, executor: Executor | None = None) -> None:
        self.repo = repo
        self.executor = executor

    # ---- the port other domains use -----------------------------------------------------------------
    def hydrate(
        self, caller: str, entries: Sequence[TweetEntry], also: Sequence[Read] = ()
    ) -> list[Tweet | None]:
        """One Tweet per entry, or None where the entry must not be shown (original deleted, retweet
        undone, author profile missing).

        Calls: 1 BatchGetItem across two tables (ceil(keys/100) side by side beyond 100 keys): the
        originals and retweet items (consistent) and the authors and retweeters the entries name; beside
        it, 1 Query of the caller's likes and retweets of the originals (GSI ``by_user``). A users
        BatchGetItem follows only for authors that no entry named (retweets whose original's author was
        not known). ``also``: other domains' reads carried in the same BatchGetItem (the home
        timeline's follow edges).
        """
        if not entries and not also:
            return []
        known = Known()
        self.read(caller, entries, known, also=also)
        return self.render(entries, known)

    def by_author(self, author_id: str, after: str | None, limit: int) -> EntryPage:
        """The author's tweets, replies and retweets, newest first, strictly after the position ``after``
        (older ids than it): 1 Query on GSI by_author (eventually consistent, like every GSI)."""
        return page_of(self.repo.by_author(author_id, after, limit))

    def original_author(self, tweet_id: str) -> str | None:
        """The author of the original tweet ``tweet_id``; None when it is gone or names a retweet.
        1 GetItem (consistent)."""
        record = self.repo.get(tweet_id)
        return None if record is None or record.is_retweet else record.author_id

    # ---- the tweets API's lists ---------------------------------------------------------------------
    def replies(self, parent_id: str, after: str | None, limit: int) -> EntryPage:
        """Replies to ``parent_id``, newest first, strictly after ``after``: 1 Query on GSI by_reply_to."""
        return page_of(self.repo.replies(parent_id, after, limit))

    # ---- the one rendering path ---------------------------------------------------------------------
    def read(
        self,
        caller: str,
        entries: Sequence[TweetEntry],
        known: Known,
        *,
        reread: bool = True,
        also: Sequence[Read] = (),
    ) -> None:
        """Add to ``known`` what rendering ``entries`` takes, in 1 BatchGetItem across two tables: the
        entries' tweets and retweets and their originals (consistent; skipped with ``reread=False`` when
        the caller has just read them) and the profiles the entries name that were not asked for yet;
        beside it, 1 Query of the caller's likes and retweets of the originals (``by_user``)."""
        originals = {e.original_id for e in entries}
        tweet_ids = originals | {e.entry_id for e in entries} if reread else set()
        user_ids = {e.author_id for e in entries} | {e.original_author_id or e.author_id for e in entries}
        user_ids -= known.asked
        found = self.repo.hydration(tweet_ids, user_ids, caller, originals, self.executor, also=also)
        known.tweets.update(found.tweets)
        known.users.update(found.users)
        known.engaged |= found.engaged
        known.asked |= user_ids

    @staticmethod
    def original(entry: TweetEntry, known: Known) -> TweetRecord | None:
        """The original ``entry`` shows, if the entry is still to be shown: the original exists (and is
        one) and, for a retweet, the retweet item still exists (not undone, not purged)."""
        original = known.tweets.get(entry.original_id)
        if original is None or original.is_retweet or entry.entry_id not in known.tweets:
            return None
        return original

    def render(self, entries: Sequence[TweetEntry], known: Known) -> list[Tweet | None]:
        """A Tweet per entry from what ``read`` found, None where it must not be shown. Profiles of
        originals' authors nobody asked for yet (retweets of other people's tweets) are read first:
        1 BatchGetItem on users, only when there are some."""
        originals = [self.original(entry, known) for entry in entries]
        missing = {o.author_id for o in originals if o is not None} - known.asked
        if missing:
            known.users.update(self.repo.users(missing))
            known.asked |= missing
        return [
            None if original is None else _tweet(entry, original, known)
            for entry, original in zip(entries, originals, strict=True)
        ]


def _tweet(entry: TweetEntry, original: TweetRecord, known: Known) -> Tweet | None:
    author = known.users.get(original.author_id)
    retweeter = known.users.get(entry.author_id) if entry.is_retweet else None
    if author is None or (entry.is_retweet and retweeter is None):
        logger.warning("tweet without author profile", extra={"tweet_id": original.tweet_id})
        return None
    return to_tweet(
        original,
        author,
        liked=(original.tweet_id, LIKE) in known.engaged,
        retweeted=(original.tweet_id, RETWEET) in known.engaged,
        retweeted_by=retweeter,
    )
