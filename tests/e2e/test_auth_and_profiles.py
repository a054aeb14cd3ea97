"""Sign-up, log-in, refresh and profiles over HTTP against the local runtime."""

from __future__ import annotations

import concurrent.futures as cf

import pytest

from tests.support.client import PASSWORD, Account, Api, assert_error, sign_up_and_log_in, unique_name
from tests.support.tokens import claims_like, signed_by_pool, signed_by_stranger

pytestmark = pytest.mark.e2e


def test_health_and_openapi_are_public(api: Api) -> None:
    assert api.get("/health").json() == {"status": "ok"}
    doc = api.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert {"/auth/signup", "/auth/login", "/users/me", "/users/{user_id}"} <= set(doc["paths"])


def test_sign_up_log_in_and_read_own_profile(api: Api) -> None:
    name = unique_name("Al")
    created = api.post(
        "/auth/signup", json={"username": name, "email": f"{name}@Example.com", "password": PASSWORD}
    )
    assert created.status_code == 201
    user = created.json()["user"]
    assert user["username"] == name and user["display_name"] == name
    assert user["follower_count"] == user["following_count"] == user["tweet_count"] == 0
    assert user["avatar_url"] is None and user["bio"] == "" and user["created_at"].endswith("Z")
    assert "email" not in user and "password" not in created.text

    login = api.post("/auth/login", json={"username": name.upper(), "password": PASSWORD})
    assert login.status_code == 200
    tokens = login.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 15 * 60
    assert tokens["user"]["user_id"] == user["user_id"]

    me = api.get("/users/me", tokens["access_token"])
    assert me.status_code == 200 and me.json()["user_id"] == user["user_id"]


def test_profile_update_is_visible_to_others(api: Api, alice: Account, bob: Account) -> None:
    patched = api.patch("/users/me", alice.token, json={"display_name": "Alice A.", "bio": "hello"})
    assert patched.status_code == 200
    assert patched.json()["display_name"] == "Alice A." and patched.json()["bio"] == "hello"

    seen = api.get(f"/users/{alice.user_id}", bob.token).json()
    assert seen["display_name"] == "Alice A." and seen["bio"] == "hello"
    by_name = api.get(f"/users/by/username/{alice.username.upper()}", bob.token)
    assert by_name.status_code == 200 and by_name.json()["user_id"] == alice.user_id


def test_refresh_gives_a_working_access_token(api: Api, alice: Account) -> None:
    refreshed = api.post("/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert refreshed.status_code == 200
    assert api.get("/users/me", refreshed.json()["access_token"]).status_code == 200
    assert_error(api.post("/auth/refresh", json={"refresh_token": "garbage"}), 401)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "x@example.com", "password": PASSWORD}, "username"),
        ({"username": "bad name!", "email": "x@example.com", "password": PASSWORD}, "username"),
        ({"username": "a" * 16, "email": "x@example.com", "password": PASSWORD}, "username"),
        ({"username": "ok_name", "email": "not-an-email", "password": PASSWORD}, "email"),
        ({"username": "ok_name", "email": "x@example.com", "password": "alllowercase1!"}, "password"),
        ({"username": "ok_name", "email": "x@example.com", "password": "Sh0rt!"}, "password"),
        ({"username": "ok_name", "email": "x@example.com", "password": "NoDigits!!"}, "password"),
        ({"username": "ok_name", "email": "x@example.com", "password": "NoSymbol12"}, "password"),
        (
            {"username": "ok_name", "email": "x@example.com", "password": PASSWORD, "display_name": "d" * 51},
            "display_name",
        ),
        (
            {"username": "ok_name", "email": "x@example.com", "password": PASSWORD, "user_id": "mine"},
            "user_id",
        ),
    ],
)
def test_sign_up_rejects_bad_input_with_422(api: Api, body: dict[str, str], field: str) -> None:
    error = assert_error(api.post("/auth/signup", json=body), 422, "validation_error")
    assert any(d["field"].startswith(field) for d in error["details"]), error


