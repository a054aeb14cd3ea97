"""The Chirp stack: every resource derived from a ServiceSpec (``infra.resources.SPEC`` by default)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from functions.core import cors
from infra.constructs.api import Api
from infra.constructs.auth import Auth
from infra.constructs.data import Data
from infra.constructs.event_sources import EventSources
from infra.constructs.functions import Functions, Resources, functions_code, layer_code
from infra.constructs.messaging import Messaging
from infra.constructs.observability import Observability
from infra.constructs.search import Search
from infra.constructs.secrets import Secrets
from infra.constructs.storage import Storage
from infra.constructs.waf import Waf
from infra.resources import SPEC, TUNABLES, ServiceSpec
from infra.stages import stage_config

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = ROOT / "functions"
LAYER_DIR = ROOT / ".build" / "layer"


def _configured_tunables(scope: Construct) -> dict[str, str]:
    """Tunables set as CDK context (``--context CELEBRITY_FOLLOWER_THRESHOLD=5000``); the rest keep
    the defaults of the functions' settings models."""
    configured: dict[str, str] = {}
    for name in TUNABLES:
        value = scope.node.try_get_context(name)
        if value is not None:
            configured[name] = str(value)
    return configured


class ChirpStack(Stack):
    """Tables, queues, buckets, the user pool, functions, event sources and the REST API of one stage,
    behind a WAF web ACL that limits sign-up and log-in per client address.

    In stage ``prod`` resources are retained on delete and Cognito verifies e-mail addresses;
    in any other stage resources are destroyed with the stack and sign-ups are confirmed by the
    users function (``AUTO_CONFIRM_SIGNUP=true``).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: ServiceSpec = SPEC,
        stage: str = "dev",
        layer_dir: Path = LAYER_DIR,
        functions_dir: Path = FUNCTIONS_DIR,
        **kwargs: Any,
    ) -> None:
        config = stage_config(stage)
        # Browser origins allowed to call the API: any in dev unless configured, none in prod unless
        # configured (--context CORS_ALLOWED_ORIGINS=https://app.example.com,https://admin.example.com).
        cors_origins = str(scope.node.try_get_context(cors.ENV_VAR) or ("" if config.prod else "*"))
        super().__init__(scope, construct_id, termination_protection=config.termination_protection, **kwargs)
        prod = config.prod
        removal = config.removal_policy
        data = Data(
            self,
            "Data",
            tables=spec.tables,
            removal_policy=removal,
            deletion_protection=config.deletion_protection,
        )
        messaging = Messaging(self, "Messaging", queues=spec.queues, removal_policy=removal)
        storage = Storage(
            self, "Storage", buckets=spec.buckets, removal_policy=removal, queues=messaging.queues
        )
        auth = Auth(
            self,
            "Auth",
            pool=spec.user_pool,
            verify_email=config.verify_email,
            removal_policy=removal,
            email_sender=self.node.try_get_context("email_sender"),
            ses_region=self.node.try_get_context("ses_region"),
        )
        if prod and not self.node.try_get_context("email_sender"):
            raise ValueError(
                "stage prod sends sign-up e-mail through SES: pass --context email_sender=<verified "
                "address> (and ses_region=<region> if SES is elsewhere); Cognito's own sender is "
                "limited to 50 messages a day"
            )
        secrets = Secrets(self, "Secrets", secrets=spec.secrets, removal_policy=removal)
        search = Search(self, "Search", domains=spec.search_domains, stage=stage, removal_policy=removal)
        functions = Functions(
            self,
            "Functions",
            spec=spec,
            resources=Resources(
                data.tables,
                messaging.queues,
                storage.buckets,
                auth,
                secrets.secrets,
                search.domains,
                bucket_urls=storage.urls,
            ),
            code=functions_code(functions_dir),
            layer=layer_code(layer_dir),
            stage=stage,
            auto_confirm_signup=not prod,
            removal_policy=removal,
            settings=_configured_tunables(self),
            cors_origins=cors_origins,
        )
        for domain in spec.search_domains:  # the domain admits exactly the roles granted it
            granted = [
                fn.name for fn in spec.functions if any(a.domain == domain.logical_id for a in fn.search)
            ]
            search.admit(domain.logical_id, [functions.functions[name] for name in granted])
        EventSources(
            self,
            "EventSources",
            spec=spec,
            functions=functions.functions,
            tables=data.tables,
            queues=messaging.queues,
        )
        api = Api(
            self,
            "Api",
            routes=spec.routes,
            functions=functions.functions,
            user_pool=auth.user_pool,
            config=config,
            cors_origins=cors.parse_origins(cors_origins),
        )
        # In every stage, not only prod: a client that meets a 429 in prod meets it in dev first, and the
        # web ACL costs a few dollars a month per stage.
        Waf(
            self,
            "Waf",
            stage_arn=api.rest_api.deployment_stage.stage_arn,
            stage=stage,
            managed_rules=config.managed_waf_rules,
        )
        Observability(
            self,
            "Observability",
            spec=spec,
            stage=stage,
            functions=functions.functions,
            queues=messaging.queues,
            tables=data.tables,
            api=api.rest_api,
            alarm_email=self.node.try_get_context("alarm_email"),
        )
        CfnOutput(
            self, "ApiUrl", value=api.rest_api.url, description="Base URL of the stage; routes add /api/v1"
        )
        CfnOutput(self, "UserPoolId", value=auth.user_pool.user_pool_id)
        CfnOutput(self, "UserPoolClientId", value=auth.client.user_pool_client_id)
        for logical_id, endpoint in search.endpoints().items():  # scripts/reindex.py reads it
            CfnOutput(
                self,
                "SearchEndpoint" if logical_id == "search" else f"{logical_id}SearchEndpoint",
                value=endpoint,
            )
