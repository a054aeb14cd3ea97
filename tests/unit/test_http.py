"""The one place request bodies are decoded and domain errors become HTTP responses."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

import pytest
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel, ConfigDict

from functions.core import errors
from functions.core.http import BASE_PATH, api_entry_point, build_app, with_security_headers
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


def event(
    body: str | None, content_type: str | None = "application/json", encoded: bool = False
) -> dict[str, Any]:
    return {
        "resource": f"{BASE_PATH}/things",
        "path": f"{BASE_PATH}/things",
        "httpMethod": "POST",
        "headers": {"Content-Type": content_type} if content_type is not None else {},
        "requestContext": {"requestId": "r", "stage": "t"},
        "body": body,
        "isBase64Encoded": encoded,
    }


def call(
    body: str | None, content_type: str | None = "application/json", encoded: bool = False
) -> dict[str, Any]:
    return build_app(router).resolve(event(body, content_type, encoded), LocalLambdaContext("unit"))


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


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


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        " APPLICATION/JSON ;charset=UTF-8",
    ],
)
def test_json_bodies_are_accepted_whatever_the_case_and_parameters(content_type: str) -> None:
    response = call(json.dumps({"name": "ok"}), content_type)
    assert response["statusCode"] == 200, response["body"]
    assert json.loads(response["body"]) == {"name": "ok"}


def test_base64_encoded_json_is_decoded() -> None:
    response = call(b64(json.dumps({"name": "caf\u00e9"}).encode()), encoded=True)
    assert response["statusCode"] == 200, response["body"]
    assert json.loads(response["body"]) == {"name": "caf\u00e9"}


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/xml",
        "application/octet-stream",
        "*/*",
        "multipart/form-data",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        "application/merge-patch+json",
        "application/jsonx",
        None,
    ],
)
def test_a_body_that_is_not_declared_json_is_415(content_type: str | None) -> None:
    response = call(json.dumps({"name": "ok"}), content_type)
    assert response["statusCode"] == 415
    assert json.loads(response["body"])["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    ("body", "is_b64"),
    [
        pytest.param('[{"name": "first"}, {"name": "second"}]', False, id="array"),
        pytest.param('"name"', False, id="string"),
        pytest.param("null", False, id="null"),
        pytest.param("", False, id="empty"),
        pytest.param(None, False, id="absent"),
        pytest.param("{nope", False, id="not-json"),
        pytest.param('{"name": "ok"} trailing', False, id="trailing-garbage"),
        pytest.param('{"name": "a", "name": "b"}', False, id="duplicate-key"),
        pytest.param('{"name": "ok", "n": NaN}', False, id="nan"),
        pytest.param('{"name": "ok", "n": 1e999}', False, id="infinite-number"),
        pytest.param('{"name": "ok", "n": ' + "1" * 31 + "}", False, id="31-digit-int"),
        pytest.param('{"name": "ok", "n": ' + "9" * 4301 + "}", False, id="4301-digit-int"),
        pytest.param('{"name": "ok", "n": 0.' + "1" * 31 + "}", False, id="31-digit-float"),
        pytest.param('{"name": "ok", "n": ' + "[" * 32 + "]" * 32 + "}", False, id="depth-33"),
        pytest.param('{"name": "ok", "n": ' + "[" * 1000 + "]" * 1000 + "}", False, id="depth-1001"),
        pytest.param('{"a": ' * 100_000 + "1" + "}" * 100_000, False, id="depth-100000"),
        pytest.param(b64(b'{"name": "\xff"}'), True, id="invalid-utf8"),
        pytest.param(b64(b'{"name": "\xed\xa0\x80"}'), True, id="utf8-surrogate"),
        pytest.param('{"name": "\udcff"}', False, id="lone-surrogate-in-text"),
        pytest.param("not base64!", True, id="bad-base64"),
        pytest.param(b64('\ufeff{"name": "ok"}'.encode()), True, id="byte-order-mark"),
    ],
)
def test_a_body_that_is_not_a_sane_json_object_is_400(body: str | None, is_b64: bool) -> None:
    response = call(body, encoded=is_b64)
    assert response["statusCode"] == 400, response["body"]
    assert json.loads(response["body"])["error"]["code"] == "malformed_request"


def test_the_limits_themselves_are_accepted() -> None:
    # Decoding accepts these; the model then refuses the unknown field n (422, not 400).
    for value in ("1" * 30, "-" + "1" * 30, "0." + "1" * 29, "1.5e300", "[" * 31 + "]" * 31):
        response = call('{"name": "ok", "n": ' + value + "}")
        assert response["statusCode"] == 422, (value, response["body"])


def test_every_response_is_nosniff_and_not_stored_unless_the_route_says_so() -> None:
    handler = api_entry_point(build_app(router).resolve)
    for body in (json.dumps({"name": "ok"}), "{nope", "[1]"):
        headers = handler(event(body), LocalLambdaContext("unit"))["multiValueHeaders"]
        assert headers["X-Content-Type-Options"] == ["nosniff"]
        assert headers["Cache-Control"] == ["no-store"]
    chosen = with_security_headers({"statusCode": 200, "headers": {"Cache-Control": "max-age=60"}})
    assert chosen["headers"] == {"Cache-Control": "max-age=60", "X-Content-Type-Options": "nosniff"}


def test_the_document_lists_415_and_400_for_operations_with_a_body() -> None:
    schema = json.loads(build_app(router).get_openapi_json_schema())
    responses = schema["paths"]["/things"]["post"]["responses"]
    assert {"400", "415"} <= set(responses)
    assert responses["415"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }
