"""What an operator relies on, checked on the synthesised templates of both stages: cfn-lint finds no
error, no function role grants ``*`` except where an acknowledgement says why, queues outlast their
consumers, concurrency is bounded, no response reaches a trace, and every DLQ pages a human."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint

from infra.resources import SPEC
from tests.infrastructure.stateful import SNAPSHOT, replacements
from tests.infrastructure.template_resources import referenced_ids, resources_of, spec_ids

STAGES = ("template", "prod_template")
WILDCARD_ACTIONS_ALLOWED = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
"""Actions that support no resource-level scoping (acknowledged on every role with that reason)."""


@pytest.fixture(params=STAGES)
def any_stage(request: pytest.FixtureRequest) -> dict[str, Any]:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _function_roles(template: dict[str, Any]) -> set[str]:
    return {
        referenced_ids(fn["Properties"]["Role"]).pop()
        for fn in resources_of(template, "AWS::Lambda::Function").values()
    }


def test_cfn_lint_finds_no_error_in_either_stage(any_stage: dict[str, Any]) -> None:
    matches = lint(json.dumps(any_stage), regions=["us-east-1"])
    errors = [m for m in matches if m.rule.severity == "error"]
    assert not errors, "\n".join(str(m) for m in errors)


def test_no_function_role_grants_a_wildcard_beyond_what_cannot_be_scoped(any_stage: dict[str, Any]) -> None:
    roles = _function_roles(any_stage)
    for policy in resources_of(any_stage, "AWS::IAM::Policy").values():
        if not roles & referenced_ids(policy["Properties"]["Roles"]):
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = set(_as_list(statement["Action"]))
            assert not any(a == "*" or a.endswith(":*") for a in actions), statement
            if "*" in _as_list(statement["Resource"]):
                assert actions <= WILDCARD_ACTIONS_ALLOWED, statement


def test_stream_pollers_list_only_their_tables_streams(template: dict[str, Any]) -> None:
    found = 0
    for policy in resources_of(template, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if "dynamodb:ListStreams" in _as_list(statement["Action"]):
                found += 1
                assert "*" not in _as_list(statement["Resource"])
                assert "/stream/*" in json.dumps(statement["Resource"])
    assert found == len({(m.function, m.source) for m in SPEC.mappings if m.kind == "stream"})


def test_every_queue_outlasts_six_times_its_consumers_timeout_plus_window(any_stage: dict[str, Any]) -> None:
    functions = resources_of(any_stage, "AWS::Lambda::Function")
    queues = resources_of(any_stage, "AWS::SQS::Queue")
    checked = 0
    for mapping in resources_of(any_stage, "AWS::Lambda::EventSourceMapping").values():
        props = mapping["Properties"]
        source = referenced_ids(props["EventSourceArn"]) & set(queues)
        if not source:
            continue
        queue = queues[source.pop()]["Properties"]
        fn = functions[referenced_ids(props["FunctionName"]).pop()]["Properties"]
        window = props.get("MaximumBatchingWindowInSeconds", 0)
        assert queue.get("VisibilityTimeout", 30) >= 6 * fn.get("Timeout", 3) + window, (props, queue)
        checked += 1
    assert checked >= 1


def test_every_queue_mapping_bounds_its_concurrency(template: dict[str, Any]) -> None:
    queues = set(resources_of(template, "AWS::SQS::Queue"))
    for mapping in resources_of(template, "AWS::Lambda::EventSourceMapping").values():
        props = mapping["Properties"]
        if referenced_ids(props["EventSourceArn"]) & queues:
            assert 2 <= props["ScalingConfig"]["MaximumConcurrency"] <= 50, props
        else:
            assert props.get("ParallelizationFactor", 1) == 1, props


def test_no_function_records_responses_in_traces(any_stage: dict[str, Any]) -> None:
    for fn in resources_of(any_stage, "AWS::Lambda::Function").values():
        env = fn["Properties"].get("Environment", {}).get("Variables", {})
        if "POWERTOOLS_SERVICE_NAME" in env:  # ours, not CDK's custom-resource handlers
            assert env["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"


def test_every_dlq_and_the_failure_queue_page_a_human(template: dict[str, Any]) -> None:
    ids = {spec_id: cfn_id for cfn_id, spec_id in spec_ids(template).items()}
    topics = set(resources_of(template, "AWS::SNS::Topic"))
    alarms = resources_of(template, "AWS::CloudWatch::Alarm").values()
    paged: set[str] = set()
    for alarm in alarms:
        props = alarm["Properties"]
        assert referenced_ids(props["AlarmActions"]) <= topics and props["AlarmActions"], props
        for dimension in props.get("Dimensions", []):
            paged |= referenced_ids(dimension["Value"])
    for queue in SPEC.queues:
        assert ids[queue.dlq_logical_id] in paged, queue.dlq_logical_id
    assert ids["stream-failures"] in paged
    stream_functions = {m.function for m in SPEC.mappings if m.kind == "stream"}
    assert {ids[f] for f in stream_functions} <= paged, "iterator age of every stream consumer"


def test_the_alarm_topic_is_encrypted_and_tls_only(template: dict[str, Any]) -> None:
    (topic,) = resources_of(template, "AWS::SNS::Topic").values()
    assert topic["Properties"]["KmsMasterKeyId"]
    policies = json.dumps(resources_of(template, "AWS::SNS::TopicPolicy"))
    assert '"aws:SecureTransport": "false"' in policies


def test_the_dashboard_covers_the_api_queues_streams_functions_and_tables(template: dict[str, Any]) -> None:
    (board,) = resources_of(template, "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(board["Properties"]["DashboardBody"])
    for metric in (
        "5XXError",
        "4XXError",
        "Latency",
        "ApproximateAgeOfOldestMessage",
        "ApproximateNumberOfMessagesVisible",
        "IteratorAge",
        "Errors",
        "Duration",
        "Throttles",
        "ReadThrottleEvents",
        "HomeTimelineReads",
    ):
        assert metric in body, metric
    assert "DashboardName" in template["Outputs"] and "AlarmTopicArn" in template["Outputs"]


def test_no_change_replaces_or_deletes_a_stateful_resource(template: dict[str, Any]) -> None:
    snapshot = json.loads(SNAPSHOT.read_text())
    problems = replacements(template, snapshot)
    assert not problems, (
        "\n".join(problems) + "\nIf the replacement is intended (its data is migrated or expendable), run "
        "`make stateful-snapshot` and commit the snapshot."
    )
    assert any(r["Type"] == "AWS::DynamoDB::Table" for r in snapshot.values())


def test_the_replacement_check_flags_a_changed_key_and_a_renamed_table(template: dict[str, Any]) -> None:
    snapshot = json.loads(SNAPSHOT.read_text())
    table_id = next(k for k, r in snapshot.items() if r["Type"] == "AWS::DynamoDB::Table")
    changed = json.loads(json.dumps(template))
    changed["Resources"][table_id]["Properties"]["KeySchema"] = [{"AttributeName": "x", "KeyType": "HASH"}]
    assert any("KeySchema" in p for p in replacements(changed, snapshot))
    renamed = json.loads(json.dumps(template))
    renamed["Resources"][table_id + "Renamed"] = renamed["Resources"].pop(table_id)
    assert any("gone or renamed" in p for p in replacements(renamed, snapshot))


def test_powertools_logs_by_stage_and_never_logs_events(
    template: dict[str, Any], prod_template: dict[str, Any]
) -> None:
    for stage_template, level, sample in ((template, "DEBUG", "0"), (prod_template, "INFO", "0.01")):
        for fn in resources_of(stage_template, "AWS::Lambda::Function").values():
            env = fn["Properties"].get("Environment", {}).get("Variables", {})
            if "POWERTOOLS_SERVICE_NAME" not in env:
                continue
            assert env["LOG_LEVEL"] == level and env["POWERTOOLS_LOGGER_SAMPLE_RATE"] == sample
            assert env["POWERTOOLS_LOGGER_LOG_EVENT"] == "false"


def test_outputs_name_what_an_operator_needs(template: dict[str, Any]) -> None:
    outputs = set(template["Outputs"])
    wanted = {"ApiUrl", "UserPoolId", "UserPoolClientId", "AlarmTopicArn", "DashboardName", "SearchEndpoint"}
    wanted |= {"MediaBucket", "MediaCdnUrl", "MediaDistributionId"}
    wanted |= {q.url_output for q in SPEC.queues}
    assert wanted <= outputs, sorted(wanted - outputs)


def test_every_traced_handler_in_the_code_leaves_responses_out() -> None:
    root = Path(__file__).resolve().parents[2] / "functions"
    for source in root.rglob("*.py"):
        for number, line in enumerate(source.read_text().splitlines(), start=1):
            if "@tracer.capture_lambda_handler" in line:
                assert "capture_response=False" in line, f"{source}:{number}"
