"""Tweet, like, retweet and user-timeline rules. Receives its adapters; builds none of them.

IDs are ULIDs (time-ordered as strings). A retweet's own ID never leaves the service, but if one is
named anyway it stands for its original: liking, retweeting or replying to a retweet acts on the
original ("a retweet of a retweet retweets the original").
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Protocol

from ulid import ULID

from functions.core.clock import iso_millis
from functions.core.errors import Forbidden, NotFound, Unprocessable
from functions.core.ids import plausible_key
from functions.core.pagination import cursor_field, encode_cursor
from functions.core.rate_limits import LIKES, TWEETS, Limit, charge
from functions.media.models import MediaRef
from functions.tweets.dal import (
    KIND_RETWEET,
    PurgeReport,
    TweetGone,
    TweetRecord,
    TweetRepository,
    tweet_media,
)
from functions.tweets.models import (
    EntryPage,
    LikeState,
    RetweetState,
    Tweet,
    TweetCreate,
    TweetEntry,
    TweetPage,
    is_tweet_id,
)
from functions.tweets.reads import Known, TweetReads, to_tweet
from functions.tweets.text import extract_entities


class MediaPort(Protocol):
    """What posting needs of the media domain (``functions.media.logic.MediaAttachments``)."""

    def attachable(self, caller: str, media_ids: Sequence[str]) -> list[MediaRef]:
        """The caller's ready, unattached media, in order; a 422 DomainError for any other."""
        ...

    def keep(self, refs: Sequence[MediaRef]) -> None:
        """Keep the media's bytes from the clean-up of unattached uploads."""
        ...


class MediaCleanup(Protocol):
    def remove(self, refs: Sequence[MediaRef]) -> None:
        """Delete the media's bytes and items (a deleted tweet's)."""
        ...


Fetch = Callable[[str | None, int], EntryPage]
"""(after, limit) -> index items newest first strictly after ``after``, and whether the index is exhausted."""


