"""Home timeline over HTTP against the local runtime: fan-out through the real stream and queue pollers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from functions.timeline.dal import TimelineStore
from tests.support.client import Account, Api, assert_error, sign_up_and_log_in

pytestmark = pytest.mark.e2e

IDLE_TIMEOUT = 60.0
"""Returned as soon as the cloud is idle; the bound only matters under load (vanilla moto in CI)."""


@pytest.fixture
def settle(cloud: Any) -> Callable[[], None]:
    """Wait until every stream is consumed and the fan-out queue is empty."""

    def wait() -> None:
        assert cloud.wait_idle(IDLE_TIMEOUT), "local cloud did not become idle"

    return wait


@pytest.fixture
def timeline_settings(cloud: Any, settle: Callable[[], None]) -> Iterator[Callable[..., None]]:
    """Change timeline tunables for one test as a deployment would (the functions that read them get
    fresh execution environments), restored afterwards."""
    changed: set[str] = set()

    def apply(**values: int) -> None:
        settle()
        changed.update(values)
        cloud.configure(**values)

    yield apply
    settle()
    cloud.configure(**dict.fromkeys(changed))


def post(api: Api, who: Account, text: str) -> str:
    response = api.post("/tweets", who.token, json={"text": text})
    assert response.status_code == 201, response.text
    return str(response.json()["tweet_id"])


def follow(api: Api, who: Account, whom: Account) -> None:
    assert api.post(f"/users/{whom.user_id}/follow", who.token).status_code == 200


def unfollow(api: Api, who: Account, whom: Account) -> None:
    assert api.delete(f"/users/{whom.user_id}/follow", who.token).status_code == 200


def home(api: Api, who: Account, **params: Any) -> dict[str, Any]:
    response = api.get("/timeline/home", who.token, params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def home_ids(api: Api, who: Account, limit: int = 100) -> list[str]:
    return [t["tweet_id"] for t in home(api, who, limit=limit)["tweets"]]


def all_pages(api: Api, who: Account, limit: int) -> list[str]:
    ids: list[str] = []
    cursor = None
    for _ in range(100):
        params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        page = home(api, who, **params)
        ids.extend(t["tweet_id"] for t in page["tweets"])
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return ids
    raise AssertionError("paging did not end")


def cached(who: Account) -> list[str]:
    """Entry ids in the reader's cached timeline (what the fan-out wrote)."""
    _, entries, _ = TimelineStore().query_page(who.user_id, None, 1000, with_meta=False)
    return [e.entry_id for e in entries]


def activate(api: Api, who: Account) -> None:
    """A first home read makes the reader active (later tweets are pushed to them)."""
    home(api, who)


@pytest.fixture
def carol(api: Api) -> Account:
    return sign_up_and_log_in(api, display_name="Carol")


def test_a_followees_tweet_and_own_tweets_reach_the_home_timeline(
    api: Api, alice: Account, bob: Account, settle: Callable[[], None]
) -> None:
    activate(api, bob)
    follow(api, bob, alice)
    settle()
    from_alice = post(api, alice, "hello followers")
    own = post(api, bob, "my own words")
    settle()

    page = home(api, bob)
    assert [t["tweet_id"] for t in page["tweets"]] == [own, from_alice]
    assert page["tweets"][1]["user"]["user_id"] == alice.user_id and page["tweets"][1]["retweeted_by"] is None
    assert from_alice in cached(bob), "pushed on write, not merged on read"
    assert page["has_more"] is False and page["next_cursor"] is None


def test_a_retweet_is_one_entry_pointing_at_the_original(
    api: Api, alice: Account, bob: Account, carol: Account, settle: Callable[[], None]
) -> None:
    activate(api, bob)
    follow(api, bob, alice)
    follow(api, bob, carol)
    settle()
    original = post(api, alice, "worth sharing")
    assert api.post(f"/tweets/{original}/retweet", carol.token).status_code == 200
    settle()

    tweets = home(api, bob)["tweets"]
    assert [t["tweet_id"] for t in tweets] == [original], "one entry per original tweet per page"
    assert tweets[0]["retweeted_by"]["user_id"] == carol.user_id
    assert tweets[0]["user"]["user_id"] == alice.user_id and tweets[0]["retweet_count"] == 1

    assert api.delete(f"/tweets/{original}/retweet", carol.token).status_code == 200
    tweets = home(api, bob)["tweets"]
    assert [(t["tweet_id"], t["retweeted_by"]) for t in tweets] == [(original, None)]


