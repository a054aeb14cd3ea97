"""What the timeline domain needs from the tweets and graph domains, as Protocols over their values.

``fanout.py`` and ``read.py`` depend only on these; the composition root (``handlers/wiring.py``) plugs in
the real adapters (``functions.tweets.reads.TweetReads``, ``functions.graph.audience.GraphAudience``) and
tests plug in fakes. No data layer or PynamoDB record of another domain crosses this seam.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from functions.core.batch_get import Read
from functions.graph.audience import FollowerPage
from functions.timeline.models import TimelineEntry
from functions.tweets.models import EntryPage, Tweet


class EdgeCheck(Protocol):
    """Follow edges read inside another BatchGetItem: pass ``reads`` to it, then ask ``followed()``."""

    reads: list[Read]

    def followed(self) -> dict[str, str]:
        """Followee id -> follow_seq of the follows found."""
        ...


class TweetReader(Protocol):
    """The tweets a timeline shows and is built from."""

    def original_author(self, tweet_id: str) -> str | None:
        """The author of the original tweet ``tweet_id``; None when it is gone or names a retweet."""
        ...

    def by_author(self, author_id: str, after: str | None, limit: int) -> EntryPage:
        """The author's newest tweets and retweets strictly after the position ``after`` (older ids)."""
        ...

    def hydrate(
        self, caller: str, entries: Sequence[TimelineEntry], also: Sequence[Read] = ()
    ) -> list[Tweet | None]:
        """One rendered Tweet per entry, None where it must not be shown (deleted, undone, no author);
        one BatchGetItem across tweets, users and engagements, and the ``also`` reads of other tables."""
        ...


class Audience(Protocol):
    """Who follows an account and whom it follows."""

    def followers(self, user_id: str, before: str | None, limit: int, since: str = "") -> FollowerPage:
        """A page of follower ids, newest follow first, older than ``before``, newer than ``since``."""
        ...

    def following(self, user_id: str) -> list[str]:
        """Everyone ``user_id`` follows."""
        ...

    def follower_count(self, user_id: str) -> int:
        """How many follow ``user_id`` (0 for an unknown user)."""
        ...

    def follow_check(
        self, follower_id: str, followee_ids: Iterable[str], *, consistent: bool = False
    ) -> EdgeCheck:
        """Reads of the edges ``follower_id`` -> ``followee_ids`` to run inside a hydration batch."""
        ...

    def follow_seq(self, follower_id: str, followee_id: str) -> str | None:
        """The current follow's follow_seq, None when not following (strongly consistent)."""
        ...

    def edge_check(self, follower_id: str, followee_id: str, follow_seq: str) -> dict[str, Any]:
        """A TransactWriteItems ConditionCheck that holds while exactly that follow exists."""
        ...
