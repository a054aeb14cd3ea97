"""Response shapes of the search routes (the typed edge of the API)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from functions.tweets.models import Tweet
from functions.users.models import User


class TweetSearchPage(BaseModel):
    tweets: list[Tweet] = Field(description="Newest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
    has_more: bool


class UserSearchPage(BaseModel):
    users: list[User] = Field(description="By username.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
    has_more: bool
