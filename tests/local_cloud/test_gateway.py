"""The local API gateway on its own: the Cognito authorizer's checks with a key of the test's own, and the
HTTP server's limits (body size, idle clients) over real sockets, without moto or the functions."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.test import Client, TestResponse

from infra.resources import AUTH_RATE_WINDOW_SECONDS, BASE_PATH, MAX_BODY_BYTES, SPEC
from local_cloud.gateway import (
    ACCESS_SCOPE,
    CognitoVerifier,
    GatewayRequestHandler,
    LocalGateway,
    auth_rate_limit_from,
)

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_test"
CLIENT_ID = "client-under-test"
KID = "pool-key"
PRIVATE_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class PoolKeys:
    """The pool's JWKS, holding one key of the test's own, looked up by ``kid`` like PyJWKClient."""

    def __init__(self) -> None:
        jwk = json.loads(RSAAlgorithm.to_jwk(PRIVATE_KEY.public_key())) | {"kid": KID, "alg": "RS256"}
        self.key = jwt.PyJWK.from_dict(jwk)

    def get_signing_key_from_jwt(self, token: str) -> jwt.PyJWK:
        if jwt.get_unverified_header(token).get("kid") != KID:
            raise jwt.PyJWKClientError("no key with this kid")
        return self.key


def verifier() -> CognitoVerifier:
    return CognitoVerifier(ISSUER, "http://jwks.invalid/", CLIENT_ID, signing_keys=PoolKeys())


def access_claims(**overrides: Any) -> dict[str, Any]:
    """Claims shaped like a Cognito access token's."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "user-1",
        "client_id": CLIENT_ID,
        "token_use": "access",
        "scope": ACCESS_SCOPE,
        "auth_time": now,
        "iat": now,
        "exp": now + 900,
        "jti": "jti-1",
        "username": "alice",
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def bearer(claims: dict[str, Any]) -> str:
    return "Bearer " + jwt.encode(claims, PRIVATE_KEY, algorithm="RS256", headers={"kid": KID})


# -- the authorizer ------------------------------------------------------------------------------------


def test_a_well_formed_access_token_is_accepted() -> None:
    claims = verifier().claims(bearer(access_claims()))

    assert claims is not None and claims["sub"] == "user-1"


@pytest.mark.parametrize(
    "scope",
    [ACCESS_SCOPE, f"openid {ACCESS_SCOPE} profile", f"{ACCESS_SCOPE} email"],
    ids=["alone", "among-others", "first"],
)
def test_the_admin_scope_is_found_among_space_separated_scopes(scope: str) -> None:
    assert verifier().claims(bearer(access_claims(scope=scope))) is not None


@pytest.mark.parametrize(
    "scope",
    [None, "", "openid profile", f"{ACCESS_SCOPE}.extra", f"x{ACCESS_SCOPE}", [ACCESS_SCOPE], 1],
    ids=["missing", "empty", "other-scopes", "longer-name", "prefixed", "list", "number"],
)
def test_a_token_without_the_admin_scope_is_refused(scope: Any) -> None:
    assert verifier().claims(bearer(access_claims(scope=scope))) is None


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": "9999999999"},
        {"exp": str(int(time.time()) + 900)},
        {"iat": str(int(time.time()))},
        {"auth_time": str(int(time.time()))},
        {"nbf": str(int(time.time()))},
        {"exp": True},
        {"iat": None},
        {"exp": None},
    ],
    ids=[
        "exp-far-string",
        "exp-string",
        "iat-string",
        "auth-time-string",
        "nbf-string",
        "exp-bool",
        "no-iat",
        "no-exp",
    ],
)
def test_time_claims_must_be_present_numbers(overrides: dict[str, Any]) -> None:
    assert verifier().claims(bearer(access_claims(**overrides))) is None


@pytest.mark.parametrize(
    "overrides",
    [
        {"token_use": "id"},
        {"client_id": "another-client"},
        {"client_id": None, "aud": CLIENT_ID},
        {"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other"},
        {"exp": int(time.time()) - 1, "iat": int(time.time()) - 901},
        {"iat": int(time.time()) + 3600, "exp": int(time.time()) + 4500},
        {"sub": None},
    ],
    ids=[
        "id-token",
        "other-client",
        "aud-instead-of-client-id",
        "other-issuer",
        "expired",
        "issued-later",
        "no-sub",
    ],
)
def test_tokens_for_another_use_client_pool_or_time_are_refused(overrides: dict[str, Any]) -> None:
    assert verifier().claims(bearer(access_claims(**overrides))) is None


def test_a_token_signed_with_another_key_or_kid_is_refused() -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for kid in (KID, "another-kid"):
        token = jwt.encode(access_claims(), stranger, algorithm="RS256", headers={"kid": kid})

        assert verifier().claims(f"Bearer {token}") is None


