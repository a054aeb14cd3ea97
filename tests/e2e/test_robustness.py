"""Hostile or careless requests over HTTP against the local runtime: every one is a 4xx in the contract's
error shape and stores nothing; every response carries the security headers and names no software."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.support.client import PASSWORD, Account, Api, assert_error

pytestmark = pytest.mark.e2e

DEEP = "[" * 1000 + "]" * 1000
LONG_NUMBER = "9" * 4301


def payload(route: str, who: Account) -> dict[str, Any]:
    """A body the route would accept."""
    if route == "/tweets":
        return {"text": "this must not be stored"}
    if route == "/users/me":
        return {"bio": "this must not be stored"}
    return {"username": who.username, "password": PASSWORD}


def as_json(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def with_raw_field(body: dict[str, Any], raw: str) -> bytes:
    """``body`` with one more member whose value is ``raw`` JSON text (not expressible as a Python value)."""
    return (json.dumps(body)[:-1] + ', "extra": ' + raw + "}").encode()


# (case, Content-Type, body from a valid payload, status, code)
BAD_REQUESTS: list[tuple[str, str, Callable[[dict[str, Any]], bytes], int, str]] = [
    ("text/plain", "text/plain", as_json, 415, "unsupported_media_type"),
    ("xml", "application/xml", as_json, 415, "unsupported_media_type"),
    ("octet-stream", "application/octet-stream", as_json, 415, "unsupported_media_type"),
    ("any", "*/*", as_json, 415, "unsupported_media_type"),
    ("multipart-without-boundary", "multipart/form-data", as_json, 415, "unsupported_media_type"),
    ("form", "application/x-www-form-urlencoded", lambda b: b"text=hi", 415, "unsupported_media_type"),
    ("nested-1000-deep", "application/json", lambda b: with_raw_field(b, DEEP), 400, "malformed_request"),
    (
        "4301-digit-number",
        "application/json",
        lambda b: with_raw_field(b, LONG_NUMBER),
        400,
        "malformed_request",
    ),
    ("array", "application/json", lambda b: json.dumps([b, b]).encode(), 400, "malformed_request"),
    ("invalid-utf8", "application/json", lambda b: as_json(b)[:-2] + b'\xff"}', 400, "malformed_request"),
    ("invalid-utf8-text-plain", "text/plain", lambda b: b"\xff\xfe", 415, "unsupported_media_type"),
    (
        "duplicate-key",
        "application/json",
        lambda b: with_raw_field(b, "1")[:-1] + b', "extra": 2}',
        400,
        "malformed_request",
    ),
    ("not-json", "application/json", lambda b: b"{nope", 400, "malformed_request"),
    ("empty", "application/json", lambda b: b"", 400, "malformed_request"),
]
ROUTES = [("POST", "/tweets"), ("PATCH", "/users/me"), ("POST", "/auth/login")]


def me(api: Api, who: Account) -> dict[str, Any]:
    response = api.get("/users/me", who.token)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize(("method", "route"), ROUTES, ids=[r for _, r in ROUTES])
@pytest.mark.parametrize(
    ("case", "content_type", "body", "status", "code"), BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS]
)
def test_bad_bodies_are_4xx_in_the_error_shape_and_store_nothing(
    api: Api,
    alice: Account,
    method: str,
    route: str,
    case: str,
    content_type: str,
    body: Callable[[dict[str, Any]], bytes],
    status: int,
    code: str,
) -> None:
    before = me(api, alice)
    token = None if route.startswith("/auth/") else alice.token
    response = api.call(
        method, route, token, data=body(payload(route, alice)), headers={"Content-Type": content_type}
    )
    assert_error(response, status, code)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "access_token" not in response.text
    after = me(api, alice)
    assert after == before  # tweet_count, bio and display_name unchanged


@pytest.mark.parametrize("content_type", ["Application/JSON", "application/json; charset=UTF-8"])
def test_json_is_recognised_whatever_the_case_and_parameters(
    api: Api, alice: Account, content_type: str
) -> None:
    headers = {"Content-Type": content_type}
    tweet = api.post("/tweets", alice.token, data=as_json({"text": "caf\u00e9 ok"}), headers=headers)
    assert tweet.status_code == 201, tweet.text
    assert tweet.json()["text"] == "caf\u00e9 ok"
    update = api.patch("/users/me", alice.token, data=as_json({"bio": "b\u00eft"}), headers=headers)
    assert update.status_code == 200, update.text
    assert update.json()["bio"] == "b\u00eft"
    login = api.post("/auth/login", data=as_json(payload("/auth/login", alice)), headers=headers)
    assert login.status_code == 200, login.text
    assert me(api, alice)["tweet_count"] == 1


def assert_names_no_software(response: requests.Response) -> None:
    server = response.headers.get("Server", "")
    assert "werkzeug" not in server.lower() and "python" not in server.lower(), server


def test_every_kind_of_response_is_nosniff_and_names_no_software(api: Api, alice: Account) -> None:
    responses = {
        "200": api.get("/health"),
        "200 signed in": api.get("/users/me", alice.token),
        "404 unknown route": api.get("/no/such/route"),
        "401 no token": api.get("/users/me"),
        "404 from a function": api.get("/tweets/01KQ8Z5Y3M0000000000000000", alice.token),
    }
    for name, response in responses.items():
        assert response.headers.get("X-Content-Type-Options") == "nosniff", name
        assert_names_no_software(response)
    assert_error(responses["404 unknown route"], 404, "not_found")
    assert_error(responses["401 no token"], 401)


def test_token_responses_are_not_stored(api: Api, alice: Account) -> None:
    login = api.post("/auth/login", json=payload("/auth/login", alice))
    assert login.status_code == 200, login.text
    assert login.headers["Cache-Control"] == "no-store"
    refreshed = api.post("/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.headers["Cache-Control"] == "no-store"


def raw_http(api: Api, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes no HTTP client library would, and read the answer."""
    url = urlsplit(api.base_url)
    with socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), timeout=30) as conn:
        conn.sendall(request)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize(
    ("case", "request_bytes", "status"),
    [
        ("garbage request line", b"NOT HTTP AT ALL\r\n\r\n", 400),
        ("bad http version", b"GET /api/v1/health HTTP/x.y\r\nHost: x\r\n\r\n", 400),
        (
            "huge header",
            b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n",
            431,
        ),
        ("too many headers", b"GET /api/v1/health HTTP/1.1\r\n" + b"X-A: 1\r\n" * 120 + b"\r\n", 431),
    ],
)
def test_requests_the_server_cannot_parse_get_the_error_shape(
    api: Api, case: str, request_bytes: bytes, status: int
) -> None:
    got, headers, body = raw_http(api, request_bytes)
    assert got == status, (case, got, body[:200])
    assert headers.get("content-type") == "application/json"
    assert headers.get("x-content-type-options") == "nosniff"
    assert "server" not in headers
    error = json.loads(body)["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str)
    assert b"<html" not in body.lower()
