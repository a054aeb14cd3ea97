"""Attacks a client can make over HTTP against the local runtime, after the OWASP API Security Top 10:
forged or misused tokens (broken authentication), acting on another user's objects (object-level
authorisation), writing server-owned fields (property-level authorisation) and asking for too much
(resource consumption). Every one is refused in the contract's error shape and changes nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import uuid
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.support.client import Account, Api, assert_error, get_tweet, likes_counted, post_tweet

pytestmark = pytest.mark.e2e

ACCESS_SCOPE = "aws.cognito.signin.user.admin"
PROTECTED = "/users/me"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def unverified(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})  # type: ignore[no-any-return]


def pool_kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def pool_public_pem(token: str) -> bytes:
    """The pool's public key (the one that verifies ``token``) from its JWKS, as PEM."""
    keys = requests.get(os.environ["COGNITO_JWKS_URL"], timeout=10).json()["keys"]
    jwk = next(key for key in keys if key["kid"] == pool_kid(token))
    public_key = RSAAlgorithm.from_jwk(json.dumps(jwk))
    assert isinstance(public_key, rsa.RSAPublicKey)
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    head = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    return head + "." + b64url(signature)


def alg_none(token: str) -> str:
    return unsigned({"alg": "none", "typ": "JWT", "kid": pool_kid(token)}, unverified(token))


