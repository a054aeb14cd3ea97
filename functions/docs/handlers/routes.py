"""Routes of the docs function: health, the OpenAPI document and (locally) Swagger UI."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Response, Router

from functions.core.http import BASE_PATH, ErrorBody, build_app
from functions.docs.catalog import PUBLIC_PATHS, domain_routers
from functions.docs.swagger import swagger_page

router = Router()
local_router = Router()
"""Routes the local runtime serves and the stack does not deploy (the gateway adds them locally)."""
TITLE = "Chirp API"
VERSION = "1.0.0"
DESCRIPTION = (
    "A Twitter-style timeline service. Tweet IDs are ULIDs: a later tweet has a greater ID when the "
    "IDs are compared as strings. Errors always have the body "
    '`{"error": {"code", "message", "details?"}}`. Every route needs `Authorization: Bearer '
    "<access_token>` except /health, /openapi.json, /docs and /auth/*."
)
BEARER_SCHEME = "bearerAuth"
"""The security scheme of every route that needs a token (Swagger UI's Authorize button fills it)."""


@router.get("/health", tags=["meta"], summary="Liveness")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/openapi.json", tags=["meta"], summary="This document")
def openapi() -> dict[str, Any]:
    return openapi_document()


@local_router.get("/docs", include_in_schema=False)
def docs() -> Response[str]:
    """Swagger UI on the whole API's document (local runtime only)."""
    return Response(
        status_code=200,
        content_type="text/html; charset=utf-8",
        body=swagger_page(f"{BASE_PATH}/openapi.json", TITLE),
    )


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    """Generated from the routes' pydantic models of every domain, never hand-written."""
    # Imported here: the OpenAPI models are pydantic models of the whole specification, which /health
    # does not need.
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer, Server

    full = build_app(router, *domain_routers())
    schema = full.get_openapi_json_schema(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        servers=[Server(url=BASE_PATH)],
        security_schemes={BEARER_SCHEME: HTTPBearer(bearerFormat="JWT")},
        security=[{BEARER_SCHEME: []}],
    )
    document: dict[str, Any] = json.loads(schema)
    return _with_contract_errors(_without_bodies_on_no_content(document))


def _without_bodies_on_no_content(document: dict[str, Any]) -> dict[str, Any]:
    """A 204 answers with no body and no Content-Type; Powertools still documents a JSON ``null`` for
    the handler's ``None``, which clients and schema checkers would then expect."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            no_content = operation.get("responses", {}).get("204")
            if no_content is not None:
                no_content.pop("content", None)
    return document


_ERROR_STATUSES = {
    "400": "Malformed request: body not JSON, or a bad cursor (code invalid_cursor)",
    "401": "Missing, malformed, forged or expired token; wrong password",
    "403": "Authenticated but not allowed",
    "404": "Unknown resource or route",
    "409": "Conflict: username or e-mail taken",
    "413": "Body larger than 10 MB",
    "422": "Well-formed input that breaks a rule (details name the fields)",
    "429": "Rate limit hit; see the Retry-After header (seconds)",
    "503": "A dependency is unavailable after retries (code service_unavailable); see the Retry-After header",
}


def _with_contract_errors(document: dict[str, Any]) -> dict[str, Any]:
    """Describe the contract's error body on every operation, and which routes need no token.

    Powertools documents validation failures with its own schema; this service answers every error
    with ``ErrorBody`` (functions.core.http), so the document says that instead.
    """
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in (
        ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}").pop("$defs", {}).items()
    ):
        schemas[name] = schema
    schemas["ErrorBody"] = {
        k: v
        for k, v in ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}").items()
        if k != "$defs"
    }
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    for path, operations in document.get("paths", {}).items():
        public = path.startswith(PUBLIC_PATHS)
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, description in _ERROR_STATUSES.items():
                if status == "401" and public and not path.startswith("/auth/"):
                    continue
                responses[status] = {"description": description, "content": error}
            # Stated on each operation as well as globally, for clients that read only the operation.
            operation["security"] = [] if public else [{BEARER_SCHEME: []}]
    return document
