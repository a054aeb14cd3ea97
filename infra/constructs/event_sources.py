"""Event-source mappings (table streams and queues) from SPEC.mappings."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.nag import acknowledge
from infra.grants import replay_routes
from infra.resources import EventSourceMapping, ServiceSpec


class EventSources(Construct):
    """Attaches each mapping to its function with the SPEC's batching, retry and failure settings."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: ServiceSpec,
        functions: dict[str, lambda_.Function],
        tables: dict[str, dynamodb.Table],
        queues: dict[str, sqs.Queue],
    ) -> None:
        super().__init__(scope, construct_id)
        for mapping in spec.mappings:
            _check(spec, mapping)
            fn = functions[mapping.function]
            if mapping.kind == "stream":
                _stream_mapping(self, mapping, fn, tables[mapping.source], queues)
            else:
                fn.add_event_source(_queue_source(mapping, queues[mapping.source]))


def _check(spec: ServiceSpec, mapping: EventSourceMapping) -> None:
    """Fail at synth time on mappings AWS would reject at deploy time."""
    where = f"mapping {mapping.function} <- {mapping.source}"
    if mapping.kind == "stream":
        if spec.table(mapping.source).stream is None:
            raise ValueError(f"{where}: the table has no stream in the SPEC")
        if mapping.on_failure is None:
            raise ValueError(f"{where}: a stream consumer needs an on_failure queue")
        if mapping.max_concurrency is not None:
            raise ValueError(f"{where}: a stream's concurrency is its shards (one batch each)")
        if mapping.replay is not None:
            _check_replay(spec, mapping, where)
    elif mapping.replay is not None:
        raise ValueError(f"{where}: only a stream mapping has records to replay")
    elif mapping.max_concurrency is not None and not 2 <= mapping.max_concurrency <= 1000:
        raise ValueError(f"{where}: an SQS mapping's maximum concurrency is 2 to 1000")
    elif spec.queue(mapping.source).visibility_timeout_seconds < min_visibility(spec, mapping):
        raise ValueError(
            f"{where}: the queue's visibility timeout is below {min_visibility(spec, mapping)} s "
            "(6 times the function's timeout plus the batching window, as Lambda advises)"
        )


def min_visibility(spec: ServiceSpec, mapping: EventSourceMapping) -> int:
    """The least visibility timeout a queue needs for ``mapping``: Lambda advises 6 times the function's
    timeout plus the batching window, so a batch that throttled and retried is not delivered twice."""
    return 6 * spec.function(mapping.function).timeout_seconds + mapping.max_batching_window_seconds


def _check_replay(spec: ServiceSpec, mapping: EventSourceMapping, where: str) -> None:
    """A replay queue must reach the mapping's function, and some function must fill it from the
    on-failure queue: otherwise exhausted records would wait there for nothing."""
    spec.queue(mapping.replay or "")
    consumers = {m.function for m in spec.mappings if m.kind == "queue" and m.source == mapping.replay}
    if consumers != {mapping.function}:
        raise ValueError(
            f"{where}: replay queue {mapping.replay} must be consumed by {mapping.function} only"
        )
    rescuers = [
        fn.name
        for fn in spec.functions
        if mapping in replay_routes(spec, fn)
        and any(
            m.kind == "queue" and m.source == mapping.on_failure and m.function == fn.name
            for m in spec.mappings
        )
    ]
    if not rescuers:
        raise ValueError(f"{where}: no function reads {mapping.on_failure} and fills {mapping.replay}")


def _window(mapping: EventSourceMapping) -> Duration | None:
    return (
        Duration.seconds(mapping.max_batching_window_seconds) if mapping.max_batching_window_seconds else None
    )


STREAM_READ = ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator")


def _stream_mapping(
    scope: Construct,
    mapping: EventSourceMapping,
    fn: lambda_.Function,
    table: dynamodb.Table,
    queues: dict[str, sqs.Queue],
) -> lambda_.EventSourceMapping:
    """The mapping itself rather than ``DynamoEventSource``: that construct grants dynamodb:ListStreams
    on ``*``, although the action takes the table's streams as its resource. Here every stream action
    the poller needs is granted on this table's streams only."""
    assert mapping.on_failure is not None and table.table_stream_arn is not None
    fn.add_to_role_policy(iam.PolicyStatement(actions=list(STREAM_READ), resources=[table.table_stream_arn]))
    fn.add_to_role_policy(
        iam.PolicyStatement(actions=["dynamodb:ListStreams"], resources=[f"{table.table_arn}/stream/*"])
    )
    logical_id = Stack.of(scope).get_logical_id(table.node.default_child)  # type: ignore[arg-type]
    acknowledge(
        fn.role,  # type: ignore[arg-type]
        f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/stream/*]",
        f"dynamodb:ListStreams is authorised on a table's streams (table/<name>/stream/*): the streams of "
        f"the {mapping.source} table only, as the Lambda poller needs to find the current one.",
    )
    return lambda_.EventSourceMapping(
        scope,
        f"{mapping.function}-{mapping.source}",
        target=fn,
        event_source_arn=table.table_stream_arn,
        starting_position=lambda_.StartingPosition[mapping.starting_position],
        batch_size=mapping.batch_size,
        max_batching_window=_window(mapping),
        report_batch_item_failures=mapping.report_batch_item_failures,
        retry_attempts=mapping.retry_attempts,
        bisect_batch_on_error=mapping.bisect_on_error,
        max_record_age=Duration.seconds(mapping.max_record_age_seconds),
        parallelization_factor=1,  # one batch per shard at a time: records of an item stay in order
        on_failure=sources.SqsDlq(queues[mapping.on_failure]),
        filters=[lambda_.FilterCriteria.filter({"eventName": lambda_.FilterRule.or_(*mapping.event_names)})]
        if mapping.event_names
        else None,
    )


def _queue_source(mapping: EventSourceMapping, queue: sqs.Queue) -> sources.SqsEventSource:
    return sources.SqsEventSource(
        queue,
        batch_size=mapping.batch_size,
        max_batching_window=_window(mapping),
        report_batch_item_failures=mapping.report_batch_item_failures,
        max_concurrency=mapping.max_concurrency,
    )
