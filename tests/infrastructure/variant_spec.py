"""A SPEC variant with one of everything the real SPEC may grow, to prove those code paths today:
an indexed, streamed table with TTL; queues; a bucket; one stream and one queue mapping."""

from __future__ import annotations

import dataclasses

from infra.resources import (
    SPEC,
    Bucket,
    EventSourceMapping,
    Function,
    Index,
    Key,
    Queue,
    Route,
    ServiceSpec,
    Table,
    TableAccess,
)

EVENTS = Table(
    logical_id="variant-events",
    env_var="VARIANT_EVENTS_TABLE_NAME",
    partition_key=Key("pk"),
    sort_key=Key("sk"),
    indexes=(
        Index("by_kind", Key("kind"), Key("at", "N")),
        Index("by_at", Key("pk"), Key("at", "N"), local=True),
    ),
    stream="NEW_IMAGE",
    ttl_attribute="expires_at",
)
JOBS = Queue(logical_id="variant-jobs", env_var="VARIANT_JOBS_QUEUE_URL", visibility_timeout_seconds=183)
FAILURES = Queue(logical_id="variant-failures", env_var="VARIANT_FAILURES_QUEUE_URL", max_receive_count=3)
MEDIA = Bucket(logical_id="variant-media", env_var="VARIANT_MEDIA_BUCKET_NAME")
STREAM_MAPPING = EventSourceMapping(
    function="variant-projector",
    source="variant-events",
    kind="stream",
    batch_size=25,
    max_batching_window_seconds=2,
    retry_attempts=4,
    bisect_on_error=True,
    max_record_age_seconds=7200,
    on_failure="variant-failures",
    starting_position="LATEST",
)
QUEUE_MAPPING = EventSourceMapping(
    function="variant-worker",
    source="variant-jobs",
    kind="queue",
    batch_size=5,
    max_batching_window_seconds=3,
)


def variant_spec() -> ServiceSpec:
    """SPEC plus one of everything it may grow: an indexed streamed table, queues, a bucket, mappings."""
    return dataclasses.replace(
        SPEC,
        tables=(*SPEC.tables, EVENTS),
        queues=(*SPEC.queues, JOBS, FAILURES),
        buckets=(*SPEC.buckets, MEDIA),
        functions=(
            *SPEC.functions,
            Function(
                name="variant-projector",
                handler="functions.variant.handlers.projector.lambda_handler",
                tables=(TableAccess("variant-events", read=True),),
                sends_to=("variant-jobs",),
            ),
            Function(
                name="variant-worker",
                handler="functions.variant.handlers.worker.lambda_handler",
                timeout_seconds=30,
                tables=(TableAccess("variant-events", read=True, write=True),),
                buckets=("variant-media",),
                environment=(("EXTRA_SETTING", "on"),),
            ),
        ),
        routes=(*SPEC.routes, Route("POST", "/variant/{item_id}/media", "variant-worker")),
        mappings=(STREAM_MAPPING, QUEUE_MAPPING),
    )
