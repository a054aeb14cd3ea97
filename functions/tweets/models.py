"""Request and response shapes of the tweets domain (the typed edge of the API)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from functions.tweets.text import MAX_TWEET_CHARS, TextRuleError, normalise
from functions.users.models import UserSummary

MAX_MEDIA_PER_TWEET = 4
# Generous bound on the raw text before normalisation, so a huge body is refused before any work.
_MAX_RAW_TEXT = MAX_TWEET_CHARS * 8

_ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


def is_tweet_id(value: object) -> bool:
    """Only IDs this service could have issued (ULIDs) reach DynamoDB; anything else is simply unknown."""
    return isinstance(value, str) and bool(_ULID.match(value))


MediaId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class StrictModel(BaseModel):
    """Unknown fields are rejected; server-owned fields (counts, author, ids) never come from the client."""

    model_config = ConfigDict(extra="forbid")


class TweetCreate(StrictModel):
    text: Annotated[
        str,
        Field(
            max_length=_MAX_RAW_TEXT,
            description=(
                f"1..{MAX_TWEET_CHARS} Unicode code points after NFC normalisation (the NFC form is "
                "stored); not only white space; no control characters other than newline."
            ),
        ),
    ]
    media_ids: Annotated[list[MediaId], Field(max_length=MAX_MEDIA_PER_TWEET)] = Field(
        default_factory=list, description="Ready images the caller uploaded, at most 4."
    )
    reply_to: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None, description="The tweet this one replies to; it must exist."
    )

    @field_validator("text")
    @classmethod
    def _text_rules(cls, value: str) -> str:
        try:
            return normalise(value)
        except TextRuleError as exc:
            raise ValueError(str(exc)) from exc


class Entities(BaseModel):
    hashtags: list[str] = Field(description="Hashtags without the leading #, in order of appearance.")
    mentions: list[str] = Field(description="Mentioned usernames without the leading @.")
    urls: list[str]


class Media(BaseModel):
    media_id: str
    type: Literal["image"] = "image"
    content_type: str
    url: str
    status: Literal["pending", "ready", "rejected"]


class Tweet(BaseModel):
    tweet_id: str = Field(description="A ULID: later tweets have greater IDs when compared as strings.")
    user: UserSummary = Field(description="The author.")
    text: str
    entities: Entities
    media: list[Media]
    reply_to: str | None
    created_at: str = Field(description="ISO-8601 UTC with milliseconds, e.g. 2026-11-22T10:00:00.123Z.")
    like_count: int
    retweet_count: int
    reply_count: int
    liked_by_me: bool
    retweeted_by_me: bool
    retweeted_by: UserSummary | None = Field(
        default=None,
        description=(
            "Timeline entries only: set when the entry is a retweet; the other fields are then the "
            "original tweet's and this names who retweeted it."
        ),
    )


class TweetPage(BaseModel):
    tweets: list[Tweet] = Field(description="Newest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
    has_more: bool


class LikeState(BaseModel):
    liked: bool
    like_count: int


class RetweetState(BaseModel):
    retweeted: bool
    retweet_count: int
