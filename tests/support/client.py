"""A small HTTP client for end-to-end tests, and factories that build state through the public API."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import requests

PASSWORD = "Sup3r-secret!"


@dataclass
class Api:
    base_url: str
    session: requests.Session

    def call(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.session.request(method, f"{self.base_url}{path}", headers=headers, timeout=30, **kwargs)

    def get(self, path: str, token: str | None = None, **kw: Any) -> requests.Response:
        return self.call("GET", path, token, **kw)

    def post(self, path: str, token: str | None = None, **kw: Any) -> requests.Response:
        return self.call("POST", path, token, **kw)

    def patch(self, path: str, token: str | None = None, **kw: Any) -> requests.Response:
        return self.call("PATCH", path, token, **kw)

    def delete(self, path: str, token: str | None = None, **kw: Any) -> requests.Response:
        return self.call("DELETE", path, token, **kw)


@dataclass
class Account:
    user_id: str
    username: str
    email: str
    token: str
    refresh_token: str
    id_token: str


def unique_name(prefix: str = "u") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def sign_up_and_log_in(api: Api, username: str | None = None, display_name: str | None = None) -> Account:
    username = username or unique_name()
    email = f"{username}@example.com"
    body: dict[str, Any] = {"username": username, "email": email, "password": PASSWORD}
    if display_name is not None:
        body["display_name"] = display_name
    created = api.post("/auth/signup", json=body)
    assert created.status_code == 201, created.text
    login = api.post("/auth/login", json={"username": username, "password": PASSWORD})
    assert login.status_code == 200, login.text
    tokens = login.json()
    return Account(
        user_id=created.json()["user"]["user_id"],
        username=username,
        email=email,
        token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        id_token=tokens["id_token"],
    )


def assert_error(response: requests.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response has the status and the contract's error body (and no internals)."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str)
    assert "Traceback" not in response.text
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]  # type: ignore[no-any-return]


def post_tweet(api: Api, who: Account, text: str = "mine") -> str:
    """Post through the API; the new tweet's id (the post must succeed)."""
    response = api.post("/tweets", who.token, json={"text": text})
    assert response.status_code == 201, response.text
    return str(response.json()["tweet_id"])


def get_tweet(api: Api, who: Account, tweet_id: str) -> dict[str, Any]:
    """The tweet as ``who`` sees it (the read must succeed)."""
    response = api.get(f"/tweets/{tweet_id}", who.token)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def likes_counted(api: Api, who: Account, tweet_id: str, expected: int, timeout: float = 30.0) -> None:
    """Wait until the tweet's stored like_count is ``expected``: the engagements stream applies it, within
    a second or so locally (the pollers' batching window)."""
    deadline = time.monotonic() + timeout
    while (seen := get_tweet(api, who, tweet_id)["like_count"]) != expected:
        assert time.monotonic() < deadline, f"like_count stayed {seen}, not {expected}"
        time.sleep(0.2)
