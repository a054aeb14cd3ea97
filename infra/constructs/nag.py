"""cdk-nag acknowledgements and the metadata that ties CloudFormation resources back to the SPEC."""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnResource, Validations
from constructs import IConstruct

LOGICAL_ID_METADATA = "chirp:logical-id"
"""CloudFormation Metadata key holding the SPEC logical id (table, queue, DLQ, bucket) or function name."""


def acknowledge(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on ``construct`` (and its children) with a specific reason."""
    Validations.of(construct).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def tag_spec_id(construct: IConstruct, spec_id: str) -> None:
    """Record the SPEC id in the CloudFormation Metadata of the construct's main resource."""
    resource = construct.node.default_child
    assert isinstance(resource, CfnResource), construct.node.path
    resource.add_metadata(LOGICAL_ID_METADATA, spec_id)
