"""The WAF web ACL in front of the REST API stage: sign-up and log-in limited per client address."""

from __future__ import annotations

import json

from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.resources import AUTH_PATH_PREFIX, AUTH_RATE_LIMIT, AUTH_RATE_WINDOW_SECONDS

RATE_LIMITED_BODY_KEY = "rate-limited"
RATE_LIMITED_BODY = json.dumps(
    {
        "error": {
            "code": "rate_limited",
            "message": "Too many sign-up or log-in requests from this address; try again later.",
        }
    }
)
"""The contract's error body, as the gateway responses and the functions write it."""


def _auth_paths() -> wafv2.CfnWebACL.StatementProperty:
    """Requests whose path holds AUTH_PATH_PREFIX. CONTAINS rather than STARTS_WITH: on the execute-api
    host the path begins with the stage name (``/prod/api/v1/auth/login``), on a custom domain it does
    not. The path is URL-decoded and normalised first, so ``/api/v1/%61uth/`` or ``/api//v1/auth/``,
    which API Gateway could still route, are counted too."""
    return wafv2.CfnWebACL.StatementProperty(
        byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
            field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
            positional_constraint="CONTAINS",
            search_string=AUTH_PATH_PREFIX,
            text_transformations=[
                wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="URL_DECODE"),
                wafv2.CfnWebACL.TextTransformationProperty(priority=1, type="NORMALIZE_PATH"),
            ],
        )
    )


def _rate_per_ip(
    stage: str,
    name: str,
    priority: int,
    limit: int,
    block: wafv2.CfnWebACL.RuleActionProperty,
    scope_down: wafv2.CfnWebACL.StatementProperty | None = None,
) -> wafv2.CfnWebACL.RuleProperty:
    """Block an address that sends more than ``limit`` requests (those ``scope_down`` matches, if
    given) in AUTH_RATE_WINDOW_SECONDS."""
    return wafv2.CfnWebACL.RuleProperty(
        name=name,
        priority=priority,
        action=block,
        statement=wafv2.CfnWebACL.StatementProperty(
            rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                # The regional API is reached directly, so the source address is the client's.
                aggregate_key_type="IP",
                limit=limit,
                evaluation_window_sec=AUTH_RATE_WINDOW_SECONDS,
                scope_down_statement=scope_down,
            )
        ),
        visibility_config=_visibility(f"chirp-{stage}-{name}"),
    )


def _visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )


class Waf(Construct):
    """A regional web ACL that allows by default and blocks, with a contract-shaped 429, a client address
    that sends more than AUTH_RATE_LIMIT auth requests in AUTH_RATE_WINDOW_SECONDS; associated with the
    stage ``stage_arn``.

    The AWS managed common rule set is left out: its body rules refuse bodies over 8 KB and text that
    looks like markup, which would refuse tweets that quote HTML and JSON bodies the contract allows."""

    def __init__(
        self, scope: Construct, construct_id: str, *, stage_arn: str, stage: str, managed_rules: bool = False
    ) -> None:
        super().__init__(scope, construct_id)
        block = wafv2.CfnWebACL.RuleActionProperty(
            block=wafv2.CfnWebACL.BlockActionProperty(
                custom_response=wafv2.CfnWebACL.CustomResponseProperty(
                    response_code=429,
                    custom_response_body_key=RATE_LIMITED_BODY_KEY,
                    response_headers=[
                        # WAF unblocks once the address's count over the window drops below the limit,
                        # which takes at most the whole window.
                        wafv2.CfnWebACL.CustomHTTPHeaderProperty(
                            name="Retry-After", value=str(AUTH_RATE_WINDOW_SECONDS)
                        ),
                        # The same headers as the gateway responses and the functions' responses.
                        wafv2.CfnWebACL.CustomHTTPHeaderProperty(
                            name="X-Content-Type-Options", value="nosniff"
                        ),
                        wafv2.CfnWebACL.CustomHTTPHeaderProperty(name="Cache-Control", value="no-store"),
                    ],
                )
            )
        )
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=f"chirp-{stage}",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility(f"chirp-{stage}"),
            custom_response_bodies={
                RATE_LIMITED_BODY_KEY: wafv2.CfnWebACL.CustomResponseBodyProperty(
                    content_type="APPLICATION_JSON", content=RATE_LIMITED_BODY
                )
            },
            rules=[
                _rate_per_ip(stage, "auth-rate-per-ip", 0, AUTH_RATE_LIMIT, block, _auth_paths()),
                *(_managed_rules(stage, block) if managed_rules else []),
            ],
        )
        self.association = wafv2.CfnWebACLAssociation(
            self, "StageAssociation", resource_arn=stage_arn, web_acl_arn=self.web_acl.attr_arn
        )


GENERAL_RATE_LIMIT = 3_000
"""Requests of any kind one client address may make per AUTH_RATE_WINDOW_SECONDS in prod (10 a second
sustained): far above a person scrolling, well below a scraper."""
MANAGED_RULE_GROUPS = ("AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesKnownBadInputsRuleSet")
"""AWS managed groups that inspect addresses and request lines, not bodies (see the class docstring)."""


def _managed_rules(
    stage: str, block: wafv2.CfnWebACL.RuleActionProperty
) -> list[wafv2.CfnWebACL.RuleProperty]:
    """Prod only: a per-address limit on every path and the AWS managed rule groups."""
    rules = [_rate_per_ip(stage, "rate-per-ip", 1, GENERAL_RATE_LIMIT, block)]
    for priority, group in enumerate(MANAGED_RULE_GROUPS, start=2):
        rules.append(
            wafv2.CfnWebACL.RuleProperty(
                name=group,
                priority=priority,
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS", name=group
                    )
                ),
                visibility_config=_visibility(f"chirp-{stage}-{group}"),
            )
        )
    return rules
