"""Grants that are true: the local cloud runs each function with only what its definition grants.

- Every AWS call a function makes through the local cloud is checked by the IAM guard against the
  grants of ``infra/grants.py`` (the statements the CDK stack attaches to the function's role).
- A tour of every route and consumer uses every declared grant, and the guard refuses nothing: so a
  grant removed from the definition makes the tour fail (and a grant nothing needs fails it too).
- A cloud whose definition lacks one grant shows the route that needs it failing, as on AWS.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from functions.graph.dal import FollowRecord, new_follow
from functions.timeline.dal import TimelineStore
from functions.tweets.dal import EngagementRecord, engagement_key
from functions.users.dal import ClaimRecord, UserRecord, email_key, username_key
from infra.grants import function_grants
from infra.resources import SPEC, TableAccess
from tests.support.client import PASSWORD, Account, Api, sign_up_and_log_in
from tests.support.media import ready_media, settled, upload

pytestmark = pytest.mark.e2e

QUEUED_AUDIENCE = 101
"""Active followers above the dispatcher's inline limit (100): the entries go through the queue."""

_REPLAY = "tests/e2e/test_stream_replay.py (records failed past the stream retries; same guard)"
_SEARCH_REPLAY = "tests/e2e/test_search_unavailable.py (profile edits while search is down; same guard)"
COVERED_ELSEWHERE = {
    ("users-api", "cognito:AdminDeleteUser"): "tests/integration/test_sign_up_consistency.py (roll-back)",
    ("stream-rescue", "tweets/stream:read"): _REPLAY,
    ("stream-rescue", "follows/stream:read"): _REPLAY,
    ("stream-rescue", "fanout-dispatcher-replay:send"): _REPLAY,
    ("stream-rescue", "tweets-cleanup-replay:send"): _REPLAY,
    ("stream-rescue", "engagements/stream:read"): _REPLAY,
    ("stream-rescue", "engagement-counter-replay:send"): _REPLAY,
    ("engagement-counter", "engagements:read"): _REPLAY,  # the recount of a replayed tweet
    ("stream-rescue", "users/stream:read"): _SEARCH_REPLAY,
    ("stream-rescue", "search-index:send"): _SEARCH_REPLAY,
}
"""Grants used only on a failure path the tour cannot cause over HTTP; the named test runs that path
with the same guard."""


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json() if response.content else None


def page_through(api: Api, path: str, who: Account, key: str) -> list[str]:
    """Every item of a list, one per page, following next_cursor (each function signs its cursors)."""
    ids: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = ok(api.get(path, who.token, params=params))
        ids.extend(item[key] for item in page["tweets" if key == "tweet_id" else "users"])
        cursor = page["next_cursor"]
        if not cursor:
            return ids


def synthetic_followers(author: Account, n: int) -> None:
    """``n`` active followers of ``author``, written as the graph and timeline domains write them (the
    fan-out reads the edges and the readers' last-seen marks; nothing else about them matters)."""
    now = time.time()
    with FollowRecord.batch_write() as batch:
        for i in range(n):
            batch.save(new_follow(f"reader-{author.user_id[:8]}-{i:03d}", author.user_id))
    store = TimelineStore()
    for i in range(n):
        store.touch(f"reader-{author.user_id[:8]}-{i:03d}", now)


def test_a_tour_of_every_route_and_consumer_uses_every_grant_and_is_refused_nothing(
    api: Api, cloud: Any
) -> None:
    settle: Callable[[], bool] = lambda: cloud.wait_idle(60.0)  # noqa: E731
    # A small cap makes every fan-out trim the timelines it wrote to (the trim is sampled at 1/k of
    # them, k = cap / 8), so the worker's trimming read is part of the tour. It recycles the timeline
    # functions' environments: their grant usage counts from here.
    settle()
    cloud.configure(TIMELINE_MAX_ITEMS=8)
    try:
        _tour(api, cloud, settle)
    finally:
        settle()
        cloud.configure(TIMELINE_MAX_ITEMS=None)