def hs256_with_public_key(token: str) -> str:
    """Signed with HMAC, the pool's public key as the secret: PyJWT refuses to make these, so by hand."""
    header = {"alg": "HS256", "typ": "JWT", "kid": pool_kid(token)}
    signing_input = unsigned(header, unverified(token)).rsplit(".", 1)[0]
    mac = hmac.new(pool_public_pem(token), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(mac)


def foreign_rsa(token: str, kid: str | None) -> str:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(unverified(token), stranger, algorithm="RS256", headers={"kid": kid or pool_kid(token)})


def one_payload_byte_changed(token: str) -> str:
    header, payload, signature = token.split(".")
    raw = bytearray(b64url_decode(payload))
    at = raw.index(unverified(token)["jti"].encode())
    raw[at] = ord("a") if raw[at] != ord("a") else ord("b")
    return f"{header}.{b64url(bytes(raw))}.{signature}"


def test_the_pool_issues_access_tokens_with_the_scope_the_authorizer_requires(alice: Account) -> None:
    access, identity = unverified(alice.token), unverified(alice.id_token)

    assert access["token_use"] == "access" and ACCESS_SCOPE in access["scope"].split(" ")
    assert identity["token_use"] == "id" and "scope" not in identity


FORGED_TOKENS = {
    "not-a-jwt": lambda a: "not-a-jwt",
    "three-garbage-segments": lambda a: "abc.def.ghi",
    "alg-none": lambda a: alg_none(a.token),
    "alg-none-keeping-the-signature": lambda a: alg_none(a.token) + a.token.rsplit(".", 1)[1],
    "hs256-signed-with-the-public-key": lambda a: hs256_with_public_key(a.token),
    "foreign-rsa-key-with-the-pool-kid": lambda a: foreign_rsa(a.token, None),
    "foreign-rsa-key-with-a-new-kid": lambda a: foreign_rsa(a.token, f"kid-{uuid.uuid4().hex}"),
    "one-payload-byte-changed": lambda a: one_payload_byte_changed(a.token),
    "id-token": lambda a: a.id_token,
    "refresh-token": lambda a: a.refresh_token,
}


@pytest.mark.parametrize("forge", FORGED_TOKENS.values(), ids=FORGED_TOKENS.keys())
def test_a_forged_or_misused_bearer_token_is_401(api: Api, alice: Account, forge: Any) -> None:
    assert_error(api.get(PROTECTED, forge(alice)), 401)


def test_a_byte_changed_token_really_differs_only_in_its_payload(alice: Account) -> None:
    # The forgery above must be a real one: the same header and signature, a payload that still parses.
    forged = one_payload_byte_changed(alice.token)

    assert forged != alice.token and forged.split(".")[::2] == alice.token.split(".")[::2]
    assert unverified(forged)["sub"] == unverified(alice.token)["sub"]


HEADERS = {
    "missing": lambda a: None,
    "empty": lambda a: "",
    "scheme-only": lambda a: "Bearer",
    "token-without-scheme": lambda a: a.token,
    "basic-scheme": lambda a: f"Basic {a.token}",
    "lower-case-scheme-with-garbage": lambda a: "bearer garbage",
    "two-tokens": lambda a: f"Bearer {a.token} {a.token}",
}


@pytest.mark.parametrize("header", HEADERS.values(), ids=HEADERS.keys())
def test_a_missing_or_malformed_authorization_header_is_401(api: Api, alice: Account, header: Any) -> None:
    value = header(alice)
    headers = {} if value is None else {"Authorization": value}

    assert_error(api.get(PROTECTED, headers=headers), 401)


def test_the_real_token_still_works(api: Api, alice: Account) -> None:
    # The refusals above are for the forgery, not for the account.
    assert api.get(PROTECTED, alice.token).json()["user_id"] == alice.user_id


# -- object-level authorisation -------------------------------------------------------------------------


def test_bob_cannot_delete_alices_tweet(api: Api, alice: Account, bob: Account) -> None:
    tweet_id = post_tweet(api, alice)

    assert_error(api.delete(f"/tweets/{tweet_id}", bob.token), 403)
    assert get_tweet(api, alice, tweet_id)["tweet_id"] == tweet_id


@pytest.mark.parametrize(
    "engagement, flag, count", [("like", "liked", "like_count"), ("retweet", "retweeted", "retweet_count")]
)
def test_bob_undoing_an_engagement_undoes_only_his_own(
    api: Api, alice: Account, bob: Account, engagement: str, flag: str, count: str
) -> None:
    tweet_id = post_tweet(api, bob, "bob's tweet")
    assert api.post(f"/tweets/{tweet_id}/{engagement}", alice.token).status_code == 200
    if engagement == "like":
        likes_counted(api, alice, tweet_id, 1)  # applied from the engagements stream

    # Bob has not engaged; naming alice in the body or the query must not make him act for her.
    undone = api.delete(f"/tweets/{tweet_id}/{engagement}", bob.token)
    assert undone.status_code == 200 and undone.json() == {flag: False, count: 1}
    sneaky = api.delete(
        f"/tweets/{tweet_id}/{engagement}",
        bob.token,
        params={"user_id": alice.user_id},
        json={"user_id": alice.user_id},
    )
    assert sneaky.status_code < 500, sneaky.text

    seen_by_alice = get_tweet(api, alice, tweet_id)
    assert seen_by_alice[count] == 1 and seen_by_alice[f"{flag}_by_me"] is True
    assert get_tweet(api, bob, tweet_id)[f"{flag}_by_me"] is False


@pytest.mark.parametrize("method", ["PATCH", "PUT", "DELETE"])
def test_another_users_profile_cannot_be_changed(api: Api, alice: Account, bob: Account, method: str) -> None:
    before = api.get(f"/users/{alice.user_id}", bob.token).json()

    response = api.call(method, f"/users/{alice.user_id}", bob.token, json={"display_name": "Hacked"})

    assert_error(response, 404)
    assert api.get(f"/users/{alice.user_id}", bob.token).json() == before


# -- server-owned fields --------------------------------------------------------------------------------


def tweet_count(api: Api, who: Account) -> int:
    return int(api.get("/users/me", who.token).json()["tweet_count"])


@pytest.mark.parametrize(
    "extra",
    [{"like_count": 1000}, {"author_id": "someone-else"}, {"tweet_id": "0" * 26}, {"retweet_count": 5}],
    ids=["like_count", "author_id", "tweet_id", "retweet_count"],
)
def test_a_tweet_with_server_owned_fields_is_422_and_not_stored(
    api: Api, alice: Account, bob: Account, extra: dict[str, Any]
) -> None:
    text = f"server-owned {uuid.uuid4().hex}"
    extra = {"author_id": bob.user_id} if "author_id" in extra else extra

    assert_error(api.post("/tweets", alice.token, json={"text": text, **extra}), 422)
    assert tweet_count(api, alice) == 0 and tweet_count(api, bob) == 0
    timeline = api.get(f"/timeline/user/{alice.user_id}", alice.token).json()["tweets"]
    assert all(tweet["text"] != text for tweet in timeline)


@pytest.mark.parametrize(
    "extra",
    [
        {"follower_count": 1_000_000},
        {"username": "taken_over"},
        {"user_id": "someone"},
        {"created_at": "2000-01-01"},
    ],
    ids=["follower_count", "username", "user_id", "created_at"],
)
def test_a_profile_update_with_server_owned_fields_is_422_and_changes_nothing(
    api: Api, alice: Account, extra: dict[str, Any]
) -> None:
    before = api.get("/users/me", alice.token).json()

    assert_error(api.patch("/users/me", alice.token, json={"bio": "changed", **extra}), 422)
    assert api.get("/users/me", alice.token).json() == before


# -- resource consumption -------------------------------------------------------------------------------

PAGED = ["/timeline/home", "/timeline/user/{me}", "/users/{me}/followers", "/users/{me}/following"]


@pytest.mark.parametrize("path", PAGED)
@pytest.mark.parametrize("limit", ["1000000", "101", "0", "-1", "1e9", "99999999999999999999999"])
def test_a_limit_out_of_range_is_422(api: Api, alice: Account, path: str, limit: str) -> None:
    assert_error(api.get(path.format(me=alice.user_id), alice.token, params={"limit": limit}), 422)


def test_a_limit_out_of_range_on_replies_is_422(api: Api, alice: Account) -> None:
    tweet_id = post_tweet(api, alice)

    assert_error(api.get(f"/tweets/{tweet_id}/replies", alice.token, params={"limit": "1000000"}), 422)


@pytest.mark.parametrize("path", PAGED)
@pytest.mark.parametrize(
    "params",
    [{"cursor": "A" * 10_240}, {"cursor": "%" * 10_240}, {"limit": "1" * 10_240}],
    ids=["long-cursor", "percent-signs-cursor", "long-limit"],
)
def test_a_ten_kilobyte_cursor_or_limit_is_a_4xx(
    api: Api, alice: Account, path: str, params: dict[str, str]
) -> None:
    response = api.get(path.format(me=alice.user_id), alice.token, params=params)

    assert 400 <= response.status_code < 500, response.text
    assert_error(response, response.status_code)


@pytest.mark.parametrize("path", [*PAGED, PROTECTED])
def test_a_ten_kilobyte_unknown_query_parameter_is_never_a_5xx(api: Api, alice: Account, path: str) -> None:
    # Unknown query parameters are ignored, as API Gateway passes them on; their size must not break anything.
    response = api.get(path.format(me=alice.user_id), alice.token, params={"x" * 5_000: "y" * 5_000})

    assert response.status_code < 500, response.text
