"""Follow rules and follower/following lists. Receives its repository; builds no clients."""

from __future__ import annotations

from collections.abc import Callable

from functions.core import rate_limits
from functions.core.concurrency import both, shared_executor
from functions.core.errors import NotFound, Unprocessable
from functions.core.ids import is_ulid
from functions.core.pagination import cursor_field, encode_cursor
from functions.graph.dal import FollowRecord, FollowRepository
from functions.graph.models import UserPage
from functions.users.dal import UserRecord, UserRepository
from functions.users.logic import to_user
from functions.users.models import User

ListReader = Callable[[str, str | None, int], list[FollowRecord]]
"""(user_id, before_seq, limit) -> edges newest first: one of FollowRepository's list queries."""


def _refuse_self(caller_id: str, user_id: str) -> None:
    """Following (and so unfollowing) yourself is a rule violation: 422, with no call made."""
    if caller_id == user_id:
        raise Unprocessable(
            "You cannot follow or unfollow yourself.", details=[{"field": "user_id", "issue": "self_follow"}]
        )


class GraphService:
    def __init__(self, repo: FollowRepository, users: UserRepository) -> None:
        self.repo = repo
        self.users = users

    def view(self, viewer_id: str, user_id: str) -> User:
        """A profile as ``viewer_id`` sees it, with ``followed_by_me`` (sequential GetItems: 1 + 1)."""
        return self._as_seen_by(viewer_id, self.users.get(user_id))

    def view_by_username(self, viewer_id: str, username: str) -> User:
        """Like ``view``, by username (sequential GetItems: 2 + 1)."""
        return self._as_seen_by(viewer_id, self.users.get_by_username(username))

    def _as_seen_by(self, viewer_id: str, record: UserRecord) -> User:
        # Nobody follows themselves, so the viewer's own profile needs no lookup.
        followed = viewer_id != record.user_id and self.repo.is_following(viewer_id, record.user_id)
        return to_user(record, followed_by_me=followed)

    def follow(self, caller_id: str, user_id: str) -> bool:
        """Make ``caller_id`` follow ``user_id``; a repeat changes nothing. Returns the new state (True).

        Each new follow uses one unit of the FOLLOWS quota, charged in the follow's own transaction.
        """
        _refuse_self(caller_id, user_id)
        self.repo.follow(caller_id, user_id, rate_limits.charge(rate_limits.FOLLOWS, caller_id))
        return True

    def unfollow(self, caller_id: str, user_id: str) -> bool:
        """Stop ``caller_id`` following ``user_id``; a repeat changes nothing. Returns the new state (False).

        Not rate limited: undoing a follow must always be possible (also for someone at the follow
        limit), and follow/unfollow churn is already bounded because every re-follow is charged.
        """
        _refuse_self(caller_id, user_id)
        self.repo.unfollow(caller_id, user_id)
        return False

    def followers(self, caller_id: str, user_id: str, cursor: str | None, limit: int) -> UserPage:
        """Who follows ``user_id``, newest follow first, with ``followed_by_me`` for the caller."""
        return self._page(caller_id, user_id, cursor, limit, "followers")

    def following(self, caller_id: str, user_id: str, cursor: str | None, limit: int) -> UserPage:
        """Whom ``user_id`` follows, newest follow first, with ``followed_by_me`` for the caller."""
        return self._page(caller_id, user_id, cursor, limit, "following")

    def _page(self, caller_id: str, user_id: str, cursor: str | None, limit: int, kind: str) -> UserPage:
        """Two rounds of DynamoDB calls, each round's calls in parallel.

        1. GetItem on the owner's profile (404) || Query on the index for ``limit + 1`` edges.
        2. One BatchGetItem across users (hydration) and follows (``followed_by_me``).
        Keyset paging: the cursor holds the last ``follow_seq`` returned and the next page asks for
        strictly older ones, so follows that arrive meanwhile (newer) never shift the walk.
        """
        scope = f"{kind}:{user_id}"
        before = cursor_field(scope, cursor, "seq", is_ulid)
        read: ListReader = self.repo.followers if kind == "followers" else self.repo.following
        exists, edges = both(
            shared_executor(),
            lambda: self.repo.profile_exists(user_id),
            lambda: read(user_id, before, limit + 1),
        )
        if not exists:
            raise NotFound("No such user.")
        has_more = len(edges) > limit
        edges = edges[:limit]
        listed = [edge.follower_id if kind == "followers" else edge.followee_id for edge in edges]
        others = [uid for uid in listed if uid != caller_id]
        profiles, followed = self.repo.profiles_and_followed(listed, caller_id, others, shared_executor())
        users = [to_user(profiles[uid], followed_by_me=uid in followed) for uid in listed if uid in profiles]
        next_cursor = encode_cursor(scope, {"seq": edges[-1].follow_seq}) if has_more else None
        return UserPage(users=users, next_cursor=next_cursor, has_more=has_more)
