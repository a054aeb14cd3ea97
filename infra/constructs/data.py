"""DynamoDB tables, one per SPEC table."""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from infra.constructs.nag import tag_spec_id
from infra.resources import Index, Key, Table

_ATTRIBUTE_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}


def _attribute(key: Key) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=key.name, type=_ATTRIBUTE_TYPES[key.type])


def _projection(index: Index) -> dict[str, Any]:
    """The CDK arguments of ``index.projection`` (the one definition the local cloud provisions too)."""
    projection = index.projection
    return {
        "projection_type": dynamodb.ProjectionType[projection["ProjectionType"]],
        "non_key_attributes": projection.get("NonKeyAttributes"),
    }


class Data(Construct):
    """On-demand tables with PITR, AWS-managed encryption, streams, TTL and indexes."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        tables: tuple[Table, ...],
        removal_policy: RemovalPolicy,
        deletion_protection: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        self.tables: dict[str, dynamodb.Table] = {}
        for spec in tables:
            table = dynamodb.Table(
                self,
                spec.logical_id,
                partition_key=_attribute(spec.partition_key),
                sort_key=_attribute(spec.sort_key) if spec.sort_key else None,
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                encryption=dynamodb.TableEncryption.AWS_MANAGED,
                stream=dynamodb.StreamViewType[spec.stream] if spec.stream else None,
                time_to_live_attribute=spec.ttl_attribute,
                removal_policy=removal_policy,
                deletion_protection=deletion_protection,
            )
            for index in spec.indexes:
                if index.local:
                    if index.sort_key is None:
                        raise ValueError(f"local index {index.name} of {spec.logical_id} needs a sort key")
                    table.add_local_secondary_index(
                        index_name=index.name,
                        sort_key=_attribute(index.sort_key),
                        **_projection(index),
                    )
                else:
                    table.add_global_secondary_index(
                        index_name=index.name,
                        partition_key=_attribute(index.partition_key),
                        sort_key=_attribute(index.sort_key) if index.sort_key else None,
                        **_projection(index),
                    )
            tag_spec_id(table, spec.logical_id)
            self.tables[spec.logical_id] = table
