"""Settings of the social graph's function."""

from __future__ import annotations

from pydantic import Field

from functions.core.config import PagingSettings


class GraphApiSettings(PagingSettings):
    follows_table: str = Field(alias="FOLLOWS_TABLE_NAME")
    users_table: str = Field(alias="USERS_TABLE_NAME")
    """Profiles (views, list hydration) and the follower / following counts."""
    rate_limits_table: str = Field(alias="RATE_LIMITS_TABLE_NAME")
