"""The one place domain errors become HTTP responses."""

from __future__ import annotations

import json
from typing import Annotated, Any

import pytest
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel, ConfigDict

from functions.core import errors
from functions.core.http import BASE_PATH, build_app
from infra import resources
from local_cloud.lambda_runtime import LocalLambdaContext


class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str


router = Router()
raised: dict[str, Exception] = {}


@router.post("/things")
def make_thing(thing: Annotated[Thing, Body()]) -> dict[str, str]:
    if thing.name in raised:
        raise raised[thing.name]
    return {"name": thing.name}


def call(body: str) -> dict[str, Any]:
    event = {
        "resource": f"{BASE_PATH}/things",
        "path": f"{BASE_PATH}/things",
        "httpMethod": "POST",
        "headers": {"Content-Type": "application/json"},
        "requestContext": {"requestId": "r", "stage": "t"},
        "body": body,
        "isBase64Encoded": False,
    }
    return build_app(router).resolve(event, LocalLambdaContext("unit"))


def test_lambda_code_and_the_stack_agree_on_the_base_path() -> None:
    assert BASE_PATH == resources.BASE_PATH


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (errors.NotFound("gone"), 404, "not_found"),
        (errors.Forbidden("no"), 403, "forbidden"),
        (errors.UsernameTaken("taken"), 409, "username_taken"),
        (errors.InvalidCursor("bad"), 400, "invalid_cursor"),
        (errors.Unprocessable("rule"), 422, "validation_error"),
        (RuntimeError("secret internals"), 500, "internal_error"),
    ],
)
def test_errors_map_to_the_contract_shape(error: Exception, status: int, code: str) -> None:
    raised["x"] = error
    response = call(json.dumps({"name": "x"}))
    assert response["statusCode"] == status
    body = json.loads(response["body"])
    assert body["error"]["code"] == code
    assert "secret internals" not in response["body"]


def test_rate_limited_carries_retry_after() -> None:
    raised["r"] = errors.RateLimited("slow down", retry_after_seconds=42)
    response = call(json.dumps({"name": "r"}))
    assert response["statusCode"] == 429
    headers = response.get("multiValueHeaders") or {}
    assert headers.get("Retry-After") == ["42"] or response.get("headers", {}).get("Retry-After") == "42"


def test_unknown_fields_missing_fields_and_non_json() -> None:
    assert call(json.dumps({"name": "a", "extra": 1}))["statusCode"] == 422
    assert call(json.dumps({}))["statusCode"] == 422
    assert call("{nope")["statusCode"] == 400
    assert call(json.dumps({"name": "ok"}))["statusCode"] == 200
