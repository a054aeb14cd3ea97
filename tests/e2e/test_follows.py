"""Follow, unfollow and the follower/following lists over HTTP against the local runtime."""

from __future__ import annotations

import concurrent.futures as cf
import time
from typing import Any

import pytest
from pynamodb.exceptions import DoesNotExist

from functions.core import rate_limits
from functions.graph.dal import FollowRecord
from tests.support.client import Account, Api, assert_error, sign_up_and_log_in

pytestmark = pytest.mark.e2e

UNKNOWN_IDS = ["00000000-0000-0000-0000-000000000000", "x" * 3000, "a%23b", "by"]


def profile(api: Api, viewer: Account, user_id: str) -> dict[str, Any]:
    response = api.get(f"/users/{user_id}", viewer.token)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def counts(api: Api, viewer: Account, user_id: str) -> tuple[int, int]:
    user = profile(api, viewer, user_id)
    return user["follower_count"], user["following_count"]


def follow(api: Api, who: Account, whom: Account) -> None:
    response = api.post(f"/users/{whom.user_id}/follow", who.token)
    assert response.status_code == 200, response.text
    assert response.json() == {"following": True}


def accounts(api: Api, n: int) -> list[Account]:
    with cf.ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda _: sign_up_and_log_in(api), range(n)))


