"""Posting, reading, deleting and listing tweets over HTTP against the local runtime."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from tests.support.client import Account, Api, assert_error, sign_up_and_log_in

pytestmark = pytest.mark.e2e

ISO_MILLIS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
UNKNOWN_TWEET = "01KQ8Z5Y3M0000000000000000"  # a well-formed ULID nobody posted
MALFORMED_IDS = ["nope", "01kq8z5y3m0000000000000000", "x" * 3000, "a#b"]


def post(api: Api, who: Account, text: str, **extra: Any) -> dict[str, Any]:
    response = api.post("/tweets", who.token, json={"text": text, **extra})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def timeline(api: Api, who: Account, user_id: str, **params: Any) -> dict[str, Any]:
    response = api.get(f"/timeline/user/{user_id}", who.token, params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def tweet_count(api: Api, who: Account) -> int:
    return int(api.get(f"/users/{who.user_id}", who.token).json()["tweet_count"])


def all_pages(api: Api, path: str, who: Account, limit: int) -> list[str]:
    ids: list[str] = []
    cursor = None
    for _ in range(50):
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        page = api.get(path, who.token, params=params).json()
        assert len(page["tweets"]) <= limit
        ids += [t["tweet_id"] for t in page["tweets"]]
        cursor = page["next_cursor"]
        assert page["has_more"] == (cursor is not None)
        if cursor is None:
            return ids
    raise AssertionError("paging did not end")


def test_post_returns_the_tweet_and_anyone_can_read_it(api: Api, alice: Account, bob: Account) -> None:
    created = api.post(
        "/tweets", alice.token, json={"text": "Cafe\u0301 with @bob #Chirp https://chirp.example/x"}
    )
    assert created.status_code == 201
    tweet = created.json()
    assert tweet["text"] == "Café with @bob #Chirp https://chirp.example/x"  # stored in NFC form
    assert tweet["entities"] == {
        "hashtags": ["Chirp"],
        "mentions": ["bob"],
        "urls": ["https://chirp.example/x"],
    }
    assert tweet["user"] == {
        "user_id": alice.user_id,
        "username": alice.username,
        "display_name": "Alice",
        "avatar_url": None,
    }
    assert ISO_MILLIS_Z.match(tweet["created_at"]), tweet["created_at"]
    assert tweet["media"] == [] and tweet["reply_to"] is None
    assert (tweet["like_count"], tweet["retweet_count"], tweet["reply_count"]) == (0, 0, 0)
    assert tweet["liked_by_me"] is False and tweet["retweeted_by_me"] is False
    assert tweet.get("retweeted_by") is None

    seen = api.get(f"/tweets/{tweet['tweet_id']}", bob.token)
    assert seen.status_code == 200 and seen.json() == tweet
    assert tweet_count(api, alice) == 1


def test_tweet_ids_sort_by_creation_time(api: Api, alice: Account) -> None:
    ids = []
    for i in range(3):
        ids.append(post(api, alice, f"number {i}")["tweet_id"])
        time.sleep(0.002)
    assert ids == sorted(ids) and len(set(map(len, ids))) == 1


BAD_POSTS: list[dict[str, Any]] = [
    {"text": ""},
    {"text": "   \n  "},
    {"text": "a" * 281},
    {"text": "bell\x07"},
    {"text": "tab\tinside"},
    {},
    {"text": 42},
    {"text": "ok", "like_count": 1000},
    {"text": "ok", "user_id": "someone-else"},
    {"text": "ok", "tweet_id": UNKNOWN_TWEET},
    {"text": "ok", "created_at": "2000-01-01T00:00:00.000Z"},
    {"text": "ok", "media_ids": ["m1", "m2", "m3", "m4", "m5"]},
    {"text": "ok", "media_ids": ["m1"]},  # no media domain yet: every media id is unknown
    {"text": "ok", "reply_to": UNKNOWN_TWEET},
    {"text": "ok", "reply_to": "not-a-tweet-id"},
]


def test_bad_posts_are_422_and_store_nothing(api: Api, alice: Account) -> None:
    for body in BAD_POSTS:
        error = assert_error(api.post("/tweets", alice.token, json=body), 422, "validation_error")
        assert error["details"], (body, error)
    assert tweet_count(api, alice) == 0
    assert timeline(api, alice, alice.user_id)["tweets"] == []


def test_280_code_points_are_fine(api: Api, alice: Account) -> None:
    assert post(api, alice, "😀" * 280)["text"] == "😀" * 280
    assert post(api, alice, "line\nbreak")["text"] == "line\nbreak"


def test_replies_count_list_newest_first_and_uncount_on_delete(
    api: Api, alice: Account, bob: Account
) -> None:
    parent = post(api, alice, "parent")
    first = post(api, bob, "first reply", reply_to=parent["tweet_id"])
    second = post(api, alice, "second reply", reply_to=parent["tweet_id"])
    assert first["reply_to"] == parent["tweet_id"]
    assert api.get(f"/tweets/{parent['tweet_id']}", bob.token).json()["reply_count"] == 2

    page = api.get(f"/tweets/{parent['tweet_id']}/replies", bob.token).json()
    assert [t["tweet_id"] for t in page["tweets"]] == [second["tweet_id"], first["tweet_id"]]
    assert page["has_more"] is False and page["next_cursor"] is None
    path = f"/tweets/{parent['tweet_id']}/replies"
    assert all_pages(api, path, bob, limit=1) == [second["tweet_id"], first["tweet_id"]]

    assert api.delete(f"/tweets/{first['tweet_id']}", bob.token).status_code == 204
    assert api.get(f"/tweets/{parent['tweet_id']}", bob.token).json()["reply_count"] == 1
    assert [t["tweet_id"] for t in api.get(path, bob.token).json()["tweets"]] == [second["tweet_id"]]


def test_reply_to_a_deleted_tweet_is_422(api: Api, alice: Account, bob: Account) -> None:
    parent = post(api, alice, "soon gone")
    assert api.delete(f"/tweets/{parent['tweet_id']}", alice.token).status_code == 204
    assert_error(api.post("/tweets", bob.token, json={"text": "hi", "reply_to": parent["tweet_id"]}), 422)
    assert tweet_count(api, bob) == 0


def test_replying_to_a_deleted_parent_reply_still_deletes(api: Api, alice: Account, bob: Account) -> None:
    parent = post(api, alice, "parent")
    reply = post(api, bob, "reply", reply_to=parent["tweet_id"])
    assert api.delete(f"/tweets/{parent['tweet_id']}", alice.token).status_code == 204
    assert api.delete(f"/tweets/{reply['tweet_id']}", bob.token).status_code == 204
    assert_error(api.get(f"/tweets/{reply['tweet_id']}", bob.token), 404)
    assert tweet_count(api, bob) == 0


def test_only_the_author_deletes_and_a_deleted_tweet_is_gone_everywhere(
    api: Api, alice: Account, bob: Account
) -> None:
    tweet = post(api, alice, "delete me")
    tweet_id = tweet["tweet_id"]
    assert_error(api.delete(f"/tweets/{tweet_id}", bob.token), 403, "forbidden")
    assert api.get(f"/tweets/{tweet_id}", bob.token).status_code == 200

    deleted = api.delete(f"/tweets/{tweet_id}", alice.token)
    assert deleted.status_code == 204 and deleted.text == ""
    assert_error(api.get(f"/tweets/{tweet_id}", alice.token), 404, "not_found")
    assert_error(api.delete(f"/tweets/{tweet_id}", alice.token), 404, "not_found")
    assert_error(api.get(f"/tweets/{tweet_id}/replies", alice.token), 404, "not_found")
    assert timeline(api, bob, alice.user_id)["tweets"] == []
    assert tweet_count(api, alice) == 0


def test_unknown_or_malformed_tweet_ids_are_404(api: Api, alice: Account) -> None:
    for bad_id in [*MALFORMED_IDS, UNKNOWN_TWEET]:
        assert_error(api.get(f"/tweets/{bad_id}", alice.token), 404)
        assert_error(api.delete(f"/tweets/{bad_id}", alice.token), 404)
        assert_error(api.get(f"/tweets/{bad_id}/replies", alice.token), 404)
        for verb in ("like", "retweet"):
            assert_error(api.post(f"/tweets/{bad_id}/{verb}", alice.token), 404)
            assert_error(api.delete(f"/tweets/{bad_id}/{verb}", alice.token), 404)


def test_every_tweet_route_needs_a_token(api: Api, alice: Account) -> None:
    tweet_id = post(api, alice, "private?")["tweet_id"]
    assert_error(api.post("/tweets", json={"text": "anon"}), 401)
    assert_error(api.get(f"/tweets/{tweet_id}"), 401)
    assert_error(api.delete(f"/tweets/{tweet_id}"), 401)
    assert_error(api.get(f"/tweets/{tweet_id}/replies"), 401)
    assert_error(api.post(f"/tweets/{tweet_id}/like"), 401)
    assert_error(api.post(f"/tweets/{tweet_id}/retweet"), 401)
    assert_error(api.get(f"/timeline/user/{alice.user_id}"), 401)


def test_user_timeline_holds_tweets_replies_and_retweets_newest_first(
    api: Api, alice: Account, bob: Account
) -> None:
    own = post(api, bob, "bob's own")
    original = post(api, alice, "alice's original")
    reply = post(api, bob, "bob replies", reply_to=original["tweet_id"])
    assert api.post(f"/tweets/{original['tweet_id']}/retweet", bob.token).status_code == 200

    page = timeline(api, alice, bob.user_id)
    entries = page["tweets"]
    assert [t["tweet_id"] for t in entries] == [original["tweet_id"], reply["tweet_id"], own["tweet_id"]]
    retweet_entry = entries[0]
    assert retweet_entry["text"] == "alice's original" and retweet_entry["user"]["user_id"] == alice.user_id
    assert retweet_entry["retweeted_by"]["user_id"] == bob.user_id
    assert retweet_entry["retweet_count"] == 1 and retweet_entry["reply_count"] == 1
    assert retweet_entry["retweeted_by_me"] is False  # alice is asking
    assert entries[1]["retweeted_by"] is None and entries[1]["reply_to"] == original["tweet_id"]
    assert timeline(api, bob, bob.user_id)["tweets"][0]["retweeted_by_me"] is True


def test_one_entry_per_original_per_page(api: Api, alice: Account) -> None:
    tweet = post(api, alice, "mine")
    assert api.post(f"/tweets/{tweet['tweet_id']}/retweet", alice.token).status_code == 200
    entries = timeline(api, alice, alice.user_id)["tweets"]
    assert [t["tweet_id"] for t in entries] == [tweet["tweet_id"]]
    assert entries[0]["retweeted_by"]["user_id"] == alice.user_id  # the newest entry wins
    assert tweet_count(api, alice) == 2  # the tweet and the retweet


def test_unknown_user_timeline_is_404(api: Api, alice: Account) -> None:
    assert_error(api.get("/timeline/user/00000000-0000-4000-8000-000000000000", alice.token), 404)
    assert_error(api.get("/timeline/user/" + "x" * 3000, alice.token), 404)


def test_paging_while_new_tweets_arrive_never_repeats_or_skips(
    api: Api, alice: Account, bob: Account
) -> None:
    older = [post(api, alice, f"t{i}")["tweet_id"] for i in range(5)]
    first = timeline(api, bob, alice.user_id, limit=2)
    assert [t["tweet_id"] for t in first["tweets"]] == older[::-1][:2]
    assert first["has_more"] is True

    newer = [post(api, alice, f"new{i}")["tweet_id"] for i in range(2)]  # arrive mid-paging
    seen = [t["tweet_id"] for t in first["tweets"]]
    cursor = first["next_cursor"]
    while cursor:
        page = timeline(api, bob, alice.user_id, limit=2, cursor=cursor)
        seen += [t["tweet_id"] for t in page["tweets"]]
        cursor = page["next_cursor"]
    assert seen == older[::-1]  # every older tweet exactly once, in order; newer ones come on a refresh
    assert [t["tweet_id"] for t in timeline(api, bob, alice.user_id, limit=2)["tweets"]] == newer[::-1]


def test_deleting_mid_paging_skips_nothing_else(api: Api, alice: Account) -> None:
    ids = [post(api, alice, f"t{i}")["tweet_id"] for i in range(4)][::-1]
    first = timeline(api, alice, alice.user_id, limit=2)
    assert api.delete(f"/tweets/{ids[1]}", alice.token).status_code == 204  # the cursor's own item
    rest = timeline(api, alice, alice.user_id, limit=2, cursor=first["next_cursor"])
    assert [t["tweet_id"] for t in rest["tweets"]] == ids[2:] and rest["has_more"] is False


def test_limit_out_of_range_is_422_and_bounds_are_accepted(api: Api, alice: Account) -> None:
    tweet_id = post(api, alice, "x")["tweet_id"]
    for limit in ("0", "101", "abc", "-1", "1.5", ""):
        assert_error(api.get(f"/timeline/user/{alice.user_id}", alice.token, params={"limit": limit}), 422)
        assert_error(api.get(f"/tweets/{tweet_id}/replies", alice.token, params={"limit": limit}), 422)
    for limit in ("1", "100"):
        assert len(timeline(api, alice, alice.user_id, limit=limit)["tweets"]) == 1


def test_tampered_or_foreign_cursor_is_400(api: Api, alice: Account, bob: Account) -> None:
    for i in range(3):
        post(api, alice, f"t{i}")
    post(api, bob, "b")
    cursor = timeline(api, alice, alice.user_id, limit=1)["next_cursor"]
    assert cursor
    payload, mac = cursor.split(".", 1)
    flipped = payload[:-1] + ("A" if payload[-1] != "A" else "B")
    for bad in (f"{flipped}.{mac}", "garbage", cursor + "x", "."):
        response = api.get(f"/timeline/user/{alice.user_id}", alice.token, params={"cursor": bad})
        assert_error(response, 400, "invalid_cursor")
    # A genuine cursor of another list is refused too.
    response = api.get(f"/timeline/user/{bob.user_id}", alice.token, params={"cursor": cursor})
    assert_error(response, 400, "invalid_cursor")


def test_posting_beyond_the_rate_limit_is_429_with_retry_after(api: Api, alice: Account) -> None:
    from functions.core.rate_limits import TWEETS, RateLimitRecord, charge

    # Given 298 of the window's 300 tweets already used (written where the charge counts them, so the
    # test need not post 298 times)
    window = charge(TWEETS, alice.user_id)
    used = RateLimitRecord(pk=f"tweets#{alice.user_id}#{window.window_start}", expires_at=2**31)
    used.used = TWEETS.max_count - 2
    used.save()
    post(api, alice, "one")
    original = post(api, alice, "two")
    limited = api.post("/tweets", alice.token, json={"text": "three"})
    assert_error(limited, 429, "rate_limited")
    assert 1 <= int(limited.headers["Retry-After"]) <= TWEETS.window_seconds
    # Retweets count against the same limit; a refused write stores nothing.
    assert_error(api.post(f"/tweets/{original['tweet_id']}/retweet", alice.token), 429)
    assert tweet_count(api, alice) == 2
    assert len(timeline(api, alice, alice.user_id)["tweets"]) == 2


def test_openapi_documents_the_tweet_routes(api: Api) -> None:
    doc = api.get("/openapi.json").json()
    paths = doc["paths"]
    assert {
        "/tweets",
        "/tweets/{tweet_id}",
        "/tweets/{tweet_id}/replies",
        "/tweets/{tweet_id}/like",
        "/tweets/{tweet_id}/retweet",
        "/timeline/user/{user_id}",
    } <= set(paths)
    assert "201" in paths["/tweets"]["post"]["responses"]
    assert "204" in paths["/tweets/{tweet_id}"]["delete"]["responses"]
    tweet_schema = doc["components"]["schemas"]["Tweet"]
    assert {"retweeted_by", "liked_by_me", "entities", "user"} <= set(tweet_schema["properties"])
    assert set(doc["components"]["schemas"]["TweetPage"]["properties"]) == {
        "tweets",
        "next_cursor",
        "has_more",
    }
    limit = next(p for p in paths["/timeline/user/{user_id}"]["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"]["minimum"] == 1 and limit["schema"]["maximum"] == 100


def test_a_second_account_sees_its_own_flags(api: Api, alice: Account) -> None:
    carol = sign_up_and_log_in(api, display_name="Carol")
    tweet = post(api, alice, "flags")
    api.post(f"/tweets/{tweet['tweet_id']}/like", carol.token)
    assert api.get(f"/tweets/{tweet['tweet_id']}", carol.token).json()["liked_by_me"] is True
    assert api.get(f"/tweets/{tweet['tweet_id']}", alice.token).json()["liked_by_me"] is False
