"""Alarms, their SNS topic and one CloudWatch dashboard, all derived from the SPEC.

An alarm is raised only for what needs a human: a message in any DLQ or an exhausted stream batch, a
stream consumer falling behind (iterator age), a queue whose oldest message is old (fan-out lag), the
API's 5xx rate and p99 latency, throttled Lambda invocations and throttled DynamoDB requests. Everything
else (traffic, 4xx, errors, durations) is on the dashboard.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.resources import STREAM_FAILURES, ServiceSpec

FIVE_MINUTES = Duration.minutes(5)
METRICS_NAMESPACE = "Chirp"
BUSINESS_METRICS = (
    ("SignUps", "users-api"),
    ("TweetsPosted", "tweets-api"),
    ("FanoutWrites", "fanout-worker"),
    ("HomeTimelineReads", "timeline-api"),
)
"""(metric, function) pairs the functions emit with Powertools metrics."""


@dataclass(frozen=True)
class Thresholds:
    """What counts as needing a human, per stage (prod pages earlier than dev)."""

    iterator_age_ms: int = 60_000
    """A stream consumer a minute behind: timelines and clean-up are a minute late."""
    queue_age_seconds: int = 300
    """The oldest message of a work queue waited five minutes: fan-out lag a reader notices."""
    api_5xx_rate: float = 0.01
    """1% of requests answered 5xx over five minutes."""
    api_p99_ms: int = 1_000
    lambda_throttles: int = 5
    dynamodb_throttles: int = 10


class Observability(Construct):
    """The ``Alarms`` topic (KMS-encrypted, TLS only; e-mail subscription when ``alarm_email`` is
    given), an alarm per DLQ, failure queue, stream consumer and work queue, API 5xx rate and p99
    latency, Lambda and DynamoDB throttles, and the ``chirp-<stage>`` dashboard."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: ServiceSpec,
        stage: str,
        functions: dict[str, lambda_.Function],
        queues: dict[str, sqs.Queue],
        tables: dict[str, dynamodb.Table],
        api: apigw.RestApi,
        alarm_email: str | None = None,
        thresholds: Thresholds = Thresholds(),
    ) -> None:
        super().__init__(scope, construct_id)
        key = kms.Key(
            self,
            "AlarmsKey",
            enable_key_rotation=True,
            description="Encrypts the alarm topic; CloudWatch alarms may use it to publish",
        )
        key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        self.topic = sns.Topic(self, "Alarms", master_key=key, enforce_ssl=True)
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self.alarms: list[cw.Alarm] = []
        action = cw_actions.SnsAction(self.topic)

        def alarm(alarm_id: str, metric: cw.IMetric, threshold: float, description: str) -> cw.Alarm:
            created = cw.Alarm(
                self,
                alarm_id,
                metric=metric,
                threshold=threshold,
                evaluation_periods=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
                alarm_description=description,
            )
            created.add_alarm_action(action)
            created.add_ok_action(action)
            self.alarms.append(created)
            return created

        # Queues: every DLQ, the failure queue of the stream mappings, the age of each work queue.
        for queue in spec.queues:
            dlq = queues[queue.dlq_logical_id]
            alarm(
                f"{queue.logical_id}-dlq-not-empty",
                dlq.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES, statistic="Maximum"),
                1,
                f"Messages in {queue.dlq_logical_id}: work that failed {queue.max_receive_count} times. "
                f"Fix the cause, then `make redrive QUEUE={queue.logical_id}` (or `make replay`).",
            )
            if queue.logical_id == STREAM_FAILURES.logical_id:
                alarm(
                    "stream-batches-exhausted",
                    queues[queue.logical_id].metric_number_of_messages_sent(
                        period=FIVE_MINUTES, statistic="Sum"
                    ),
                    1,
                    "A stream batch exhausted its retries; stream-rescue moves its records to a replay "
                    "queue.",
                )
                continue
            alarm(
                f"{queue.logical_id}-oldest-message",
                queues[queue.logical_id].metric_approximate_age_of_oldest_message(
                    period=FIVE_MINUTES, statistic="Maximum"
                ),
                thresholds.queue_age_seconds,
                f"The oldest message of {queue.logical_id} waited {thresholds.queue_age_seconds} s: its "
                "consumer is behind or failing.",
            )
        # Stream consumers: how far behind the newest record they are.
        for name in sorted({m.function for m in spec.mappings if m.kind == "stream"}):
            alarm(
                f"{name}-iterator-age",
                functions[name].metric("IteratorAge", period=FIVE_MINUTES, statistic="Maximum"),
                thresholds.iterator_age_ms,
                f"{name} is more than {thresholds.iterator_age_ms // 1000} s behind its stream.",
            )
        # The API as clients see it.
        alarm(
            "api-5xx-rate",
            api.metric_server_error(period=FIVE_MINUTES, statistic="Average"),
            thresholds.api_5xx_rate,
            f"More than {thresholds.api_5xx_rate:.0%} of API requests answered 5xx over five minutes.",
        )
        alarm(
            "api-latency-p99",
            api.metric_latency(period=FIVE_MINUTES, statistic="p99"),
            thresholds.api_p99_ms,
            f"API p99 latency above {thresholds.api_p99_ms} ms over five minutes.",
        )
        for name, fn in sorted(functions.items()):
            alarm(
                f"{name}-throttles",
                fn.metric_throttles(period=FIVE_MINUTES, statistic="Sum"),
                thresholds.lambda_throttles,
                f"{name} invocations throttled: the account's or the mapping's concurrency is exhausted.",
            )
        for table_id, table in sorted(tables.items()):
            alarm(
                f"{table_id}-throttles",
                _table_throttles(table),
                thresholds.dynamodb_throttles,
                f"Requests to table {table_id} throttled (on-demand limits or a hot partition).",
            )
        self.dashboard = _dashboard(self, spec, stage, functions, queues, tables, api)
        CfnOutput(Stack.of(self), "AlarmTopicArn", value=self.topic.topic_arn)
        CfnOutput(Stack.of(self), "DashboardName", value=self.dashboard.dashboard_name)


