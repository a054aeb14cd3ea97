"""The local API gateway: HTTP in, API Gateway REST proxy event to the real handler, HTTP out.

It does what API Gateway does in front of the deployed functions, from the same route table
(``infra.resources.SPEC.routes``): route matching under BASE_PATH, the Cognito authorizer on protected
routes (RS256 signature against the pool's JWKS, issuer, ``token_use == "access"``, ``client_id``,
expiry), the 10 MB payload limit, and the gateway responses the stack configures (unknown route -> 404,
bad token -> 401, too large -> 413), and, when ``LOCAL_AUTH_RATE_LIMIT`` asks for it, the WAF rule that
limits auth requests per client address (429), all in the contract's error shape with ``nosniff``. Its
HTTP server names no software (``GatewayRequestHandler``), and answers the requests it cannot parse (bad
request line, headers too large) in the contract's shape too.
"""

from __future__ import annotations

import base64
import json
import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, Protocol

import jwt
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge
from werkzeug.routing import Map, Rule
from werkzeug.serving import WSGIRequestHandler
from werkzeug.wrappers import Request, Response

from functions.core import cors
from infra.resources import (
    AUTH_PATH_PREFIX,
    AUTH_RATE_WINDOW_SECONDS,
    BASE_PATH,
    MAX_BODY_BYTES,
    Route,
    ServiceSpec,
)
from local_cloud.lambda_runtime import Handler, LazyHandler, LocalLambdaContext
from local_cloud.uploads import StorageFront

_TEXT_TYPES = ("application/json", "text/", "application/x-www-form-urlencoded", "application/xml")


ACCESS_SCOPE = "aws.cognito.signin.user.admin"
"""The OAuth scope the stack's authorizer requires (``infra/constructs/api.py``): only access tokens
carry it."""

# Cognito writes its time claims as integer seconds; PyJWT would take "9999999999" as well, so their type is
# checked here. exp and iat are in every token Cognito issues; auth_time and nbf are checked when present.
_REQUIRED_TIMES = ("exp", "iat")
_OPTIONAL_TIMES = ("auth_time", "nbf")


class SigningKeys(Protocol):
    """Where the verifier finds the key a token names in its ``kid`` header (the pool's JWKS)."""

    def get_signing_key_from_jwt(self, token: str) -> jwt.PyJWK:
        """The key for the token's ``kid``; raises ``jwt.PyJWTError`` when there is none."""
        ...


@dataclass(frozen=True)
class CognitoVerifier:
    """Verifies access tokens like API Gateway's Cognito user pool authorizer.

    ``signing_keys`` replaces the pool's JWKS endpoint (tests sign tokens with their own key)."""

    issuer: str
    jwks_url: str
    client_id: str
    signing_keys: SigningKeys | None = field(default=None, repr=False, compare=False)
    _keys: SigningKeys = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        keys = self.signing_keys or jwt.PyJWKClient(self.jwks_url, cache_keys=True)
        object.__setattr__(self, "_keys", keys)

    def claims(self, authorization: str | None) -> dict[str, Any] | None:
        """The verified claims, or None when the header is missing or the token is not acceptable."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        try:
            key = self._keys.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                issuer=self.issuer,
                options={"require": ["exp", "iat", "iss", "sub", "token_use"], "verify_aud": False},
            )
        except jwt.PyJWTError:
            return None
        return claims if self._acceptable(claims) else None

    def _acceptable(self, claims: dict[str, Any]) -> bool:
        """What PyJWT does not check: the claims' types, the token's use, its client and its scope."""
        present = [name for name in _OPTIONAL_TIMES if name in claims]
        if not all(_is_numeric_date(claims[name]) for name in (*_REQUIRED_TIMES, *present)):
            return False
        scope = claims.get("scope")
        # Access tokens carry client_id instead of aud; ID tokens carry neither client_id nor the scope.
        return (
            claims.get("token_use") == "access"
            and claims.get("client_id") == self.client_id
            and isinstance(scope, str)
            and ACCESS_SCOPE in scope.split(" ")
        )


def _is_numeric_date(value: Any) -> bool:
    """A JSON number of seconds (RFC 7519 NumericDate): not a string, not a boolean, finite."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


_ERROR_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


def _error_body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


def _error(status: int, code: str, message: str) -> Response:
    return Response(
        _error_body(code, message), status=status, content_type="application/json", headers=_ERROR_HEADERS
    )


AUTH_RATE_LIMIT_VARIABLE = "LOCAL_AUTH_RATE_LIMIT"


