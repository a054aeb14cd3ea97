"""The caller's identity, taken only from claims that API Gateway's Cognito authorizer verified."""

from __future__ import annotations

from typing import Any

from functions.core.errors import Unauthorized


def caller_id(event: Any) -> str:
    """Return the verified ``sub`` of the caller, or raise Unauthorized.

    ``event`` is the Powertools APIGatewayProxyEvent. The claims come from
    ``requestContext.authorizer.claims``, which only the authorizer (API Gateway on AWS, the local
    gateway locally) fills in after verifying the access token; headers are never trusted.
    """
    claims = event.request_context.authorizer.claims or {}
    if claims.get("token_use") != "access" or not claims.get("sub"):
        raise Unauthorized("A valid access token is required.")
    return str(claims["sub"])
