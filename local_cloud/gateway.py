"""The local API gateway: HTTP in, API Gateway REST proxy event to the real handler, HTTP out.

It does what API Gateway does in front of the deployed functions, from the same route table
(``infra.resources.SPEC.routes``): route matching under BASE_PATH, the Cognito authorizer on protected
routes (RS256 signature against the pool's JWKS, issuer, ``token_use == "access"``, ``client_id``,
expiry), the 10 MB payload limit, and the gateway responses the stack configures (unknown route -> 404,
bad token -> 401, too large -> 413), all in the contract's error shape.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from infra.resources import BASE_PATH, MAX_BODY_BYTES, Route, ServiceSpec
from local_cloud.lambda_runtime import Handler, LazyHandler, LocalLambdaContext

_TEXT_TYPES = ("application/json", "text/", "application/x-www-form-urlencoded", "application/xml")


@dataclass(frozen=True)
class CognitoVerifier:
    """Verifies access tokens like API Gateway's Cognito user pool authorizer."""

    issuer: str
    jwks_url: str
    client_id: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "_jwks", jwt.PyJWKClient(self.jwks_url, cache_keys=True))

    def claims(self, authorization: str | None) -> dict[str, Any] | None:
        """The verified claims, or None when the header is missing or the token is not acceptable."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        try:
            key = self._jwks.get_signing_key_from_jwt(token.strip())  # type: ignore[attr-defined]
            claims: dict[str, Any] = jwt.decode(
                token.strip(),
                key.key,
                algorithms=["RS256"],
                issuer=self.issuer,
                options={"require": ["exp", "iss", "sub", "token_use"], "verify_aud": False},
            )
        except jwt.PyJWTError:
            return None
        # Access tokens carry client_id instead of aud; ID tokens are refused like the stack's scope check.
        if claims.get("token_use") != "access" or claims.get("client_id") != self.client_id:
            return None
        return claims


def _error(status: int, code: str, message: str) -> Response:
    body = json.dumps({"error": {"code": code, "message": message}})
    return Response(body, status=status, content_type="application/json")


def _path_rule(route: Route) -> str:
    return (BASE_PATH + route.path).replace("{", "<").replace("}", ">")


class LocalGateway:
    """A WSGI application standing in for the deployed REST API."""

    def __init__(
        self,
        spec: ServiceSpec,
        verifier: CognitoVerifier,
        stage: str = "local",
        handlers: Mapping[str, Handler] | None = None,
    ) -> None:
        """``handlers`` maps function names to their execution environments (the local cloud's function
        processes); a function not in it runs in this process (``LazyHandler``, for tests)."""
        self.spec = spec
        self.verifier = verifier
        self.stage = stage
        self._functions = dict(handlers or {})
        self._handlers: dict[str, LazyHandler] = {}
        self.url_map = Map(
            [Rule(_path_rule(r), methods=[r.method], endpoint=r) for r in spec.routes],
            strict_slashes=False,
            merge_slashes=False,
        )
        # Local extras that the stack does not deploy: Swagger UI is served by the docs function.
        self.url_map.add(
            Rule(BASE_PATH + "/docs", methods=["GET"], endpoint=Route("GET", "/docs", "docs-api", False))
        )

    def _handler(self, name: str, dotted: str) -> Handler:
        if name in self._functions:
            return self._functions[name]
        if dotted not in self._handlers:
            self._handlers[dotted] = LazyHandler(dotted)
        return self._handlers[dotted]

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        return self.dispatch(request)(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            route, params = adapter.match(request.path, method=request.method)
        except (NotFound, MethodNotAllowed):
            return _error(404, "not_found", "No such route.")
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return _error(413, "payload_too_large", f"The body is larger than {MAX_BODY_BYTES} bytes.")
        body = request.get_data(cache=False)
        if len(body) > MAX_BODY_BYTES:  # chunked bodies carry no Content-Length
            return _error(413, "payload_too_large", f"The body is larger than {MAX_BODY_BYTES} bytes.")
        claims = None
        if route.auth:
            claims = self.verifier.claims(request.headers.get("Authorization"))
            if claims is None:
                return _error(401, "unauthorized", "A valid access token is required.")
        event = self.proxy_event(request, route, dict(params), body, claims)
        function = self.spec.function(route.function)
        context = LocalLambdaContext(function.name, function.memory_mb, function.timeout_seconds)
        try:
            result = self._handler(function.name, function.handler)(event, context)
        except Exception:  # noqa: BLE001 - like API Gateway: a crashed integration is a 502
            return _error(502, "internal_error", "The function failed.")
        return self.http_response(result)

    def proxy_event(
        self,
        request: Request,
        route: Route,
        params: dict[str, str],
        body: bytes,
        claims: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """An API Gateway REST (payload v1) proxy event, shaped like the real one."""
        content_type = request.headers.get("Content-Type", "")
        is_text = not body or any(content_type.startswith(t) for t in _TEXT_TYPES)
        multi_query = {k: request.args.getlist(k) for k in request.args} or None
        now = datetime.now(UTC)
        resource = BASE_PATH + route.path
        return {
            "resource": resource,
            "path": request.path,
            "httpMethod": request.method,
            "headers": dict(request.headers.items()) or None,
            "multiValueHeaders": {k: request.headers.getlist(k) for k in request.headers.keys()} or None,  # noqa: SIM118 - Headers iterates pairs
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} if multi_query else None,
            "multiValueQueryStringParameters": multi_query,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": {
                "resourcePath": resource,
                "httpMethod": request.method,
                "path": f"/{self.stage}{request.path}",
                "stage": self.stage,
                "requestId": str(uuid.uuid4()),
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "requestTimeEpoch": int(time.time() * 1000),
                "identity": {
                    "sourceIp": request.remote_addr or "127.0.0.1",
                    "userAgent": request.user_agent.string,
                },
                "authorizer": {"claims": {k: _claim_str(v) for k, v in claims.items()}} if claims else None,
                "accountId": "123456789012",
                "apiId": "local",
                "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            },
            "body": (body.decode("utf-8", errors="replace") if is_text else base64.b64encode(body).decode())
            if body
            else None,
            "isBase64Encoded": bool(body) and not is_text,
        }

    @staticmethod
    def http_response(result: dict[str, Any]) -> Response:
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode("utf-8")
        response = Response(raw, status=int(result.get("statusCode", 200)))
        response.headers.clear()
        for name, value in (result.get("headers") or {}).items():
            response.headers[name] = str(value)
        for name, values in (result.get("multiValueHeaders") or {}).items():
            response.headers.remove(name)
            for value in values:
                response.headers.add(name, str(value))
        return response


def _claim_str(value: Any) -> str:
    # API Gateway hands claims to the integration as strings.
    return (
        value
        if isinstance(value, str)
        else json.dumps(value)
        if isinstance(value, (list, dict))
        else str(value)
    )
