"""The local runtime holds the same tables, indexes, streams, TTL, queues, routes and mappings as the
synthesised CloudFormation template: both are derived from infra.resources.SPEC, and this proves it."""

from __future__ import annotations

from typing import Any

from infra.resources import SPEC
from local_cloud.provision import describe_local
from local_cloud.runtime import LocalCloud
from tests.infrastructure.template_resources import describe_template


def _tables(description: dict[str, Any]) -> dict[str, Any]:
    return {
        name: {
            "keys": tuple(tuple(k) for k in table["keys"]),
            "indexes": {
                i: (tuple(tuple(k) for k in idx["keys"]), idx["local"]) for i, idx in table["indexes"].items()
            },
            "stream": table["stream"],
            "ttl": table["ttl"],
        }
        for name, table in description["tables"].items()
    }


def test_local_tables_match_the_template(template: dict[str, Any], cloud: LocalCloud) -> None:
    assert cloud.provisioned is not None
    local = describe_local(cloud.aws, cloud.provisioned)
    deployed = describe_template(template)
    assert set(_tables(local)) == {t.logical_id for t in SPEC.tables}
    assert _tables(local) == _tables(deployed)


def test_local_queues_and_dlqs_match_the_template(template: dict[str, Any], cloud: LocalCloud) -> None:
    assert cloud.provisioned is not None
    local = describe_local(cloud.aws, cloud.provisioned)["queues"]
    deployed = describe_template(template)["queues"]
    for name, queue in local.items():
        assert queue["dlq"] == deployed[name]["dlq"]
        assert queue["max_receive_count"] == deployed[name]["max_receive_count"]
        assert queue["visibility_timeout"] == deployed[name]["visibility_timeout_seconds"]
    deployed_main_queues = {name for name, q in deployed.items() if q["dlq"] is not None}
    assert set(local) == deployed_main_queues


def test_local_gateway_serves_exactly_the_deployed_routes(
    template: dict[str, Any], cloud: LocalCloud
) -> None:
    assert cloud.gateway is not None
    local_routes = {
        (method, rule.rule.replace("<", "{").replace(">", "}"))
        for rule in cloud.gateway.url_map.iter_rules()
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS") and not rule.rule.endswith("/docs")  # /docs is local only
    }
    assert local_routes == describe_template(template)["routes"]


def test_local_pollers_run_every_deployed_event_source_mapping(
    template: dict[str, Any], cloud: LocalCloud
) -> None:
    assert cloud.pollers is not None
    deployed = describe_template(template)["mappings"]
    local = {(p.mapping.function, p.mapping.source, p.mapping.kind): p.mapping for p in cloud.pollers.pollers}
    assert set(local) == set(deployed)
    for key, mapping in local.items():
        settings = deployed[key]
        assert settings["batch_size"] == mapping.batch_size
        assert settings["report_batch_item_failures"] == mapping.report_batch_item_failures
        if mapping.kind == "stream":
            assert settings["retry_attempts"] == mapping.retry_attempts
            assert settings["bisect_on_error"] == mapping.bisect_on_error
            assert settings["max_record_age_seconds"] == mapping.max_record_age_seconds
            assert settings["on_failure"] == mapping.on_failure
            assert settings["event_names"] == mapping.event_names
