"""SQS queues, each with its dead-letter queue, one pair per SPEC queue."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.nag import tag_spec_id
from infra.resources import Queue


class Messaging(Construct):
    """Queues with SSE, SSL-only access and a redrive policy to their DLQ; each queue's URL is a stack
    output (``Queue.url_output``) for the operators' scripts."""

    def __init__(
        self, scope: Construct, construct_id: str, *, queues: tuple[Queue, ...], removal_policy: RemovalPolicy
    ) -> None:
        super().__init__(scope, construct_id)
        self.queues: dict[str, sqs.Queue] = {}
        """Every queue by SPEC logical id, DLQs included (under ``Queue.dlq_logical_id``)."""
        for spec in queues:
            dlq = sqs.Queue(
                self,
                spec.dlq_logical_id,
                retention_period=Duration.seconds(spec.dlq_retention_seconds),
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                removal_policy=removal_policy,
            )
            queue = sqs.Queue(
                self,
                spec.logical_id,
                visibility_timeout=Duration.seconds(spec.visibility_timeout_seconds),
                retention_period=Duration.seconds(spec.retention_seconds),
                dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=spec.max_receive_count, queue=dlq),
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                removal_policy=removal_policy,
            )
            tag_spec_id(dlq, spec.dlq_logical_id)
            tag_spec_id(queue, spec.logical_id)
            self.queues[spec.dlq_logical_id] = dlq
            self.queues[spec.logical_id] = queue
            # At the stack's top level, so the output's name is exactly ``url_output``; the DLQ is found
            # from the queue's RedrivePolicy.
            CfnOutput(
                Stack.of(self),
                spec.url_output,
                value=queue.queue_url,
                description=f"URL of the {spec.logical_id} queue (make redrive / make replay)",
            )
