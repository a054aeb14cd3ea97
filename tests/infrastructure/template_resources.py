"""Synthesise the Chirp stack and describe it in SPEC terms, so tests can compare it with the SPEC and
with the local runtime.

    from tests.infrastructure.template_resources import describe_spec, describe_template, synth_template

    assert describe_template(synth_template(SPEC)) == describe_spec(SPEC)

A description is a plain dict::

    {
      "tables": {spec_id: {"keys": (("pk", "HASH", "S"), ...),
                           "indexes": {name: {"keys": (...), "local": bool, "projection": (type, attrs)}},
                           "stream": "NEW_AND_OLD_IMAGES" | None, "ttl": "expires_at" | None}},
      "queues": {spec_id: {"dlq": dlq_spec_id | None, "max_receive_count": int | None,
                           "visibility_timeout_seconds": int, "retention_seconds": int}},   # DLQs included
      "routes": {("GET", "/api/v1/health"), ...},
      "route_targets": {("GET", "/api/v1/health"): {"function": "docs-api", "auth": False}},
      "functions": {name: {"handler": str, "memory_mb": int, "timeout_seconds": int}},
      "mappings": {(function, source_spec_id, kind): {"batch_size": int, ...}},
    }

CloudFormation logical ids are mapped back to SPEC ids through the ``chirp:logical-id`` metadata the
stack writes on every table, queue, bucket and function.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from infra.resources import BASE_PATH, ServiceSpec  # noqa: E402
from tests.support.scripts import load_script  # noqa: E402

LOGICAL_ID_METADATA = "chirp:logical-id"
SQS_DEFAULT_VISIBILITY = 30
SQS_DEFAULT_RETENTION = 4 * 24 * 3600
Template = dict[str, Any]
STAGE_CONTEXT: dict[str, dict[str, Any]] = {
    "prod": {"account": "111111111111", "region": "eu-west-1", "email_sender": "no-reply@example.com"}
}
"""What a prod deploy must be told (app.py refuses prod without it)."""


def ensure_layer() -> None:
    """Build .build/layer with scripts/build_assets.py unless it is already built (cached by hash)."""
    load_script("build_assets").build_layer()


@functools.lru_cache(maxsize=8)
def synthesize(spec: ServiceSpec, stage: str = "dev") -> tuple[Template, dict[str, Any]]:
    """(template, validation report) of ``app.py``'s app for ``spec``; raises if cdk-nag fails."""
    ensure_layer()
    from app import build_app

    with tempfile.TemporaryDirectory(prefix="chirp-cdk-") as outdir:
        assembly = build_app(spec, stage=stage, outdir=outdir, context=STAGE_CONTEXT.get(stage)).synth()
        template = assembly.get_stack_by_name(f"chirp-{stage}").template
        report_path = Path(outdir) / "validation-report.json"
        report = json.loads(report_path.read_text()) if report_path.exists() else {"pluginReports": []}
    return template, report


def synth_template(spec: ServiceSpec, stage: str = "dev") -> Template:
    """The synthesised CloudFormation template (a fresh copy; synthesis is cached per spec and stage)."""
    return copy.deepcopy(synthesize(spec, stage)[0])


def spec_ids(template: Template) -> dict[str, str]:
    """CloudFormation logical id -> SPEC id, for every resource tagged with ``chirp:logical-id``."""
    return {
        cfn_id: resource["Metadata"][LOGICAL_ID_METADATA]
        for cfn_id, resource in template["Resources"].items()
        if LOGICAL_ID_METADATA in resource.get("Metadata", {})
    }


def resources_of(template: Template, cfn_type: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == cfn_type}


def referenced_ids(value: Any) -> set[str]:
    """Logical ids named by Ref / Fn::GetAtt anywhere inside ``value``."""
    if isinstance(value, dict):
        found = set()
        if "Ref" in value:
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            found.add(value["Fn::GetAtt"][0])
        for item in value.values():
            found |= referenced_ids(item)
        return found
    if isinstance(value, list):
        return set().union(*(referenced_ids(item) for item in value)) if value else set()
    return set()


