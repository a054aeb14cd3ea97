"""The stack synthesised from the real SPEC (stage dev) deploys exactly what the SPEC says."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.grants import function_grants
from infra.resources import BASE_PATH, SPEC
from tests.infrastructure.template_resources import (
    describe_spec,
    describe_template,
    referenced_ids,
    resources_of,
    spec_ids,
)


def _by_spec_id(template: dict[str, Any], cfn_type: str) -> dict[str, dict[str, Any]]:
    ids = spec_ids(template)
    return {ids[k]: r for k, r in resources_of(template, cfn_type).items() if k in ids}


def _cfn_id(template: dict[str, Any], spec_id: str) -> str:
    return next(k for k, v in spec_ids(template).items() if v == spec_id)


def test_synthesis_passes_cdk_nag_without_findings(
    dev_synthesis: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    _, report = dev_synthesis
    assert all(plugin["conclusion"] == "success" for plugin in report["pluginReports"]), report


def test_template_describes_exactly_the_spec(template: dict[str, Any]) -> None:
    assert describe_template(template) == describe_spec(SPEC)


@pytest.mark.parametrize("table", SPEC.tables, ids=lambda t: t.logical_id)
def test_every_table_is_on_demand_with_pitr_encryption_and_its_keys(
    template: dict[str, Any], table: Any
) -> None:
    props = _by_spec_id(template, "AWS::DynamoDB::Table")[table.logical_id]["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert props["KeySchema"][0] == {"AttributeName": table.partition_key.name, "KeyType": "HASH"}
    declared = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    expected = {table.partition_key.name: table.partition_key.type}
    for key in [
        table.sort_key,
        *(i.partition_key for i in table.indexes),
        *(i.sort_key for i in table.indexes),
    ]:
        if key is not None:
            expected[key.name] = key.type
    assert declared == expected
    if table.stream:
        assert props["StreamSpecification"] == {"StreamViewType": table.stream}
    else:
        assert "StreamSpecification" not in props
    if table.ttl_attribute:
        assert props["TimeToLiveSpecification"] == {"AttributeName": table.ttl_attribute, "Enabled": True}
    else:
        assert "TimeToLiveSpecification" not in props


@pytest.mark.parametrize("queue", SPEC.queues, ids=lambda q: q.logical_id)
def test_every_queue_redrives_to_its_dlq(template: dict[str, Any], queue: Any) -> None:
    queues = _by_spec_id(template, "AWS::SQS::Queue")
    props = queues[queue.logical_id]["Properties"]
    assert props["RedrivePolicy"]["maxReceiveCount"] == queue.max_receive_count
    assert referenced_ids(props["RedrivePolicy"]["deadLetterTargetArn"]) == {
        _cfn_id(template, queue.dlq_logical_id)
    }
    assert props["VisibilityTimeout"] == queue.visibility_timeout_seconds
    assert queues[queue.dlq_logical_id]["Properties"]["MessageRetentionPeriod"] == queue.dlq_retention_seconds


def test_every_queue_refuses_requests_without_tls(template: dict[str, Any]) -> None:
    guarded = set()
    for policy in resources_of(template, "AWS::SQS::QueuePolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement["Condition"] == {
                "Bool": {"aws:SecureTransport": "false"}
            }:
                guarded |= referenced_ids(policy["Properties"]["Queues"])
    assert guarded == set(resources_of(template, "AWS::SQS::Queue"))


@pytest.mark.parametrize("route", SPEC.routes, ids=lambda r: f"{r.method} {r.path}")
def test_every_route_has_the_right_authorizer(template: dict[str, Any], route: Any) -> None:
    targets = describe_template(template)["route_targets"]
    assert targets[(route.method, BASE_PATH + route.path)] == {"function": route.function, "auth": route.auth}
    methods = [
        m["Properties"]
        for m in resources_of(template, "AWS::ApiGateway::Method").values()
        if m["Properties"]["HttpMethod"] == route.method
        and referenced_ids(m["Properties"]["Integration"]["Uri"]) & {_cfn_id(template, route.function)}
    ]
    if route.auth:
        assert any(
            m["AuthorizationType"] == "COGNITO_USER_POOLS"
            and m["AuthorizationScopes"] == ["aws.cognito.signin.user.admin"]
            and "AuthorizerId" in m
            for m in methods
        )
    else:
        assert any(m["AuthorizationType"] == "NONE" and "AuthorizerId" not in m for m in methods)


def test_authorizer_validates_tokens_of_the_user_pool(template: dict[str, Any]) -> None:
    Template.from_json(template).has_resource_properties(
        "AWS::ApiGateway::Authorizer",
        {"Type": "COGNITO_USER_POOLS", "IdentitySource": "method.request.header.Authorization"},
    )


def _policy_statements(template: dict[str, Any], function: str) -> list[dict[str, Any]]:
    fn = _by_spec_id(template, "AWS::Lambda::Function")[function]
    role = referenced_ids(fn["Properties"]["Role"]).pop()
    return [
        statement
        for policy in resources_of(template, "AWS::IAM::Policy").values()
        if role in referenced_ids(policy["Properties"]["Roles"])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


@pytest.mark.parametrize("function", SPEC.functions, ids=lambda f: f.name)
def test_each_function_is_granted_only_its_own_resources(template: dict[str, Any], function: Any) -> None:
    statements = _policy_statements(template, function.name)
    ids = spec_ids(template)
    named = {ids[i] for s in statements for i in referenced_ids(s["Resource"]) if i in ids}
    failure_queues = {m.on_failure for m in SPEC.mappings if m.function == function.name and m.on_failure}
    streams = {m.source for m in SPEC.mappings if m.function == function.name and m.kind == "stream"}
    queues = {m.source for m in SPEC.mappings if m.function == function.name and m.kind == "queue"}
    tables = {access.table for access in function.tables}
    expected = {*tables, *function.streams, *function.sends_to, *function.bucket_ids, *function.secrets}
    expected |= {access.domain for access in function.search}
    assert named == expected | failure_queues | streams | queues
    writes = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
    writable = {access.table for access in function.tables if access.write}
    for statement in statements:
        targets = {ids.get(i) for i in referenced_ids(statement["Resource"])}
        if writes & set(_as_list(statement["Action"])):
            assert targets <= writable, statement
        assert "dynamodb:Scan" not in _as_list(statement["Action"]), statement
    cognito = sorted(a for s in statements for a in _as_list(s["Action"]) if a.startswith("cognito-idp:"))
    assert cognito == sorted(f"cognito-idp:{action}" for action in function.cognito)


@pytest.mark.parametrize("function", SPEC.functions, ids=lambda f: f.name)
def test_each_declared_grant_is_one_statement_of_the_role(template: dict[str, Any], function: Any) -> None:
    # The same list (infra/grants.py) is what the local IAM guard enforces.
    statements = _policy_statements(template, function.name)
    ids = spec_ids(template)
    for pool_id in resources_of(template, "AWS::Cognito::UserPool"):
        ids[pool_id] = SPEC.user_pool.logical_id
    for grant in function_grants(SPEC, function):
        matching = [
            s
            for s in statements
            if sorted(_as_list(s["Action"])) == sorted(grant.actions)
            and grant.resource.logical_id in {ids.get(i) for i in referenced_ids(s["Resource"])}
            and grant.resource.suffix in json.dumps(s["Resource"])
        ]
        assert len(matching) == 1, (grant, statements)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("function", SPEC.functions, ids=lambda f: f.name)
def test_every_function_runs_python_313_on_arm_with_tracing_layer_and_its_environment(
    template: dict[str, Any], function: Any
) -> None:
    props = _by_spec_id(template, "AWS::Lambda::Function")[function.name]["Properties"]
    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["arm64"]
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["Handler"] == function.handler
    assert len(props["Layers"]) == 1
    env = props["Environment"]["Variables"]
    assert env["POWERTOOLS_SERVICE_NAME"] == function.name
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Chirp"
    assert env["STAGE"] == "dev"
    assert "LOG_LEVEL" in env
    for table in SPEC.tables:
        granted = table.logical_id in {access.table for access in function.tables}
        assert (table.env_var in env) == granted
        if granted:
            assert env[table.env_var] == {"Ref": _cfn_id(template, table.logical_id)}
    has_pool = bool(function.cognito)
    assert ("USER_POOL_ID" in env, "USER_POOL_CLIENT_ID" in env) == (has_pool, has_pool)
    if "AdminConfirmSignUp" in function.cognito:
        assert env["AUTO_CONFIRM_SIGNUP"] == "true"
    for name, value in function.environment:
        assert env[name] == value


def test_log_groups_keep_one_month(template: dict[str, Any]) -> None:
    groups = resources_of(template, "AWS::Logs::LogGroup").values()
    # One per function, the API access log, and each search domain's slow-search, slow-index and app logs.
    assert len(groups) == len(SPEC.functions) + 1 + 3 * len(SPEC.search_domains)
    assert {g["Properties"]["RetentionInDays"] for g in groups} == {30}


GATEWAY_ERRORS = [
    ("UNAUTHORIZED", "401", "unauthorized"),
    ("EXPIRED_TOKEN", "401", "unauthorized"),
    ("INVALID_SIGNATURE", "401", "unauthorized"),
    ("MISSING_AUTHENTICATION_TOKEN", "404", "not_found"),
    ("REQUEST_TOO_LARGE", "413", "payload_too_large"),
    ("ACCESS_DENIED", "403", "forbidden"),
    ("THROTTLED", "429", "rate_limited"),
    ("DEFAULT_4XX", None, "bad_request"),
    ("DEFAULT_5XX", None, "internal_error"),
]


@pytest.mark.parametrize(("response_type", "status", "code"), GATEWAY_ERRORS)
def test_gateway_errors_use_the_contract_body(
    template: dict[str, Any], response_type: str, status: str | None, code: str
) -> None:
    responses = [
        r["Properties"]
        for r in resources_of(template, "AWS::ApiGateway::GatewayResponse").values()
        if r["Properties"]["ResponseType"] == response_type
    ]
    assert len(responses) == 1
    assert responses[0].get("StatusCode") == status
    body = responses[0]["ResponseTemplates"]["application/json"]
    rendered = json.loads(body.replace("$context.error.messageString", '"Some message"'))
    assert rendered["error"]["code"] == code
    assert isinstance(rendered["error"]["message"], str)
    assert set(rendered) == {"error"}
    assert set(rendered["error"]) == {"code", "message"}
    headers = responses[0]["ResponseParameters"]
    assert headers["gatewayresponse.header.X-Content-Type-Options"] == "'nosniff'"
    assert headers["gatewayresponse.header.Cache-Control"] == "'no-store'"


def test_stage_logs_traces_and_throttles(template: dict[str, Any]) -> None:
    Template.from_json(template).has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": "dev",
            "TracingEnabled": True,
            "AccessLogSetting": {"DestinationArn": Match.any_value(), "Format": Match.any_value()},
        },
    )
    (stage,) = resources_of(template, "AWS::ApiGateway::Stage").values()
    fields = json.loads(stage["Properties"]["AccessLogSetting"]["Format"])
    for needed in ("requestId", "user", "status", "responseLatency", "integrationLatency", "errorMessage"):
        assert fields[needed].startswith("$context."), needed
    assert fields["wafStatus"] == "$context.waf.status" and fields["xrayTraceId"] == "$context.xrayTraceId"
    settings = {(s["HttpMethod"], s["ResourcePath"]): s for s in stage["Properties"]["MethodSettings"]}
    everything = settings[("*", "/*")]
    assert everything["LoggingLevel"] == "INFO" and everything["DataTraceEnabled"] is False
    assert (everything["ThrottlingRateLimit"], everything["ThrottlingBurstLimit"]) == (100, 200)
    auth = {k: v for k, v in settings.items() if k != ("*", "/*")}
    expected = {
        (r.method, "/" + (BASE_PATH + r.path).replace("/", "~1"))
        for r in SPEC.routes
        if r.path.startswith("/auth/")
    }
    assert set(auth) == expected and len(expected) == 4
    for setting in auth.values():
        assert (setting["ThrottlingRateLimit"], setting["ThrottlingBurstLimit"]) == (10, 20)
        assert setting["DataTraceEnabled"] is False


def test_user_pool_matches_the_spec(template: dict[str, Any]) -> None:
    pool = SPEC.user_pool
    props = next(iter(resources_of(template, "AWS::Cognito::UserPool").values()))["Properties"]
    assert props["Policies"]["PasswordPolicy"] == {
        "MinimumLength": pool.password_min_length,
        "RequireLowercase": pool.require_lowercase,
        "RequireUppercase": pool.require_uppercase,
        "RequireNumbers": pool.require_digits,
        "RequireSymbols": pool.require_symbols,
    }
    assert props["UsernameConfiguration"] == {"CaseSensitive": False}
    assert props["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": False}
    assert "AliasAttributes" not in props and "UsernameAttributes" not in props
    assert {"Name": "email", "Required": True, "Mutable": True} in props["Schema"]
    assert "AutoVerifiedAttributes" not in props  # dev: the users function confirms sign-ups itself


def test_app_client_uses_password_and_refresh_auth_without_secret(template: dict[str, Any]) -> None:
    pool = SPEC.user_pool
    props = next(iter(resources_of(template, "AWS::Cognito::UserPoolClient").values()))["Properties"]
    assert sorted(props["ExplicitAuthFlows"]) == ["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_PASSWORD_AUTH"]
    assert props["GenerateSecret"] is False
    assert props["AccessTokenValidity"] == pool.access_token_minutes
    assert props["TokenValidityUnits"]["AccessToken"] == "minutes"
    assert props["RefreshTokenValidity"] == pool.refresh_token_days * 24 * 60
    assert props["TokenValidityUnits"]["RefreshToken"] == "minutes"
    assert "AllowedOAuthFlows" not in props


def test_outputs_name_the_api_and_the_pool(template: dict[str, Any]) -> None:
    assert {"ApiUrl", "UserPoolId", "UserPoolClientId"} <= set(template["Outputs"])


def test_dev_resources_are_destroyed_with_the_stack(template: dict[str, Any]) -> None:
    for cfn_type in ("AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::Cognito::UserPool"):
        assert {r.get("DeletionPolicy") for r in resources_of(template, cfn_type).values()} <= {"Delete"}


def test_browsers_get_preflights_and_cors_headers_on_gateway_errors(
    template: dict[str, Any], prod_template: dict[str, Any]
) -> None:
    preflights = [
        m["Properties"]
        for m in resources_of(template, "AWS::ApiGateway::Method").values()
        if m["Properties"]["HttpMethod"] == "OPTIONS"
    ]
    route_paths = {BASE_PATH + r.path for r in SPEC.routes}
    assert len(preflights) >= len(route_paths), "every route's resource answers a preflight"
    for props in preflights:
        assert props["AuthorizationType"] == "NONE" and props["Integration"]["Type"] == "MOCK"
        headers = props["Integration"]["IntegrationResponses"][0]["ResponseParameters"]
        assert headers["method.response.header.Access-Control-Allow-Origin"] == "'*'"  # dev default
        assert "Authorization" in headers["method.response.header.Access-Control-Allow-Headers"]
    for response in resources_of(template, "AWS::ApiGateway::GatewayResponse").values():
        params = response["Properties"]["ResponseParameters"]
        assert params["gatewayresponse.header.Access-Control-Allow-Origin"] == "'*'"
    # prod allows no browser origin unless configured: no preflight, no CORS header
    assert not [
        m
        for m in resources_of(prod_template, "AWS::ApiGateway::Method").values()
        if m["Properties"]["HttpMethod"] == "OPTIONS"
    ]
    for response in resources_of(prod_template, "AWS::ApiGateway::GatewayResponse").values():
        assert (
            "gatewayresponse.header.Access-Control-Allow-Origin"
            not in response["Properties"]["ResponseParameters"]
        )
