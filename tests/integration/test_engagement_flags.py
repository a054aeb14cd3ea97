"""A page's liked_by_me / retweeted_by_me: one Query of the caller's engagements in the page's range of
tweet ids (GSI ``by_user``), exact whatever the range holds, paging past the Query's page size.

State lives in private copies of the tables (the repository's own writes), read through the repository.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Chirp")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "chirp")

import pytest
from ulid import ULID

from functions.tweets import dal
from functions.tweets.dal import LIKE, RETWEET, EngagementRecord, TweetRepository, engagement_key
from infra.resources import ENGAGEMENTS, TWEETS, USERS
from tests.support.tables import private_copies

CALLER, OTHER = "caller-0001", "other-0002"


@pytest.fixture
def repo(cloud: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[TweetRepository]:
    for var, name in private_copies(cloud.aws, (TWEETS, ENGAGEMENTS, USERS), uuid.uuid4().hex[:8]).items():
        monkeypatch.setenv(var, name)
    yield TweetRepository()
    monkeypatch.undo()


def _ids(n: int) -> list[str]:
    """n tweet ids in creation order (ULIDs of increasing time)."""
    return [str(ULID.from_timestamp(1_795_000_000 + i)) for i in range(n)]


def _engage(tweet_id: str, user: str, *, like: bool = False, retweet: bool = False) -> None:
    EngagementRecord(
        tweet_id=tweet_id,
        sk=engagement_key(user),
        user_id=user,
        liked_at="2026-12-01T00:00:00.000Z" if like else None,
        retweet_id=str(ULID()) if retweet else None,
    ).save()


def test_flags_are_exactly_the_callers_engagements_of_the_page(repo: TweetRepository) -> None:
    old, *page = _ids(7)  # old: a retweeted original far older than the page's own tweets
    _engage(old, CALLER, like=True)
    _engage(page[0], CALLER, like=True)
    _engage(page[2], CALLER, retweet=True)
    _engage(page[4], CALLER, like=True, retweet=True)
    _engage(page[1], OTHER, like=True, retweet=True)  # someone else's: not the caller's flags
    _engage(page[3], CALLER, like=True)  # in the range, but not on this page
    shown = [old, page[0], page[1], page[2], page[4], page[5]]

    found = repo.hydration([], [], CALLER, shown)

    assert found.engaged == {
        (old, LIKE),
        (page[0], LIKE),
        (page[2], RETWEET),
        (page[4], LIKE),
        (page[4], RETWEET),
    }


def test_past_the_querys_page_size_the_next_pages_are_read(
    repo: TweetRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _ids(9)
    for tweet_id in ids:
        _engage(tweet_id, CALLER, like=True)
    monkeypatch.setattr(dal, "FLAGS_QUERY_LIMIT", 4)

    assert repo.engaged_in_range(CALLER, ids) == {(t, LIKE) for t in ids}
    assert repo.hydration([], [], CALLER, ids).engaged == {(t, LIKE) for t in ids}


def test_a_caller_with_no_engagements_reads_one_empty_query(repo: TweetRepository) -> None:
    ids = _ids(3)
    _engage(ids[1], OTHER, like=True)
    assert repo.engaged_in_range(CALLER, ids) == set()
    assert repo.hydration([], [], CALLER, ids).engaged == set()
