"""An account's audience for other domains (the home-timeline fan-out): who follows it, whom it follows
and how many follow it, as plain values (ids, positions, counts), never follow records.

Positions are ``follow_seq`` values (ULIDs minted per follow), so "newest follow first" is a stable order
and a page continues strictly after the previous one even while follows arrive.
"""

from __future__ import annotations

from dataclasses import dataclass

from functions.graph.dal import FollowRepository
from functions.users.dal import UserRepository

FOLLOWING_PAGE = 1000
"""Edges asked for per Query when listing everyone an account follows."""


@dataclass(frozen=True)
class FollowerPage:
    """Follower ids, newest follow first, and where the next page starts (None: this was the last)."""

    follower_ids: list[str]
    next_position: str | None


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
        ids = [edge.follower_id for edge in edges if edge.follow_seq > since]
        last = len(edges) < limit or len(ids) < len(edges)
        return FollowerPage(ids, None if last else edges[-1].follow_seq)

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
