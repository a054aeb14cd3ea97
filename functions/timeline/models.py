"""Shapes of the timeline domain: cached entries, the per-user meta item, and fan-out messages.

Responses reuse the tweets domain's ``Tweet`` / ``TweetPage`` (a home timeline entry is a Tweet).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

META_KEY = "~meta"
"""Sort key of the per-user meta item. ``~`` sorts after every ULID character, so a newest-first Query
of a timeline returns the meta item first, in the same call."""

ENTRY_KEY_BELOW = "~"
"""Upper bound (exclusive) of entry sort keys: ``entry_id < "~"`` selects entries, never the meta item."""


@dataclass(frozen=True)
class TimelineEntry:
    """One cached home-timeline item: the tweet or retweet ``entry_id`` that put it there.

    ``author_id`` posted the entry (the retweeter for a retweet), so an unfollow can find the entries to
    remove; ``original_id`` is the tweet shown (``entry_id`` itself for a tweet). ``original_author_id``
    is known when the dispatcher could read it (lets hydration read authors in the same round trip).
    """

    entry_id: str
    original_id: str
    author_id: str
    original_author_id: str | None = None

    @property
    def is_retweet(self) -> bool:
        return self.entry_id != self.original_id


@dataclass
class TimelineMeta:
    """The per-user meta item (``user_id``, ``entry_id = ~meta``) of the timelines table.

    As a reader: ``floor`` (entries with ids <= floor may be incomplete; reads below it merge from the
    followed accounts), ``pull`` (accounts merged at read time: celebrities, sticky), ``last_seen``
    (epoch seconds of the last home read; missing or old means inactive).
    As an author: ``celebrity`` (fan-out on read), ``mode_seq`` (ULID of the last switch to celebrity) and
    ``down_seq`` (ULID of the last switch back to fan-out on write).
    """

    user_id: str
    floor: str = ""
    pull: set[str] = field(default_factory=set)
    last_seen: int | None = None
    celebrity: bool = False
    mode_seq: str = ""
    down_seq: str = ""

    def active(self, now: float, inactive_after_days: int) -> bool:
        return self.last_seen is not None and self.last_seen >= now - inactive_after_days * 86_400


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


FanoutOp = Literal["add", "remove", "mark_pull", "trim"]


class FanoutMessage(BaseModel):
    """Body of one message on the ``fanout`` queue: one change applied to a chunk of timelines.

    - ``add`` / ``remove``: put / delete ``entry`` in every listed user's timeline;
    - ``mark_pull``: add ``author_id`` to every listed user's pull set (the author became a celebrity);
    - ``trim``: trim every listed user's timeline to TIMELINE_MAX_ITEMS.
    """

    model_config = ConfigDict(extra="forbid")

    v: int = 1
    op: FanoutOp
    users: list[str] = Field(min_length=1)
    entry: EntryBody | None = None
    author_id: str | None = None


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
