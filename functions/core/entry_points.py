"""The Lambda handler of every API function, cheap to import.

A handler module imports only this (Powertools' logger and metrics, the lazily built tracer): the
domain's routes, the validating resolver (``functions.core.http``, Powertools' event handler and its
pydantic models), the data layer (PynamoDB, boto3) and the tracer's X-Ray SDK load on the first
invocation, inside it. Lambda reports that work in the first invocation's duration instead of the
init duration; ``bench/assets.py`` measures both.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.logging import correlation_paths

from functions.core.observability import logger, metrics, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver
    from aws_lambda_powertools.event_handler.api_gateway import Router
    from aws_lambda_powertools.utilities.typing import LambdaContext

Handler = Callable[[dict[str, Any], "LambdaContext"], dict[str, Any]]


def api_entry_point(resolve: Handler) -> Handler:
    """The Lambda handler of an API function: Powertools' logger (the API Gateway request id as the
    correlation id), tracer and metrics around ``resolve``, and the security headers on its response.
    One decorator stack for every API function."""

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    # Responses carry tokens (log-in, refresh) and private profile fields: never record them in X-Ray.
    @tracer.capture_lambda_handler(capture_response=False)
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        from functions.core.http import with_cors, with_security_headers

        return with_cors(event, with_security_headers(resolve(event, context)))

    return lambda_handler


def lazy_resolver(routers: Callable[[], Sequence[Router]] | str) -> Handler:
    """``resolve(event, context)`` of the resolver built from ``routers()`` on the first call and kept
    for the execution environment (``routers`` imports the domain's routes: keep that import inside it).
    A module name instead of ``routers``: that module's ``router`` alone, imported on the first call."""
    if isinstance(routers, str):
        routers = partial(_module_router, routers)
    app: APIGatewayRestResolver | None = None

    def resolve(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        nonlocal app
        if app is None:
            from functions.core.http import build_app

            app = build_app(*routers())
        return app.resolve(event, context)

    return resolve


def _module_router(module: str) -> list[Router]:
    return [importlib.import_module(module).router]