@pytest.mark.parametrize(
    "header", [None, "", "Bearer", "Bearer ", "Basic abc", "Token x.y.z", "Bearer not-a-jwt", "Bearer a.b.c"]
)
def test_a_missing_or_malformed_authorization_header_is_refused(header: str | None) -> None:
    assert verifier().claims(header) is None


# -- the HTTP server -----------------------------------------------------------------------------------

IDLE_SECONDS = 0.5


class QuickRequestHandler(GatewayRequestHandler):
    """The gateway's request handler with a short idle timeout, so the tests need not wait 30 s."""

    timeout = IDLE_SECONDS


def echo_body_length(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Stands in for every function: answers with the length of the body it was given."""
    return {"statusCode": 200, "body": json.dumps({"length": len(event["body"] or "")})}


@pytest.fixture(scope="module")
def server() -> Iterator[BaseWSGIServer]:
    handlers = {function.name: echo_body_length for function in SPEC.functions}
    gateway = LocalGateway(SPEC, verifier(), handlers=handlers)
    running = make_server("127.0.0.1", 0, gateway, threaded=True, request_handler=QuickRequestHandler)
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    yield running
    running.shutdown()
    running.server_close()


def connect(server: BaseWSGIServer) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", server.server_port), timeout=10)
    connection.settimeout(10)
    return connection


def post_head(extra: str, token: str | None = None) -> bytes:
    auth = f"Authorization: {token}\r\n" if token else ""
    start = f"POST {BASE_PATH}/tweets HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
    return f"{start}{auth}{extra}\r\n".encode()


def read_response(connection: socket.socket) -> tuple[int, dict[str, Any]]:
    """The status and JSON body of the response (the server closes every connection after it)."""
    data = b""
    while chunk := connection.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def test_a_content_length_over_the_limit_is_413_before_any_of_the_body_is_sent(
    server: BaseWSGIServer,
) -> None:
    with connect(server) as connection:
        connection.sendall(post_head("Content-Length: 200000000\r\n"))
        status, body = read_response(connection)

    assert status == 413 and body["error"]["code"] == "payload_too_large"


def test_a_chunked_body_over_the_limit_is_413_as_soon_as_it_passes_the_limit(server: BaseWSGIServer) -> None:
    piece = b"x" * (1024 * 1024)
    with connect(server) as connection:
        connection.sendall(post_head("Transfer-Encoding: chunked\r\n"))
        for _ in range(MAX_BODY_BYTES // len(piece)):
            connection.sendall(chunk(piece))
        # One byte past the limit, and no final chunk: the answer cannot wait for the end of the body.
        connection.sendall(chunk(b"x"))
        status, body = read_response(connection)

    assert status == 413 and body["error"]["code"] == "payload_too_large"


def test_a_chunked_body_exactly_at_the_limit_reaches_the_function_whole(server: BaseWSGIServer) -> None:
    piece = b"x" * (1024 * 1024)
    with connect(server) as connection:
        connection.sendall(post_head("Transfer-Encoding: chunked\r\n", bearer(access_claims())))
        for _ in range(MAX_BODY_BYTES // len(piece)):
            connection.sendall(chunk(piece))
        connection.sendall(b"0\r\n\r\n")
        status, body = read_response(connection)

    assert (status, body) == (200, {"length": MAX_BODY_BYTES})


def test_a_request_over_the_limit_is_413_even_without_a_token(server: BaseWSGIServer) -> None:
    with connect(server) as connection:
        connection.sendall(post_head(f"Content-Length: {MAX_BODY_BYTES + 1}\r\n"))
        status, _ = read_response(connection)

    assert status == 413


def closed_within(connection: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Whether the server closed the connection within ``seconds``, and what it sent before."""
    connection.settimeout(seconds)
    started, data = time.monotonic(), b""
    try:
        while chunk := connection.recv(65536):
            data += chunk
    except TimeoutError:
        return False, data
    return time.monotonic() - started <= seconds, data


@pytest.mark.parametrize(
    "half_request",
    [
        b"GET /api/v1/hea",
        f"GET {BASE_PATH}/health HTTP/1.1\r\nHost: localhost\r\n".encode(),
    ],
    ids=["half-a-request-line", "half-the-headers"],
)
def test_a_client_that_stops_sending_its_head_is_dropped(server: BaseWSGIServer, half_request: bytes) -> None:
    with connect(server) as connection:
        connection.sendall(half_request)
        closed, data = closed_within(connection, IDLE_SECONDS * 6)

    assert closed and data == b""


@pytest.mark.parametrize(
    "head, sent",
    [("Content-Length: 100\r\n", b'{"text": '), ("Transfer-Encoding: chunked\r\n", chunk(b'{"text": '))],
    ids=["content-length", "chunked"],
)
def test_a_client_that_stops_sending_its_body_is_dropped_with_a_4xx(
    server: BaseWSGIServer, head: str, sent: bytes
) -> None:
    with connect(server) as connection:
        connection.sendall(post_head(head, bearer(access_claims())) + sent)
        closed, data = closed_within(connection, IDLE_SECONDS * 6)

    assert closed
    status = int(data.split()[1])
    assert 400 <= status < 500 and b'"error"' in data


def test_the_server_still_answers_after_dropping_idle_clients(server: BaseWSGIServer) -> None:
    idle = [connect(server) for _ in range(3)]
    for connection in idle:
        connection.sendall(b"GET /api/v1/")
    try:
        with connect(server) as connection:
            connection.sendall(f"GET {BASE_PATH}/no-such-route HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
            status, body = read_response(connection)
    finally:
        for connection in idle:
            connection.close()

    assert status == 404 and body["error"]["code"] == "not_found"


# --- Auth requests limited per client address (the stack's WAF rule, opt-in locally) ---------------------

AUTH_LIMIT = 3
LOGIN = f"{BASE_PATH}/auth/login"


class CountingFunction:
    """Stands in for every function and counts its invocations."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.calls += 1
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{}"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limited_gateway(limit: int, clock: FakeClock | None = None) -> tuple[LocalGateway, CountingFunction]:
    function = CountingFunction()
    handlers = {f.name: function for f in SPEC.functions}
    gateway = LocalGateway(
        SPEC, verifier(), handlers=handlers, auth_rate_limit=limit, rate_clock=clock or FakeClock()
    )
    return gateway, function


def post_from(gateway: LocalGateway, address: str, path: str = LOGIN) -> TestResponse:
    return Client(gateway).post(path, json={}, environ_base={"REMOTE_ADDR": address})


def test_the_auth_request_past_the_limit_is_429_with_retry_after_and_reaches_no_function() -> None:
    gateway, function = limited_gateway(AUTH_LIMIT)
    statuses = [post_from(gateway, "10.0.0.1").status_code for _ in range(AUTH_LIMIT)]

    over = post_from(gateway, "10.0.0.1", f"{BASE_PATH}/auth/signup")

    assert statuses == [200] * AUTH_LIMIT
    assert over.status_code == 429
    body = json.loads(over.data)
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == "rate_limited"
    assert over.headers["Retry-After"] == str(AUTH_RATE_WINDOW_SECONDS)
    assert over.headers["X-Content-Type-Options"] == "nosniff"
    assert function.calls == AUTH_LIMIT


def test_other_addresses_and_other_routes_are_not_limited() -> None:
    gateway, _ = limited_gateway(AUTH_LIMIT)
    for _ in range(AUTH_LIMIT + 1):
        post_from(gateway, "10.0.0.1")

    assert post_from(gateway, "10.0.0.2").status_code == 200
    health = Client(gateway).get(f"{BASE_PATH}/health", environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert health.status_code == 200


def test_a_limited_address_is_admitted_again_when_its_oldest_request_leaves_the_window() -> None:
    clock = FakeClock()
    gateway, _ = limited_gateway(AUTH_LIMIT, clock)
    post_from(gateway, "10.0.0.1")
    clock.now += 100
    for _ in range(AUTH_LIMIT - 1):
        post_from(gateway, "10.0.0.1")

    clock.now += 50
    assert post_from(gateway, "10.0.0.1").headers["Retry-After"] == str(AUTH_RATE_WINDOW_SECONDS - 150)
    clock.now += AUTH_RATE_WINDOW_SECONDS - 150
    assert post_from(gateway, "10.0.0.1").status_code == 200
    assert post_from(gateway, "10.0.0.1").status_code == 429


def test_with_the_limit_off_nothing_is_limited() -> None:
    gateway, function = limited_gateway(0)

    statuses = {post_from(gateway, "127.0.0.1").status_code for _ in range(50)}

    assert statuses == {200}
    assert function.calls == 50


@pytest.mark.parametrize(("value", "limit"), [(None, 0), ("", 0), ("0", 0), (" 25 ", 25)])
def test_the_local_limit_is_read_from_local_auth_rate_limit(value: str | None, limit: int) -> None:
    environ = {} if value is None else {"LOCAL_AUTH_RATE_LIMIT": value}
    assert auth_rate_limit_from(environ) == limit


@pytest.mark.parametrize("value", ["ten", "1.5", "-1"])
def test_a_local_limit_that_is_not_a_count_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="LOCAL_AUTH_RATE_LIMIT"):
        auth_rate_limit_from({"LOCAL_AUTH_RATE_LIMIT": value})
