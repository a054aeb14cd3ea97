"""Every Lambda function of the SPEC from one factory, with the shared layer and least-privilege grants."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import BundlingOptions, DockerImage, Duration, ILocalBundling, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_opensearchservice as opensearch
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.auth import Auth
from infra.constructs.nag import acknowledge, tag_spec_id
from infra.grants import DeployedNames, ResourceRef, function_environment, function_grants, named_functions
from infra.resources import Function, ServiceSpec

RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64
METRICS_NAMESPACE = "Chirp"
LAYER_STAMP = "requirements.sha256"
_SKIPPED_PARTS = {"__pycache__", "tests", "conftest.py"}


class AssetsNotBuiltError(RuntimeError):
    """The dependencies layer has not been built; synthesis cannot go on."""


@jsii.implements(ILocalBundling)
class _StageFunctionsPackage:
    """Copies the ``functions`` package (only .py files, no tests) to the asset root, without Docker."""

    def __init__(self, source: Path) -> None:
        self._source = source

    def try_bundle(self, output_dir: str, *_args: Any, **_options: Any) -> bool:
        target = Path(output_dir) / self._source.name
        target.mkdir(parents=True, exist_ok=True)  # never empty, even before any code exists
        for path in sorted(self._source.rglob("*.py")):
            relative = path.relative_to(self._source)
            if _SKIPPED_PARTS.isdisjoint(relative.parts) and not path.name.startswith("test_"):
                (target / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target / relative)
        return True


def functions_code(functions_dir: Path) -> lambda_.Code:
    """The code asset: ``functions/`` at the zip root, so handlers are ``functions.<domain>....``."""
    return lambda_.Code.from_asset(
        str(functions_dir),
        exclude=["**/__pycache__", "**/*.pyc", "**/tests", "**/test_*.py", "**/conftest.py"],
        bundling=BundlingOptions(
            image=DockerImage.from_registry("local-bundling-only"),  # never pulled: local bundling succeeds
            local=_StageFunctionsPackage(functions_dir),
        ),
    )


def layer_code(layer_dir: Path) -> lambda_.Code:
    """The dependencies layer built by scripts/build_assets.py; its stamp is the asset hash."""
    stamp = layer_dir / LAYER_STAMP
    if not (layer_dir / "python").is_dir() or not stamp.is_file():
        raise AssetsNotBuiltError(
            f"The Lambda dependencies layer is missing ({layer_dir}). Run `make build` "
            "(python scripts/build_assets.py) before synthesising or deploying."
        )
    return lambda_.Code.from_asset(str(layer_dir), asset_hash=stamp.read_text().strip())


@dataclass(frozen=True)
class Resources:
    """What the functions may be granted, by SPEC logical id."""

    tables: dict[str, dynamodb.Table]
    queues: dict[str, sqs.Queue]
    buckets: dict[str, s3.Bucket]
    auth: Auth
    secrets: dict[str, secretsmanager.Secret]
    search_domains: dict[str, opensearch.Domain] = field(default_factory=dict)
    """The search domains (``infra/constructs/search.py``)."""
    bucket_urls: dict[str, str] = field(default_factory=dict)
    """Base URL serving each bucket's objects to clients (its CloudFront distribution)."""


