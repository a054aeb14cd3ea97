"""Data access of the tweets domain: tweets, likes and retweets. The only module that talks to DynamoDB.

Tables (keys declared once in ``infra/resources.py``):
- ``tweets``: ``tweet_id`` (a ULID). Tweets and replies (``kind="tweet"``) and retweets (``kind="retweet"``,
  ``retweet_of=<original>``, ``author_id=<retweeter>``). GSIs ``by_author`` (author_id, tweet_id) and
  ``by_reply_to`` (reply_to, tweet_id; sparse: only replies carry ``reply_to``).
- ``engagements``: ``tweet_id`` + ``sk`` = ``like#<user_id>`` | ``retweet#<user_id>``. One item per user and
  kind is what makes likes and retweets count once, exactly. A retweet engagement holds ``retweet_id``.
- ``users`` (owned by the users domain): profiles' ``tweet_count`` is kept in the same transactions.

Every multi-item change is one TransactWriteItems whose conditions carry the invariants. Cancellation
reasons are read by item position, never by message text. PynamoDB sends a transaction's items grouped
by operation (condition checks, deletes, puts, updates) whatever order they were added in, so
``Transaction`` labels each item and maps the reasons back through that wire order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from pynamodb.attributes import ListAttribute, MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from functions.core.batch_get import Read, batch_get
from functions.core.config import REGION, FromEnv
from functions.core.errors import NotFound, Unprocessable
from functions.core.rate_limits import Charge
from functions.core.transactions import Transaction, transact
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
        projection = AllProjection()

    author_id = UnicodeAttribute(hash_key=True)
    tweet_id = UnicodeAttribute(range_key=True)


class ByReplyToIndex(GlobalSecondaryIndex["TweetRecord"]):
    class Meta:
        index_name = "by_reply_to"
        projection = AllProjection()

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
    retweet_count = NumberAttribute(default=0)
    reply_count = NumberAttribute(default=0)

    by_author = ByAuthorIndex()
    by_reply_to = ByReplyToIndex()

    @property
    def is_retweet(self) -> bool:
        return self.kind == KIND_RETWEET


class EngagementRecord(Model):
    class Meta:
        table_name = FromEnv("ENGAGEMENTS_TABLE_NAME")
        region = REGION

    tweet_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    user_id = UnicodeAttribute()
    created_at = UnicodeAttribute()
    retweet_id = UnicodeAttribute(null=True)


def engagement_key(kind: str, user_id: str) -> str:
    return f"{kind}#{user_id}"


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

    def engaged(self, user_id: str, tweet_ids: Iterable[str]) -> set[tuple[str, str]]:
        """Which of ``tweet_ids`` the user liked / retweeted: {(tweet_id, "like"|"retweet")}.

        1 BatchGetItem (consistent) per 50 tweets (two keys per tweet).
        """
        keys = [(t, engagement_key(kind, user_id)) for t in set(tweet_ids) for kind in (LIKE, RETWEET)]
        if not keys:
            return set()
        return {(r.tweet_id, r.kind) for r in EngagementRecord.batch_get(keys, consistent_read=True)}

    def hydration(
        self,
        tweet_ids: Iterable[str],
        user_ids: Iterable[str],
        caller: str,
        engaged_ids: Iterable[str],
        executor: Executor | None = None,
        also: Sequence[Read] = (),
    ) -> Hydration:
        """Tweets (consistent), profiles and the caller's likes and retweets of ``engaged_ids`` (consistent)
        in ONE BatchGetItem across the three tables while the keys number at most 100 (a page of 20
        tweets by distinct authors is 80 keys); above that, ceil(keys/100) calls side by side."""
        engagement_keys = [
            (t, engagement_key(kind, caller)) for t in set(engaged_ids) for kind in (LIKE, RETWEET)
        ]
        tweets = Read(TweetRecord, tweet_ids, consistent=True)
        users = Read(UserRecord, user_ids)
        engagements = Read(EngagementRecord, engagement_keys, consistent=True)
        batch_get([tweets, users, engagements, *also], executor)
        return Hydration(
            tweets={r.tweet_id: r for r in tweets.found},
            users={r.pk: r for r in users.found if r.kind == "profile"},
            engaged={(r.tweet_id, r.kind) for r in engagements.found},
        )

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
        """1 TransactWriteItems: the like item (only if absent), like_count +1 (only if the tweet is an
        existing original) and the rate-limit charge. Returns False when the user already liked it
        (nothing changed, nothing charged, even at the limit: a repeat like is not a new like)."""
        like = EngagementRecord(
            tweet_id=tweet_id, sk=engagement_key(LIKE, user_id), kind=LIKE, user_id=user_id, created_at=at
        )

        def build(tx: Transaction) -> None:
            tx.put("engagement", like, EngagementRecord.sk.does_not_exist())
            tx.update(
                "tweet", TweetRecord(tweet_id=tweet_id), [TweetRecord.like_count.add(1)], _is_original()
            )
            charge.add_to(tx, "quota")

        failed = transact(build)
        liked = self._engagement_outcome(failed, tweet_id)  # the tweet and a repeat like come first
        if liked and "quota" in failed:
            raise charge.exceeded()
        return liked

    def unlike(self, tweet_id: str, user_id: str) -> bool:
        """1 TransactWriteItems: delete the like item (only if present) and like_count -1."""
        like = EngagementRecord(tweet_id=tweet_id, sk=engagement_key(LIKE, user_id))

        def build(tx: Transaction) -> None:
            tx.delete("engagement", like, EngagementRecord.sk.exists())
            tx.update(
                "tweet", TweetRecord(tweet_id=tweet_id), [TweetRecord.like_count.add(-1)], _is_original()
            )

        return self._engagement_outcome(transact(build), tweet_id)

    def retweet(self, retweet: TweetRecord, charge: Charge) -> bool:
        """1 TransactWriteItems: the retweet engagement (only if absent), the retweet item in tweets, the
        original's retweet_count +1, the retweeter's tweet_count +1 and the rate-limit charge.
        Returns False when the user already retweeted it (nothing changed, nothing charged)."""
        original_id = str(retweet.retweet_of)
        engagement = EngagementRecord(
            tweet_id=original_id,
            sk=engagement_key(RETWEET, retweet.author_id),
            kind=RETWEET,
            user_id=retweet.author_id,
            created_at=retweet.created_at,
            retweet_id=retweet.tweet_id,
        )

        def build(tx: Transaction) -> None:
            tx.put("engagement", engagement, EngagementRecord.sk.does_not_exist())
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
        """1 GetItem (the engagement, for the retweet's id) + 1 TransactWriteItems: delete the engagement
        and the retweet item (only if present), the original's retweet_count -1 and the retweeter's
        tweet_count -1. Returns False when the user had not retweeted it."""
        try:
            engagement = EngagementRecord.get(
                original_id, engagement_key(RETWEET, user_id), consistent_read=True
            )
        except DoesNotExist:
            return False

        def build(tx: Transaction) -> None:
            tx.delete("engagement", engagement, EngagementRecord.sk.exists())
            tx.delete(
                "retweet", TweetRecord(tweet_id=str(engagement.retweet_id)), TweetRecord.tweet_id.exists()
            )
            tx.update(
                "tweet",
                TweetRecord(tweet_id=original_id),
                [TweetRecord.retweet_count.add(-1)],
                _is_original(),
            )
            tx.update("author", UserRecord(pk=user_id), [UserRecord.tweet_count.add(-1)], _is_profile())

        failed = transact(build)
        if "tweet" in failed:
            raise TweetGone(original_id)
        # A failed engagement/retweet condition: a concurrent un-retweet (or the cleanup) got there first.
        return not ({"engagement", "retweet"} & failed)

    @staticmethod
    def _engagement_outcome(failed: set[str], tweet_id: str) -> bool:
        if "tweet" in failed:
            raise TweetGone(tweet_id)
        return "engagement" not in failed

    # ---- cleanup after an original was deleted ------------------------------------------------------
    def purge_engagements(self, tweet_id: str) -> PurgeReport:
        """Remove every like and retweet of a deleted original. Safe to repeat: what is gone stays gone.

        1 Query per 100 engagements, then likes in BatchWriteItem (25 per call) and, per retweet, 1
        TransactWriteItems that deletes the retweet item and its engagement and takes 1 off the
        retweeter's tweet_count only if the retweet item still existed.
        """
        report = PurgeReport()
        engagements = list(EngagementRecord.query(tweet_id, consistent_read=True, page_size=100))
        likes = [e for e in engagements if e.kind == LIKE]
        with EngagementRecord.batch_write() as batch:
            for like in likes:
                batch.delete(like)
        report.likes_removed = len(likes)
        for engagement in (e for e in engagements if e.kind == RETWEET):
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
    "EngagementRecord",
    "ProfileMissing",
    "PurgeReport",
    "TweetGone",
    "TweetRecord",
    "TweetRepository",
    "engagement_key",
]
