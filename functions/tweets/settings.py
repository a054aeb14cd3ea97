"""Settings of the tweets functions: the API and the clean-up after a deleted tweet."""

from __future__ import annotations

from pydantic import Field

from functions.core.config import FunctionSettings, PagingSettings


class TweetsApiSettings(PagingSettings):
    tweets_table: str = Field(alias="TWEETS_TABLE_NAME")
    engagements_table: str = Field(alias="ENGAGEMENTS_TABLE_NAME")
    users_table: str = Field(alias="USERS_TABLE_NAME")
    """Authors' profiles (rendering) and their tweet_count (kept in the post's transaction)."""
    rate_limits_table: str = Field(alias="RATE_LIMITS_TABLE_NAME")


class CleanupSettings(FunctionSettings):
    tweets_table: str = Field(alias="TWEETS_TABLE_NAME")
    engagements_table: str = Field(alias="ENGAGEMENTS_TABLE_NAME")
    users_table: str = Field(alias="USERS_TABLE_NAME")
    """Retweeters' tweet_count, corrected when their retweet of a deleted tweet goes."""