class Functions(Construct):
    """One LogGroup, role and function per SPEC function; grants exactly what the SPEC lists."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: ServiceSpec,
        resources: Resources,
        code: lambda_.Code,
        layer: lambda_.Code,
        stage: str,
        auto_confirm_signup: bool,
        removal_policy: RemovalPolicy,
        settings: dict[str, str] | None = None,
        cors_origins: str = "",
    ) -> None:
        super().__init__(scope, construct_id)
        self._spec = spec
        self._resources = resources
        self._stage = stage
        self._auto_confirm_signup = auto_confirm_signup
        self._settings = settings or {}
        self._cors_origins = cors_origins
        self._removal_policy = removal_policy
        self._code = code
        self._layer = lambda_.LayerVersion(
            self,
            "Dependencies",
            code=layer,
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="Pinned dependencies of requirements.txt (manylinux2014 aarch64, CPython 3.13)",
            removal_policy=removal_policy,
        )
        self.functions: dict[str, lambda_.Function] = {}
        # A function whose environment names other functions (the replay routes) comes after them.
        pending = list(spec.functions)
        while pending:
            ready = [fn for fn in pending if named_functions(spec, fn) <= self.functions.keys()]
            if not ready:
                raise ValueError(
                    f"functions name each other in their environments: {[f.name for f in pending]}"
                )
            for fn in ready:
                self.functions[fn.name] = self._function(fn)
                pending.remove(fn)

    def _function(self, spec: Function) -> lambda_.Function:
        scope = Construct(self, spec.name)
        log_group = logs.LogGroup(
            scope, "Logs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=self._removal_policy
        )
        role = iam.Role(
            scope,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs the {spec.name} function",
        )
        log_group.grant_write(role)  # instead of AWSLambdaBasicExecutionRole: its own log group only
        fn = lambda_.Function(
            scope,
            "Function",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=spec.handler,
            code=self._code,
            layers=[self._layer],
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_seconds),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            role=role,
            environment=self._environment(spec),
            description=f"Chirp {spec.name} ({spec.handler})",
        )
        tag_spec_id(fn, spec.name)
        self._grant(spec, fn)
        acknowledge(
            fn,
            "AwsSolutions-L1",
            "Python 3.13 on purpose: the dependencies layer is built for CPython 3.13 wheels.",
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) support no resource-level scoping.",
        )
        return fn

    def _environment(self, spec: Function) -> dict[str, str]:
        res = self._resources
        names = DeployedNames(
            tables={logical_id: table.table_name for logical_id, table in res.tables.items()},
            queues={logical_id: queue.queue_url for logical_id, queue in res.queues.items()},
            functions={name: fn.function_name for name, fn in self.functions.items()},
            buckets={logical_id: bucket.bucket_name for logical_id, bucket in res.buckets.items()},
            bucket_urls=res.bucket_urls,
            secrets={logical_id: secret.secret_arn for logical_id, secret in res.secrets.items()},
            user_pool_id=res.auth.user_pool.user_pool_id,
            user_pool_client_id=res.auth.client.user_pool_client_id,
            search_endpoints={k: f"https://{d.domain_endpoint}" for k, d in res.search_domains.items()},
        )
        return function_environment(
            self._spec,
            spec,
            names,
            stage=self._stage,
            auto_confirm_signup=self._auto_confirm_signup,
            settings=self._settings,
            cors_origins=self._cors_origins,
            metrics_namespace=METRICS_NAMESPACE,
        )

    def _arn(self, ref: ResourceRef) -> str:
        res = self._resources
        if ref.kind == "table":
            arn = res.tables[ref.logical_id].table_arn
        elif ref.kind == "stream":
            stream_arn = res.tables[ref.logical_id].table_stream_arn
            if stream_arn is None:
                raise ValueError(f"table {ref.logical_id} has no stream")
            arn = stream_arn  # the current stream's exact ARN, not table/*/stream/*
        elif ref.kind == "queue":
            arn = res.queues[ref.logical_id].queue_arn
        elif ref.kind == "bucket":
            arn = res.buckets[ref.logical_id].bucket_arn
        elif ref.kind == "secret":
            arn = res.secrets[ref.logical_id].secret_arn
        elif ref.kind == "search_domain":
            arn = res.search_domains[ref.logical_id].domain_arn
        else:
            arn = res.auth.user_pool.user_pool_arn
        return f"{arn}{ref.suffix}"

    def _grant(self, spec: Function, fn: lambda_.Function) -> None:
        """One statement per declared grant (``infra/grants.py``, the same list the local IAM guard
        enforces): actions on one table, index, stream, queue, bucket's objects, secret or the user pool."""
        stack = Stack.of(self)
        for grant in function_grants(self._spec, spec):
            fn.add_to_role_policy(
                iam.PolicyStatement(actions=list(grant.actions), resources=[self._arn(grant.resource)])
            )
            if grant.resource.kind == "bucket":
                bucket = self._resources.buckets[grant.resource.logical_id]
                logical_id = stack.get_logical_id(bucket.node.default_child)  # type: ignore[arg-type]
                acknowledge(
                    fn.role,  # type: ignore[arg-type]
                    f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/*]",
                    f"Objects are keyed per upload inside the {grant.resource.logical_id} bucket; "
                    "access is that bucket only.",
                )
            if grant.resource.kind == "search_domain":
                domain = self._resources.search_domains[grant.resource.logical_id]
                logical_id = stack.get_logical_id(domain.node.default_child)  # type: ignore[arg-type]
                acknowledge(
                    fn.role,  # type: ignore[arg-type]
                    f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>{grant.resource.suffix}]",
                    "OpenSearch authorises each HTTP path of the domain (index names, _search, _bulk); "
                    f"the statement covers the {grant.resource.logical_id} domain's paths only.",
                )
