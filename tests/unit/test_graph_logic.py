"""Graph rules and profile views with followed_by_me, with fake repositories."""

from __future__ import annotations

from typing import Any

import pytest

from functions.core import pagination
from functions.core.errors import InvalidCursor, NotFound, Unprocessable
from functions.graph.logic import GraphService
from functions.users.dal import UserRecord


@pytest.fixture(autouse=True)
def signing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CURSOR_SIGNING_KEY", "unit-test-key")
    pagination._signing_key.cache_clear()


class UnusedRepo:
    """Fails the test if logic reaches the data layer."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"unexpected call to repo.{name}")


def test_following_or_unfollowing_yourself_is_refused_before_any_call() -> None:
    service = GraphService(UnusedRepo(), UnusedRepo())  # type: ignore[arg-type]
    with pytest.raises(Unprocessable):
        service.follow("alice", "alice")
    with pytest.raises(Unprocessable):
        service.unfollow("alice", "alice")


@pytest.mark.parametrize("position", [{}, {"seq": 5}, {"seq": "short"}, {"other": "01" * 13}])
def test_a_signed_cursor_with_an_unexpected_position_is_refused(position: dict[str, Any]) -> None:
    cursor = pagination.encode_cursor("followers:bob", position)
    with pytest.raises(InvalidCursor):
        GraphService(UnusedRepo(), UnusedRepo()).followers("alice", "bob", cursor, 20)  # type: ignore[arg-type]


class MissingUserRepo:
    def profile_exists(self, user_id: str) -> bool:
        return False

    def followers(self, user_id: str, before: str | None, limit: int) -> list[Any]:
        return []


def test_the_list_of_an_unknown_user_is_404() -> None:
    with pytest.raises(NotFound):
        GraphService(MissingUserRepo(), UnusedRepo()).followers("alice", "ghost", None, 20)  # type: ignore[arg-type]


class OneProfile:
    def __init__(self, user_id: str) -> None:
        self.record = UserRecord(
            pk=user_id, username=user_id, email="", created_at="2026-01-01T00:00:00.000Z"
        )

    def get(self, user_id: str) -> UserRecord:
        return self.record


class Follows:
    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    def is_following(self, follower: str, followee: str) -> bool:
        self.asked.append((follower, followee))
        return True


def test_followed_by_me_comes_from_the_follows_table_and_is_false_for_yourself() -> None:
    follows = Follows()
    service = GraphService(follows, OneProfile("bob"))  # type: ignore[arg-type]
    assert service.view("alice", "bob").followed_by_me is True
    assert follows.asked == [("alice", "bob")]
    assert service.view("bob", "bob").followed_by_me is False
    assert follows.asked == [("alice", "bob")], "no look-up for your own profile"