def test_a_deleted_tweet_disappears_at_once_and_leaves_every_cache(
    api: Api, alice: Account, bob: Account, settle: Callable[[], None]
) -> None:
    activate(api, bob)
    follow(api, bob, alice)
    settle()
    kept = post(api, alice, "stays")
    doomed = post(api, alice, "goes")
    settle()
    assert doomed in cached(bob)

    assert api.delete(f"/tweets/{doomed}", alice.token).status_code == 204
    assert home_ids(api, bob) == [kept], "filtered at read time, before the fan-out of the removal"
    settle()
    assert doomed not in cached(bob) and doomed not in cached(alice)


def test_follow_backfills_and_unfollow_removes(
    api: Api, alice: Account, bob: Account, settle: Callable[[], None]
) -> None:
    activate(api, bob)
    older = [post(api, alice, f"before the follow {i}") for i in range(3)]
    own = post(api, bob, "mine")
    settle()
    follow(api, bob, alice)
    settle()
    assert set(older) <= set(cached(bob)), "backfilled into the cache"
    assert home_ids(api, bob) == [own, *reversed(older)]

    unfollow(api, bob, alice)
    settle()
    assert home_ids(api, bob) == [own]
    assert not set(older) & set(cached(bob))


def test_celebrity_tweets_merge_at_read_and_crossing_leaves_no_gap_or_duplicate(
    api: Api,
    alice: Account,
    bob: Account,
    carol: Account,
    settle: Callable[[], None],
    timeline_settings: Callable[..., None],
) -> None:
    timeline_settings(CELEBRITY_FOLLOWER_THRESHOLD=2)
    activate(api, bob)
    follow(api, bob, alice)
    settle()
    pushed = post(api, alice, "while ordinary")
    settle()
    assert pushed in cached(bob)

    follow(api, carol, alice)  # alice reaches 2 followers: a celebrity
    settle()
    merged = post(api, alice, "while famous")
    settle()
    assert merged not in cached(bob), "celebrities are not fanned out"
    assert home_ids(api, bob) == [merged, pushed], "merged at read time, no duplicate of the pushed one"

    unfollow(api, carol, alice)  # back to 1 follower: fanned out on write again
    settle()
    again = post(api, alice, "ordinary again")
    settle()
    assert again in cached(bob)
    assert home_ids(api, bob) == [again, merged, pushed], "tweets from the famous period stay visible"
    assert all_pages(api, bob, limit=1) == [again, merged, pushed]


def test_paging_goes_past_the_cached_window_without_repeats_or_gaps(
    api: Api, alice: Account, bob: Account, settle: Callable[[], None], timeline_settings: Callable[..., None]
) -> None:
    timeline_settings(TIMELINE_MAX_ITEMS=5)
    activate(api, bob)
    follow(api, bob, alice)
    settle()
    posted = [post(api, alice, f"tweet number {i}") for i in range(9)]
    posted.append(post(api, bob, "one of mine"))
    settle()
    assert len(cached(bob)) <= 5, "trimmed to TIMELINE_MAX_ITEMS"

    newest_first = list(reversed(posted))
    assert all_pages(api, bob, limit=3) == newest_first

    first = home(api, bob, limit=4)
    post(api, alice, "arrives while paging")  # newer than every position: must not shift later pages
    settle()
    rest = all_pages_from(api, bob, first["next_cursor"], limit=4)
    assert [t["tweet_id"] for t in first["tweets"]] + rest == newest_first


def all_pages_from(api: Api, who: Account, cursor: str, limit: int) -> list[str]:
    ids: list[str] = []
    while cursor:
        page = home(api, who, limit=limit, cursor=cursor)
        ids.extend(t["tweet_id"] for t in page["tweets"])
        cursor = page["next_cursor"]
    return ids


def test_inactive_followers_are_skipped_and_rebuilt_on_their_next_read(
    api: Api, alice: Account, bob: Account, settle: Callable[[], None]
) -> None:
    activate(api, bob)
    follow(api, bob, alice)
    settle()
    long_ago = time.time() - 40 * 86_400
    TimelineStore().touch(bob.user_id, long_ago)  # bob has not read for 40 days

    missed = post(api, alice, "bob is away")
    settle()
    assert missed not in cached(bob), "inactive followers are skipped at fan-out"

    assert home_ids(api, bob) == [missed], "the next read rebuilds from the followed accounts"
    assert missed in cached(bob)
    fresh = post(api, alice, "bob is back")
    settle()
    assert fresh in cached(bob), "active again: pushed on write"


def test_limit_and_cursor_are_validated(api: Api, alice: Account) -> None:
    assert_error(api.get("/timeline/home", alice.token, params={"limit": 0}), 422)
    assert_error(api.get("/timeline/home", alice.token, params={"limit": 101}), 422)
    forged = api.get("/timeline/home", alice.token, params={"cursor": "forged.cursor"})
    assert_error(forged, 400, "invalid_cursor")
    assert_error(api.get("/timeline/home"), 401)
