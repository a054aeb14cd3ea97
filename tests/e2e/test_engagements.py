"""Likes and retweets over HTTP: idempotent, exact under concurrency, and gone with their tweet."""

from __future__ import annotations

import concurrent.futures as cf
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.client import Account, Api, assert_error, get_tweet, sign_up_and_log_in
from tests.support.client import post_tweet as post

pytestmark = pytest.mark.e2e
N = 10


def store() -> Any:
    """The tweets data layer, imported only once the local cloud has configured the environment."""
    from functions.tweets import dal

    return dal


def engagement_count(tweet_id: str) -> int:
    """Likes and retweets recorded against the tweet (each user's item holds both of theirs)."""
    return sum(len(item.flags()) for item in store().EngagementRecord.query(tweet_id, consistent_read=True))


def retweet_id_of(tweet_id: str, user_id: str) -> str:
    dal = store()
    return str(dal.EngagementRecord.get(tweet_id, dal.engagement_key(user_id)).retweet_id)


def tweet_count(api: Api, who: Account) -> int:
    return int(api.get(f"/users/{who.user_id}", who.token).json()["tweet_count"])


def timeline_ids(api: Api, who: Account) -> list[str]:
    return [t["tweet_id"] for t in api.get(f"/timeline/user/{who.user_id}", who.token).json()["tweets"]]


def at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    with cf.ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return [f.result() for f in [pool.submit(call) for call in calls]]


def eventually(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.2)


def counted(api: Api, who: Account, tweet_id: str, expected: int | Callable[[], int]) -> None:
    """The tweet's like_count reaches ``expected`` (the engagements stream applies it, within a second or
    so) and, as a plain read, stays the stored count, not a guess."""
    want = expected if callable(expected) else (lambda: expected)
    eventually(lambda: get_tweet(api, who, tweet_id)["like_count"] == want())


@pytest.fixture(scope="module")
def crowd(api: Api) -> list[Account]:
    """N accounts for the concurrency tests (sign-ups are the slow part, so they are shared)."""
    return [sign_up_and_log_in(api, display_name=f"Crowd {i}") for i in range(N)]


def test_like_is_idempotent_and_unlike_undoes_it(api: Api, alice: Account, bob: Account) -> None:
    tweet_id = post(api, alice, "like me")
    for _ in range(2):
        response = api.post(f"/tweets/{tweet_id}/like", bob.token)
        assert response.status_code == 200 and response.json() == {"liked": True, "like_count": 1}
    assert get_tweet(api, bob, tweet_id)["liked_by_me"] is True
    assert get_tweet(api, alice, tweet_id)["liked_by_me"] is False
    counted(api, alice, tweet_id, 1)
    # The response counts the caller's own change at once; the stored count follows from the stream.
    response = api.delete(f"/tweets/{tweet_id}/like", bob.token)
    assert response.status_code == 200 and response.json() == {"liked": False, "like_count": 0}
    counted(api, bob, tweet_id, 0)
    response = api.delete(f"/tweets/{tweet_id}/like", bob.token)
    assert response.status_code == 200 and response.json() == {"liked": False, "like_count": 0}
    assert get_tweet(api, bob, tweet_id)["liked_by_me"] is False


def test_retweet_is_idempotent_and_shows_in_the_retweeters_timeline(
    api: Api, alice: Account, bob: Account
) -> None:
    tweet_id = post(api, alice, "retweet me")
    for _ in range(2):
        response = api.post(f"/tweets/{tweet_id}/retweet", bob.token)
        assert response.status_code == 200 and response.json() == {"retweeted": True, "retweet_count": 1}
    assert tweet_count(api, bob) == 1
    assert timeline_ids(api, bob) == [tweet_id]
    assert get_tweet(api, bob, tweet_id)["retweeted_by_me"] is True

    for _ in range(2):
        response = api.delete(f"/tweets/{tweet_id}/retweet", bob.token)
        assert response.status_code == 200 and response.json() == {"retweeted": False, "retweet_count": 0}
    assert tweet_count(api, bob) == 0
    assert timeline_ids(api, bob) == []
    assert get_tweet(api, alice, tweet_id)["retweet_count"] == 0


def test_a_retweet_of_a_retweet_retweets_the_original(api: Api, alice: Account, bob: Account) -> None:
    carol = sign_up_and_log_in(api, display_name="Carol")
    original = post(api, alice, "the original")
    api.post(f"/tweets/{original}/retweet", bob.token)
    retweet_id = retweet_id_of(original, bob.user_id)
    assert retweet_id and store().TweetRecord.get(retweet_id).kind == "retweet"

    response = api.post(f"/tweets/{retweet_id}/retweet", carol.token)
    assert response.status_code == 200 and response.json() == {"retweeted": True, "retweet_count": 2}
    assert engagement_count(retweet_id) == 0  # nothing was recorded against the retweet item
    liked = api.post(f"/tweets/{retweet_id}/like", carol.token).json()
    assert liked == {"liked": True, "like_count": 1}
    assert get_tweet(api, carol, original)["liked_by_me"] is True
    assert timeline_ids(api, carol) == [original]


