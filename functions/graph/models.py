"""Response shapes of the social-graph routes (the typed edge of the API)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from functions.users.models import User


class FollowState(BaseModel):
    """Whether the caller follows the user after the request (the same answer for a repeat)."""

    following: bool


class UserPage(BaseModel):
    """One page of a follower or following list, newest follow first."""

    users: list[User]
    next_cursor: str | None = Field(
        description="Opaque; pass it back as `cursor` for the next page. Null on the last page."
    )
    has_more: bool
