#!/usr/bin/env python3
"""CDK app: the Chirp stack of one stage (``--context stage=dev|prod``, default dev) and the account-wide
``chirp-account`` stack it depends on, checked by cdk-nag.

Stage prod deploys only to an explicit account and region (``--context account=... --context
region=...``, or the same keys in cdk.json), so a prod deploy from the wrong credentials fails instead
of creating a second, empty prod elsewhere."""

from __future__ import annotations

import re
import sys
from typing import Any

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from infra.account import AccountStack
from infra.constructs.functions import AssetsNotBuiltError
from infra.resources import SPEC, ServiceSpec
from infra.stack import ChirpStack
from infra.stages import stage_config


def build_app(
    spec: ServiceSpec = SPEC,
    *,
    stage: str | None = None,
    outdir: str | None = None,
    context: dict[str, Any] | None = None,
) -> App:
    """The app with ``chirp-account`` and one ChirpStack named ``chirp-<stage>``, with the AWS
    Solutions checks registered."""
    app = App(outdir=outdir, context=context)
    stage = stage or app.node.try_get_context("stage") or "dev"
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,20}", stage):
        raise ValueError(f"invalid stage {stage!r}: lower-case letters, digits and dashes")
    env = None
    if stage_config(stage).prod:
        account, region = app.node.try_get_context("account"), app.node.try_get_context("region")
        if not (account and region):
            raise ValueError(
                f"stage {stage} deploys to an explicit account and region: "
                "--context account=123456789012 --context region=eu-west-1"
            )
        env = Environment(account=str(account), region=str(region))
    shared = AccountStack(app, env=env, description="Chirp: account-wide API Gateway logging role")
    stack = ChirpStack(
        app,
        f"chirp-{stage}",
        spec=spec,
        stage=stage,
        description=f"Chirp serverless backend ({stage})",
        env=env,
    )
    stack.add_dependency(shared, "API Gateway execution logs need the account's logging role")
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


if __name__ == "__main__":
    try:
        build_app().synth()
    except AssetsNotBuiltError as error:
        sys.exit(f"error: {error}")