def auth_rate_limit_from(environ: Mapping[str, str]) -> int:
    """Auth requests per client address per AUTH_RATE_WINDOW_SECONDS that ``LOCAL_AUTH_RATE_LIMIT`` asks
    for; 0 (off) when it is unset or empty. Off by default because every local client shares 127.0.0.1, so
    the deployed limit (``infra.resources.AUTH_RATE_LIMIT``) would be shared by every test and tool."""
    raw = environ.get(AUTH_RATE_LIMIT_VARIABLE, "").strip()
    if not raw:
        return 0
    try:
        limit = int(raw)
    except ValueError:
        raise ValueError(
            f"{AUTH_RATE_LIMIT_VARIABLE} must be a whole number of requests, not {raw!r}"
        ) from None
    if limit < 0:
        raise ValueError(f"{AUTH_RATE_LIMIT_VARIABLE} must not be negative, not {limit}")
    return limit


class AuthRateLimiter:
    """A sliding window of admitted requests per client address, like the stack's WAF rate rule: at most
    ``limit`` in any ``window_seconds``. Thread-safe (the gateway's server is threaded)."""

    def __init__(
        self,
        limit: int,
        window_seconds: float = AUTH_RATE_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._clock = clock
        self._admitted: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, address: str) -> int | None:
        """None when a request from ``address`` is admitted (and counted), else the whole seconds until
        its oldest counted request leaves the window."""
        now = self._clock()
        with self._lock:
            admitted = self._admitted.setdefault(address, deque())
            while admitted and admitted[0] <= now - self.window_seconds:
                admitted.popleft()
            if len(admitted) < self.limit:
                admitted.append(now)
                return None
            return max(1, math.ceil(admitted[0] + self.window_seconds - now))


def _rate_limited(retry_after: int) -> Response:
    response = _error(429, "rate_limited", "Too many sign-up or log-in requests from this address.")
    response.headers["Retry-After"] = str(retry_after)
    return response


# The errors http.server answers itself, before the gateway sees a request; all are the client's mistake.
_PARSE_ERRORS: dict[int, tuple[str, str]] = {
    HTTPStatus.REQUEST_URI_TOO_LONG: ("uri_too_long", "The request line is too long."),
    HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE: ("headers_too_large", "The request headers are too large."),
}


