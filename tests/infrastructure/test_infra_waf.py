"""The WAF web ACL on the REST API stage: auth requests limited per client address."""

from __future__ import annotations

import json
from typing import Any

from infra.resources import AUTH_PATH_PREFIX, AUTH_RATE_LIMIT, AUTH_RATE_WINDOW_SECONDS
from tests.infrastructure.template_resources import referenced_ids, resources_of


def only(template: dict[str, Any], cfn_type: str) -> tuple[str, dict[str, Any]]:
    found = resources_of(template, cfn_type)
    assert len(found) == 1, sorted(found)
    return next(iter(found.items()))


def rate_rule(template: dict[str, Any]) -> dict[str, Any]:
    _, acl = only(template, "AWS::WAFv2::WebACL")
    rules = [r for r in acl["Properties"]["Rules"] if r["Name"] == "auth-rate-per-ip"]
    assert len(rules) == 1, rules
    return rules[0]


def test_one_regional_web_acl_allows_by_default(template: dict[str, Any]) -> None:
    _, acl = only(template, "AWS::WAFv2::WebACL")

    assert acl["Properties"]["Scope"] == "REGIONAL"
    assert acl["Properties"]["DefaultAction"] == {"Allow": {}}


def test_the_rate_rule_counts_auth_paths_per_client_address_with_the_shared_limit(
    template: dict[str, Any],
) -> None:
    statement = rate_rule(template)["Statement"]["RateBasedStatement"]

    assert statement["AggregateKeyType"] == "IP"
    assert statement["Limit"] == AUTH_RATE_LIMIT
    assert statement["EvaluationWindowSec"] == AUTH_RATE_WINDOW_SECONDS
    match = statement["ScopeDownStatement"]["ByteMatchStatement"]
    assert match["FieldToMatch"] == {"UriPath": {}}
    assert match["SearchString"] == AUTH_PATH_PREFIX == "/api/v1/auth/"
    # The execute-api host puts the stage name before the path, so the prefix cannot be anchored.
    assert match["PositionalConstraint"] == "CONTAINS"
    assert {t["Type"] for t in match["TextTransformations"]} == {"URL_DECODE", "NORMALIZE_PATH"}


def test_a_limited_client_gets_429_with_the_contract_error_body(template: dict[str, Any]) -> None:
    _, acl = only(template, "AWS::WAFv2::WebACL")
    response = rate_rule(template)["Action"]["Block"]["CustomResponse"]

    assert response["ResponseCode"] == 429
    headers = {h["Name"]: h["Value"] for h in response["ResponseHeaders"]}
    assert headers["Retry-After"] == str(AUTH_RATE_WINDOW_SECONDS)
    body = acl["Properties"]["CustomResponseBodies"][response["CustomResponseBodyKey"]]
    assert body["ContentType"] == "APPLICATION_JSON"
    assert json.loads(body["Content"])["error"]["code"] == "rate_limited"


def test_the_web_acl_is_associated_with_the_api_stage(template: dict[str, Any]) -> None:
    acl_id, _ = only(template, "AWS::WAFv2::WebACL")
    stage_id, stage = only(template, "AWS::ApiGateway::Stage")
    _, association = only(template, "AWS::WAFv2::WebACLAssociation")
    props = association["Properties"]

    assert props["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    arn = json.dumps(props["ResourceArn"])
    assert "/restapis/" in arn and "/stages/" in arn
    assert referenced_ids(props["ResourceArn"]) >= {stage_id, stage["Properties"]["RestApiId"]["Ref"]}


def test_the_prod_stage_is_protected_too(prod_template: dict[str, Any]) -> None:
    only(prod_template, "AWS::WAFv2::WebACLAssociation")
    assert rate_rule(prod_template)["Statement"]["RateBasedStatement"]["Limit"] == AUTH_RATE_LIMIT


def test_prod_adds_a_limit_on_every_path_and_the_managed_rule_groups(
    prod_template: dict[str, Any], template: dict[str, Any]
) -> None:
    _, acl = only(prod_template, "AWS::WAFv2::WebACL")
    rules = {r["Name"]: r for r in acl["Properties"]["Rules"]}
    general = rules["rate-per-ip"]["Statement"]["RateBasedStatement"]
    assert "ScopeDownStatement" not in general and general["AggregateKeyType"] == "IP"
    for group in ("AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesKnownBadInputsRuleSet"):
        assert rules[group]["Statement"]["ManagedRuleGroupStatement"] == {"VendorName": "AWS", "Name": group}
        assert rules[group]["OverrideAction"] == {"None": {}}
    assert len({r["Priority"] for r in rules.values()}) == len(rules)
    _, dev_acl = only(template, "AWS::WAFv2::WebACL")
    assert [r["Name"] for r in dev_acl["Properties"]["Rules"]] == ["auth-rate-per-ip"]
