"""The REST resolver every API function uses, and the one place errors become HTTP responses."""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from functions.core.errors import DomainError, RateLimited
from functions.core.observability import logger, metrics, tracer

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


def build_app(*routers: Router) -> APIGatewayRestResolver:
    """A validating resolver with every router included and the contract's error mapping."""
    app = APIGatewayRestResolver(enable_validation=True, strip_prefixes=[BASE_PATH])
    for router in routers:
        app.include_router(router)

    @app.exception_handler(DomainError)
    def _domain_error(exc: DomainError) -> Response:
        headers = {"Retry-After": str(exc.retry_after_seconds)} if isinstance(exc, RateLimited) else None
        return error_response(exc.status, exc.code, exc.message, exc.details, headers)

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
        logger.exception("unhandled error")
        return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", "Something went wrong.")

    return app


def api_entry_point(resolve: Handler) -> Handler:
    """The Lambda handler of an API function: Powertools' logger (the API Gateway request id as the
    correlation id), tracer and metrics around ``resolve``. One decorator stack for every API function."""

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return resolve(event, context)

    return lambda_handler