def _keys(key_schema: list[dict[str, str]], types: dict[str, str]) -> tuple[tuple[str, str, str], ...]:
    return tuple((k["AttributeName"], k["KeyType"], types[k["AttributeName"]]) for k in key_schema)


def _projection(projection: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    return projection["ProjectionType"], tuple(sorted(projection.get("NonKeyAttributes", ())))


def _describe_table(props: dict[str, Any]) -> dict[str, Any]:
    types = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    indexes = {}
    for kind, local in (("GlobalSecondaryIndexes", False), ("LocalSecondaryIndexes", True)):
        for index in props.get(kind, []):
            indexes[index["IndexName"]] = {
                "keys": _keys(index["KeySchema"], types),
                "local": local,
                "projection": _projection(index["Projection"]),
            }
    ttl = props.get("TimeToLiveSpecification", {})
    return {
        "keys": _keys(props["KeySchema"], types),
        "indexes": indexes,
        "stream": props.get("StreamSpecification", {}).get("StreamViewType"),
        "ttl": ttl.get("AttributeName") if ttl.get("Enabled") else None,
    }


def _resource_paths(template: Template) -> dict[str, str]:
    """API Gateway resource logical id -> full path ("" for the root)."""
    resources = resources_of(template, "AWS::ApiGateway::Resource")

    def path_of(cfn_id: str) -> str:
        props = resources[cfn_id]["Properties"]
        parent = props["ParentId"]
        prefix = path_of(parent["Ref"]) if "Ref" in parent else ""
        return f"{prefix}/{props['PathPart']}"

    return {cfn_id: path_of(cfn_id) for cfn_id in resources}


def _describe_routes(template: Template, ids: dict[str, str]) -> dict[tuple[str, str], dict[str, Any]]:
    paths = _resource_paths(template)
    routes = {}
    for method in resources_of(template, "AWS::ApiGateway::Method").values():
        props = method["Properties"]
        if props["HttpMethod"] == "OPTIONS" and props.get("Integration", {}).get("Type") == "MOCK":
            continue  # a CORS preflight API Gateway answers itself, not a route of the SPEC
        resource = props["ResourceId"]
        path = paths[resource["Ref"]] if "Ref" in resource else "/"
        targets = referenced_ids(props.get("Integration", {}).get("Uri")) & ids.keys()
        routes[(props["HttpMethod"], path)] = {
            "function": ids[targets.pop()] if targets else None,
            "auth": props.get("AuthorizationType", "NONE") != "NONE",
        }
    return routes


def _describe_mapping(props: dict[str, Any]) -> dict[str, Any]:
    stream = "StartingPosition" in props
    on_failure = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
    return {
        "batch_size": props.get("BatchSize"),
        "max_batching_window_seconds": props.get("MaximumBatchingWindowInSeconds", 0),
        "report_batch_item_failures": "ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
        "retry_attempts": props.get("MaximumRetryAttempts") if stream else None,
        "bisect_on_error": props.get("BisectBatchOnFunctionError") if stream else None,
        "max_record_age_seconds": props.get("MaximumRecordAgeInSeconds") if stream else None,
        "on_failure": on_failure,
        "starting_position": props.get("StartingPosition"),
        "event_names": _event_names(props),
    }


def _event_names(props: dict[str, Any]) -> tuple[str, ...]:
    """The eventName values a mapping's filter lets through (() when it has no filter)."""
    names: list[str] = []
    for entry in props.get("FilterCriteria", {}).get("Filters", []):
        names.extend(json.loads(entry["Pattern"]).get("eventName", []))
    return tuple(names)


def describe_template(template: Template) -> dict[str, Any]:
    """Normalised description of a synthesised template, keyed by SPEC ids (see the module docstring)."""
    ids = spec_ids(template)
    tables = {
        ids[k]: _describe_table(r["Properties"])
        for k, r in resources_of(template, "AWS::DynamoDB::Table").items()
    }
    queues = {}
    for cfn_id, resource in resources_of(template, "AWS::SQS::Queue").items():
        props = resource.get("Properties", {})
        redrive = props.get("RedrivePolicy")
        queues[ids[cfn_id]] = {
            "dlq": ids[referenced_ids(redrive["deadLetterTargetArn"]).pop()] if redrive else None,
            "max_receive_count": redrive["maxReceiveCount"] if redrive else None,
            "visibility_timeout_seconds": props.get("VisibilityTimeout", SQS_DEFAULT_VISIBILITY),
            "retention_seconds": props.get("MessageRetentionPeriod", SQS_DEFAULT_RETENTION),
        }
    functions = {
        ids[k]: {
            "handler": r["Properties"]["Handler"],
            "memory_mb": r["Properties"]["MemorySize"],
            "timeout_seconds": r["Properties"]["Timeout"],
        }
        for k, r in resources_of(template, "AWS::Lambda::Function").items()
        if k in ids
    }
    mappings = {}
    for resource in resources_of(template, "AWS::Lambda::EventSourceMapping").values():
        props = resource["Properties"]
        description = _describe_mapping(props)
        if description["on_failure"] is not None:
            description["on_failure"] = ids[referenced_ids(description["on_failure"]).pop()]
        function = ids[referenced_ids(props["FunctionName"]).pop()]
        source = ids[referenced_ids(props["EventSourceArn"]).pop()]
        kind = "stream" if description["starting_position"] else "queue"
        mappings[(function, source, kind)] = description
    route_targets = _describe_routes(template, ids)
    return {
        "tables": tables,
        "queues": queues,
        "routes": set(route_targets),
        "route_targets": route_targets,
        "functions": functions,
        "mappings": mappings,
    }


def describe_spec(spec: ServiceSpec) -> dict[str, Any]:
    """What ``describe_template`` should return for the stack synthesised from ``spec``."""

    def keys(partition: Any, sort: Any) -> tuple[tuple[str, str, str], ...]:
        pairs = [(partition, "HASH")] + ([(sort, "RANGE")] if sort else [])
        return tuple((key.name, key_type, key.type) for key, key_type in pairs)

    tables = {
        t.logical_id: {
            "keys": keys(t.partition_key, t.sort_key),
            "indexes": {
                i.name: {
                    "keys": keys(i.partition_key, i.sort_key),
                    "local": i.local,
                    "projection": _projection(i.projection),
                }
                for i in t.indexes
            },
            "stream": t.stream,
            "ttl": t.ttl_attribute,
        }
        for t in spec.tables
    }
    queues: dict[str, Any] = {}
    for q in spec.queues:
        queues[q.logical_id] = {
            "dlq": q.dlq_logical_id,
            "max_receive_count": q.max_receive_count,
            "visibility_timeout_seconds": q.visibility_timeout_seconds,
            "retention_seconds": q.retention_seconds,
        }
        queues[q.dlq_logical_id] = {
            "dlq": None,
            "max_receive_count": None,
            "visibility_timeout_seconds": SQS_DEFAULT_VISIBILITY,
            "retention_seconds": q.dlq_retention_seconds,
        }
    route_targets = {
        (r.method, BASE_PATH + r.path): {"function": r.function, "auth": r.auth} for r in spec.routes
    }
    functions = {
        f.name: {"handler": f.handler, "memory_mb": f.memory_mb, "timeout_seconds": f.timeout_seconds}
        for f in spec.functions
    }
    mappings = {
        (m.function, m.source, m.kind): {
            "batch_size": m.batch_size,
            "max_batching_window_seconds": m.max_batching_window_seconds,
            "report_batch_item_failures": m.report_batch_item_failures,
            "retry_attempts": m.retry_attempts if m.kind == "stream" else None,
            "bisect_on_error": m.bisect_on_error if m.kind == "stream" else None,
            "max_record_age_seconds": m.max_record_age_seconds if m.kind == "stream" else None,
            "on_failure": m.on_failure if m.kind == "stream" else None,
            "starting_position": m.starting_position if m.kind == "stream" else None,
            "event_names": m.event_names,
        }
        for m in spec.mappings
    }
    return {
        "tables": tables,
        "queues": queues,
        "routes": set(route_targets),
        "route_targets": route_targets,
        "functions": functions,
        "mappings": mappings,
    }