class GatewayRequestHandler(WSGIRequestHandler):
    """Werkzeug's request handler without the ``Server`` header (it names Werkzeug and Python with their
    versions), and with http.server's HTML error pages replaced by the contract's error body."""

    timeout = 30.0
    """Seconds a connection may sit without sending: a client that stops halfway through its request line,
    headers or body is dropped instead of holding a server thread for ever (API Gateway drops it too)."""

    def send_response(self, code: int, message: str | None = None) -> None:
        # BaseHTTPRequestHandler.send_response less its Server header.
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer a request http.server could not parse. Only client input leads here, so a 5xx it picks
        (505 for an HTTP version it does not speak) becomes 400: a client mistake is never a 5xx."""
        status = code if 400 <= code < 500 else int(HTTPStatus.BAD_REQUEST)
        error_code, text = _PARSE_ERRORS.get(status, ("malformed_request", "The request is not valid HTTP."))
        self.log_error("code %d, message %s", status, message or text)
        body = _error_body(error_code, text)
        # A request line that did not parse leaves http.server assuming HTTP/0.9, which would send the
        # body without a status line or headers; every client of this gateway speaks HTTP/1.x.
        if self.request_version == "HTTP/0.9":
            self.request_version = "HTTP/1.0"
        self.send_response(status)
        self.send_header("Connection", "close")
        self.send_header("Content-Type", "application/json")
        for name, value in _ERROR_HEADERS.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if getattr(self, "command", None) != "HEAD":
            self.wfile.write(body)


def _path_rule(route: Route) -> str:
    return (BASE_PATH + route.path).replace("{", "<").replace("}", ">")


class LocalGateway:
    """A WSGI application standing in for the deployed REST API."""

    request_handler = GatewayRequestHandler
    """The request handler for the HTTP server that serves this gateway."""

    def __init__(
        self,
        spec: ServiceSpec,
        verifier: CognitoVerifier,
        stage: str = "local",
        handlers: Mapping[str, Handler] | None = None,
        auth_rate_limit: int = 0,
        rate_clock: Callable[[], float] = time.monotonic,
        storage: StorageFront | None = None,
        cors_origins: tuple[str, ...] = (),
    ) -> None:
        """``handlers`` maps function names to their execution environments (the local cloud's function
        processes); a function not in it runs in this process (``LazyHandler``, for tests).
        ``auth_rate_limit`` is the number of requests under AUTH_PATH_PREFIX one client address may make
        per AUTH_RATE_WINDOW_SECONDS (0: unlimited); ``rate_clock`` is the limiter's clock, for tests.
        ``cors_origins``: browser origins that may call (``functions/core/cors.py``): the gateway answers
        their preflights and puts the CORS headers on its own errors, as API Gateway does."""
        self.spec = spec
        self.storage = storage
        """S3's upload endpoint and the media CDN, on the same port (``local_cloud.uploads``)."""
        self.verifier = verifier
        self.stage = stage
        self._functions = dict(handlers or {})
        self._handlers: dict[str, LazyHandler] = {}
        self.auth_limiter = AuthRateLimiter(auth_rate_limit, clock=rate_clock) if auth_rate_limit else None
        self.cors_origins = cors_origins
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
        request = _GatewayRequest(environ)
        try:
            response = self.preflight(request) or self.dispatch(request)
        except HTTPException as exc:  # werkzeug's own client errors, e.g. a broken chunked body
            code = exc.code if exc.code and 400 <= exc.code < 500 else 400
            response = _error(code, "malformed_request", "The request is not valid HTTP.")
        except Exception:  # noqa: BLE001 - werkzeug would answer an HTML page naming itself
            response = _error(500, "internal_error", "Something went wrong.")
        for name, value in cors.response_headers(request.headers.get("Origin"), self.cors_origins).items():
            response.headers.setdefault(name, value)  # the gateway's own errors; functions set their own
        return response(environ, start_response)

    def preflight(self, request: Request) -> Response | None:
        """API Gateway's mock answer to a CORS preflight on a route's path (None: not a preflight)."""
        if request.method != "OPTIONS" or not self.cors_origins:
            return None
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            adapter.match(request.path, method="OPTIONS")
        except MethodNotAllowed:  # the path is a route's, for other methods: answer its preflight
            headers = cors.preflight_headers(request.headers.get("Origin"), self.cors_origins)
            return Response(b"", status=204, headers=headers)
        except NotFound:
            return None
        return None

    def dispatch(self, request: Request) -> Response:
        if self.storage is not None and self.storage.handles(request.path):
            return self.storage.dispatch(request)  # S3 and CloudFront, not API Gateway
        # First, as WAF answers before API Gateway routes: unknown auth paths count too.
        if self.auth_limiter is not None and request.path.startswith(AUTH_PATH_PREFIX):
            retry_after = self.auth_limiter.retry_after(request.remote_addr or "")
            if retry_after is not None:
                return _rate_limited(retry_after)
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            route, params = adapter.match(request.path, method=request.method)
        except (NotFound, MethodNotAllowed):
            return _error(404, "not_found", "No such route.")
        try:
            body = _read_body(request)
        except RequestEntityTooLarge:
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
        content_type = request.headers.get("Content-Type", "").lower()
        text = _text(body) if any(content_type.startswith(t) for t in _TEXT_TYPES) else None
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
            "body": (text if text is not None else base64.b64encode(body).decode()) if body else None,
            "isBase64Encoded": bool(body) and text is None,
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


class _GatewayRequest(Request):
    # One byte over the limit: werkzeug stops reading a chunked body quietly when it reaches
    # max_content_length, so a body exactly at the limit and one a byte over would read the same.
    max_content_length = MAX_BODY_BYTES + 1


def _read_body(request: Request) -> bytes:
    """The body, read from the socket in bounded pieces and never more than one byte past the limit;
    raises ``RequestEntityTooLarge`` as soon as a Content-Length or a chunked body passes it."""
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise RequestEntityTooLarge()
    body = request.get_data(cache=False)
    if len(body) > MAX_BODY_BYTES:  # a chunked body, which carries no Content-Length
        raise RequestEntityTooLarge()
    return body


def _text(body: bytes) -> str | None:
    """A text body as the str API Gateway passes on, or None when it is not UTF-8: then it is passed
    base64-encoded, byte for byte, instead of with replacement characters, so the function refuses it."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _claim_str(value: Any) -> str:
    # API Gateway hands claims to the integration as strings.
    return (
        value
        if isinstance(value, str)
        else json.dumps(value)
        if isinstance(value, (list, dict))
        else str(value)
    )