def _table_throttles(table: dynamodb.Table, n: int = 0) -> cw.IMetric:
    """Read + write throttle events of one table; ``n`` keeps the expression's ids unique in a graph."""

    def metric(name: str) -> cw.Metric:
        return cw.Metric(
            namespace="AWS/DynamoDB",
            metric_name=name,
            dimensions_map={"TableName": table.table_name},
            period=FIVE_MINUTES,
            statistic="Sum",
        )

    return cw.MathExpression(
        expression=f"FILL(r{n}, 0) + FILL(w{n}, 0)",
        using_metrics={f"r{n}": metric("ReadThrottleEvents"), f"w{n}": metric("WriteThrottleEvents")},
        label=f"{table.node.id} throttled requests",
        period=FIVE_MINUTES,
    )


def _dashboard(
    scope: Construct,
    spec: ServiceSpec,
    stage: str,
    functions: dict[str, lambda_.Function],
    queues: dict[str, sqs.Queue],
    tables: dict[str, dynamodb.Table],
    api: apigw.RestApi,
) -> cw.Dashboard:
    minute = Duration.minutes(1)
    board = cw.Dashboard(scope, "Dashboard", dashboard_name=f"chirp-{stage}")
    board.add_widgets(
        cw.GraphWidget(
            title="API requests, 4xx, 5xx",
            left=[api.metric_count(period=minute)],
            right=[api.metric_client_error(period=minute), api.metric_server_error(period=minute)],
            width=12,
        ),
        cw.GraphWidget(
            title="API latency (p50, p99)",
            left=[
                api.metric_latency(period=minute, statistic="p50"),
                api.metric_latency(period=minute, statistic="p99"),
            ],
            width=12,
        ),
    )
    work = [q for q in spec.queues if q.logical_id != STREAM_FAILURES.logical_id]
    board.add_widgets(
        _queues_widget(
            "Fan-out lag and queue age (oldest message, s)",
            [(q.logical_id, queues[q.logical_id]) for q in work],
            lambda q, label: q.metric_approximate_age_of_oldest_message(period=minute, label=label),
        ),
        _queues_widget(
            "Queue depth",
            [(q.logical_id, queues[q.logical_id]) for q in spec.queues],
            lambda q, label: q.metric_approximate_number_of_messages_visible(period=minute, label=label),
        ),
        _queues_widget(
            "DLQ depth",
            [(q.dlq_logical_id, queues[q.dlq_logical_id]) for q in spec.queues],
            lambda q, label: q.metric_approximate_number_of_messages_visible(period=minute, label=label),
        ),
    )
    streams = sorted({m.function for m in spec.mappings if m.kind == "stream"})
    names = sorted(functions)
    board.add_widgets(
        cw.GraphWidget(
            title="Stream iterator age (ms)",
            left=[
                functions[n].metric("IteratorAge", period=minute, statistic="Maximum", label=n)
                for n in streams
            ],
            width=6,
        ),
        cw.GraphWidget(
            title="Lambda errors",
            left=[functions[n].metric_errors(period=minute, label=n) for n in names],
            width=6,
        ),
        cw.GraphWidget(
            title="Lambda duration p99 (ms)",
            left=[functions[n].metric_duration(period=minute, statistic="p99", label=n) for n in names],
            width=6,
        ),
        cw.GraphWidget(
            title="Throttles (Lambda, DynamoDB)",
            left=[functions[n].metric_throttles(period=minute, label=n) for n in names],
            right=[_table_throttles(t, i) for i, (_, t) in enumerate(sorted(tables.items()))],
            width=6,
        ),
    )
    board.add_widgets(
        cw.GraphWidget(
            title="Business metrics",
            left=[
                cw.Metric(
                    namespace=METRICS_NAMESPACE,
                    metric_name=name,
                    dimensions_map={"service": service},  # Powertools adds the function as `service`
                    period=minute,
                    statistic="Sum",
                    label=name,
                )
                for name, service in BUSINESS_METRICS
            ],
            width=24,
        )
    )
    return board


def _queues_widget(
    title: str, queues: list[tuple[str, sqs.Queue]], metric: Callable[[sqs.Queue, str], cw.IMetric]
) -> cw.GraphWidget:
    return cw.GraphWidget(title=title, left=[metric(queue, label) for label, queue in queues], width=8)
