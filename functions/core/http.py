"""The REST resolver every API function uses, the one place request bodies are decoded, and the one
place errors become HTTP responses."""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
    OpenAPIRequestValidationMiddleware,
)
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from functions.core import cors
from functions.core.entry_points import api_entry_point as api_entry_point  # the API functions' handler
from functions.core.errors import BadRequest, DomainError, RetriesExhausted, Unavailable, UnsupportedMediaType
from functions.core.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.models import OpenAPI
    from aws_lambda_powertools.event_handler.types import EventHandlerInstance

Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]

# Stays in step with infra.resources.BASE_PATH (asserted by tests/unit/test_http.py); duplicated as a
# literal because Lambda code must not import the infrastructure package.
BASE_PATH = "/api/v1"


class ErrorDetail(BaseModel):
    field: str | None = None
    issue: str | None = None
    message: str | None = None


class ErrorInfo(BaseModel):
    code: str = Field(description="snake_case, stable: clients branch on it")
    message: str = Field(description="A sentence for a human")
    details: list[ErrorDetail] | None = None


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorInfo


def error_response(
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A response in the contract's error shape."""
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps({"error": error}),
        headers=headers,
    )


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    details = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ()) if part != "body"]
        details.append(
            {
                "field": ".".join(loc) or "body",
                "issue": err.get("type", "invalid"),
                "message": str(err.get("msg", "invalid value")),
            }
        )
    return details


JSON_MEDIA_TYPE = "application/json"
MAX_JSON_DEPTH = 32
"""Containers nested in one another. Every request model is at most a few levels deep; the limit stops
a body from spending the parser's recursion (a RecursionError) or the validator's time."""
MAX_NUMBER_DIGITS = 30
"""Digits in one JSON number. No field needs more than a 64-bit integer (19 digits); converting a
number of thousands of digits costs quadratic time, and Python refuses more than 4,300 with a ValueError."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Duplicate keys are ambiguous (which one wins differs between parsers): refuse instead of guessing.
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise BadRequest("The request body repeats a key in one object.")
    return obj


def _bounded_int(token: str) -> int:
    if len(token.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise BadRequest(f"The request body holds a number longer than {MAX_NUMBER_DIGITS} digits.")
    return int(token)


def _bounded_float(token: str) -> float:
    too_long = len(token) > 2 * MAX_NUMBER_DIGITS or sum(ch.isdigit() for ch in token) > MAX_NUMBER_DIGITS
    value = float(token) if not too_long else math.inf
    if not math.isfinite(value):
        raise BadRequest(
            f"The request body holds a number longer than {MAX_NUMBER_DIGITS} digits or out of range."
        )
    return value


def _no_constant(token: str) -> Any:
    # Python's json accepts NaN and Infinity, which JSON itself does not.
    raise BadRequest(f"The request body is not valid JSON ({token} is not a JSON value).")


def _depth(value: Any) -> int:
    """How deeply containers nest in ``value`` (an object holding a list is 2), walked without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        if depth <= MAX_JSON_DEPTH:
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def _is_json(content_type: str | None) -> bool:
    # Only the media type counts, ignoring case and parameters; the contract answers 415 for everything
    # else, including application/*+json (no route speaks a JSON dialect such as merge-patch).
    return (content_type or "").split(";", 1)[0].strip().lower() == JSON_MEDIA_TYPE


