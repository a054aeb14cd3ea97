"""S3 buckets, one per SPEC bucket, plus the bucket that receives their access logs; each bucket's
ObjectCreated notification to its queue, its lifecycle rule for unattached uploads, and, for a bucket
whose objects are served to clients, a CloudFront distribution with origin access control."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
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
        queues: dict[str, sqs.Queue] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.buckets: dict[str, s3.Bucket] = {}
        self.urls: dict[str, str] = {}
        """Base URL serving each bucket's objects to clients (its distribution), by SPEC logical id."""
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
                lifecycle_rules=_lifecycle(spec),
            )
            tag_spec_id(bucket, spec.logical_id)
            self.buckets[spec.logical_id] = bucket
            if spec.notify_queue:
                queue = (queues or {})[spec.notify_queue]
                # The queue policy that lets S3 send comes with the destination.
                bucket.add_event_notification(s3.EventType.OBJECT_CREATED, s3n.SqsDestination(queue))
            if spec.public_url_env_var:
                self.urls[spec.logical_id] = self._distribution(spec, bucket, access_logs)
        _acknowledge_notification_handler(Stack.of(self))

    def _distribution(self, spec: Bucket, bucket: s3.Bucket, access_logs: s3.Bucket) -> str:
        """CloudFront in front of the private bucket: origin access control (the bucket policy allows
        only this distribution's s3:GetObject), HTTPS only, GET/HEAD only, cached, access-logged."""
        distribution = cloudfront.Distribution(
            self,
            f"{spec.logical_id}-cdn",
            comment=f"Serves the {spec.logical_id} bucket",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS,
            ),
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            enable_logging=True,
            log_bucket=access_logs,
            log_file_prefix=f"cdn-{spec.logical_id}/",
        )
        tag_spec_id(distribution, f"{spec.logical_id}-cdn")
        acknowledge(
            distribution,
            "AwsSolutions-CFR1",
            "Media is public by design (it shows on public tweets); no country is to be blocked.",
        )
        acknowledge(
            distribution,
            "AwsSolutions-CFR2",
            "Read-only static objects behind caching; the API, which takes input, has the web ACL.",
        )
        acknowledge(
            distribution,
            "AwsSolutions-CFR4",
            "The default *.cloudfront.net certificate admits TLSv1 viewers; a custom domain with its own "
            "certificate (and minimum TLSv1.2_2021) is a deployment choice outside the stack.",
        )
        url = f"https://{distribution.distribution_domain_name}"
        CfnOutput(Stack.of(self), f"{spec.logical_id.capitalize()}CdnUrl", value=url)
        CfnOutput(Stack.of(self), f"{spec.logical_id.capitalize()}Bucket", value=bucket.bucket_name)
        CfnOutput(
            Stack.of(self),
            f"{spec.logical_id.capitalize()}DistributionId",
            value=distribution.distribution_id,
            description="For invalidations (aws cloudfront create-invalidation)",
        )
        return url


def _lifecycle(spec: Bucket) -> list[s3.LifecycleRule]:
    """Uploads still tagged unattached are deleted ``unattached_expiry_days`` after their upload; half
    finished multipart uploads (never used here) go after a day."""
    rules = [
        s3.LifecycleRule(id="abandoned-multipart", abort_incomplete_multipart_upload_after=Duration.days(1))
    ]
    if spec.unattached_tag:
        key, value = spec.unattached_tag
        rules.append(
            s3.LifecycleRule(
                id="unattached-uploads",
                tag_filters={key: value},
                expiration=Duration.days(spec.unattached_expiry_days),
            )
        )
    return rules


def _acknowledge_notification_handler(stack: Stack) -> None:
    """CDK's one bucket-notification handler per stack (a singleton Lambda that configures the
    notifications at deploy time) is not a SPEC function: its findings are acknowledged here."""
    for child in stack.node.children:
        if child.node.id.startswith("BucketNotificationsHandler"):
            acknowledge(
                child,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                "CDK's bucket-notification handler runs only at deploy time; CDK fixes its role.",
            )
            acknowledge(
                child,
                "AwsSolutions-IAM5[Resource::*]",
                "s3:PutBucketNotification on the stack's buckets, as CDK's handler requires.",
            )
