"""Settings of the tweets functions: the API and the clean-up after a deleted tweet."""

from __future__ import annotations

from functions.core.config import PagingSettings
from functions.core.tables import EngagementsTable, RateLimitsTable, TweetsTable, UsersTable
from functions.media.settings import MediaBucket, MediaTable, MediaUrls


class TweetsApiSettings(
    PagingSettings,
    TweetsTable,
    EngagementsTable,
    UsersTable,
    RateLimitsTable,
    MediaTable,
    MediaBucket,
    MediaUrls,
):
    """Users: authors' profiles (rendering) and their tweet_count (kept in the post's transaction).
    Media: the uploads a tweet attaches (checked and claimed in the post's transaction, objects retagged
    as attached) and the base URL of their bytes."""


class CleanupSettings(TweetsTable, EngagementsTable, UsersTable, MediaTable, MediaBucket):
    """Users: retweeters' tweet_count, corrected when their retweet of a deleted tweet goes. Media: a
    deleted tweet's uploads, items and objects."""


class CounterSettings(TweetsTable, EngagementsTable):
    """Tweets: like_count, kept from the engagements stream. Engagements: recounts, and likes that
    landed after their tweet was deleted."""
