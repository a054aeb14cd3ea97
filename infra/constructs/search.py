"""The search domains of the SPEC: one Amazon OpenSearch Service domain each.

Why a managed domain rather than OpenSearch Serverless: a Serverless collection bills at least 2 OCUs
(1 with standby replicas off in dev) around the clock, about $175-350 a month before any data, while
a dev domain is one t3.small.search node (about $26 a month with 10 GB of gp3) and prod two
m6g.large.search nodes in two zones (about $250 a month). A team of this size runs one index of a few
million tweets; a domain covers that with room, and its size is one setting per stage. Serverless
would win only for spiky or multi-tenant load, where its scaling beats resizing a domain.

Every domain: encryption at rest (AWS owned key), node-to-node encryption, HTTPS only with TLS 1.2,
and an access policy that admits only the roles of the functions the SPEC grants the domain (the
indexer and the search API); their IAM statements (``infra/grants.py``) narrow each role further.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_opensearchservice as opensearch
from constructs import Construct

from infra.constructs.nag import acknowledge, tag_spec_id
from infra.resources import SearchDomain

ENGINE = opensearch.EngineVersion.OPENSEARCH_2_19
SEARCH_ACTIONS = ["es:ESHttpHead", "es:ESHttpGet", "es:ESHttpPut", "es:ESHttpPost"]
"""What the access policy lets the admitted roles do at all; each role's own policy grants less."""


@dataclass(frozen=True)
class DomainSize:
    instance_type: str
    data_nodes: int
    volume_gb: int
    zones: int


SIZES = {
    "prod": DomainSize("m6g.large.search", data_nodes=2, volume_gb=50, zones=2),
    "dev": DomainSize("t3.small.search", data_nodes=1, volume_gb=10, zones=1),
}
"""By stage; any stage but prod is sized as dev."""


class Search(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        domains: tuple[SearchDomain, ...],
        stage: str,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.domains: dict[str, opensearch.Domain] = {}
        self._names: dict[str, str] = {}
        size = SIZES["prod" if stage == "prod" else "dev"]
        for spec in domains:
            # Named, so the access policy can name the domain's ARN without referring to the domain
            # itself (a reference to its own Arn attribute is a circular dependency).
            name = f"chirp-{stage}-{spec.logical_id}"[:28].rstrip("-")
            slow_search, slow_index, application = (
                logs.LogGroup(
                    self,
                    f"{spec.logical_id}-{kind}",
                    retention=logs.RetentionDays.ONE_MONTH,
                    removal_policy=removal_policy,
                )
                for kind in ("slow-search", "slow-index", "app")
            )
            # The domain's log delivery, as a plain resource policy: CDK's own applies it through a
            # custom-resource Lambda.
            delivery = logs.ResourcePolicy(
                self,
                f"{spec.logical_id}-log-delivery",
                policy_statements=[
                    iam.PolicyStatement(
                        principals=[iam.ServicePrincipal("es.amazonaws.com")],
                        actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                        resources=[group.log_group_arn for group in (slow_search, slow_index, application)],
                    )
                ],
            )
            domain = opensearch.Domain(
                self,
                spec.logical_id,
                domain_name=name,
                version=ENGINE,
                logging=opensearch.LoggingOptions(
                    slow_search_log_enabled=True,
                    slow_search_log_group=slow_search,
                    slow_index_log_enabled=True,
                    slow_index_log_group=slow_index,
                    app_log_enabled=True,
                    app_log_group=application,
                ),
                suppress_logs_resource_policy=True,
                capacity=opensearch.CapacityConfig(
                    data_nodes=size.data_nodes,
                    data_node_instance_type=size.instance_type,
                    multi_az_with_standby_enabled=False,
                ),
                ebs=opensearch.EbsOptions(
                    volume_size=size.volume_gb, volume_type=ec2.EbsDeviceVolumeType.GP3
                ),
                zone_awareness=opensearch.ZoneAwarenessConfig(
                    enabled=size.zones > 1, availability_zone_count=size.zones if size.zones > 1 else None
                ),
                encryption_at_rest=opensearch.EncryptionAtRestOptions(enabled=True),
                node_to_node_encryption=True,
                enforce_https=True,
                tls_security_policy=opensearch.TLSSecurityPolicy.TLS_1_2,
                removal_policy=removal_policy,
            )
            domain.node.add_dependency(delivery)
            tag_spec_id(domain, spec.logical_id)
            self._acknowledge(domain, prod=size.zones > 1)
            self.domains[spec.logical_id] = domain
            self._names[spec.logical_id] = name

    def endpoints(self) -> dict[str, str]:
        """The HTTPS endpoint of each domain, for the functions' environment."""
        return {logical_id: f"https://{d.domain_endpoint}" for logical_id, d in self.domains.items()}

    def admit(self, logical_id: str, functions: list[lambda_.Function]) -> None:
        """Make the access policy of domain ``logical_id`` admit exactly the roles of ``functions``.

        Set on the CloudFormation resource itself: the L2 ``access_policies`` applies the policy with a
        custom resource (a Lambda function of its own) after the domain exists."""
        domain = self.domains[logical_id]
        roles = [fn.role.role_arn for fn in functions if fn.role is not None]
        statement = iam.PolicyStatement(
            principals=[iam.ArnPrincipal(arn) for arn in roles],
            actions=SEARCH_ACTIONS,
            resources=[
                Stack.of(self).format_arn(
                    service="es",
                    resource="domain",
                    resource_name=f"{self._names[logical_id]}/*",
                    arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                )
            ],
        )
        cfn = domain.node.default_child
        assert isinstance(cfn, opensearch.CfnDomain)
        cfn.access_policies = iam.PolicyDocument(statements=[statement]).to_json()

    @staticmethod
    def _acknowledge(domain: opensearch.Domain, *, prod: bool) -> None:
        acknowledge(
            domain,
            "AwsSolutions-OS1",
            "Outside a VPC on purpose: every request is SigV4-signed and the access policy admits only "
            "the indexer's and the search function's roles; a VPC would put every function in it and "
            "need NAT gateways (about $35 a month each) for DynamoDB, SQS and Cognito.",
        )
        acknowledge(
            domain,
            "AwsSolutions-OS3",
            "Access is by IAM principal (the two function roles), not by source address: Lambda has no "
            "fixed addresses to allow-list.",
        )
        acknowledge(
            domain,
            "AwsSolutions-OS4",
            "No dedicated master nodes: 1 (dev) or 2 (prod) data nodes hold one small index; three "
            "dedicated masters would more than double the domain's cost for no load they would carry.",
        )
        acknowledge(
            domain,
            "AwsSolutions-OS5",
            "Not anonymous: the access policy names the two function roles as principals (no '*').",
        )
        if not prod:
            acknowledge(
                domain,
                "AwsSolutions-OS7",
                "The dev domain is one node in one zone (about $26 a month); prod spreads two nodes over "
                "two zones.",
            )
