"""S3 buckets, one per SPEC bucket, plus the bucket that receives their access logs."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.constructs.nag import acknowledge, tag_spec_id
from infra.resources import Bucket


def _private_bucket(
    scope: Construct, construct_id: str, removal_policy: RemovalPolicy, **props: Any
) -> s3.Bucket:
    return s3.Bucket(
        scope,
        construct_id,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        removal_policy=removal_policy,
        auto_delete_objects=removal_policy == RemovalPolicy.DESTROY,
        **props,
    )


class Storage(Construct):
    """Private, SSL-only, encrypted buckets that accept browser uploads by presigned POST."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        buckets: tuple[Bucket, ...],
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.buckets: dict[str, s3.Bucket] = {}
        if not buckets:
            return
        access_logs = _private_bucket(
            self,
            "AccessLogs",
            removal_policy,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(90))],
        )
        acknowledge(
            access_logs, "AwsSolutions-S1", "This is the access-log destination; logging it would loop."
        )
        for spec in buckets:
            bucket = _private_bucket(
                self,
                spec.logical_id,
                removal_policy,
                server_access_logs_bucket=access_logs,
                server_access_logs_prefix=f"{spec.logical_id}/",
                cors=[
                    s3.CorsRule(
                        allowed_methods=[s3.HttpMethods.POST, s3.HttpMethods.GET],
                        allowed_origins=["*"],
                        allowed_headers=["*"],
                        max_age=3000,
                    )
                ],
            )
            tag_spec_id(bucket, spec.logical_id)
            self.buckets[spec.logical_id] = bucket
