"""Token lifetimes, log-out and who may sign tokens, over HTTP against the local runtime."""

from __future__ import annotations

import jwt
import pytest

from tests.support.client import PASSWORD, Account, Api, assert_error
from tests.support.tokens import claims_like, signed_by_pool

pytestmark = pytest.mark.e2e

FIFTEEN_MINUTES = 15 * 60


def test_access_and_id_tokens_live_fifteen_minutes(api: Api, alice: Account) -> None:
    login = api.post("/auth/login", json={"username": alice.username, "password": PASSWORD}).json()
    refreshed = api.post("/auth/refresh", json={"refresh_token": alice.refresh_token}).json()

    for tokens in (login, refreshed):
        assert tokens["expires_in"] == FIFTEEN_MINUTES
        for token in (tokens["access_token"], tokens["id_token"]):
            claims = jwt.decode(token, options={"verify_signature": False})
            assert claims["exp"] - claims["iat"] == FIFTEEN_MINUTES


def test_after_log_out_the_refresh_token_no_longer_refreshes(api: Api, alice: Account) -> None:
    assert api.post("/auth/refresh", json={"refresh_token": alice.refresh_token}).status_code == 200

    logout = api.post("/auth/logout", json={"refresh_token": alice.refresh_token})

    assert logout.status_code == 204 and logout.content == b""
    assert_error(api.post("/auth/refresh", json={"refresh_token": alice.refresh_token}), 401, "unauthorized")
    # Access tokens are not revocable at the gateway: they expire on their own, 15 minutes at most.
    assert api.get("/users/me", alice.token).status_code == 200


def test_log_out_is_idempotent_and_needs_no_access_token(api: Api, alice: Account) -> None:
    for _ in range(2):
        assert api.post("/auth/logout", json={"refresh_token": alice.refresh_token}).status_code == 204
    assert_error(api.post("/auth/refresh", json={"refresh_token": alice.refresh_token}), 401, "unauthorized")


def test_log_out_of_one_session_leaves_the_others_signed_in(api: Api, alice: Account) -> None:
    other = api.post("/auth/login", json={"username": alice.username, "password": PASSWORD}).json()

    assert api.post("/auth/logout", json={"refresh_token": alice.refresh_token}).status_code == 204

    assert api.post("/auth/refresh", json={"refresh_token": other["refresh_token"]}).status_code == 200


def test_log_out_with_an_unknown_token_is_204(api: Api) -> None:
    # RFC 7009: revoking a token that is not (or no longer) valid is not an error.
    assert api.post("/auth/logout", json={"refresh_token": "not-a-token"}).status_code == 204


def test_log_out_refuses_malformed_bodies(api: Api) -> None:
    assert_error(api.post("/auth/logout", json={}), 422)
    assert_error(api.post("/auth/logout", json={"refresh_token": ""}), 422)
    assert_error(api.post("/auth/logout", json={"refresh_token": "x", "all": True}), 422)


def test_a_token_signed_with_motos_bundled_key_is_refused(api: Api, alice: Account) -> None:
    # The key ships inside moto's package, so anyone could sign with it; the local cloud signs with a key
    # of its own, made when it starts, and publishes only that one.
    forged = signed_by_pool(claims_like(alice.token))

    assert_error(api.get("/users/me", forged), 401)
    assert api.get("/users/me", alice.token).status_code == 200
    assert jwt.get_unverified_header(alice.token)["kid"] != "dummy"