def test_body_that_is_not_json_is_400(api: Api) -> None:
    response = api.post("/auth/signup", data="{not json", headers={"Content-Type": "application/json"})
    assert_error(response, 400, "malformed_request")
    assert_error(api.post("/auth/login", json=["a", "list"]), 400, "malformed_request")


def test_taken_username_or_email_is_409_whatever_the_case(api: Api, alice: Account) -> None:
    other = unique_name()
    response = api.post(
        "/auth/signup",
        json={"username": alice.username.upper(), "email": f"{other}@example.com", "password": PASSWORD},
    )
    assert_error(response, 409, "username_taken")
    response = api.post(
        "/auth/signup", json={"username": other, "email": alice.email.upper(), "password": PASSWORD}
    )
    assert_error(response, 409, "email_taken")
    # The refused sign-up left nothing behind: its username is still free.
    sign_up_and_log_in(api, username=other)


def test_concurrent_sign_ups_for_one_name_create_exactly_one_account(api: Api) -> None:
    name = unique_name("Race")
    variants = [name, name.lower(), name.upper(), name.swapcase()] * 2

    def attempt(i_and_name: tuple[int, str]) -> int:
        i, variant = i_and_name
        body = {"username": variant, "email": f"{name}{i}@example.com", "password": PASSWORD}
        return api.post("/auth/signup", json=body).status_code

    with cf.ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(attempt, enumerate(variants)))
    assert statuses.count(201) == 1 and statuses.count(409) == len(variants) - 1, statuses


def test_wrong_password_and_unknown_user_are_401(api: Api, alice: Account) -> None:
    assert_error(api.post("/auth/login", json={"username": alice.username, "password": "Wr0ng-pass!"}), 401)
    assert_error(api.post("/auth/login", json={"username": unique_name(), "password": PASSWORD}), 401)


def test_tokens_that_the_authorizer_must_refuse(api: Api, alice: Account) -> None:
    assert_error(api.get("/users/me"), 401, "unauthorized")
    assert_error(api.get("/users/me", "garbage"), 401, "unauthorized")
    assert_error(api.get("/users/me", headers={"Authorization": alice.token}), 401)  # no Bearer scheme
    assert_error(api.get("/users/me", signed_by_stranger(claims_like(alice.token))), 401)
    assert_error(api.get("/users/me", alice.id_token), 401)  # an ID token is not an access token
    # moto's bundled key is refused (the local cloud signs with a key of its own), so a re-signed token
    # is refused whatever its claims; tests/local_cloud/test_gateway.py checks expiry, client and pool
    # against a key the test holds.
    assert_error(api.get("/users/me", signed_by_pool(claims_like(alice.token))), 401)
    assert api.get("/users/me", alice.token).status_code == 200


def test_unknown_routes_and_users_are_404(api: Api, alice: Account) -> None:
    assert_error(api.get("/nope", alice.token), 404, "not_found")
    assert_error(api.call("PUT", "/users/me", alice.token, json={}), 404, "not_found")
    assert_error(api.get("/users/00000000-0000-0000-0000-000000000000", alice.token), 404, "not_found")
    assert_error(api.get("/users/" + "x" * 3000, alice.token), 404, "not_found")
    assert_error(api.get(f"/users/by/username/{unique_name()}", alice.token), 404, "not_found")


def test_profile_update_rejects_bad_input(api: Api, alice: Account) -> None:
    assert_error(api.patch("/users/me", alice.token, json={"bio": "b" * 161}), 422)
    assert_error(api.patch("/users/me", alice.token, json={"display_name": "d" * 51}), 422)
    assert_error(api.patch("/users/me", alice.token, json={"follower_count": 10**6}), 422)
    assert_error(api.patch("/users/me", alice.token, json={"avatar_media_id": "nope"}), 422)
    me = api.get("/users/me", alice.token).json()
    assert me["follower_count"] == 0 and me["bio"] == "" and me["display_name"] == "Alice"


def test_body_over_ten_megabytes_is_413(api: Api, alice: Account) -> None:
    big = b"{" + b" " * (10 * 1024 * 1024) + b"}"
    response = api.patch("/users/me", alice.token, data=big, headers={"Content-Type": "application/json"})
    assert_error(response, 413, "payload_too_large")
