"""Account-wide settings the stages share: deployed once per account and region, before any stage."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.constructs.nag import acknowledge

ACCOUNT_STACK = "chirp-account"


class AccountStack(Stack):
    """API Gateway's CloudWatch Logs role (``AWS::ApiGateway::Account`` is one setting per account and
    region: a stage stack that owned it would take every other stage's execution logs with it when it
    is destroyed). Retained on delete for the same reason."""

    def __init__(self, scope: Construct, construct_id: str = ACCOUNT_STACK, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        role = iam.Role(
            self,
            "ApiGatewayLogsRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(
                    "service-role/AmazonAPIGatewayPushToCloudWatchLogs"
                )
            ],
        )
        acknowledge(
            role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]",
            "API Gateway's account logging role uses the AWS managed policy made for it.",
        )
        account = apigw.CfnAccount(self, "ApiGatewayAccount", cloud_watch_role_arn=role.role_arn)
        account.apply_removal_policy(apply_to_update_replace_policy=True)  # RETAIN by default
