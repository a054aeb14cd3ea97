"""The REST API: one method per SPEC route, a Cognito authorizer, and contract-shaped gateway errors."""

from __future__ import annotations

import json

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from functions.core import cors
from infra.constructs.nag import acknowledge
from infra.resources import AUTH_PATH_PREFIX, BASE_PATH, Route
from infra.stages import StageConfig

ACCESS_LOG_FIELDS = {
    # Who and what: the request (and API Gateway's own id for support cases), the caller.
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "requestTime": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "user": "$context.authorizer.claims.sub",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "path": "$context.path",
    "protocol": "$context.protocol",
    # What happened, and where the time went.
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integration.latency",
    "integrationStatus": "$context.integration.status",
    "errorMessage": "$context.error.message",
    "errorType": "$context.error.responseType",
    "authorizerError": "$context.authorizer.error",
    "wafStatus": "$context.waf.status",
    "xrayTraceId": "$context.xrayTraceId",
}
"""One JSON line per request with what an operator needs to follow a complaint to a trace and a log line:
ids, caller, route, status, latencies (total and the function's), gateway and WAF errors."""
RETENTION = {30: logs.RetentionDays.ONE_MONTH, 90: logs.RetentionDays.THREE_MONTHS}
ACCESS_TOKEN_SCOPE = "aws.cognito.signin.user.admin"
"""Only access tokens carry this scope, so requiring it makes the authorizer reject ID tokens."""

_MESSAGE = "$context.error.messageString"  # already a quoted JSON string
GATEWAY_ERRORS: tuple[tuple[str, apigw.ResponseType, str | None, str, str], ...] = (
    ("Unauthorized", apigw.ResponseType.UNAUTHORIZED, "401", "unauthorized", _MESSAGE),
    ("ExpiredToken", apigw.ResponseType.EXPIRED_TOKEN, "401", "unauthorized", _MESSAGE),
    ("InvalidSignature", apigw.ResponseType.INVALID_SIGNATURE, "401", "unauthorized", _MESSAGE),
    # API Gateway answers unknown routes with MISSING_AUTHENTICATION_TOKEN (403): say what it means.
    (
        "UnknownRoute",
        apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN,
        "404",
        "not_found",
        '"Route not found"',
    ),
    ("ResourceNotFound", apigw.ResponseType.RESOURCE_NOT_FOUND, "404", "not_found", _MESSAGE),
    ("RequestTooLarge", apigw.ResponseType.REQUEST_TOO_LARGE, "413", "payload_too_large", _MESSAGE),
    ("AccessDenied", apigw.ResponseType.ACCESS_DENIED, "403", "forbidden", _MESSAGE),
    ("Throttled", apigw.ResponseType.THROTTLED, "429", "rate_limited", _MESSAGE),
    ("Default4xx", apigw.ResponseType.DEFAULT_4_XX, None, "bad_request", _MESSAGE),
    ("Default5xx", apigw.ResponseType.DEFAULT_5_XX, None, "internal_error", _MESSAGE),
)
"""(construct id, type, status override, contract error code, message expression) per gateway response."""


def error_template(code: str, message: str) -> str:
    """The contract body ``{"error": {"code": ..., "message": ...}}`` as a mapping template."""
    return f'{{"error": {{"code": "{code}", "message": {message}}}}}'