def walk(api: Api, viewer: Account, path: str, limit: int, between_pages: Any = None) -> list[str]:
    """Every user id of a list, page by page; ``between_pages`` runs after the first page."""
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = api.get(path, viewer.token, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert set(page) == {"users", "next_cursor", "has_more"}
        assert len(page["users"]) <= limit
        seen += [user["user_id"] for user in page["users"]]
        assert page["has_more"] is (page["next_cursor"] is not None)
        if not page["has_more"]:
            return seen
        cursor = page["next_cursor"]
        if between_pages is not None:
            between_pages()
            between_pages = None


def stored_edge(follower: Account, followee: Account) -> FollowRecord | None:
    try:
        return FollowRecord.get(follower.user_id, followee.user_id, consistent_read=True)
    except DoesNotExist:
        return None


# -- follow and unfollow -------------------------------------------------------------------------------
def test_follow_and_unfollow_round_trip_keeps_both_counts(api: Api, alice: Account, bob: Account) -> None:
    assert counts(api, alice, bob.user_id) == (0, 0)

    follow(api, alice, bob)
    assert counts(api, alice, bob.user_id) == (1, 0)
    assert counts(api, bob, alice.user_id) == (0, 1)
    assert api.get("/users/me", alice.token).json()["following_count"] == 1
    edge = stored_edge(alice, bob)
    assert edge is not None
    assert len(edge.follow_seq) == 26 and edge.created_at.endswith("Z")

    response = api.delete(f"/users/{bob.user_id}/follow", alice.token)
    assert response.status_code == 200 and response.json() == {"following": False}
    assert counts(api, alice, bob.user_id) == (0, 0)
    assert counts(api, bob, alice.user_id) == (0, 0)
    assert stored_edge(alice, bob) is None


def test_repeated_follow_and_unfollow_change_nothing(api: Api, alice: Account, bob: Account) -> None:
    follow(api, alice, bob)
    first_seq = stored_edge(alice, bob).follow_seq  # type: ignore[union-attr]
    follow(api, alice, bob)
    follow(api, alice, bob)
    assert counts(api, alice, bob.user_id) == (1, 0)
    assert counts(api, bob, alice.user_id) == (0, 1)
    assert stored_edge(alice, bob).follow_seq == first_seq  # type: ignore[union-attr]

    for _ in range(3):
        response = api.delete(f"/users/{bob.user_id}/follow", alice.token)
        assert response.status_code == 200 and response.json() == {"following": False}
    assert counts(api, alice, bob.user_id) == (0, 0)
    assert counts(api, bob, alice.user_id) == (0, 0)


def test_following_yourself_is_422(api: Api, alice: Account) -> None:
    assert_error(api.post(f"/users/{alice.user_id}/follow", alice.token), 422, "validation_error")
    assert_error(api.delete(f"/users/{alice.user_id}/follow", alice.token), 422, "validation_error")
    me = api.get("/users/me", alice.token).json()
    assert me["follower_count"] == me["following_count"] == 0
    assert stored_edge(alice, alice) is None


@pytest.mark.parametrize("user_id", UNKNOWN_IDS)
def test_unknown_or_malformed_user_is_404(api: Api, alice: Account, user_id: str) -> None:
    assert_error(api.post(f"/users/{user_id}/follow", alice.token), 404, "not_found")
    assert_error(api.delete(f"/users/{user_id}/follow", alice.token), 404, "not_found")
    assert_error(api.get(f"/users/{user_id}/followers", alice.token), 404, "not_found")
    assert_error(api.get(f"/users/{user_id}/following", alice.token), 404, "not_found")
    assert api.get("/users/me", alice.token).json()["following_count"] == 0


def test_graph_routes_need_a_token(api: Api, bob: Account) -> None:
    assert_error(api.post(f"/users/{bob.user_id}/follow"), 401)
    assert_error(api.get(f"/users/{bob.user_id}/followers"), 401)
    assert counts(api, bob, bob.user_id) == (0, 0)


# -- lists ---------------------------------------------------------------------------------------------
def test_lists_are_newest_first_and_hydrated(api: Api, alice: Account, bob: Account) -> None:
    fans = accounts(api, 3)
    for fan in fans:
        follow(api, fan, bob)
        follow(api, alice, fan)

    page = api.get(f"/users/{bob.user_id}/followers", alice.token).json()
    assert [u["user_id"] for u in page["users"]] == [f.user_id for f in reversed(fans)]
    assert page["has_more"] is False and page["next_cursor"] is None
    first = page["users"][0]
    assert first["username"] == fans[-1].username
    assert first["follower_count"] == 1 and first["following_count"] == 1
    assert first["followed_by_me"] is True

    page = api.get(f"/users/{alice.user_id}/following", alice.token).json()
    assert [u["user_id"] for u in page["users"]] == [f.user_id for f in reversed(fans)]

    assert api.get(f"/users/{alice.user_id}/followers", alice.token).json() == {
        "users": [],
        "next_cursor": None,
        "has_more": False,
    }


def test_paging_with_limit_one_neither_repeats_nor_skips_while_follows_arrive(
    api: Api, alice: Account, bob: Account
) -> None:
    early = accounts(api, 4)
    for fan in early[:3]:
        follow(api, fan, bob)
        follow(api, bob, fan)

    def new_follows_arrive() -> None:
        follow(api, early[3], bob)
        follow(api, bob, early[3])

    expected = [f.user_id for f in reversed(early[:3])]
    assert walk(api, alice, f"/users/{bob.user_id}/followers", 1, new_follows_arrive) == expected
    # The newcomer sorts first on a fresh walk; everything else keeps its place.
    assert walk(api, alice, f"/users/{bob.user_id}/followers", 2) == [early[3].user_id, *expected]
    assert walk(api, alice, f"/users/{bob.user_id}/following", 1) == [early[3].user_id, *expected]


def test_followed_by_me_on_profiles_and_in_lists(api: Api, alice: Account, bob: Account) -> None:
    carol = sign_up_and_log_in(api, display_name="Carol")
    follow(api, alice, bob)

    assert profile(api, alice, bob.user_id)["followed_by_me"] is True
    assert profile(api, carol, bob.user_id)["followed_by_me"] is False
    assert profile(api, bob, alice.user_id)["followed_by_me"] is False
    assert profile(api, alice, alice.user_id)["followed_by_me"] is False
    by_name = api.get(f"/users/by/username/{bob.username.upper()}", alice.token).json()
    assert by_name["followed_by_me"] is True
    assert api.get(f"/users/by/username/{bob.username}", carol.token).json()["followed_by_me"] is False

    follow(api, carol, alice)
    seen_by_carol = api.get(f"/users/{bob.user_id}/followers", carol.token).json()["users"]
    assert [(u["user_id"], u["followed_by_me"]) for u in seen_by_carol] == [(alice.user_id, True)]
    seen_by_bob = api.get(f"/users/{bob.user_id}/followers", bob.token).json()["users"]
    assert [(u["user_id"], u["followed_by_me"]) for u in seen_by_bob] == [(alice.user_id, False)]
    seen_by_alice = api.get(f"/users/{alice.user_id}/following", alice.token).json()["users"]
    assert [(u["user_id"], u["followed_by_me"]) for u in seen_by_alice] == [(bob.user_id, True)]

    api.delete(f"/users/{bob.user_id}/follow", alice.token)
    assert profile(api, alice, bob.user_id)["followed_by_me"] is False


@pytest.mark.parametrize("limit", ["0", "101", "abc", "-1"])
def test_limit_out_of_range_is_422(api: Api, alice: Account, limit: str) -> None:
    for which in ("followers", "following"):
        error = assert_error(
            api.get(f"/users/{alice.user_id}/{which}", alice.token, params={"limit": limit}), 422
        )
        assert any(d["field"].endswith("limit") for d in error["details"]), error


def test_limit_bounds_are_accepted(api: Api, alice: Account) -> None:
    for limit in ("1", "100"):
        assert api.get(f"/users/{alice.user_id}/followers", alice.token, params={"limit": limit}).ok


def test_tampered_or_foreign_cursor_is_400(api: Api, alice: Account, bob: Account) -> None:
    fans = accounts(api, 2)
    for fan in fans:
        follow(api, fan, bob)
        follow(api, fan, alice)
        follow(api, bob, fan)
    cursor = api.get(f"/users/{bob.user_id}/followers", alice.token, params={"limit": 1}).json()[
        "next_cursor"
    ]
    assert cursor
    # Control: the genuine cursor works.
    assert api.get(f"/users/{bob.user_id}/followers", alice.token, params={"cursor": cursor}).ok

    payload, mac = cursor.split(".")
    tampered = [
        f"{payload}.{mac[:-2]}{'AA' if mac[-2:] != 'AA' else 'BB'}",
        f"{payload[:-2]}{'AA' if payload[-2:] != 'AA' else 'BB'}.{mac}",
        "garbage",
        "",
    ]
    for bad in tampered:
        response = api.get(f"/users/{bob.user_id}/followers", alice.token, params={"cursor": bad})
        assert_error(response, 400, "invalid_cursor")
    # Another user's list, and the other list of the same user.
    assert_error(
        api.get(f"/users/{alice.user_id}/followers", alice.token, params={"cursor": cursor}),
        400,
        "invalid_cursor",
    )
    assert_error(
        api.get(f"/users/{bob.user_id}/following", alice.token, params={"cursor": cursor}),
        400,
        "invalid_cursor",
    )


# -- concurrency and rate limits -------------------------------------------------------------------------
def test_concurrent_follows_leave_exact_counts(api: Api, bob: Account) -> None:
    fans = accounts(api, 10)
    with cf.ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(
            pool.map(lambda fan: api.post(f"/users/{bob.user_id}/follow", fan.token).status_code, fans)
        )
    assert statuses == [200] * 10
    assert counts(api, bob, bob.user_id) == (10, 0)
    assert {u["user_id"] for u in api.get(f"/users/{bob.user_id}/followers", bob.token).json()["users"]} == {
        f.user_id for f in fans
    }
    for fan in fans:
        assert counts(api, bob, fan.user_id) == (0, 1)


def test_one_follower_repeating_concurrently_counts_once(api: Api, alice: Account, bob: Account) -> None:
    def send(method: str) -> int:
        return api.call(method, f"/users/{bob.user_id}/follow", alice.token).status_code

    with cf.ThreadPoolExecutor(max_workers=10) as pool:
        assert list(pool.map(send, ["POST"] * 10)) == [200] * 10
    assert counts(api, bob, bob.user_id) == (1, 0)
    assert counts(api, bob, alice.user_id) == (0, 1)

    with cf.ThreadPoolExecutor(max_workers=10) as pool:
        assert list(pool.map(send, ["DELETE"] * 10)) == [200] * 10
    assert counts(api, bob, bob.user_id) == (0, 0)
    assert counts(api, bob, alice.user_id) == (0, 0)


def _precharge(user: Account, used: int) -> rate_limits.RateLimitRecord:
    """Record ``used`` follows in the caller's current window, as 399 real follows would have."""
    charge = rate_limits.charge(rate_limits.FOLLOWS, user.user_id)
    if charge.retry_after < 30:  # never straddle the window boundary
        time.sleep(charge.retry_after + 1)
        charge = rate_limits.charge(rate_limits.FOLLOWS, user.user_id)
    record = rate_limits.RateLimitRecord(
        pk=f"{rate_limits.FOLLOWS.action}#{user.user_id}#{charge.window_start}",
        used=used,
        expires_at=charge.window_start + rate_limits.FOLLOWS.window_seconds + 3600,
    )
    record.save()
    return record


def test_the_401st_follow_in_a_day_is_429_and_changes_nothing(api: Api, alice: Account, bob: Account) -> None:
    carol = sign_up_and_log_in(api)
    quota = _precharge(alice, rate_limits.FOLLOWS.max_count - 1)

    follow(api, alice, bob)  # the 400th
    response = api.post(f"/users/{carol.user_id}/follow", alice.token)
    assert_error(response, 429, "rate_limited")
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= rate_limits.FOLLOWS.window_seconds

    assert stored_edge(alice, carol) is None
    assert counts(api, alice, carol.user_id) == (0, 0)
    assert counts(api, alice, alice.user_id) == (0, 1)
    quota.refresh(consistent_read=True)
    assert quota.used == rate_limits.FOLLOWS.max_count

    # A repeat is not a new follow and unfollowing is never limited.
    follow(api, alice, bob)
    assert api.delete(f"/users/{bob.user_id}/follow", alice.token).json() == {"following": False}
    assert counts(api, alice, alice.user_id) == (0, 0)
    quota.refresh(consistent_read=True)
    assert quota.used == rate_limits.FOLLOWS.max_count
    # Another user's quota is their own.
    follow(api, bob, carol)


def test_openapi_documents_the_graph_routes(api: Api) -> None:
    doc = api.get("/openapi.json").json()
    paths = doc["paths"]
    assert {"post", "delete"} <= set(paths["/users/{user_id}/follow"])
    for which in ("followers", "following"):
        operation = paths[f"/users/{{user_id}}/{which}"]["get"]
        params = {p["name"]: p for p in operation["parameters"]}
        assert params["limit"]["schema"]["minimum"] == 1 and params["limit"]["schema"]["maximum"] == 100
        assert "cursor" in params
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema["$ref"].endswith("/UserPage")
    assert set(doc["components"]["schemas"]["UserPage"]["properties"]) == {"users", "next_cursor", "has_more"}
