"""Shapes of the tweets domain: requests and responses (the typed edge of the API), and the values other
domains receive (``TweetEntry`` pages, tweets-table images from the stream) instead of PynamoDB records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from functions.core.ids import is_ulid
from functions.core.text import pydantic_rule
from functions.media.models import Media
from functions.tweets.text import MAX_TWEET_CHARS, normalise
from functions.users.models import UserSummary

MAX_MEDIA_PER_TWEET = 4
# Generous bound on the raw text before normalisation, so a huge body is refused before any work.
_MAX_RAW_TEXT = MAX_TWEET_CHARS * 8

TweetKind = Literal["tweet", "retweet"]


def is_tweet_id(value: object) -> bool:
    """Only IDs this service could have issued (ULIDs) reach DynamoDB; anything else is simply unknown."""
    return is_ulid(value)


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
                "stored); at least one visible character (white space, format characters such as "
                "U+200B/U+FEFF, fillers such as U+3164/U+2800 and lone combining marks are not visible); "
                "no control characters other than newline; no bidirectional embedding, override or "
                "isolate controls (U+202A..U+202E, U+2066..U+2069; the marks U+200E/U+200F/U+061C are "
                "allowed). A broken rule is a 422 whose details name the field and the issue."
            ),
        ),
        # Runs after the raw length bound, so the rules never see a huge string.
        AfterValidator(pydantic_rule(normalise)),
    ]
    media_ids: Annotated[list[MediaId], Field(max_length=MAX_MEDIA_PER_TWEET)] = Field(
        default_factory=list,
        description=(
            "At most 4 ready images the caller uploaded (POST /media) and has not attached elsewhere; "
            "any other (someone else's, unknown, pending, rejected, attached) is a 422 naming it."
        ),
    )
    reply_to: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None, description="The tweet this one replies to; it must exist."
    )


class Entities(BaseModel):
    hashtags: list[str] = Field(description="Hashtags without the leading #, in order of appearance.")
    mentions: list[str] = Field(description="Mentioned usernames without the leading @.")
    urls: list[str]


class Tweet(BaseModel):
    tweet_id: str = Field(description="A ULID: later tweets have greater IDs when compared as strings.")
    user: UserSummary = Field(description="The author.")
    text: str
    entities: Entities
    media: list[Media]
    reply_to: str | None
    created_at: str = Field(description="ISO-8601 UTC with milliseconds, e.g. 2026-11-22T10:00:00.123Z.")
    like_count: int = Field(
        description=(
            "Exact once applied: likes are counted from the engagement records within about a second "
            "(a like's own response already counts it)."
        )
    )
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
    like_count: int = Field(
        description=(
            "The tweet's count with this request's own like or un-like in it; other users' likes of the "
            "last second or so may not be in it yet."
        )
    )


class RetweetState(BaseModel):
    retweeted: bool
    retweet_count: int


# ---- values for lists and for other domains ----------------------------------------------------------
@dataclass(frozen=True)
class TweetEntry:
    """One entry of a list of tweets (an author's timeline, replies, a home timeline), not rendered: the
    tweet or retweet ``entry_id`` that put it there, posted by ``author_id`` (the retweeter for a
    retweet), showing the tweet ``original_id`` (``entry_id`` itself for a tweet or reply), whose author
    is ``original_author_id`` when known (always for a tweet; for a retweet only once its original was
    read, which lets rendering read every author in one round trip)."""

    entry_id: str
    original_id: str
    author_id: str
    original_author_id: str | None = None

    @property
    def is_retweet(self) -> bool:
        return self.entry_id != self.original_id

    @property
    def kind(self) -> TweetKind:
        return "retweet" if self.is_retweet else "tweet"

    @classmethod
    def tweet(cls, tweet_id: str, author_id: str) -> TweetEntry:
        return cls(tweet_id, tweet_id, author_id, author_id)

    @classmethod
    def retweet(cls, retweet_id: str, retweeter_id: str, original_id: str) -> TweetEntry:
        return cls(retweet_id, original_id, retweeter_id)


@dataclass(frozen=True)
class EntryPage:
    """Entries of a list, newest first; ``exhausted`` when nothing older follows."""

    entries: list[TweetEntry]
    exhausted: bool


class TweetImage(BaseModel):
    """A tweets-table item as a stream record carries it: the part the stream's consumers read."""

    model_config = ConfigDict(extra="ignore")

    tweet_id: Annotated[str, StringConstraints(min_length=1)]
    kind: str = "tweet"
    author_id: str
    retweet_of: str | None = None
    media: list[dict[str, str]] = Field(default_factory=list)
    """Attached media as stored on the tweet (``media_id``, ``content_type``, ``object_key``)."""

    def entry(self) -> TweetEntry | None:
        """The item as lists hold it; None for an item no list shows (a retweet that names no original)."""
        if self.kind == "retweet" and self.retweet_of:
            return TweetEntry.retweet(self.tweet_id, self.author_id, self.retweet_of)
        if self.kind == "tweet":
            return TweetEntry.tweet(self.tweet_id, self.author_id)
        return None
