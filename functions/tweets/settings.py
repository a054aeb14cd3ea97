"""Settings of the tweets functions: the API and the clean-up after a deleted tweet."""

from __future__ import annotations

from functions.core.config import PagingSettings
from functions.core.tables import EngagementsTable, RateLimitsTable, TweetsTable, UsersTable


class TweetsApiSettings(PagingSettings, TweetsTable, EngagementsTable, UsersTable, RateLimitsTable):
    """Users: authors' profiles (rendering) and their tweet_count (kept in the post's transaction)."""


class CleanupSettings(TweetsTable, EngagementsTable, UsersTable):
    """Users: retweeters' tweet_count, corrected when their retweet of a deleted tweet goes."""
