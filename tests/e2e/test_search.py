"""Search over HTTP against the local cloud: posted tweets are found by word, phrase, hashtag and author
within 5 seconds, deleted ones are not, users are found by prefix, paging neither repeats nor skips, and
no bad query is ever a 5xx. The path is the deployed one: the tweets stream, fanout-dispatcher, the
search-index queue and the indexer (tweets); the users stream and the indexer (profiles)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.client import Account, Api, assert_error, post_tweet, sign_up_and_log_in

pytestmark = pytest.mark.e2e

FOUND_WITHIN_SECONDS = 5.0


def marker() -> str:
    """A word no other test's tweets hold."""
    return "w" + uuid.uuid4().hex[:10]


def search(api: Api, who: Account, path: str, q: str, **params: Any) -> dict[str, Any]:
    response = api.get(f"/search/{path}", who.token, params={"q": q, **params})
    assert response.status_code == 200, (q, response.status_code, response.text)
    return response.json()  # type: ignore[no-any-return]


def tweet_ids(api: Api, who: Account, q: str, **params: Any) -> list[str]:
    return [t["tweet_id"] for t in search(api, who, "tweets", q, **params)["tweets"]]


def eventually(check: Callable[[], bool], within: float = FOUND_WITHIN_SECONDS) -> float:
    """Seconds until ``check()`` held; fails when it did not hold within ``within`` seconds."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < within, f"not within {within} s"
        time.sleep(0.1)
    return time.monotonic() - start


def test_a_posted_tweet_is_found_by_word_phrase_hashtag_and_author_within_5_seconds(
    api: Api, alice: Account, bob: Account
) -> None:
    m = marker()
    tag = "t" + m
    tweet_id = post_tweet(api, alice, f"{m} the quick brown fox #{tag}")
    post_tweet(api, bob, f"{m} brown and quick #{tag}")

    eventually(lambda: tweet_id in tweet_ids(api, bob, f"{m} fox"))
    for q in (f"{m} QUICK fox", f'"quick brown" {m}', f"#{tag} fox", f"from:{alice.username} {m}"):
        assert tweet_ids(api, bob, q) == [tweet_id], q
    assert tweet_ids(api, bob, f'{m} "brown quick"') == []
    assert tweet_ids(api, bob, f"{m} from:{bob.username} fox") == []
    page = search(api, bob, "tweets", f"{m} fox")
    found = page["tweets"][0]
    assert found["user"]["username"] == alice.username and found["entities"]["hashtags"] == [tag]
    assert found["liked_by_me"] is False and page["has_more"] is False and page["next_cursor"] is None


def test_a_deleted_tweet_is_not_returned_once_its_delete_returned(api: Api, alice: Account) -> None:
    m = marker()
    tweet_id = post_tweet(api, alice, f"{m} soon gone")
    eventually(lambda: tweet_ids(api, alice, m) == [tweet_id])

    assert api.delete(f"/tweets/{tweet_id}", alice.token).status_code == 204
    assert tweet_ids(api, alice, m) == [], "filtered at read time, before the index saw the REMOVE"
    assert tweet_ids(api, alice, f"from:{alice.username} {m}") == []


def test_paging_returns_every_match_once_newest_first_while_new_ones_arrive(
    api: Api, alice: Account, cloud: Any
) -> None:
    m = marker()
    posted = [post_tweet(api, alice, f"{m} number {i}") for i in range(7)]
    eventually(lambda: len(tweet_ids(api, alice, m, limit=100)) == 7)

    seen: list[str] = []
    cursor = None
    while True:
        page = search(api, alice, "tweets", m, limit=3, **({"cursor": cursor} if cursor else {}))
        seen += [t["tweet_id"] for t in page["tweets"]]
        if not seen[3:]:
            post_tweet(api, alice, f"{m} arrives while paging")  # newer: sorts before the position
        cursor = page["next_cursor"]
        assert page["has_more"] is (cursor is not None)
        if not cursor:
            break
    assert seen == list(reversed(posted))


def test_a_cursor_from_another_query_or_tampered_is_refused(api: Api, alice: Account) -> None:
    m = marker()
    for i in range(2):
        post_tweet(api, alice, f"{m} {i}")
    eventually(lambda: len(tweet_ids(api, alice, m)) == 2)
    cursor = search(api, alice, "tweets", m, limit=1)["next_cursor"]
    assert cursor
    assert_error(
        api.get("/search/tweets", alice.token, params={"q": "other", "cursor": cursor}), 400, "invalid_cursor"
    )
    assert_error(
        api.get("/search/users", alice.token, params={"q": m, "cursor": cursor}), 400, "invalid_cursor"
    )
    assert_error(
        api.get("/search/tweets", alice.token, params={"q": m, "cursor": cursor[:-2] + "xx"}),
        400,
        "invalid_cursor",
    )


def test_users_are_found_by_username_prefix_and_display_name_word_prefix(api: Api, alice: Account) -> None:
    m = marker()[:8]  # usernames hold at most 15 characters
    carol = sign_up_and_log_in(api, username=f"{m}carol", display_name="Carol Danvers")
    dave = sign_up_and_log_in(api, username=f"{m}dave", display_name=f"Dave {m}zeta")
    assert api.post(f"/users/{dave.user_id}/follow", alice.token).status_code == 200

    def users(q: str, **params: Any) -> list[str]:
        return [u["user_id"] for u in search(api, alice, "users", q, **params)["users"]]

    eventually(lambda: users(m) == [carol.user_id, dave.user_id])
    assert users(f"@{m}CA") == [carol.user_id]
    assert users(f"{m}zet") == [dave.user_id], "a word of the display name"
    listed = search(api, alice, "users", m)["users"]
    assert [u["followed_by_me"] for u in listed] == [False, True]
    assert set(listed[0]) >= {"username", "display_name", "follower_count", "created_at", "avatar_url"}

    first = search(api, alice, "users", m, limit=1)
    second = search(api, alice, "users", m, limit=1, cursor=first["next_cursor"])
    assert [u["user_id"] for u in first["users"] + second["users"]] == [carol.user_id, dave.user_id]
    assert second["has_more"] is False

    # A profile edit reaches the index through the users stream.
    renamed = api.patch("/users/me", carol.token, json={"display_name": f"Captain {m}omega"})
    assert renamed.status_code == 200, renamed.text
    eventually(lambda: users(f"{m}omeg") == [carol.user_id])


@pytest.mark.parametrize(
    "q",
    [
        "",
        "   ",
        "x" * 1000,
        '"unbalanced',
        "from:",
        "from: hello",
        '""',
        "#",
        "* ^ ( ) -",
        'NEAR(a b) title:x c++ "x AND y" -z {a} [b] ~c ?d \\e /f/ a:b',
        "'; DROP TABLE tweets; --",
        "\u0000",
    ],
)
def test_no_query_is_ever_a_server_error(api: Api, alice: Account, q: str) -> None:
    for path in ("tweets", "users"):
        response = api.get(f"/search/{path}", alice.token, params={"q": q})
        assert response.status_code in (200, 422), (path, q, response.status_code, response.text)
        if response.status_code == 422:
            assert_error(response, 422, "validation_error")
        else:
            assert response.json()["has_more"] in (True, False)


def test_a_missing_query_or_bad_limit_is_a_422_and_search_needs_a_token(api: Api, alice: Account) -> None:
    assert_error(api.get("/search/tweets", alice.token), 422, "validation_error")
    assert_error(
        api.get("/search/users", alice.token, params={"q": "a", "limit": 0}), 422, "validation_error"
    )
    assert_error(
        api.get("/search/tweets", alice.token, params={"q": "a", "limit": 101}), 422, "validation_error"
    )
    assert api.get("/search/tweets", params={"q": "a"}).status_code == 401
