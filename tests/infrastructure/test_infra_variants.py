"""Code paths the SPEC does not use yet (mappings, buckets, indexed grants) and the prod stage."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match, Template

from infra.resources import ServiceSpec
from tests.infrastructure.template_resources import (
    describe_spec,
    describe_template,
    referenced_ids,
    resources_of,
    spec_ids,
)
from tests.infrastructure.variant_spec import FAILURES, JOBS, QUEUE_MAPPING, STREAM_MAPPING


def _cfn_id(template: dict[str, Any], spec_id: str) -> str:
    return next(k for k, v in spec_ids(template).items() if v == spec_id)


def _env(template: dict[str, Any], function: str) -> dict[str, Any]:
    fn = template["Resources"][_cfn_id(template, function)]
    return fn["Properties"]["Environment"]["Variables"]


def test_variant_synthesis_passes_cdk_nag(prod_synthesis: tuple[dict[str, Any], dict[str, Any]]) -> None:
    _, report = prod_synthesis
    assert all(plugin["conclusion"] == "success" for plugin in report["pluginReports"]), report


def test_dev_variant_passes_cdk_nag_and_empties_buckets_on_delete(
    dev_variant_synthesis: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    template, report = dev_variant_synthesis
    assert all(plugin["conclusion"] == "success" for plugin in report["pluginReports"]), report
    buckets = set(resources_of(template, "AWS::S3::Bucket"))
    emptied = {
        referenced_ids(r["Properties"]["BucketName"]).pop()
        for r in resources_of(template, "Custom::S3AutoDeleteObjects").values()
    }
    assert emptied == buckets
    assert {r["DeletionPolicy"] for r in resources_of(template, "AWS::S3::Bucket").values()} == {"Delete"}


def test_variant_template_describes_exactly_the_variant_spec(
    prod_template: dict[str, Any], variant: ServiceSpec
) -> None:
    assert describe_template(prod_template) == describe_spec(variant)


def test_stream_mapping_carries_retry_bisect_age_and_on_failure_settings(
    prod_template: dict[str, Any],
) -> None:
    Template.from_json(prod_template).has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": {"Ref": _cfn_id(prod_template, STREAM_MAPPING.function)},
            "EventSourceArn": {"Fn::GetAtt": [_cfn_id(prod_template, STREAM_MAPPING.source), "StreamArn"]},
            "BatchSize": 25,
            "MaximumBatchingWindowInSeconds": 2,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "MaximumRetryAttempts": 4,
            "BisectBatchOnFunctionError": True,
            "MaximumRecordAgeInSeconds": 7200,
            "StartingPosition": "LATEST",
            "DestinationConfig": {
                "OnFailure": {
                    "Destination": {"Fn::GetAtt": [_cfn_id(prod_template, FAILURES.logical_id), "Arn"]}
                }
            },
        },
    )


def test_queue_mapping_carries_batching_and_partial_failures(prod_template: dict[str, Any]) -> None:
    mappings = [
        m["Properties"]
        for m in resources_of(prod_template, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": _cfn_id(prod_template, QUEUE_MAPPING.function)}
    ]
    assert mappings == [
        {
            "FunctionName": {"Ref": _cfn_id(prod_template, QUEUE_MAPPING.function)},
            "EventSourceArn": {"Fn::GetAtt": [_cfn_id(prod_template, JOBS.logical_id), "Arn"]},
            "BatchSize": 5,
            "MaximumBatchingWindowInSeconds": 3,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        }
    ]
    assert len(resources_of(prod_template, "AWS::Lambda::EventSourceMapping")) == 2


def test_stream_consumer_may_read_the_stream_and_send_to_its_failure_queue(
    prod_template: dict[str, Any],
) -> None:
    role = referenced_ids(template_fn(prod_template, STREAM_MAPPING.function)["Properties"]["Role"]).pop()
    statements = [
        s
        for p in resources_of(prod_template, "AWS::IAM::Policy").values()
        if role in referenced_ids(p["Properties"]["Roles"])
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    actions = {a for s in statements for a in s["Action"]}
    assert {"dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream"} <= actions
    assert {"sqs:SendMessage"} <= actions
    assert not {"dynamodb:PutItem", "dynamodb:DeleteItem"} & actions  # reads only


def template_fn(template: dict[str, Any], name: str) -> dict[str, Any]:
    return template["Resources"][_cfn_id(template, name)]


def test_bucket_is_private_ssl_only_encrypted_and_accepts_presigned_posts(
    prod_template: dict[str, Any],
) -> None:
    bucket_id = _cfn_id(prod_template, "variant-media")
    props = prod_template["Resources"][bucket_id]["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert "BucketEncryption" in props
    assert "LoggingConfiguration" in props
    assert any("POST" in rule["AllowedMethods"] for rule in props["CorsConfiguration"]["CorsRules"])
    Template.from_json(prod_template).has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": bucket_id},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                        )
                    ]
                )
            },
        },
    )
    env = _env(prod_template, "variant-worker")
    assert env["VARIANT_MEDIA_BUCKET_NAME"] == {"Ref": bucket_id}
    assert env["EXTRA_SETTING"] == "on"


def test_sender_gets_the_queue_url(prod_template: dict[str, Any]) -> None:
    env = _env(prod_template, "variant-projector")
    assert env[JOBS.env_var] == {"Ref": _cfn_id(prod_template, JOBS.logical_id)}


def test_prod_retains_data_and_lets_cognito_verify_email(prod_template: dict[str, Any]) -> None:
    for cfn_type in ("AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::Cognito::UserPool", "AWS::S3::Bucket"):
        assert {r["DeletionPolicy"] for r in resources_of(prod_template, cfn_type).values()} == {"Retain"}
    pool = next(iter(resources_of(prod_template, "AWS::Cognito::UserPool").values()))["Properties"]
    assert pool["AutoVerifiedAttributes"] == ["email"]
    assert pool["DeletionProtection"] == "ACTIVE"
    ours = spec_ids(prod_template)  # CDK's own bucket-notification handler is no SPEC function
    for cfn_id, fn in resources_of(prod_template, "AWS::Lambda::Function").items():
        if cfn_id not in ours:
            continue
        env = fn["Properties"]["Environment"]["Variables"]
        assert env["STAGE"] == "prod"
        assert env.get("AUTO_CONFIRM_SIGNUP", "false") == "false"
    assert any(
        "AUTO_CONFIRM_SIGNUP" in fn["Properties"]["Environment"]["Variables"]
        for cfn_id, fn in resources_of(prod_template, "AWS::Lambda::Function").items()
        if cfn_id in ours
    )
    Template.from_json(prod_template).has_resource_properties("AWS::ApiGateway::Stage", {"StageName": "prod"})