def decode_json_body(content_type: str | None, body: str | None, is_base64_encoded: bool) -> dict[str, Any]:
    """The request body as a JSON object, or a ``DomainError`` saying why not (415 or 400).

    The stdlib ``json`` with hooks covers every check (duplicate keys, number length, NaN) at C speed
    except depth, which is one walk of the parsed value; a third-party parser would add a dependency
    to every function's package for no check this one lacks.
    """
    if not body:
        raise BadRequest("The request body must be a JSON object.")
    if not _is_json(content_type):
        raise UnsupportedMediaType(f"The request body must be {JSON_MEDIA_TYPE}.")
    try:
        # API Gateway base64-encodes the binary media types; a text body reaches the function as a str
        # that may still hold lone surrogates, which strict encoding refuses.
        raw = base64.b64decode(body, validate=True) if is_base64_encoded else body.encode("utf-8")
        text = raw.decode("utf-8")
    except (binascii.Error, UnicodeError) as exc:
        raise BadRequest("The request body is not valid UTF-8.") from exc
    try:
        value = json.loads(
            text,
            object_pairs_hook=_unique_keys,
            parse_int=_bounded_int,
            parse_float=_bounded_float,
            parse_constant=_no_constant,
        )
    except RecursionError as exc:
        raise BadRequest(f"The request body nests deeper than {MAX_JSON_DEPTH} levels.") from exc
    except ValueError as exc:  # json.JSONDecodeError, including a byte-order mark
        raise BadRequest("The request body is not valid JSON.") from exc
    if not isinstance(value, dict):
        raise BadRequest("The request body must be a JSON object.")
    if _depth(value) > MAX_JSON_DEPTH:
        raise BadRequest(f"The request body nests deeper than {MAX_JSON_DEPTH} levels.")
    return value


class _DecodedBodyValidation(OpenAPIRequestValidationMiddleware):
    """Powertools' request validation, reading the body through ``decode_json_body``.

    Powertools asks for the body only on routes that declare one, before it validates anything, so
    this is the one decoding step for every route with a body. Its own parser would answer 500 for a
    Content-Type in capitals or not JSON, a missing multipart boundary, deep nesting or a long number.
    """

    def _get_body(self, app: EventHandlerInstance) -> dict[str, Any]:
        event = app.current_event
        return decode_json_body(event.headers.get("content-type"), event.body, bool(event.is_base64_encoded))


_BODY_ERRORS = {
    400: "Malformed request: body not valid UTF-8, not JSON, not an object, or beyond the nesting and "
    "number limits",
    415: f"The body's Content-Type is not {JSON_MEDIA_TYPE} (matched ignoring case and parameters)",
}


