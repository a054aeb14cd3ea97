"""The media part of the synthesised stack: the private bucket and its lifecycle, the ObjectCreated
notification to the queue (and the queue policy that lets S3 send), the processor, the CloudFront
distribution with origin access control, and the functions' grants and media URL base."""

from __future__ import annotations

import json
from typing import Any

from infra.resources import MEDIA_BUCKET, MEDIA_UPLOADS
from tests.infrastructure.template_resources import referenced_ids, resources_of, spec_ids

_TYPES = {
    MEDIA_BUCKET.logical_id: "AWS::S3::Bucket",  # the media table shares the id
    f"{MEDIA_BUCKET.logical_id}-cdn": "AWS::CloudFront::Distribution",
    MEDIA_UPLOADS.logical_id: "AWS::SQS::Queue",
    MEDIA_UPLOADS.dlq_logical_id: "AWS::SQS::Queue",
    "media-processor": "AWS::Lambda::Function",
}


def _one(template: dict[str, Any], spec_id: str) -> tuple[str, dict[str, Any]]:
    resources = template["Resources"]
    cfn_id = next(
        k for k, v in spec_ids(template).items() if v == spec_id and resources[k]["Type"] == _TYPES[spec_id]
    )
    return cfn_id, resources[cfn_id]


def _statements_of_policies(template: dict[str, Any], kind: str, target: str) -> list[dict[str, Any]]:
    found = []
    for policy in resources_of(template, kind).values():
        props = policy["Properties"]
        targets = referenced_ids(props.get("Bucket", props.get("Queues")))
        if target in targets:
            found.extend(props["PolicyDocument"]["Statement"])
    return found


def test_the_media_bucket_is_private_encrypted_tls_only_and_expires_unattached_uploads(
    template: dict[str, Any],
) -> None:
    cfn_id, bucket = _one(template, MEDIA_BUCKET.logical_id)
    props = bucket["Properties"]

    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "AES256"}
    assert "LoggingConfiguration" in props
    rules = {rule["Id"]: rule for rule in props["LifecycleConfiguration"]["Rules"]}
    assert rules["unattached-uploads"]["TagFilters"] == [{"Key": "attached", "Value": "false"}]
    assert rules["unattached-uploads"]["ExpirationInDays"] == MEDIA_BUCKET.unattached_expiry_days
    assert rules["unattached-uploads"]["Status"] == "Enabled"
    statements = _statements_of_policies(template, "AWS::S3::BucketPolicy", cfn_id)
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )


def test_object_created_events_go_to_the_uploads_queue_which_s3_may_send_to(template: dict[str, Any]) -> None:
    bucket_id, _ = _one(template, MEDIA_BUCKET.logical_id)
    queue_id, queue = _one(template, MEDIA_UPLOADS.logical_id)

    (notifications,) = [
        r
        for r in resources_of(template, "Custom::S3BucketNotifications").values()
        if bucket_id in referenced_ids(r["Properties"]["BucketName"])
    ]
    (config,) = notifications["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert config["Events"] == ["s3:ObjectCreated:*"]
    assert queue_id in referenced_ids(config["QueueArn"])
    statements = _statements_of_policies(template, "AWS::SQS::QueuePolicy", queue_id)
    allow = [
        s
        for s in statements
        if s["Effect"] == "Allow" and s.get("Principal") == {"Service": "s3.amazonaws.com"}
    ]
    assert allow and bucket_id in referenced_ids(allow[0]["Condition"])
    dlq_id, _ = _one(template, MEDIA_UPLOADS.dlq_logical_id)
    assert dlq_id in referenced_ids(queue["Properties"]["RedrivePolicy"])
    assert queue["Properties"]["VisibilityTimeout"] == MEDIA_UPLOADS.visibility_timeout_seconds


def test_the_processor_consumes_the_queue_with_partial_batch_responses(template: dict[str, Any]) -> None:
    function_id, function = _one(template, "media-processor")
    queue_id, _ = _one(template, MEDIA_UPLOADS.logical_id)

    (mapping,) = [
        m["Properties"]
        for m in resources_of(template, "AWS::Lambda::EventSourceMapping").values()
        if function_id in referenced_ids(m["Properties"]["FunctionName"])
    ]
    assert queue_id in referenced_ids(mapping["EventSourceArn"])
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert function["Properties"]["Timeout"] == 30


def test_a_cloudfront_distribution_with_origin_access_control_serves_the_private_bucket(
    template: dict[str, Any],
) -> None:
    bucket_id, _ = _one(template, MEDIA_BUCKET.logical_id)
    distribution_id, distribution = _one(template, f"{MEDIA_BUCKET.logical_id}-cdn")
    config = distribution["Properties"]["DistributionConfig"]

    (origin,) = config["Origins"]
    assert bucket_id in referenced_ids(origin["DomainName"])
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    (oac,) = resources_of(template, "AWS::CloudFront::OriginAccessControl").values()
    assert oac["Properties"]["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    assert oac["Properties"]["OriginAccessControlConfig"]["OriginAccessControlOriginType"] == "s3"
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behavior["AllowedMethods"] == ["GET", "HEAD"]
    assert "Logging" in config
    reads = [
        s
        for s in _statements_of_policies(template, "AWS::S3::BucketPolicy", bucket_id)
        if s.get("Principal") == {"Service": "cloudfront.amazonaws.com"}
    ]
    assert [s["Action"] for s in reads] == ["s3:GetObject"]
    assert distribution_id in json.dumps(reads[0]["Condition"])


def test_functions_that_render_media_get_the_distributions_url(template: dict[str, Any]) -> None:
    distribution_id, _ = _one(template, f"{MEDIA_BUCKET.logical_id}-cdn")
    functions = {
        spec_ids(template)[k]: f["Properties"]["Environment"]["Variables"]
        for k, f in resources_of(template, "AWS::Lambda::Function").items()
        if k in spec_ids(template)
    }

    for name in ("tweets-api", "timeline-api", "users-api", "media-api"):
        assert distribution_id in referenced_ids(functions[name]["MEDIA_BASE_URL"]), name
    assert "MEDIA_BASE_URL" not in functions["media-processor"]
    assert all("MEDIA_UPLOAD_ENDPOINT" not in env for env in functions.values()), "S3's own endpoint on AWS"


def test_each_media_function_may_do_only_its_own_part_to_the_objects(template: dict[str, Any]) -> None:
    expected = {
        "media-api": {"s3:PutObject"},
        "media-processor": {"s3:GetObject", "s3:DeleteObject"},
        "tweets-api": {"s3:PutObjectTagging"},
        "users-api": {"s3:PutObjectTagging"},
        "tweets-cleanup": {"s3:DeleteObject"},
        "timeline-api": set(),
    }
    ids = spec_ids(template)
    roles = {}
    for function_id, function in resources_of(template, "AWS::Lambda::Function").items():
        if function_id in ids:
            roles[ids[function_id]] = referenced_ids(function["Properties"]["Role"])
    for name, actions in expected.items():
        granted = set()
        for policy in resources_of(template, "AWS::IAM::Policy").values():
            if roles[name] & referenced_ids(policy["Properties"]["Roles"]):
                for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                    listed = (
                        statement["Action"]
                        if isinstance(statement["Action"], list)
                        else [statement["Action"]]
                    )
                    granted |= {a for a in listed if a.startswith("s3:")}
        assert granted == actions, name