def _tour(api: Api, cloud: Any, settle: Callable[[], bool]) -> None:
    alice, bob, carol = (sign_up_and_log_in(api) for _ in range(3))
    ok(api.get("/users/me", alice.token))
    ok(api.patch("/users/me", alice.token, json={"bio": "touring"}))

    # A sign-up that crashed after Cognito and before its profile: log-in completes it (AdminGetUser).
    dan = sign_up_and_log_in(api)
    UserRecord.get(dan.user_id).delete()
    for key in (username_key(dan.username), email_key(dan.email)):
        ClaimRecord(pk=key).update(actions=[ClaimRecord.user_id.set("")])
    ok(api.post("/auth/login", json={"username": dan.username, "password": PASSWORD}))

    ok(api.get("/timeline/home", bob.token))  # bob's first read: rebuilt, and active from now on
    ok(api.post(f"/users/{alice.user_id}/follow", bob.token))
    ok(api.post(f"/users/{alice.user_id}/follow", carol.token))
    ok(api.get(f"/users/{alice.user_id}", bob.token))
    ok(api.get(f"/users/by/username/{alice.username}", bob.token))
    assert len(page_through(api, f"/users/{alice.user_id}/followers", bob, "user_id")) == 2
    assert page_through(api, f"/users/{bob.user_id}/following", bob, "user_id") == [alice.user_id]

    first = ok(api.post("/tweets", alice.token, json={"text": "on tour #grants"}), 201)["tweet_id"]
    second = ok(api.post("/tweets", alice.token, json={"text": "second stop"}), 201)["tweet_id"]
    ok(api.post("/tweets", bob.token, json={"text": "a reply", "reply_to": first}), 201)
    ok(api.get(f"/tweets/{first}", bob.token))
    assert len(page_through(api, f"/tweets/{first}/replies", bob, "tweet_id")) == 1
    assert page_through(api, f"/timeline/user/{alice.user_id}", bob, "tweet_id") == [second, first]
    ok(api.post(f"/tweets/{first}/like", bob.token))
    ok(api.delete(f"/tweets/{second}/like", bob.token))
    ok(api.post(f"/tweets/{first}/retweet", carol.token))
    ok(api.post(f"/tweets/{second}/retweet", carol.token))
    ok(api.delete(f"/tweets/{second}/retweet", carol.token))
    settle()
    assert first in page_through(api, "/timeline/home", bob, "tweet_id")
    # Search: tweets reach the indexer through the dispatcher's queue, profiles through the users stream.
    # The indexer drains its queue after a 1 s batching window: within the contract's 5 s, not at once.
    deadline = time.monotonic() + 5
    while True:
        found = ok(api.get("/search/tweets", bob.token, params={"q": f"#grants from:{alice.username}"}))
        if found["tweets"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert [t["tweet_id"] for t in found["tweets"]] == [first]
    assert alice.user_id in [
        u["user_id"] for u in ok(api.get("/search/users", bob.token, params={"q": alice.username}))["users"]
    ]

    # Media: an upload checked (ready, and one rejected and deleted), attached to a tweet and an avatar.
    _media_tour(api, alice, bob)

    # Deleting a liked and retweeted tweet: the clean-up takes the like, the retweet and its count.
    ok(api.delete(f"/tweets/{first}", alice.token), 204)
    settle()
    carol_profile = ok(api.get("/users/me", carol.token))
    assert carol_profile["tweet_count"] == 0, "the purged retweet no longer counts"
    # A like that landed just after the clean-up (it had read the tweet before the delete): the like
    # counter finds no tweet to count it on and removes it.
    late = EngagementRecord(tweet_id=first, sk=engagement_key(carol.user_id), user_id=carol.user_id)
    late.liked_at = "2026-12-03T00:00:00.000Z"
    late.save()
    settle()
    assert list(EngagementRecord.query(first, consistent_read=True)) == []
    ok(api.delete(f"/users/{alice.user_id}/follow", carol.token))

    # An audience above the inline limit goes through the fan-out queue and its worker.
    synthetic_followers(alice, QUEUED_AUDIENCE)
    settle()
    ok(api.post("/tweets", alice.token, json={"text": "for the whole crowd"}), 201)
    settle()
    ok(api.get("/openapi.json"))

    usage = cloud.grant_usage()
    print({name: u["used"] for name, u in usage.items()})  # shown when the test fails
    assert {name: u["denied"] for name, u in usage.items() if u["denied"]} == {}
    unused = {
        (fn.name, grant.name)
        for fn in SPEC.functions
        for grant in function_grants(SPEC, fn)
        if grant.resource.kind != "secret"  # handed over in the environment locally: no AWS call
        and grant.name not in usage[fn.name]["used"]
        and (fn.name, grant.name) not in COVERED_ELSEWHERE
    }
    assert unused == set(), "a declared grant nothing uses: drop it from infra/resources.py"


def _media_tour(api: Api, alice: Account, bob: Account) -> None:
    rejected = upload(api, alice, b"no image here", "image/png")
    assert settled(api, alice, rejected)["status"] == "rejected"
    body = {"text": "a picture", "media_ids": [ready_media(api, alice)]}
    pictured = ok(api.post("/tweets", alice.token, json=body), 201)
    assert len(ok(api.get(f"/tweets/{pictured['tweet_id']}", bob.token))["media"]) == 1
    ok(api.patch("/users/me", alice.token, json={"avatar_media_id": ready_media(api, alice, "image/jpeg")}))
    ok(api.delete(f"/tweets/{pictured['tweet_id']}", alice.token), 204)  # its media go with it


# -- a definition with one grant less -------------------------------------------------------------------
def _without_engagement_writes(spec: Any) -> Any:
    functions = []
    for fn in spec.functions:
        if fn.name == "tweets-api":
            tables = tuple(
                TableAccess(a.table, read=a.read, write=False, indexes=a.indexes)
                if a.table == "engagements"
                else a
                for a in fn.tables
            )
            fn = dataclasses.replace(fn, tables=tables)
        functions.append(fn)
    return dataclasses.replace(spec, functions=tuple(functions))


@pytest.fixture(scope="module")
def reduced_cloud() -> Iterator[Any]:
    from local_cloud.runtime import LocalCloud

    with LocalCloud(_without_engagement_writes(SPEC), port=0, start_pollers=False) as running:
        yield running


def test_a_grant_taken_from_the_definition_fails_the_route_that_needs_it(reduced_cloud: Any) -> None:
    import requests

    api = Api(base_url=reduced_cloud.base_url, session=requests.Session())
    alice = sign_up_and_log_in(api)
    tweet = ok(api.post("/tweets", alice.token, json={"text": "likes will fail"}), 201)["tweet_id"]

    liked = api.post(f"/tweets/{tweet}/like", alice.token)

    assert liked.status_code == 500 and liked.json()["error"]["code"] == "internal_error"
    denied = reduced_cloud.grant_usage()["tweets-api"]["denied"]
    assert ["dynamodb:UpdateItem", "arn:aws:dynamodb:us-east-1:123456789012:table/engagements"] in denied
    assert ok(api.get(f"/tweets/{tweet}", alice.token))["like_count"] == 0, "nothing half-written"
