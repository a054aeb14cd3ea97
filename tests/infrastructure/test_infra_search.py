"""The search domain: encrypted at rest and between nodes, HTTPS only, sized by stage, and reachable only
by the roles of the functions the SPEC grants it, with the same statements the local guard enforces."""

from __future__ import annotations

import json
from typing import Any

from infra.resources import SPEC
from tests.infrastructure.template_resources import resources_of, spec_ids

GRANTED = {fn.name for fn in SPEC.functions if fn.search}


def domain(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    found = resources_of(template, "AWS::OpenSearchService::Domain")
    assert len(found) == 1, sorted(found)
    return next(iter(found.items()))


def role_of(template: dict[str, Any], function: str) -> str:
    ids = spec_ids(template)
    (fn,) = [cfn_id for cfn_id, spec_id in ids.items() if spec_id == function]
    role = template["Resources"][fn]["Properties"]["Role"]
    return str(role["Fn::GetAtt"][0])


def test_the_domain_is_encrypted_and_https_only(template: dict[str, Any]) -> None:
    _, found = domain(template)
    props = found["Properties"]
    assert props["EncryptionAtRestOptions"] == {"Enabled": True}
    assert props["NodeToNodeEncryptionOptions"] == {"Enabled": True}
    assert props["DomainEndpointOptions"]["EnforceHTTPS"] is True
    assert props["DomainEndpointOptions"]["TLSSecurityPolicy"] == "Policy-Min-TLS-1-2-2019-07"
    assert props["EngineVersion"].startswith("OpenSearch_2.")


def test_only_the_indexer_and_search_roles_are_admitted(template: dict[str, Any]) -> None:
    cfn_id, found = domain(template)
    statements = found["Properties"]["AccessPolicies"]["Statement"]
    assert len(statements) == 1
    principals = statements[0]["Principal"]["AWS"]
    assert {"search-api", "search-indexer"} == GRANTED
    assert sorted(p["Fn::GetAtt"][0] for p in principals) == sorted(role_of(template, f) for f in GRANTED)
    assert "*" not in json.dumps(statements[0]["Principal"]).replace('"AWS"', "")
    # The domain's own paths, named by its name (its Arn attribute would be a self-reference).
    resource = json.dumps(statements[0]["Resource"])
    assert ':domain/chirp-dev-search/*"' in resource and cfn_id not in resource


def test_each_function_role_holds_exactly_its_declared_search_actions(template: dict[str, Any]) -> None:
    cfn_id, _ = domain(template)
    found: dict[str, list[list[str]]] = {}
    for policy in resources_of(template, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if any(a.startswith("es:") for a in actions):
                for role in policy["Properties"]["Roles"]:
                    found.setdefault(role["Ref"], []).append(sorted(actions))
    assert found == {
        role_of(template, "search-api"): [["es:ESHttpGet", "es:ESHttpPost"]],
        role_of(template, "search-indexer"): [
            ["es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut"]
        ],
    }
    assert cfn_id  # the statements name this domain's ARN (checked by the IAM5 acknowledgement ids)


def test_the_functions_reach_the_domain_by_its_https_endpoint(template: dict[str, Any]) -> None:
    cfn_id, _ = domain(template)
    for fn_id, spec_id in spec_ids(template).items():
        env = template["Resources"][fn_id].get("Properties", {}).get("Environment", {}).get("Variables", {})
        if spec_id in GRANTED:
            assert env["SEARCH_ENDPOINT"] == {
                "Fn::Join": ["", ["https://", {"Fn::GetAtt": [cfn_id, "DomainEndpoint"]}]]
            }
        else:
            assert "SEARCH_ENDPOINT" not in env, spec_id


def test_dev_is_one_small_node_and_prod_two_nodes_in_two_zones(
    template: dict[str, Any], prod_template: dict[str, Any]
) -> None:
    dev = domain(template)[1]["Properties"]["ClusterConfig"]
    prod = domain(prod_template)[1]["Properties"]["ClusterConfig"]
    assert (dev["InstanceType"], dev["InstanceCount"], dev["ZoneAwarenessEnabled"]) == (
        "t3.small.search",
        1,
        False,
    )
    assert (prod["InstanceType"], prod["InstanceCount"], prod["ZoneAwarenessEnabled"]) == (
        "m6g.large.search",
        2,
        True,
    )
    assert prod["ZoneAwarenessConfig"] == {"AvailabilityZoneCount": 2}
    assert domain(prod_template)[1]["DeletionPolicy"] == "Retain"
