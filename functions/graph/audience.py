"""An account's audience for other domains (the home-timeline fan-out): who follows it, whom it follows
and how many follow it, as plain values (ids, positions, counts), never follow records.

Positions are ``follow_seq`` values (ULIDs minted per follow), so "newest follow first" is a stable order
and a page continues strictly after the previous one even while follows arrive.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from functions.core.batch_get import Read
from functions.graph.dal import FollowRecord, FollowRepository
from functions.users.dal import UserRepository

FOLLOWING_PAGE = 1000
"""Edges asked for per Query when listing everyone an account follows."""


@dataclass(frozen=True)
class FollowerPage:
    """Follower ids, newest follow first, and where the next page starts (None: this was the last)."""

    follower_ids: list[str]
    next_position: str | None
    follow_seqs: list[str] = field(default_factory=list)
    """The ``follow_seq`` of each follower's follow, in the same order."""


class FollowCheck:
    """Whom a reader follows among some accounts, read inside another domain's BatchGetItem: pass
    ``reads`` to it, then ask ``followed()``."""

    def __init__(self, follower_id: str, followee_ids: Iterable[str], *, consistent: bool = False) -> None:
        keys = [(follower_id, f) for f in dict.fromkeys(followee_ids) if f != follower_id]
        self.reads: list[Read] = [Read(FollowRecord, keys, consistent=consistent)] if keys else []

    def followed(self) -> dict[str, str]:
        """Followee id -> follow_seq of the follows found."""
        return {r.followee_id: r.follow_seq for read in self.reads for r in read.found}


class GraphAudience:
    """The graph domain's answer to "who hears from this account"; reads only, through the repositories."""

    def __init__(self, follows: FollowRepository, profiles: UserRepository) -> None:
        self.follows = follows
        self.profiles = profiles

    def followers(self, user_id: str, before: str | None, limit: int, since: str = "") -> FollowerPage:
        """Up to ``limit`` followers of ``user_id``, newest follow first, of follows older than the position
        ``before`` (None: from the newest). With ``since``, only follows made after that position: the page
        ends at the first older one and is then the last. 1 Query on GSI by_followee."""
        edges = self.follows.followers(user_id, before, limit)
        kept = [edge for edge in edges if edge.follow_seq > since]
        last = len(edges) < limit or len(kept) < len(edges)
        return FollowerPage(
            [edge.follower_id for edge in kept],
            None if last else edges[-1].follow_seq,
            [edge.follow_seq for edge in kept],
        )

    def follow_check(
        self, follower_id: str, followee_ids: Iterable[str], *, consistent: bool = False
    ) -> FollowCheck:
        """The edges ``follower_id`` -> each of ``followee_ids``, to be read in the caller's batch
        (eventually consistent unless asked: 0.5 read units per edge instead of 1)."""
        return FollowCheck(follower_id, followee_ids, consistent=consistent)

    def follow_seq(self, follower_id: str, followee_id: str) -> str | None:
        """The follow's ``follow_seq`` now (None: not following); 1 GetItem, strongly consistent."""
        return self.follows.follow_seq(follower_id, followee_id)

    def edge_check(self, follower_id: str, followee_id: str, follow_seq: str) -> dict[str, Any]:
        """A transaction ConditionCheck item that holds while exactly that follow exists."""
        return self.follows.edge_check(follower_id, followee_id, follow_seq)

    def following(self, user_id: str) -> list[str]:
        """Everyone ``user_id`` follows, newest follow first: 1 Query per 1000 on LSI by_follow_time
        (strongly consistent, so a follow made just before counts)."""
        ids: list[str] = []
        before: str | None = None
        while True:
            page = self.follows.following(user_id, before, FOLLOWING_PAGE)
            ids.extend(edge.followee_id for edge in page)
            if len(page) < FOLLOWING_PAGE:
                return ids
            before = page[-1].follow_seq

    def follower_count(self, user_id: str) -> int:
        """The profile's follower count (kept exact by the follow transactions); 0 for an unknown user.
        1 GetItem on users."""
        profile = self.profiles.find(user_id)
        return int(profile.follower_count) if profile is not None else 0
