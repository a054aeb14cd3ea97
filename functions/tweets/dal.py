"""Data access of the tweets domain: tweets, likes and retweets. The only module that talks to DynamoDB.

Tables (keys declared once in ``infra/resources.py``):
- ``tweets``: ``tweet_id`` (a ULID). Tweets and replies (``kind="tweet"``) and retweets (``kind="retweet"``,
  ``retweet_of=<original>``, ``author_id=<retweeter>``). GSIs ``by_author`` (author_id, tweet_id) and
  ``by_reply_to`` (reply_to, tweet_id; sparse: only replies carry ``reply_to``).
- ``engagements``: ``tweet_id`` + ``sk`` = ``u#<user_id>``: one item per tweet and user, holding the like
  (``liked_at``) and the retweet (``retweet_id``, ``retweeted_at``). One item per user is what makes likes
  and retweets count once, exactly; one item for both is one key per tweet when a page reads the flags.
- ``users`` (owned by the users domain): profiles' ``tweet_count`` is kept in the same transactions.

Every multi-item change is one TransactWriteItems whose conditions carry the invariants. Cancellation
reasons are read by item position, never by message text. PynamoDB sends a transaction's items grouped
by operation (condition checks, deletes, puts, updates) whatever order they were added in, so
``Transaction`` labels each item and maps the reasons back through that wire order.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from typing import Any

from pynamodb.attributes import ListAttribute, MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError, DoesNotExist, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model

from functions.core.batch_get import Read, batch_get
from functions.core.config import REGION, FromEnv
from functions.core.errors import Busy, NotFound, Unprocessable
from functions.core.rate_limits import Charge
from functions.core.transactions import Transaction, is_condition_failure, transact
from functions.media.dal import claim as claim_media
from functions.media.models import MediaRef
from functions.users.dal import UserRecord

KIND_TWEET = "tweet"
KIND_RETWEET = "retweet"
LIKE = "like"
RETWEET = "retweet"


class ByAuthorIndex(GlobalSecondaryIndex["TweetRecord"]):
    class Meta:
        index_name = "by_author"
        # As infra/resources.py declares it: entries, not tweets (lists re-read the tweets consistently).
        projection = IncludeProjection(["kind", "retweet_of"])

    author_id = UnicodeAttribute(hash_key=True)
    tweet_id = UnicodeAttribute(range_key=True)


class ByReplyToIndex(GlobalSecondaryIndex["TweetRecord"]):
    class Meta:
        index_name = "by_reply_to"
        projection = IncludeProjection(["author_id", "kind"])

    reply_to = UnicodeAttribute(hash_key=True)
    tweet_id = UnicodeAttribute(range_key=True)


class TweetMedia(MapAttribute[str, str]):
    """An attached upload, denormalised: a tweet renders its media without reading the media table."""

    media_id = UnicodeAttribute()
    content_type = UnicodeAttribute()
    object_key = UnicodeAttribute()

    def ref(self) -> MediaRef:
        return MediaRef(str(self.media_id), str(self.content_type), str(self.object_key))


def tweet_media(refs: Iterable[MediaRef]) -> list[TweetMedia]:
    return [
        TweetMedia(media_id=r.media_id, content_type=r.content_type, object_key=r.object_key) for r in refs
    ]


class TweetRecord(Model):
    class Meta:
        table_name = FromEnv("TWEETS_TABLE_NAME")
        region = REGION

    tweet_id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute(default=KIND_TWEET)
    author_id = UnicodeAttribute()
    created_at = UnicodeAttribute()
    text = UnicodeAttribute(null=True)
    hashtags = ListAttribute(of=UnicodeAttribute, default=list)
    mentions = ListAttribute(of=UnicodeAttribute, default=list)
    urls = ListAttribute(of=UnicodeAttribute, default=list)
    media_ids = ListAttribute(of=UnicodeAttribute, default=list)
    media = ListAttribute(of=TweetMedia, default=list)
    reply_to = UnicodeAttribute(null=True)
    retweet_of = UnicodeAttribute(null=True)
    like_count = NumberAttribute(default=0)
    like_seq = UnicodeAttribute(null=True)
    """The engagements-stream sequence number (40 digits, zero-padded) of the last like or un-like that
    ``like_count`` includes: what makes applying the stream idempotent (``apply_like_counts``)."""
    retweet_count = NumberAttribute(default=0)
    reply_count = NumberAttribute(default=0)

    by_author = ByAuthorIndex()
    by_reply_to = ByReplyToIndex()

    @property
    def is_retweet(self) -> bool:
        return self.kind == KIND_RETWEET


class ByUserIndex(GlobalSecondaryIndex["EngagementRecord"]):
    class Meta:
        index_name = "by_user"
        projection = IncludeProjection(["liked_at", "retweet_id"])  # as infra/resources.py declares it

    user_id = UnicodeAttribute(hash_key=True)
    tweet_id = UnicodeAttribute(range_key=True)


class EngagementRecord(Model):
    """One item per tweet and user: whether the user liked the tweet (``liked_at``) and retweeted it
    (``retweet_id``, the retweet item's id). One item per user is what makes likes and retweets count
    once, exactly; one item for both flags is what lets a page read a caller's flags with one key per
    tweet (half the keys of an item per kind)."""

    class Meta:
        table_name = FromEnv("ENGAGEMENTS_TABLE_NAME")
        region = REGION

    tweet_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    user_id = UnicodeAttribute()
    liked_at = UnicodeAttribute(null=True)
    retweet_id = UnicodeAttribute(null=True)
    retweeted_at = UnicodeAttribute(null=True)

    by_user = ByUserIndex()

    def flags(self) -> set[tuple[str, str]]:
        """{(tweet_id, "like"|"retweet")} for what this item records."""
        found = {(self.tweet_id, LIKE)} if self.liked_at else set()
        return found | ({(self.tweet_id, RETWEET)} if self.retweet_id else set())


def engagement_key(user_id: str) -> str:
    return f"u#{user_id}"


FLAGS_QUERY_LIMIT = 100
"""Entries one page of the flags Query returns at most (~100 bytes each: 3 read units at worst, 0.5 for
a typical page). A caller who engaged with more tweets than this within a page's range gets the rest
from the Query's next pages."""

_FLAG_ATTEMPTS = 4
"""Rounds of an un-like / un-retweet whose guess of the engagement item's other flag was overtaken."""


def _contended() -> Busy:
    """The engagement item kept changing under an un-like / un-retweet: 429, the client may retry."""
    return Busy("Too many changes to the same item at once; try again.", retry_after_seconds=1)


class TweetGone(NotFound):
    """The tweet a write depends on does not exist (or is a retweet item, not an original)."""

    def __init__(self, tweet_id: str) -> None:
        super().__init__("No such tweet.")
        self.tweet_id = tweet_id


class MediaTaken(Unprocessable):
    """An upload the tweet names was attached elsewhere (or stopped being ready) since it was checked."""

    def __init__(self) -> None:
        message = "A media item is no longer available to attach."
        super().__init__(
            message, details=[{"field": "media_ids", "issue": "media_attached", "message": message}]
        )


class ProfileMissing(NotFound):
    def __init__(self) -> None:
        super().__init__("No such user.")


@dataclass(frozen=True)
class LikeChange:
    """What one engagements-stream record does to its tweet's ``like_count``."""

    seq: str
    """The record's SequenceNumber, zero-padded to 40 digits so that strings compare as numbers."""
    delta: int
    """+1 a like, -1 an un-like."""
    user_id: str
    liked_at: str | None
    """The like's time after the change (None for an un-like)."""


class CountOutcome(enum.Enum):
    APPLIED = "applied"
    ALREADY_COUNTED = "already_counted"
    TWEET_GONE = "tweet_gone"


@dataclass
class PurgeReport:
    likes_removed: int = 0
    retweets_removed: int = 0


def _is_original() -> Any:
    return TweetRecord.tweet_id.exists() & (TweetRecord.kind == KIND_TWEET)


def _is_profile() -> Any:
    return UserRecord.pk.exists() & (UserRecord.kind == "profile")


@dataclass
class Hydration:
    """What rendering a list of tweets needs besides the tweets' own records."""

    tweets: dict[str, TweetRecord]
    users: dict[str, UserRecord]
    engaged: set[tuple[str, str]]


class TweetRepository:
    """Every DynamoDB call of the tweets domain goes through here. Reads of tweets are strongly consistent
    so that a deleted tweet is never served once its DELETE returned."""

    # ---- reads --------------------------------------------------------------------------------------
    def get(self, tweet_id: str) -> TweetRecord | None:
        """1 GetItem (consistent)."""
        try:
            return TweetRecord.get(tweet_id, consistent_read=True)
        except DoesNotExist:
            return None

    def get_many(self, tweet_ids: Iterable[str]) -> dict[str, TweetRecord]:
        """1 BatchGetItem (consistent) per 100 ids; missing ids are simply absent from the result."""
        ids = set(tweet_ids)
        if not ids:
            return {}
        return {r.tweet_id: r for r in TweetRecord.batch_get(ids, consistent_read=True)}

    def users(self, user_ids: Iterable[str]) -> dict[str, UserRecord]:
        """1 BatchGetItem on users per 100 ids (profiles only)."""
        ids = set(user_ids)
        if not ids:
            return {}
        return {r.pk: r for r in UserRecord.batch_get(ids) if r.kind == "profile"}

    def user(self, user_id: str) -> UserRecord | None:
        """1 GetItem on users."""
        try:
            record = UserRecord.get(user_id)
        except DoesNotExist:
            return None
        return record if record.kind == "profile" else None

    def hydration(
        self,
        tweet_ids: Iterable[str],
        user_ids: Iterable[str],
        caller: str,
        engaged_ids: Iterable[str],
        executor: Executor | None = None,
        also: Sequence[Read] = (),
    ) -> Hydration:
        """Tweets (consistent) and profiles in ONE BatchGetItem across the two tables while the keys
        number at most 100 (a page of 20 tweets by distinct authors is 40 keys; above that,
        ceil(keys/100) calls side by side), and, side by side with it, the caller's engagements of
        ``engaged_ids`` in 1 Query (``engaged_in_range``).

        Capacity for a page of 20: tweets 20 x 1 RRU (consistent: a deleted tweet is never served once
        its DELETE returned), profiles 0.5 RRU per key (eventually consistent, found or not), the flags
        0.5 RRU for the page (one Query of the caller's ~100-byte entries in the page's range; one key
        per tweet would be 10). The flags are eventually consistent: a like shows as ``liked_by_me`` on
        the liker's own reads once the index has it (typically well under a second), and the like's own
        response carries the new state. The price is 1 write unit per like or retweet for its index
        entry: reads outnumber likes many times over."""
        ids = sorted(set(engaged_ids))
        tweets = Read(TweetRecord, tweet_ids, consistent=True)
        users = Read(UserRecord, user_ids)
        # The flags Query goes side by side with the BatchGetItem: the page keeps its round trips.
        flags = executor.submit(self.engaged_in_range, caller, ids) if executor and ids else None
        batch_get([tweets, users, *also], executor)
        engaged = flags.result() if flags else self.engaged_in_range(caller, ids)
        return Hydration(
            tweets={r.tweet_id: r for r in tweets.found},
            users={r.pk: r for r in users.found if r.kind == "profile"},
            engaged=engaged,
        )

    def engaged_in_range(self, user_id: str, tweet_ids: Sequence[str]) -> set[tuple[str, str]]:
        """The user's likes and retweets of ``tweet_ids`` (sorted): 1 Query on GSI ``by_user`` for the
        user's engagements between the first and the last id (eventually consistent; the summed size of
        the entries returned, 0.5 read units up to 8 KB), 1 more page per ``FLAGS_QUERY_LIMIT`` entries
        (a user who engaged with very many tweets in that range)."""
        if not tweet_ids:
            return set()
        wanted = set(tweet_ids)
        results = EngagementRecord.by_user.query(
            user_id,
            EngagementRecord.tweet_id.between(tweet_ids[0], tweet_ids[-1]),
            page_size=FLAGS_QUERY_LIMIT,
        )
        return {flag for r in results if r.tweet_id in wanted for flag in r.flags()}

    def by_author(self, author_id: str, after: str | None, limit: int) -> tuple[list[TweetRecord], bool]:
        """1 Query on GSI by_author, newest first, strictly after the position ``after``."""
        start = {"author_id": {"S": author_id}, "tweet_id": {"S": after}} if after else None
        return _page(
            TweetRecord.by_author.query(
                author_id, scan_index_forward=False, limit=limit, page_size=limit, last_evaluated_key=start
            )
        )

    def replies(self, parent_id: str, after: str | None, limit: int) -> tuple[list[TweetRecord], bool]:
        """1 Query on GSI by_reply_to, newest first, strictly after the position ``after``."""
        start = {"reply_to": {"S": parent_id}, "tweet_id": {"S": after}} if after else None
        return _page(
            TweetRecord.by_reply_to.query(
                parent_id, scan_index_forward=False, limit=limit, page_size=limit, last_evaluated_key=start
            )
        )

    # ---- writes -------------------------------------------------------------------------------------
    def post(self, tweet: TweetRecord, charge: Charge) -> None:
        """1 TransactWriteItems: the tweet, the author's tweet_count, the rate-limit charge, for a
        reply the parent's reply_count (conditional on the parent being an existing original), and each
        attached upload claimed for the tweet (conditional on being the author's, ready and free)."""

        def build(tx: Transaction) -> None:
            tx.put("tweet", tweet, TweetRecord.tweet_id.does_not_exist())
            tx.update(
                "author", UserRecord(pk=tweet.author_id), [UserRecord.tweet_count.add(1)], _is_profile()
            )
            charge.add_to(tx, "quota")
            if tweet.reply_to:
                parent = TweetRecord(tweet_id=tweet.reply_to)
                tx.update("parent", parent, [TweetRecord.reply_count.add(1)], _is_original())
            for i, media in enumerate(tweet.media):
                claim_media(tx, f"media{i}", str(media.media_id), tweet.author_id, tweet.tweet_id)

        failed = transact(build)
        if "parent" in failed:
            raise TweetGone(str(tweet.reply_to))
        if any(label.startswith("media") for label in failed):
            raise MediaTaken()
        if "author" in failed:
            raise ProfileMissing()
        if "quota" in failed:
            raise charge.exceeded()

    def delete(self, tweet: TweetRecord, *, with_parent: bool = True) -> None:
        """1 TransactWriteItems: delete the tweet (only if still the author's), the author's tweet_count
        -1 and, for a reply whose parent still exists, the parent's reply_count -1. Retried without the
        parent when the parent vanished in the meantime."""

        def build(tx: Transaction) -> None:
            condition = TweetRecord.tweet_id.exists() & (TweetRecord.author_id == tweet.author_id)
            tx.delete("tweet", TweetRecord(tweet_id=tweet.tweet_id), condition)
            tx.update(
                "author", UserRecord(pk=tweet.author_id), [UserRecord.tweet_count.add(-1)], _is_profile()
            )
            if with_parent and tweet.reply_to:
                parent = TweetRecord(tweet_id=tweet.reply_to)
                tx.update("parent", parent, [TweetRecord.reply_count.add(-1)], _is_original())

        failed = transact(build)
        if "tweet" in failed:
            raise TweetGone(tweet.tweet_id)
        if "author" in failed:
            raise ProfileMissing()
        if "parent" in failed and with_parent:
            self.delete(tweet, with_parent=False)

    def like(self, tweet_id: str, user_id: str, at: str, charge: Charge) -> bool:
        """The rate-limit charge (1 UpdateItem), then the like on the user's engagement item (1 UpdateItem,
        only if not liked yet; the item is created if need be): 2 write units, plus 1 for the item's
        ``by_user`` index entry. ``like_count`` is not written here: ``engagement-counter`` applies it
        from the engagements stream (``apply_like_counts``), so a burst of likes of one tweet is a few
        counter updates, not one transaction per like on a single item. The caller has read the tweet
        (it exists and is an original); a like that lands just after the tweet was deleted is removed by
        that consumer. Returns False when the user already liked it (nothing changed, nothing charged,
        even at the limit: a repeat like is not a new like)."""
        if not charge.spend():
            engagement = self._engagement(tweet_id, user_id)
            if engagement is not None and engagement.liked_at:
                return False
            raise charge.exceeded()
        engagement = EngagementRecord(tweet_id=tweet_id, sk=engagement_key(user_id))
        try:
            engagement.update(
                actions=[EngagementRecord.user_id.set(user_id), EngagementRecord.liked_at.set(at)],
                condition=EngagementRecord.liked_at.does_not_exist(),
            )
        except UpdateError as exc:
            if not is_condition_failure(exc):
                raise
            charge.refund()
            return False
        return True

    def unlike(self, tweet_id: str, user_id: str) -> bool:
        """The like off the engagement item (only if liked): 1 DeleteItem when the item records nothing
        else (no retweet), else 1 UpdateItem removing only the like. When that first guess (no retweet)
        is wrong, or a retweet came or went meanwhile, 1 GetItem of the item says which it is, then 1 more
        write. ``like_count`` follows from the stream, as for a like."""
        alone = True  # most likes come without a retweet of the same tweet
        for _ in range(_FLAG_ATTEMPTS):
            if self._remove_like(tweet_id, user_id, alone=alone):
                return True
            engagement = self._engagement(tweet_id, user_id)
            if engagement is None or not engagement.liked_at:
                return False
            alone = not engagement.retweet_id
        raise _contended()

    @staticmethod
    def _remove_like(tweet_id: str, user_id: str, *, alone: bool) -> bool:
        engagement = EngagementRecord(tweet_id=tweet_id, sk=engagement_key(user_id))
        liked = EngagementRecord.liked_at.exists()
        try:
            if alone:
                engagement.delete(condition=liked & EngagementRecord.retweet_id.does_not_exist())
            else:
                condition = liked & EngagementRecord.retweet_id.exists()
                engagement.update(actions=[EngagementRecord.liked_at.remove()], condition=condition)
        except (DeleteError, UpdateError) as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def retweet(self, retweet: TweetRecord, charge: Charge) -> bool:
        """1 TransactWriteItems: the retweet on the user's engagement item (only if not retweeted yet),
        the retweet item in tweets, the original's retweet_count +1, the retweeter's tweet_count +1 and
        the rate-limit charge. Returns False when the user already retweeted it (nothing changed,
        nothing charged)."""
        original_id = str(retweet.retweet_of)
        engagement = EngagementRecord(tweet_id=original_id, sk=engagement_key(retweet.author_id))

        def build(tx: Transaction) -> None:
            actions = [
                EngagementRecord.user_id.set(retweet.author_id),
                EngagementRecord.retweet_id.set(retweet.tweet_id),
                EngagementRecord.retweeted_at.set(retweet.created_at),
            ]
            tx.update("engagement", engagement, actions, EngagementRecord.retweet_id.does_not_exist())
            tx.put("retweet", retweet, TweetRecord.tweet_id.does_not_exist())
            tx.update(
                "tweet", TweetRecord(tweet_id=original_id), [TweetRecord.retweet_count.add(1)], _is_original()
            )
            tx.update(
                "author", UserRecord(pk=retweet.author_id), [UserRecord.tweet_count.add(1)], _is_profile()
            )
            charge.add_to(tx, "quota")

        failed = transact(build)
        if "tweet" in failed:
            raise TweetGone(original_id)
        if "engagement" in failed:
            return False
        if "author" in failed:
            raise ProfileMissing()
        if "quota" in failed:
            raise charge.exceeded()
        return True

    def unretweet(self, original_id: str, user_id: str) -> bool:
        """1 GetItem (the engagement, for the retweet's id and whether a like shares the item) + 1
        TransactWriteItems: the retweet off the engagement item (the item deleted if it records no like),
        the retweet item deleted (only if present), the original's retweet_count -1 and the retweeter's
        tweet_count -1. Returns False when the user had not retweeted it. A like given or taken back
        between the read and the write costs one more round."""
        for _ in range(_FLAG_ATTEMPTS):
            engagement = self._engagement(original_id, user_id)
            if engagement is None or not engagement.retweet_id:
                return False
            build = partial(
                self._build_unretweet, engagement=engagement, original_id=original_id, user_id=user_id
            )
            failed = transact(build)
            if "tweet" in failed:
                raise TweetGone(original_id)
            if "retweet" in failed:
                return False  # a concurrent un-retweet (or the cleanup) got there first
            if "engagement" not in failed:
                return True
        raise _contended()

    @staticmethod
    def _build_unretweet(
        tx: Transaction, engagement: EngagementRecord, original_id: str, user_id: str
    ) -> None:
        retweet_id = str(engagement.retweet_id)
        same = EngagementRecord.retweet_id == retweet_id
        if engagement.liked_at:
            clear = [EngagementRecord.retweet_id.remove(), EngagementRecord.retweeted_at.remove()]
            tx.update("engagement", engagement, clear, same & EngagementRecord.liked_at.exists())
        else:
            tx.delete("engagement", engagement, same & EngagementRecord.liked_at.does_not_exist())
        tx.delete("retweet", TweetRecord(tweet_id=retweet_id), TweetRecord.tweet_id.exists())
        original = TweetRecord(tweet_id=original_id)
        tx.update("tweet", original, [TweetRecord.retweet_count.add(-1)], _is_original())
        tx.update("author", UserRecord(pk=user_id), [UserRecord.tweet_count.add(-1)], _is_profile())

    def _engagement(self, tweet_id: str, user_id: str) -> EngagementRecord | None:
        """1 GetItem (consistent)."""
        try:
            return EngagementRecord.get(tweet_id, engagement_key(user_id), consistent_read=True)
        except DoesNotExist:
            return None

    # ---- like counts, from the engagements stream -----------------------------------------------------
    def apply_like_changes(self, tweet_id: str, changes: Sequence[LikeChange]) -> CountOutcome:
        """Add the net of ``changes`` (one tweet's likes and un-likes, in stream order) to its
        ``like_count`` in 1 UpdateItem, with ``like_seq`` set to the last change's sequence number.

        Idempotent: the update's condition is that ``like_seq`` is below the first change's sequence
        number. A tweet's engagement items share its partition key, so their records come from one shard
        (and its children, which Lambda reads after their parent), in order: a change at or below
        ``like_seq`` is already counted. When the condition fails, 1 GetItem says why: the tweet is gone
        (its likes that landed after the deletion's clean-up are deleted, 1 DeleteItem each), or a
        redelivery overlaps what was counted, and only the changes after ``like_seq`` are applied (1 more
        UpdateItem, conditional on ``like_seq`` being what was read)."""
        first = changes[0].seq
        watermark = TweetRecord.like_seq.does_not_exist() | (TweetRecord.like_seq < first)
        if self._add_likes(tweet_id, changes, watermark):
            return CountOutcome.APPLIED
        current = self.get(tweet_id)
        if current is None or current.is_retweet:
            for change in changes:
                if change.liked_at:
                    self._drop_orphan_like(tweet_id, change)
            return CountOutcome.TWEET_GONE
        counted = str(current.like_seq)
        rest = [c for c in changes if c.seq > counted]
        if not rest:
            return CountOutcome.ALREADY_COUNTED
        if self._add_likes(tweet_id, rest, TweetRecord.like_seq == counted):
            return CountOutcome.APPLIED
        raise _contended()  # another reader of the same changes moved like_seq: the batch is retried

    @staticmethod
    def _add_likes(tweet_id: str, changes: Sequence[LikeChange], watermark: Any) -> bool:
        actions: list[Action] = [
            TweetRecord.like_count.add(sum(c.delta for c in changes)),
            TweetRecord.like_seq.set(changes[-1].seq),
        ]
        try:
            TweetRecord(tweet_id=tweet_id).update(actions=actions, condition=_is_original() & watermark)
        except UpdateError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    @staticmethod
    def _drop_orphan_like(tweet_id: str, change: LikeChange) -> None:
        """A like written after its tweet was deleted and cleaned up: nothing will ever show it."""
        engagement = EngagementRecord(tweet_id=tweet_id, sk=engagement_key(change.user_id))
        condition = (
            EngagementRecord.liked_at == change.liked_at
        ) & EngagementRecord.retweet_id.does_not_exist()
        try:
            engagement.delete(condition=condition)
        except DeleteError as exc:
            if not is_condition_failure(exc):
                raise

    def recount_likes(self, tweet_id: str) -> int | None:
        """Set ``like_count`` to the likes the engagement items hold: 1 Query (consistent, Select COUNT;
        the tweet's engagement items, 4 KB per read unit) + 1 UpdateItem. None when the tweet is gone.
        For records that came back through the replay queue, after the stream gave up on their batch:
        later records may have been counted since, so their place in the stream no longer tells."""
        likes = EngagementRecord.count(
            tweet_id, consistent_read=True, filter_condition=EngagementRecord.liked_at.exists()
        )
        try:
            TweetRecord(tweet_id=tweet_id).update(
                actions=[TweetRecord.like_count.set(likes)], condition=_is_original()
            )
        except UpdateError as exc:
            if is_condition_failure(exc):
                return None
            raise
        return likes

    # ---- cleanup after an original was deleted ------------------------------------------------------
    def purge_engagements(self, tweet_id: str) -> PurgeReport:
        """Remove every like and retweet of a deleted original. Safe to repeat: what is gone stays gone.

        1 Query per 100 engagement items, then the items recording only a like in BatchWriteItem (25 per
        call) and, per item recording a retweet, 1 TransactWriteItems that deletes the retweet item and
        the engagement item and takes 1 off the retweeter's tweet_count only if the retweet item still
        existed.
        """
        report = PurgeReport()
        engagements = list(EngagementRecord.query(tweet_id, consistent_read=True, page_size=100))
        report.likes_removed = sum(1 for e in engagements if e.liked_at)
        with EngagementRecord.batch_write() as batch:
            for engagement in engagements:
                if not engagement.retweet_id:
                    batch.delete(engagement)
        for engagement in (e for e in engagements if e.retweet_id):
            if self._purge_retweet(engagement):
                report.retweets_removed += 1
        return report

    def _purge_retweet(self, engagement: EngagementRecord, *, fix_count: bool = True) -> bool:
        def build(tx: Transaction) -> None:
            retweet = TweetRecord(tweet_id=str(engagement.retweet_id))
            tx.delete("retweet", retweet, TweetRecord.tweet_id.exists())
            tx.delete("engagement", engagement)
            if fix_count:
                author = UserRecord(pk=engagement.user_id)
                tx.update("author", author, [UserRecord.tweet_count.add(-1)], _is_profile())

        failed = transact(build)
        if "retweet" in failed:
            # An un-retweet got there first and already fixed the counts: only the engagement may be left.
            engagement.delete()
            return False
        if "author" in failed:
            return self._purge_retweet(engagement, fix_count=False)  # no profile to correct
        return True


def _page(results: Any) -> tuple[list[TweetRecord], bool]:
    """Drain a bounded PynamoDB query: (items, exhausted), exhausted when DynamoDB says nothing follows."""
    items = list(results)
    return items, results.last_evaluated_key is None


__all__ = [
    "CountOutcome",
    "EngagementRecord",
    "LikeChange",
    "ProfileMissing",
    "PurgeReport",
    "TweetGone",
    "TweetRecord",
    "TweetRepository",
    "engagement_key",
]