def test_engaging_with_a_deleted_tweet_is_404(api: Api, alice: Account, bob: Account) -> None:
    tweet_id = post(api, alice, "short-lived")
    api.post(f"/tweets/{tweet_id}/like", bob.token)
    assert api.delete(f"/tweets/{tweet_id}", alice.token).status_code == 204
    for verb in ("like", "retweet"):
        assert_error(api.post(f"/tweets/{tweet_id}/{verb}", bob.token), 404, "not_found")
        assert_error(api.delete(f"/tweets/{tweet_id}/{verb}", bob.token), 404, "not_found")
    assert tweet_count(api, bob) == 0


def test_concurrent_likes_by_one_user_count_once(api: Api, alice: Account, bob: Account) -> None:
    tweet_id = post(api, alice, "hammer")
    responses = at_once([lambda: api.post(f"/tweets/{tweet_id}/like", bob.token)] * N)
    assert all(r.status_code == 200 and r.json() == {"liked": True, "like_count": 1} for r in responses)
    counted(api, alice, tweet_id, 1)
    assert engagement_count(tweet_id) == 1


def test_concurrent_likes_by_many_users_count_exactly(api: Api, alice: Account, crowd: list[Account]) -> None:
    tweet_id = post(api, alice, "popular")
    responses = at_once([lambda who=who: api.post(f"/tweets/{tweet_id}/like", who.token) for who in crowd])
    assert all(r.status_code == 200 for r in responses)
    assert all(1 <= r.json()["like_count"] <= N and r.json()["liked"] for r in responses)
    counted(api, alice, tweet_id, N)
    # Likes and unlikes racing each other still leave an exact count.
    half = crowd[: N // 2]
    calls = [lambda who=who: api.delete(f"/tweets/{tweet_id}/like", who.token) for who in half]
    calls += [lambda who=who: api.post(f"/tweets/{tweet_id}/like", who.token) for who in crowd]
    assert all(r.status_code == 200 for r in at_once(calls))
    counted(api, alice, tweet_id, lambda: engagement_count(tweet_id))


def test_concurrent_retweets_count_exactly(
    api: Api, alice: Account, bob: Account, crowd: list[Account]
) -> None:
    tweet_id = post(api, alice, "retweet storm")
    before = tweet_count(api, bob)
    same = at_once([lambda: api.post(f"/tweets/{tweet_id}/retweet", bob.token)] * N)
    assert all(r.status_code == 200 for r in same)
    assert get_tweet(api, alice, tweet_id)["retweet_count"] == 1
    assert tweet_count(api, bob) == before + 1
    assert timeline_ids(api, bob) == [tweet_id]

    many = at_once([lambda who=who: api.post(f"/tweets/{tweet_id}/retweet", who.token) for who in crowd])
    assert all(r.status_code == 200 for r in many)
    assert get_tweet(api, alice, tweet_id)["retweet_count"] == N + 1
    undo = at_once(
        [lambda who=who: api.delete(f"/tweets/{tweet_id}/retweet", who.token) for who in crowd] * 2
    )
    assert all(r.status_code == 200 for r in undo)
    assert get_tweet(api, alice, tweet_id)["retweet_count"] == 1
    assert all(timeline_ids(api, who) == [] for who in crowd[:3])


def test_deleting_a_tweet_drops_its_retweets_at_once_and_cleans_up_after(
    api: Api, alice: Account, bob: Account
) -> None:
    carol = sign_up_and_log_in(api, display_name="Carol")
    tweet_id = post(api, alice, "going away")
    for who in (bob, carol):
        api.post(f"/tweets/{tweet_id}/like", who.token)
        api.post(f"/tweets/{tweet_id}/retweet", who.token)
    assert tweet_count(api, bob) == tweet_count(api, carol) == 1
    assert engagement_count(tweet_id) == 4

    assert api.delete(f"/tweets/{tweet_id}", alice.token).status_code == 204
    # At once: no response mentions the tweet, not even through the retweets.
    assert timeline_ids(api, bob) == [] and timeline_ids(api, carol) == []
    assert_error(api.get(f"/tweets/{tweet_id}", bob.token), 404)
    # Shortly after: the stream consumer removed the likes, retweets and their counts.
    eventually(lambda: engagement_count(tweet_id) == 0)
    eventually(lambda: tweet_count(api, bob) == 0 and tweet_count(api, carol) == 0)
    assert not list(store().TweetRecord.by_author.query(bob.user_id))


def test_deleting_your_retweet_by_its_id_undoes_it(api: Api, alice: Account, bob: Account) -> None:
    tweet_id = post(api, alice, "undo by id")
    api.post(f"/tweets/{tweet_id}/retweet", bob.token)
    retweet_id = retweet_id_of(tweet_id, bob.user_id)
    assert_error(api.delete(f"/tweets/{retweet_id}", alice.token), 403)
    assert api.delete(f"/tweets/{retweet_id}", bob.token).status_code == 204
    assert get_tweet(api, alice, tweet_id)["retweet_count"] == 0
    assert tweet_count(api, bob) == 0


def test_liking_beyond_the_rate_limit_is_429_with_retry_after(api: Api, alice: Account, bob: Account) -> None:
    from functions.core.rate_limits import LIKES, RateLimitRecord, charge

    first, second, third = (post(api, alice, f"like number {n}") for n in range(3))
    # Given all but one of the window's likes already used (written where the charge counts them, so
    # the test need not like a thousand times)
    window = charge(LIKES, bob.user_id)
    used = RateLimitRecord(pk=f"likes#{bob.user_id}#{window.window_start}", expires_at=2**31)
    used.used = LIKES.max_count - 1
    used.save()
    assert api.post(f"/tweets/{first}/like", bob.token).json() == {"liked": True, "like_count": 1}

    limited = api.post(f"/tweets/{second}/like", bob.token)

    assert_error(limited, 429, "rate_limited")
    assert 1 <= int(limited.headers["Retry-After"]) <= LIKES.window_seconds
    assert get_tweet(api, bob, second)["like_count"] == 0 and engagement_count(second) == 0
    # A repeat like is not a new like: still 200 at the limit, and nothing changes.
    assert api.post(f"/tweets/{first}/like", bob.token).json() == {"liked": True, "like_count": 1}
    # Unliking frees no quota (the limit counts likes given, not likes held), and other users are unaffected.
    assert api.delete(f"/tweets/{first}/like", bob.token).status_code == 200
    assert_error(api.post(f"/tweets/{third}/like", bob.token), 429, "rate_limited")
    assert api.post(f"/tweets/{third}/like", alice.token).json() == {"liked": True, "like_count": 1}


def test_a_like_and_a_retweet_by_one_user_are_undone_independently(
    api: Api, alice: Account, bob: Account
) -> None:
    tweet_id = post(api, alice, "both at once")
    assert api.post(f"/tweets/{tweet_id}/like", bob.token).json() == {"liked": True, "like_count": 1}
    assert api.post(f"/tweets/{tweet_id}/retweet", bob.token).status_code == 200
    counted(api, bob, tweet_id, 1)
    seen = get_tweet(api, bob, tweet_id)
    assert (seen["liked_by_me"], seen["retweeted_by_me"], seen["like_count"], seen["retweet_count"]) == (
        True,
        True,
        1,
        1,
    )
    # Taking the like back keeps the retweet (one item holds both) ...
    assert api.delete(f"/tweets/{tweet_id}/like", bob.token).json() == {"liked": False, "like_count": 0}
    seen = get_tweet(api, bob, tweet_id)
    assert (seen["liked_by_me"], seen["retweeted_by_me"], seen["retweet_count"]) == (False, True, 1)
    assert timeline_ids(api, bob) == [tweet_id]
    # ... and the other way round.
    api.post(f"/tweets/{tweet_id}/like", bob.token)
    assert api.delete(f"/tweets/{tweet_id}/retweet", bob.token).status_code == 200
    counted(api, bob, tweet_id, 1)
    seen = get_tweet(api, bob, tweet_id)
    assert (seen["liked_by_me"], seen["retweeted_by_me"], seen["like_count"], seen["retweet_count"]) == (
        True,
        False,
        1,
        0,
    )
    assert timeline_ids(api, bob) == [] and tweet_count(api, bob) == 0
    # Undoing what is not there changes nothing; once both are gone, so is the item.
    assert api.delete(f"/tweets/{tweet_id}/retweet", bob.token).status_code == 200
    assert api.delete(f"/tweets/{tweet_id}/like", bob.token).json() == {"liked": False, "like_count": 0}
    counted(api, alice, tweet_id, 0)
    assert api.delete(f"/tweets/{tweet_id}/like", bob.token).json() == {"liked": False, "like_count": 0}
    assert list(store().EngagementRecord.query(tweet_id, consistent_read=True)) == []