class ChirpResolver(APIGatewayRestResolver):
    """A validating REST resolver that decodes bodies with ``decode_json_body`` and documents the errors
    that decoding answers on every operation that takes a body."""

    def __init__(self) -> None:
        super().__init__(enable_validation=True, strip_prefixes=[BASE_PATH])
        self._request_validation_middleware = _DecodedBodyValidation()

    def get_openapi_schema(self, **kwargs: Any) -> OpenAPI:
        # Only the document needs the OpenAPI models (pydantic models of the whole specification).
        from aws_lambda_powertools.event_handler.openapi.models import Response as OpenAPIResponse

        schema = super().get_openapi_schema(**kwargs)
        error = {JSON_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
        for path in (schema.paths or {}).values():
            for operation in (path.post, path.put, path.patch, path.delete):
                if operation is None or operation.requestBody is None:
                    continue
                responses = operation.responses if operation.responses is not None else {}
                for status, description in _BODY_ERRORS.items():
                    responses[status] = OpenAPIResponse.model_validate(
                        {"description": description, "content": error}
                    )
                operation.responses = responses
        return schema


def build_app(*routers: Router) -> APIGatewayRestResolver:
    """A validating resolver with every router included and the contract's error mapping."""
    app = ChirpResolver()
    for router in routers:
        app.include_router(router)

    @app.exception_handler(DomainError)
    def _domain_error(exc: DomainError) -> Response:
        return _domain_response(exc)

    @app.exception_handler(RequestValidationError)
    def _invalid_request(exc: RequestValidationError) -> Response:
        errors = exc.errors()
        if any(err.get("type") == "json_invalid" for err in errors):
            return error_response(400, "malformed_request", "The request body is not valid JSON.")
        if any(err.get("type") == "model_attributes_type" and err.get("loc") == ("body",) for err in errors):
            return error_response(400, "malformed_request", "The request body must be a JSON object.")
        return error_response(422, "validation_error", "The request breaks a rule.", _validation_details(exc))

    @app.not_found
    def _not_found(_: Exception) -> Response:
        return error_response(404, "not_found", "No such route.")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        if dependency_unavailable(exc):
            # AWS's own "try again": the request was fine, a dependency was not (after the SDK's
            # retries). 503 with Retry-After, as the contract says, never a 500.
            logger.warning("dependency unavailable after retries", exc_info=exc)
            return _domain_response(Unavailable())
        logger.exception("unhandled error")
        return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", "Something went wrong.")

    return app


def _domain_response(exc: DomainError) -> Response:
    retry_after = exc.retry_after_seconds
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return error_response(exc.status, exc.code, exc.message, exc.details, headers)


UNAVAILABLE_CODES = frozenset(
    {
        # botocore's throttling codes (botocore.retries.standard), what DynamoDB, SQS and Cognito send
        # when they refuse for capacity: retried by the SDK, and still there when the retries ran out.
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        # The services' own failures (HTTP 500 and 503).
        "InternalServerError",
        "InternalFailure",
        "InternalError",
        "InternalErrorException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)
"""AWS error codes that mean "the dependency is unavailable, try again later", not "the request or the
code is wrong"."""


def dependency_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it: PynamoDB's and Powertools' errors wrap botocore's) is an AWS
    dependency refusing or failing after the SDK's retries: a throttling or 5xx error code, an HTTP
    status of 500 or more, a connection failure, or a ``RetriesExhausted`` (work a batch call still
    left undone after its own retries). Decided by error codes and types, never by message text."""
    from botocore.exceptions import ClientError, HTTPClientError
    from botocore.exceptions import ConnectionError as BotocoreConnectionError
    from pynamodb.exceptions import PynamoDBException

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ClientError):
            status = current.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if current.response.get("Error", {}).get("Code") in UNAVAILABLE_CODES:
                return True
            if isinstance(status, int) and status >= 500:
                return True
        if isinstance(current, BotocoreConnectionError | HTTPClientError | RetriesExhausted):
            return True
        cause = current.cause if isinstance(current, PynamoDBException) else None
        current = cause or current.__cause__ or current.__context__
    return False


SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff"}
"""Set on every response: no client may sniff a JSON error or document into something executable."""
DEFAULT_HEADERS = {"Cache-Control": "no-store"}
"""Set unless the route chose its own. Every API response is either per caller (``followed_by_me``,
``liked_by_me``) or holds tokens (login, refresh), so no cache may keep one unless the route says so."""


def with_security_headers(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` (a proxy response) with ``SECURITY_HEADERS`` and, where absent, ``DEFAULT_HEADERS``."""
    multi = result.get("multiValueHeaders")
    single = result.get("headers")
    present = {name.lower() for name in {**(single or {}), **(multi or {})}}
    wanted = {**{k: v for k, v in DEFAULT_HEADERS.items() if k.lower() not in present}, **SECURITY_HEADERS}
    return _put_headers(result, wanted)


def _put_headers(result: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    """``result`` with ``headers`` set, in ``multiValueHeaders`` when the response uses it."""
    multi = result.get("multiValueHeaders")
    single = result.get("headers")
    if multi is None:
        result["headers"] = {**(single or {}), **headers}
        return result
    for name, value in headers.items():
        multi[name] = [value]
        if single:
            single.pop(name, None)  # one value per header: API Gateway merges the two maps
    return result


def with_cors(event: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """``result`` with the CORS headers for the request's ``Origin`` (``functions/core/cors.py``)."""
    extra = cors.response_headers(cors.request_origin(event.get("headers")), cors.configured_origins())
    return _put_headers(result, extra) if extra else result