class Api(Construct):
    """REST API at stage ``stage`` with access and execution logs, X-Ray and stage throttling."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        routes: tuple[Route, ...],
        functions: dict[str, lambda_.Function],
        user_pool: cognito.IUserPool,
        config: StageConfig,
        cors_origins: tuple[str, ...] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        stage = config.name
        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=RETENTION[config.log_retention_days],
            removal_policy=config.removal_policy,
        )
        # /auth/* methods get a bucket of their own, tighter than the stage's (method settings are
        # keyed "<resource path>/<METHOD>").
        auth_methods = {
            f"{BASE_PATH}{route.path}/{route.method}": apigw.MethodDeploymentOptions(
                throttling_rate_limit=config.auth_throttle_rate,
                throttling_burst_limit=config.auth_throttle_burst,
                logging_level=apigw.MethodLoggingLevel.INFO,
                metrics_enabled=True,
                data_trace_enabled=False,
            )
            for route in routes
            if (BASE_PATH + route.path).startswith(AUTH_PATH_PREFIX)
        }
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=f"chirp-{stage}",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # Preflights are answered by API Gateway itself (no function call); the functions add the
            # same headers to their responses (functions/core/cors.py), the gateway errors below too.
            default_cors_preflight_options=apigw.CorsOptions(
                allow_origins=list(cors_origins),
                allow_methods=list(cors.ALLOW_METHODS),
                allow_headers=list(cors.ALLOW_HEADERS),
                expose_headers=list(cors.EXPOSE_HEADERS),
                max_age=Duration.seconds(cors.MAX_AGE_SECONDS),
            )
            if cors_origins
            else None,
            # The account's API Gateway logging role is an account-wide setting: the chirp-account stack
            # owns it (app.py), so deleting one stage cannot break another stage's logs.
            cloud_watch_role=False,
            deploy_options=apigw.StageOptions(
                stage_name=stage,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS)),
                logging_level=apigw.MethodLoggingLevel.INFO,
                data_trace_enabled=False,  # request/response bodies carry passwords and tokens
                tracing_enabled=True,
                metrics_enabled=True,
                throttling_rate_limit=config.throttle_rate,
                throttling_burst_limit=config.throttle_burst,
                method_options=auth_methods,
            ),
        )
        authorizer = apigw.CognitoUserPoolsAuthorizer(self, "Authorizer", cognito_user_pools=[user_pool])
        integrations = {
            name: apigw.LambdaIntegration(fn, allow_test_invoke=False) for name, fn in functions.items()
        }
        for route in routes:
            resource = self.rest_api.root.resource_for_path(BASE_PATH + route.path)
            integration = integrations[route.function]
            if route.auth:
                resource.add_method(
                    route.method,
                    integration,
                    authorizer=authorizer,
                    authorization_type=apigw.AuthorizationType.COGNITO,
                    authorization_scopes=[ACCESS_TOKEN_SCOPE],
                )
                continue
            method = resource.add_method(route.method, integration)
            reason = f"{route.method} {route.path} is public by design (no caller identity needed)."
            acknowledge(method, "AwsSolutions-APIG4", reason)
            acknowledge(method, "AwsSolutions-COG4", reason)
        for response_id, response_type, status, code, message in GATEWAY_ERRORS:
            self.rest_api.add_gateway_response(
                response_id,
                type=response_type,
                status_code=status,
                templates={"application/json": error_template(code, message)},
                # The functions set the same headers on their own responses (functions/core/http.py).
                response_headers={
                    "X-Content-Type-Options": "'nosniff'",
                    "Cache-Control": "'no-store'",
                    **_cors_error_headers(cors_origins),
                },
            )
        acknowledge(
            self.rest_api,
            "AwsSolutions-APIG2",
            "Request bodies and parameters are validated by the functions' pydantic models, which "
            "return the contract's error body; an API Gateway model would duplicate them.",
        )


def _cors_error_headers(origins: tuple[str, ...]) -> dict[str, str]:
    """CORS headers on API Gateway's own error responses (401, 403, 404, 413, 429, 5xx), so a browser
    can read them. One configured origin (or ``*``) is named as is; with several, the request's Origin
    is echoed: an error body holds nothing a page of another origin could use."""
    if not origins:
        return {}
    expose = {"Access-Control-Expose-Headers": f"'{','.join(cors.EXPOSE_HEADERS)}'"}
    if "*" in origins:
        return {"Access-Control-Allow-Origin": "'*'", **expose}
    value = f"'{origins[0]}'" if len(origins) == 1 else "method.request.header.Origin"
    return {"Access-Control-Allow-Origin": value, **expose, "Vary": "'Origin'"}
