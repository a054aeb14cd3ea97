"""Health, the OpenAPI document and (locally) Swagger UI."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer, Server
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core.config import get_settings
from functions.core.http import BASE_PATH, build_app
from functions.core.observability import logger, metrics, tracer
from functions.docs.catalog import domain_routers

router = Router()
TITLE = "Chirp API"
VERSION = "1.0.0"
DESCRIPTION = (
    "A Twitter-style timeline service. Tweet IDs are ULIDs: a later tweet has a greater ID when the "
    "IDs are compared as strings. Errors always have the body "
    '`{"error": {"code", "message", "details?"}}`. Every route needs `Authorization: Bearer '
    "<access_token>` except /health, /openapi.json, /docs and /auth/*."
)


@router.get("/health", tags=["meta"], summary="Liveness")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/openapi.json", tags=["meta"], summary="This document")
def openapi() -> dict[str, Any]:
    return openapi_document()


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    """Generated from the routes' pydantic models of every domain, never hand-written."""
    full = build_app(router, *domain_routers())
    schema = full.get_openapi_json_schema(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        servers=[Server(url=BASE_PATH)],
        security_schemes={"bearer": HTTPBearer(bearerFormat="JWT")},
        security=[{"bearer": []}],
    )
    document: dict[str, Any] = json.loads(schema)
    return document


@lru_cache(maxsize=1)
def _app() -> Any:
    app = build_app(router)
    if get_settings().stage == "local":
        app.enable_swagger(path="/docs", title=TITLE, version=VERSION, servers=[Server(url=BASE_PATH)])
    return app


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _app().resolve(event, context)
