"""The stack wires the rescue of exhausted stream batches as the definition says: stream-rescue reads
exactly the streams it declares, its replay routes name the deployed consumers, tables and queues, and
every queue's URL is a stack output for ``make replay``."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from infra.constructs.event_sources import _check
from infra.grants import REPLAY_ROUTES_VARIABLE
from infra.resources import SPEC, EventSourceMapping
from tests.infrastructure.template_resources import referenced_ids, resources_of, spec_ids

RESCUE = SPEC.function("stream-rescue")


def _function(template: dict[str, Any], name: str) -> dict[str, Any]:
    ids = spec_ids(template)
    return next(r for k, r in resources_of(template, "AWS::Lambda::Function").items() if ids.get(k) == name)


def _resolved(value: Any, ids: dict[str, str]) -> str:
    """A string built with Fn::Join, with every Ref replaced by the SPEC id of what it names."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return f"<{ids[value['Ref']]}>"
    separator, parts = value["Fn::Join"]
    return str(separator).join(_resolved(part, ids) for part in parts)


def test_the_rescue_reads_the_exact_arns_of_the_streams_it_declares(template: dict[str, Any]) -> None:
    ids = spec_ids(template)
    role = referenced_ids(_function(template, "stream-rescue")["Properties"]["Role"]).pop()
    statements = [
        s
        for policy in resources_of(template, "AWS::IAM::Policy").values()
        if role in referenced_ids(policy["Properties"]["Roles"])
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if any(
            a.startswith("dynamodb:")
            for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
        )
    ]
    read = {
        ids[s["Resource"]["Fn::GetAtt"][0]]: s
        for s in statements
        if s["Resource"]["Fn::GetAtt"][1] == "StreamArn"
    }
    assert set(read) == set(RESCUE.streams) and len(statements) == len(RESCUE.streams)
    assert all(
        sorted(s["Action"]) == ["dynamodb:GetRecords", "dynamodb:GetShardIterator"] for s in read.values()
    )


def test_the_rescue_routes_each_exhausted_mapping_to_its_consumers_replay_queue(
    template: dict[str, Any],
) -> None:
    ids = spec_ids(template)
    env = _function(template, "stream-rescue")["Properties"]["Environment"]["Variables"]
    routes = json.loads(_resolved(env[REPLAY_ROUTES_VARIABLE], ids))

    expected = [
        {
            "function": f"<{m.function}>",
            "table": f"<{m.source}>",
            "queue_url": f"<{m.replay}>",
            "event_names": list(m.event_names),
        }
        for m in SPEC.mappings
        if m.replay
    ]
    assert routes == expected
    assert {m.function for m in SPEC.mappings if m.on_failure} == {r["function"].strip("<>") for r in routes}


def test_every_replay_queue_is_an_event_source_of_its_consumer(template: dict[str, Any]) -> None:
    ids = spec_ids(template)
    sources = {
        (ids[referenced_ids(p["FunctionName"]).pop()], ids[referenced_ids(p["EventSourceArn"]).pop()])
        for p in (r["Properties"] for r in resources_of(template, "AWS::Lambda::EventSourceMapping").values())
    }
    for mapping in SPEC.mappings:
        if mapping.replay:
            assert (mapping.function, mapping.replay) in sources
    assert ("stream-rescue", "stream-failures") in sources


def test_every_queue_url_is_a_stack_output(template: dict[str, Any]) -> None:
    ids = spec_ids(template)
    outputs = template["Outputs"]
    for queue in SPEC.queues:
        assert ids[outputs[queue.url_output]["Value"]["Ref"]] == queue.logical_id


def _with_mappings(*mappings: EventSourceMapping) -> Any:
    return dataclasses.replace(SPEC, mappings=mappings)


def test_a_replay_queue_that_nothing_fills_or_another_function_drains_fails_synthesis() -> None:
    stream = next(m for m in SPEC.mappings if m.replay == "tweets-cleanup-replay")
    drain = next(m for m in SPEC.mappings if m.source == "tweets-cleanup-replay")
    rescue = next(m for m in SPEC.mappings if m.function == "stream-rescue")

    _check(_with_mappings(stream, drain, rescue), stream)  # as defined: fine
    with pytest.raises(ValueError, match="no function reads stream-failures"):
        _check(_with_mappings(stream, drain), stream)
    stolen = dataclasses.replace(drain, function="fanout-worker")
    with pytest.raises(ValueError, match="must be consumed by tweets-cleanup only"):
        _check(_with_mappings(stream, stolen, rescue), stream)
    with pytest.raises(ValueError, match="only a stream mapping"):
        _check(SPEC, dataclasses.replace(drain, replay="tweets-cleanup-replay"))
