"""Tweet, like, retweet and user-timeline rules. Receives its adapters; builds none of them.

IDs are ULIDs (time-ordered as strings). A retweet's own ID never leaves the service, but if one is
named anyway it stands for its original: liking, retweeting or replying to a retweet acts on the
original ("a retweet of a retweet retweets the original").
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from ulid import ULID

from functions.core.errors import Forbidden, InvalidCursor, NotFound, Unprocessable
from functions.core.observability import logger
from functions.core.pagination import decode_cursor, encode_cursor
from functions.core.rate_limits import TWEETS, Limit, charge
from functions.tweets.dal import (
    KIND_RETWEET,
    LIKE,
    RETWEET,
    Hydration,
    PurgeReport,
    TweetGone,
    TweetRecord,
    TweetRepository,
)
from functions.tweets.models import (
    Entities,
    LikeState,
    RetweetState,
    Tweet,
    TweetCreate,
    TweetPage,
    is_tweet_id,
)
from functions.tweets.text import extract_entities
from functions.users.dal import UserRecord
from functions.users.logic import to_summary

_T = TypeVar("_T")

MediaResolver = Callable[[str, list[str]], list[str]]
"""(caller_id, media_ids) -> media_ids to attach; raises a DomainError for media the caller may not use."""
Fetch = Callable[[str | None, int], tuple[list[TweetRecord], bool]]
"""(after, limit) -> (index items newest first strictly after ``after``, exhausted)."""


def _plausible_user_id(value: str) -> bool:
    return 0 < len(value) <= 128 and "#" not in value


def iso_millis(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Entry:
    """One visible item of a list: an original tweet, and who retweeted it when the item is a retweet."""

    original: TweetRecord
    retweeter_id: str | None = None


def to_tweet(
    record: TweetRecord,
    author: UserRecord,
    *,
    liked: bool,
    retweeted: bool,
    retweeted_by: UserRecord | None = None,
) -> Tweet:
    return Tweet(
        tweet_id=record.tweet_id,
        user=to_summary(author),
        text=record.text or "",
        entities=Entities(
            hashtags=list(record.hashtags or []),
            mentions=list(record.mentions or []),
            urls=list(record.urls or []),
        ),
        media=[],  # no media domain yet: no tweet can carry media (see media_ids in post)
        reply_to=record.reply_to,
        created_at=record.created_at,
        like_count=max(0, int(record.like_count)),
        retweet_count=max(0, int(record.retweet_count)),
        reply_count=max(0, int(record.reply_count)),
        liked_by_me=liked,
        retweeted_by_me=retweeted,
        retweeted_by=to_summary(retweeted_by) if retweeted_by is not None else None,
    )


class TweetService:
    def __init__(
        self,
        repo: TweetRepository,
        *,
        executor: Executor | None = None,
        resolve_media: MediaResolver | None = None,
        tweet_limit: Limit = TWEETS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``executor`` runs independent reads side by side (sequentially when None)."""
        self.repo = repo
        self.executor = executor
        self.resolve_media = resolve_media
        self.tweet_limit = tweet_limit
        self.clock = clock

    # ---- tweets -------------------------------------------------------------------------------------
    def post(self, caller: str, request: TweetCreate) -> Tweet:
        """1 TransactWriteItems, then 1 GetItem (the caller's profile, for the author summary)."""
        media_ids = self._media(caller, request.media_ids)
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
            media_ids=media_ids,
            reply_to=request.reply_to,
        )
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
        author = self.repo.user(caller)
        if author is None:
            raise NotFound("No such user.")
        return to_tweet(record, author, liked=False, retweeted=False)

    def get(self, caller: str, tweet_id: str) -> Tweet:
        """1 GetItem (+1 if the ID is a retweet's), then users and engagements BatchGetItems in parallel."""
        record = self._existing(tweet_id)
        entry = Entry(record)
        if record.is_retweet:
            entry = Entry(self._existing(str(record.retweet_of)), retweeter_id=record.author_id)
        tweets = self._hydrate(caller, [entry])
        if not tweets:
            raise NotFound("No such tweet.")
        return tweets[0]

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
        at = iso_millis(self.clock())
        original = self._engage(tweet_id, lambda target: self.repo.like(target, caller, at))
        return LikeState(liked=True, like_count=max(0, int(original.like_count)))

    def unlike(self, caller: str, tweet_id: str) -> LikeState:
        original = self._engage(tweet_id, lambda target: self.repo.unlike(target, caller))
        return LikeState(liked=False, like_count=max(0, int(original.like_count)))

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
        parent = self._existing(tweet_id)
        if parent.is_retweet:
            parent = self._existing(str(parent.retweet_of))
        parent_id = parent.tweet_id
        return self._page(
            caller, f"replies:{parent_id}", cursor, limit, lambda a, n: self.repo.replies(parent_id, a, n)
        )

    def user_timeline(self, caller: str, user_id: str, cursor: str | None, limit: int) -> TweetPage:
        """The user's tweets, replies and retweets, newest first; 404 for an unknown user."""
        if not _plausible_user_id(user_id):
            raise NotFound("No such user.")
        page = self._page(
            caller,
            f"timeline:user:{user_id}",
            cursor,
            limit,
            lambda after, n: self.repo.by_author(user_id, after, n),
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
        after = _position(scope, cursor)
        entries: list[Entry] = []
        seen: set[str] = set()
        has_more = False
        known = Hydration(tweets={}, users={}, engaged=set())
        while not has_more:
            batch, exhausted = fetch(after, limit + 1 - len(entries))
            originals = {str(i.retweet_of) if i.is_retweet and i.retweet_of else i.tweet_id for i in batch}
            read = self.repo.hydration(
                {item.tweet_id for item in batch} | originals,
                {item.author_id for item in batch} - set(known.users),
                caller,
                originals,
                self.executor,
            )
            known.users.update(read.users)
            known.engaged |= read.engaged
            for item in batch:
                entry = _visible(item, read.tweets)
                if entry is None:  # deleted, or a retweet whose original was deleted
                    after = item.tweet_id
                    continue
                if len(entries) == limit:
                    has_more = True  # a visible item follows this page
                    break
                after = item.tweet_id
                if entry.original.tweet_id not in seen:  # one entry per original tweet per page
                    seen.add(entry.original.tweet_id)
                    entries.append(entry)
            if exhausted or not batch:
                break
        next_cursor = encode_cursor(scope, {"after": after}) if has_more and after else None
        tweets = self._render(entries, known)
        return TweetPage(tweets=tweets, next_cursor=next_cursor, has_more=has_more)

    # ---- helpers ------------------------------------------------------------------------------------
    def _existing(self, tweet_id: str) -> TweetRecord:
        if not is_tweet_id(tweet_id):
            raise NotFound("No such tweet.")
        record = self.repo.get(tweet_id)
        if record is None:
            raise NotFound("No such tweet.")
        return record

    def _hydrate(self, caller: str, entries: list[Entry]) -> list[Tweet]:
        """Author and retweeter summaries and the caller's likes and retweets: 1 BatchGetItem."""
        if not entries:
            return []
        user_ids = {e.original.author_id for e in entries} | {
            e.retweeter_id for e in entries if e.retweeter_id
        }
        originals = {e.original.tweet_id for e in entries}
        return self._render(entries, self.repo.hydration((), user_ids, caller, originals, self.executor))

    def _render(self, entries: list[Entry], known: Hydration) -> list[Tweet]:
        """Tweets from entries and what was read for them; profiles still unknown (authors of retweeted
        originals) are read first: 1 BatchGetItem on users, only when some are missing."""
        wanted = {e.original.author_id for e in entries} | {e.retweeter_id for e in entries if e.retweeter_id}
        missing = wanted - set(known.users)
        users = {**known.users, **self.repo.users(missing)} if missing else known.users
        engaged = known.engaged
        tweets = []
        for entry in entries:
            author = users.get(entry.original.author_id)
            retweeter = users.get(entry.retweeter_id) if entry.retweeter_id else None
            if author is None or (entry.retweeter_id and retweeter is None):
                logger.warning("tweet without author profile", extra={"tweet_id": entry.original.tweet_id})
                continue
            original_id = entry.original.tweet_id
            tweets.append(
                to_tweet(
                    entry.original,
                    author,
                    liked=(original_id, LIKE) in engaged,
                    retweeted=(original_id, RETWEET) in engaged,
                    retweeted_by=retweeter,
                )
            )
        return tweets

    def _media(self, caller: str, media_ids: list[str]) -> list[str]:
        if not media_ids:
            return []
        if self.resolve_media is None:
            raise Unprocessable(
                "media_ids names media that does not exist.",
                details=[{"field": "media_ids", "issue": "unknown_media", "message": "unknown media"}],
            )
        return self.resolve_media(caller, media_ids)


class CleanupService:
    """What must follow the deletion of an original tweet, driven by the tweets table's stream."""

    def __init__(self, repo: TweetRepository) -> None:
        self.repo = repo

    def tweet_removed(self, tweet_id: str, kind: str) -> PurgeReport:
        """Remove the likes and retweets of a deleted original. A removed retweet needs nothing: its
        un-retweet (or this cleanup) already fixed the counts in the same transaction."""
        if kind == KIND_RETWEET:
            return PurgeReport()
        return self.repo.purge_engagements(tweet_id)


def _visible(item: TweetRecord, fresh: dict[str, TweetRecord]) -> Entry | None:
    current = fresh.get(item.tweet_id)
    if current is None:
        return None
    if not current.is_retweet:
        return Entry(current)
    original = fresh.get(str(current.retweet_of))
    if original is None or original.is_retweet:
        return None
    return Entry(original, retweeter_id=current.author_id)


def _position(scope: str, cursor: str | None) -> str | None:
    position = decode_cursor(scope, cursor)
    if position is None:
        return None
    after = position.get("after")
    if not is_tweet_id(after):
        raise InvalidCursor("The cursor is invalid.")
    return str(after)


def _unknown_parent() -> Unprocessable:
    return Unprocessable(
        "reply_to does not name an existing tweet.",
        details=[{"field": "reply_to", "issue": "unknown_tweet", "message": "unknown tweet"}],
    )
