"""The stateful resources of the stack and the properties whose change makes CloudFormation replace
them (a new, empty table; a new user pool without its users): what `make test` holds each change to.

    python -m tests.infrastructure.stateful   # rewrite the snapshot after a replacement you intend

A renamed construct is a replacement too (a new logical id, the old resource deleted or, retained,
orphaned), so the snapshot is keyed by logical id.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

SNAPSHOT = Path(__file__).with_name("stateful_resources.json")
REPLACING_PROPERTIES: dict[str, tuple[str, ...]] = {
    # From each type's CloudFormation reference ("Update requires: Replacement").
    "AWS::DynamoDB::Table": ("TableName", "KeySchema", "LocalSecondaryIndexes"),
    "AWS::Cognito::UserPool": ("UserPoolName", "AliasAttributes", "UsernameAttributes", "Schema"),
    "AWS::Cognito::UserPoolClient": ("UserPoolId", "GenerateSecret"),
    "AWS::S3::Bucket": ("BucketName",),
    "AWS::SQS::Queue": ("QueueName", "FifoQueue"),
    "AWS::SecretsManager::Secret": ("Name",),
    "AWS::OpenSearchService::Domain": ("DomainName",),
}


def describe(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Logical id -> {"Type", and the replacing properties it sets} for every stateful resource."""
    found: dict[str, dict[str, Any]] = {}
    for logical_id, resource in sorted(template["Resources"].items()):
        names = REPLACING_PROPERTIES.get(resource["Type"])
        if names is None:
            continue
        props = resource.get("Properties", {})
        found[logical_id] = {"Type": resource["Type"], **{n: props[n] for n in names if n in props}}
    return found


def replacements(template: dict[str, Any], snapshot: dict[str, dict[str, Any]]) -> list[str]:
    """What in ``template`` would replace or delete a resource of ``snapshot``."""
    now = describe(template)
    problems = []
    for logical_id, before in snapshot.items():
        after = now.get(logical_id)
        if after is None:
            problems.append(f"{logical_id} ({before['Type']}) is gone or renamed: it would be deleted")
        elif after != before:
            changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
            problems.append(f"{logical_id} ({before['Type']}): {', '.join(changed)} changed: replacement")
    return problems


def main() -> None:
    from infra.resources import SPEC
    from tests.infrastructure.template_resources import synthesize

    SNAPSHOT.write_text(json.dumps(describe(synthesize(SPEC, "dev")[0]), indent=1, sort_keys=True) + "\n")
    print(f"wrote {SNAPSHOT}", file=sys.stderr)


if __name__ == "__main__":
    main()
