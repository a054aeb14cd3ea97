"""Event-source mappings (table streams and queues) from SPEC.mappings."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
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
                fn.add_event_source(_stream_source(mapping, tables[mapping.source], queues))
                acknowledge(
                    fn.role,  # type: ignore[arg-type]
                    "AwsSolutions-IAM5[Resource::*]",
                    "dynamodb:ListStreams (stream consumer) supports no resource-level scoping.",
                )
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
        if mapping.replay is not None:
            _check_replay(spec, mapping, where)
    elif mapping.replay is not None:
        raise ValueError(f"{where}: only a stream mapping has records to replay")
    elif (
        spec.queue(mapping.source).visibility_timeout_seconds
        < spec.function(mapping.function).timeout_seconds
    ):
        raise ValueError(f"{where}: the queue's visibility timeout is below the function timeout")


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


def _stream_source(
    mapping: EventSourceMapping, table: dynamodb.Table, queues: dict[str, sqs.Queue]
) -> sources.DynamoEventSource:
    assert mapping.on_failure is not None
    return sources.DynamoEventSource(
        table,
        starting_position=lambda_.StartingPosition[mapping.starting_position],
        batch_size=mapping.batch_size,
        max_batching_window=_window(mapping),
        report_batch_item_failures=mapping.report_batch_item_failures,
        retry_attempts=mapping.retry_attempts,
        bisect_batch_on_error=mapping.bisect_on_error,
        max_record_age=Duration.seconds(mapping.max_record_age_seconds),
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
    )
