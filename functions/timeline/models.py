"""Shapes of the timeline domain: cached entries, the per-user meta item, and fan-out messages.

Responses reuse the tweets domain's ``Tweet`` / ``TweetPage`` (a home timeline entry is a Tweet).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from functions.tweets.models import TweetEntry

META_KEY = "~meta"
"""Sort key of the per-user meta item. ``~`` sorts after every ULID character, so a newest-first Query
of a timeline returns the meta item first, in the same call."""

ENTRY_KEY_BELOW = "~"
"""Upper bound (exclusive) of entry sort keys: ``entry_id < "~"`` selects entries, never the meta item."""


TimelineEntry = TweetEntry
"""One cached home-timeline item is the tweets domain's list entry: the tweet or retweet ``entry_id`` that
put it there. ``author_id`` posted it (the retweeter for a retweet), so an unfollow can find the entries
to remove; ``original_id`` is the tweet shown; ``original_author_id`` is known when the dispatcher could
read it (lets hydration read authors in the same round trip)."""


PULL_PREFIX = "p:"
"""Meta attribute ``p:<author_id>``: the reader merges that author at read time. Its value is the
version ``<kind>:<follow_seq>``: kind ``k`` (kept: the author is, or was, a celebrity) or ``t`` (temporary:
a new follow whose catch-up has not run yet). Conditional writes name the version they saw, so a late or
repeated message can never undo a newer follow's entry."""
FLOOR_PREFIX = "f:"
"""Meta attribute ``f:<author_id>``: the cache holds that author's entries only above this id (a backfill
or rebuild that stopped short of the reader's floor, an ex-celebrity's unpushed tweets)."""
KEPT = "k"
TEMPORARY = "t"


def pull_version(kind: str, follow_seq: str) -> str:
    return f"{kind}:{follow_seq}"


def version_kind(version: str) -> str:
    return version.split(":", 1)[0]


@dataclass
class TimelineMeta:
    """The per-user meta item (``user_id``, ``entry_id = ~meta``) of the timelines table.

    As a reader: ``floor`` (entries with ids <= floor may be incomplete; reads below it merge from the
    followed accounts), ``pulls`` (accounts merged at read time, author -> version), ``floors`` (per-author
    floors above the global one), ``last_seen`` (epoch seconds of the last home read; missing or old means
    inactive).
    As an author: ``celebrity`` (fan-out on read), ``mode_seq`` (ULID of the last switch to celebrity),
    ``down_seq`` (ULID of the last switch back to fan-out on write), and while crossing up
    (``rising_seq`` set: still pushed, followers being marked) the round's ``rising_chunks`` and the
    chunk numbers already ``marked``.
    """

    user_id: str
    floor: str = ""
    pulls: dict[str, str] = field(default_factory=dict)
    floors: dict[str, str] = field(default_factory=dict)
    last_seen: int | None = None
    celebrity: bool = False
    mode_seq: str = ""
    down_seq: str = ""
    rising_seq: str = ""
    rising_chunks: int = 0
    marked: set[int] = field(default_factory=set)

    @property
    def pull(self) -> set[str]:
        """The accounts merged at read time."""
        return set(self.pulls)

    def active(self, now: float, inactive_after_days: int) -> bool:
        return self.last_seen is not None and self.last_seen >= now - inactive_after_days * 86_400

    def author_floor(self, author_id: str) -> str:
        """Below this id the cache may lack ``author_id``'s entries."""
        return max(self.floor, self.floors.get(author_id, ""))


class EntryBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entry_id: str
    original_id: str
    author_id: str
    original_author_id: str | None = None

    @classmethod
    def of(cls, entry: TimelineEntry) -> EntryBody:
        return cls(
            entry_id=entry.entry_id,
            original_id=entry.original_id,
            author_id=entry.author_id,
            original_author_id=entry.original_author_id,
        )

    def to_entry(self) -> TimelineEntry:
        return TimelineEntry(self.entry_id, self.original_id, self.author_id, self.original_author_id)


class _Message(BaseModel):
    """Body of one message on the ``fanout`` queue: one change applied to a chunk of timelines.

    On the wire (JSON, ``None`` fields left out) a message is ``{"v": 1, "op": ..., "users": [...], ...}``;
    ``op`` tells the kind (a discriminated union), so a consumer reads exactly the fields its kind has.
    """

    model_config = ConfigDict(extra="forbid")

    v: int = 1
    op: str
    users: list[str] = Field(min_length=1)


class AddEntry(_Message):
    """Put ``entry`` in every listed user's timeline."""

    op: Literal["add"] = "add"
    entry: EntryBody


class RemoveEntry(_Message):
    """Delete ``entry`` from every listed user's timeline."""

    op: Literal["remove"] = "remove"
    entry: EntryBody


class MarkPull(_Message):
    """Add ``author_id`` to every listed user's pull set (the author is crossing up).

    ``seqs[i]`` is the ``follow_seq`` of ``users[i]``'s follow: the mark is written only while that very
    follow exists (one transaction with a condition check on the edge), so a mark that lands after the
    unfollow cannot resurrect the author. ``round``/``chunk`` name the crossing and this message's place
    in it: the author flips to celebrity only once every chunk of its round is marked."""

    op: Literal["mark_pull"] = "mark_pull"
    author_id: str
    seqs: list[str] | None = None
    round: str | None = None
    chunk: int | None = None


class CatchUp(_Message):
    """Re-copy recent entries once the indexes have caught up (sent with a delay).

    With ``author_id``: a new follow (``seq`` is its follow_seq); the followee's entries since ``since``
    are copied again (a post racing the follow may have been missed by both the post's fan-out, whose
    follower page came from a lagging index, and the backfill, whose author page did too), then the
    temporary pull set entry of that follow is removed. Without: after a rebuild, every followed
    account's entries since ``since``."""

    op: Literal["catch_up"] = "catch_up"
    author_id: str | None = None
    seq: str | None = None
    since: str


class TrimTimelines(_Message):
    """Trim every listed user's timeline to TIMELINE_MAX_ITEMS."""

    op: Literal["trim"] = "trim"


EntryMessage = AddEntry | RemoveEntry
FanoutMessage = Annotated[
    AddEntry | RemoveEntry | MarkPull | TrimTimelines | CatchUp, Field(discriminator="op")
]
"""Any message of the ``fanout`` queue."""


@cache
def _fanout_message() -> TypeAdapter[FanoutMessage]:
    return TypeAdapter(FanoutMessage)


def parse_fanout_message(body: str | bytes) -> FanoutMessage:
    """A queued message's body as its kind's model; a ValidationError for anything else."""
    return _fanout_message().validate_json(body)


@dataclass
class WriteStats:
    """What one batch write cost: calls made, items written and retries of unprocessed items."""

    calls: int = 0
    items: int = 0
    retried_items: int = 0

    def add(self, other: WriteStats) -> None:
        self.calls += other.calls
        self.items += other.items
        self.retried_items += other.retried_items
