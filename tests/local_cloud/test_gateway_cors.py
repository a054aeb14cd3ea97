"""The local gateway answers browsers as API Gateway does with CORS configured: preflights on a route's
path, and the CORS headers on its own errors, for the allowed origins only."""

from __future__ import annotations

from typing import Any

from werkzeug.test import Client

from infra.resources import SPEC
from local_cloud.gateway import LocalGateway
from tests.local_cloud.test_gateway import verifier

APP = "https://app.example"


def ok(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{}"}


def client(*origins: str) -> Client:
    handlers = {fn.name: ok for fn in SPEC.functions}
    return Client(LocalGateway(SPEC, verifier(), handlers=handlers, cors_origins=origins))


def test_a_preflight_from_an_allowed_origin_gets_the_methods_and_headers_it_may_use() -> None:
    response = client(APP).open("/api/v1/tweets", method="OPTIONS", headers={"Origin": APP})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == APP
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert response.headers["Vary"] == "Origin"


def test_a_preflight_from_another_origin_gets_no_permission() -> None:
    response = client(APP).open(
        "/api/v1/tweets", method="OPTIONS", headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 204
    assert "Access-Control-Allow-Origin" not in response.headers


def test_gateway_errors_carry_the_headers_so_a_browser_can_read_them() -> None:
    unauthorized = client(APP).get("/api/v1/users/me", headers={"Origin": APP})
    assert unauthorized.status_code == 401
    assert unauthorized.headers["Access-Control-Allow-Origin"] == APP
    unknown = client("*").get("/api/v1/nowhere", headers={"Origin": "https://any.example"})
    assert unknown.status_code == 404 and unknown.headers["Access-Control-Allow-Origin"] == "*"


def test_without_configured_origins_there_is_no_preflight_and_no_header() -> None:
    response = client().open("/api/v1/tweets", method="OPTIONS", headers={"Origin": APP})
    assert response.status_code == 404
    assert "Access-Control-Allow-Origin" not in response.headers