class TweetService:
    def __init__(
        self,
        repo: TweetRepository,
        *,
        executor: Executor | None = None,
        media: MediaPort | None = None,
        tweet_limit: Limit = TWEETS,
        like_limit: Limit = LIKES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``executor`` runs independent reads side by side (sequentially when None)."""
        self.repo = repo
        self.reads = TweetReads(repo, executor)
        self.media = media
        self.tweet_limit = tweet_limit
        self.like_limit = like_limit
        self.clock = clock

    # ---- tweets -------------------------------------------------------------------------------------
    def post(self, caller: str, request: TweetCreate) -> Tweet:
        """1 GetItem (the caller's profile, for the author summary), then 1 TransactWriteItems. The read
        comes first so that nothing can fail after the tweet is written: a 503 means nothing was posted,
        and a client's retry cannot post the tweet twice. With media: first 1 BatchGetItem (the media
        items) and 1 PutObjectTagging per upload; the transaction claims each upload for the tweet."""
        media = self._media(caller, request.media_ids)
        if request.reply_to is not None and not is_tweet_id(request.reply_to):
            raise _unknown_parent()
        now = self.clock()
        entities = extract_entities(request.text)
        record = TweetRecord(
            tweet_id=str(ULID.from_timestamp(now)),
            author_id=caller,
            created_at=iso_millis(now),
            text=request.text,
            hashtags=entities.hashtags,
            mentions=entities.mentions,
            urls=entities.urls,
            media_ids=[m.media_id for m in media],
            media=tweet_media(media),
            reply_to=request.reply_to,
        )
        author = self.repo.user(caller)
        if author is None:
            raise NotFound("No such user.")
        if media and self.media is not None:
            self.media.keep(media)
        quota = charge(self.tweet_limit, caller, now)
        try:
            self.repo.post(record, quota)
        except TweetGone as exc:
            parent = self.repo.get(str(request.reply_to))
            if parent is None or not parent.is_retweet:
                raise _unknown_parent() from exc
            record.reply_to = parent.retweet_of  # a reply to a retweet replies to the original
            try:
                self.repo.post(record, quota)
            except TweetGone as again:
                raise _unknown_parent() from again
        return to_tweet(record, author, liked=False, retweeted=False)

    def get(self, caller: str, tweet_id: str) -> Tweet:
        """1 GetItem (+1 if the ID is a retweet's), then 1 BatchGetItem across users and engagements."""
        record = self._existing(tweet_id)
        known = Known(tweets={record.tweet_id: record})
        entry = TweetEntry.tweet(record.tweet_id, record.author_id)
        if record.is_retweet:
            original = self._existing(str(record.retweet_of))
            known.tweets[original.tweet_id] = original
            entry = TweetEntry(record.tweet_id, original.tweet_id, record.author_id, original.author_id)
        self.reads.read(caller, [entry], known, reread=False)  # both were just read, consistently
        (tweet,) = self.reads.render([entry], known)
        if tweet is None:
            raise NotFound("No such tweet.")
        return tweet

    def delete(self, caller: str, tweet_id: str) -> None:
        """1 GetItem, then 1 TransactWriteItems (a retweet's ID: an un-retweet, see ``unretweet``)."""
        record = self._existing(tweet_id)
        if record.author_id != caller:
            raise Forbidden("Only the author can delete a tweet.")
        if record.is_retweet:
            self.repo.unretweet(str(record.retweet_of), caller)
            return
        self.repo.delete(record)

    # ---- likes and retweets -------------------------------------------------------------------------
    def like(self, caller: str, tweet_id: str) -> LikeState:
        """1 GetItem of the tweet (2 when ``tweet_id`` names a retweet: then its original is liked), then
        the like. ``like_count`` is the stored count (which the engagements stream keeps) plus this like
        when it is new: read before the like was written, the stored count cannot include it yet. Other
        users' likes of the last second or so may not be in it yet."""
        original = self._original(tweet_id)
        now = self.clock()
        quota = charge(self.like_limit, caller, now)
        added = self.repo.like(original.tweet_id, caller, iso_millis(now), quota)
        # A repeat like's own like may not be counted yet; it is there, so the count is at least 1.
        return LikeState(liked=True, like_count=max(1, int(original.like_count) + int(added)))

    def unlike(self, caller: str, tweet_id: str) -> LikeState:
        original = self._original(tweet_id)
        removed = self.repo.unlike(original.tweet_id, caller)
        return LikeState(liked=False, like_count=max(0, int(original.like_count) - int(removed)))

    def _original(self, tweet_id: str) -> TweetRecord:
        """The original ``tweet_id`` names (itself, or the one a retweet's ID points at); 404 otherwise."""
        record = self._existing(tweet_id)
        if record.is_retweet:
            record = self._existing(str(record.retweet_of))
        if record.is_retweet:
            raise NotFound("No such tweet.")
        return record

    def retweet(self, caller: str, tweet_id: str) -> RetweetState:
        def retweet(target: str) -> bool:
            now = self.clock()
            item = TweetRecord(
                tweet_id=str(ULID.from_timestamp(now)),
                kind=KIND_RETWEET,
                author_id=caller,
                created_at=iso_millis(now),
                retweet_of=target,
            )
            return self.repo.retweet(item, charge(self.tweet_limit, caller, now))

        original = self._engage(tweet_id, retweet)
        return RetweetState(retweeted=True, retweet_count=max(0, int(original.retweet_count)))

    def unretweet(self, caller: str, tweet_id: str) -> RetweetState:
        original = self._engage(tweet_id, lambda target: self.repo.unretweet(target, caller))
        return RetweetState(retweeted=False, retweet_count=max(0, int(original.retweet_count)))

    def _engage(self, tweet_id: str, change: Callable[[str], bool]) -> TweetRecord:
        """Apply ``change`` to the original ``tweet_id`` names; return the original as it is afterwards.

        Happy path: the change (one transaction) and 1 GetItem for the fresh counts. Only when the ID
        turns out to name a retweet does the change run again, against the original.
        """
        if not is_tweet_id(tweet_id):
            raise NotFound("No such tweet.")
        with contextlib.suppress(TweetGone):  # unknown, deleted, or a retweet's ID: the read tells which
            change(tweet_id)
        record = self.repo.get(tweet_id)
        if record is not None and record.is_retweet:
            original_id = str(record.retweet_of)
            try:
                change(original_id)
            except TweetGone as exc:
                raise NotFound("No such tweet.") from exc
            record = self.repo.get(original_id)
        if record is None or record.is_retweet:
            raise NotFound("No such tweet.")
        return record

    # ---- lists --------------------------------------------------------------------------------------
    def replies(self, caller: str, tweet_id: str, cursor: str | None, limit: int) -> TweetPage:
        """Replies to a tweet, newest first."""
        parent_id = self._original(tweet_id).tweet_id
        return self._page(
            caller, f"replies:{parent_id}", cursor, limit, lambda a, n: self.reads.replies(parent_id, a, n)
        )

    def user_timeline(self, caller: str, user_id: str, cursor: str | None, limit: int) -> TweetPage:
        """The user's tweets, replies and retweets, newest first; 404 for an unknown user."""
        if not plausible_key(user_id):
            raise NotFound("No such user.")
        page = self._page(
            caller,
            f"timeline:user:{user_id}",
            cursor,
            limit,
            lambda after, n: self.reads.by_author(user_id, after, n),
        )
        # Only an empty page needs the profile read: otherwise the author BatchGet already found it.
        if not page.tweets and self.repo.user(user_id) is None:
            raise NotFound("No such user.")
        return page

    def _page(self, caller: str, scope: str, cursor: str | None, limit: int, fetch: Fetch) -> TweetPage:
        """One page of a keyset-paginated list.

        Each round: 1 Query on the index (at most ``limit + 1 - found`` items), then 1 BatchGetItem across
        three tables: the consistent re-read of those items and of the originals of retweets among them
        (drops what was deleted, since GSIs lag the table, and gives fresh counts), the profiles of the
        items' authors, and the caller's likes and retweets. Rounds repeat only while items were dropped
        and the index has more. Only the authors of retweeted originals are read afterwards (1
        BatchGetItem, when the page has retweets of other people's tweets). The cursor holds the key of
        the last item consumed, so items that arrive later sort before it and never shift the pages that
        follow (no repeats, no skips).
        """
        after: str | None = cursor_field(scope, cursor, "after", is_tweet_id)
        entries: list[TweetEntry] = []
        seen: set[str] = set()
        has_more = False
        known = Known()
        while not has_more:
            batch = fetch(after, limit + 1 - len(entries))
            self.reads.read(caller, batch.entries, known)
            for entry in batch.entries:
                if self.reads.original(entry, known) is None:  # deleted, or a retweet of a deleted tweet
                    after = entry.entry_id
                    continue
                if len(entries) == limit:
                    has_more = True  # a visible item follows this page
                    break
                after = entry.entry_id
                if entry.original_id not in seen:  # one entry per original tweet per page
                    seen.add(entry.original_id)
                    entries.append(entry)
            if batch.exhausted or not batch.entries:
                break
        next_cursor = encode_cursor(scope, {"after": after}) if has_more and after else None
        tweets = [t for t in self.reads.render(entries, known) if t is not None]
        return TweetPage(tweets=tweets, next_cursor=next_cursor, has_more=has_more)

    # ---- helpers ------------------------------------------------------------------------------------
    def _existing(self, tweet_id: str) -> TweetRecord:
        if not is_tweet_id(tweet_id):
            raise NotFound("No such tweet.")
        record = self.repo.get(tweet_id)
        if record is None:
            raise NotFound("No such tweet.")
        return record

    def _media(self, caller: str, media_ids: list[str]) -> list[MediaRef]:
        if not media_ids:
            return []
        if self.media is None:
            raise Unprocessable(
                "media_ids names media that does not exist.",
                details=[{"field": "media_ids", "issue": "unknown_media", "message": "unknown media"}],
            )
        return self.media.attachable(caller, media_ids)


class CleanupService:
    """What must follow the deletion of an original tweet, driven by the tweets table's stream."""

    def __init__(self, repo: TweetRepository, media: MediaCleanup | None = None) -> None:
        self.repo = repo
        self.media = media

    def tweet_removed(self, tweet_id: str, kind: str, media: Sequence[MediaRef] = ()) -> PurgeReport:
        """Remove the likes and retweets of a deleted original, and its media's bytes and items. A removed
        retweet needs nothing: its un-retweet (or this cleanup) already fixed the counts in the same
        transaction."""
        if kind == KIND_RETWEET:
            return PurgeReport()
        if media and self.media is not None:
            self.media.remove(media)
        return self.repo.purge_engagements(tweet_id)


def _unknown_parent() -> Unprocessable:
    return Unprocessable(
        "reply_to does not name an existing tweet.",
        details=[{"field": "reply_to", "issue": "unknown_tweet", "message": "unknown tweet"}],
    )
