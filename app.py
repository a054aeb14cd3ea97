#!/usr/bin/env python3
"""CDK app: the Chirp stack of one stage (``--context stage=dev|prod``, default dev), checked by cdk-nag."""

from __future__ import annotations

import re
import sys

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from infra.constructs.functions import AssetsNotBuiltError
from infra.resources import SPEC, ServiceSpec
from infra.stack import ChirpStack


def build_app(spec: ServiceSpec = SPEC, *, stage: str | None = None, outdir: str | None = None) -> App:
    """The app with one ChirpStack named ``chirp-<stage>`` and the AWS Solutions checks registered."""
    app = App(outdir=outdir)
    stage = stage or app.node.try_get_context("stage") or "dev"
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,20}", stage):
        raise ValueError(f"invalid stage {stage!r}: lower-case letters, digits and dashes")
    ChirpStack(
        app,
        f"chirp-{stage}",
        spec=spec,
        stage=stage,
        description=f"Chirp serverless backend ({stage})",
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


if __name__ == "__main__":
    try:
        build_app().synth()
    except AssetsNotBuiltError as error:
        sys.exit(f"error: {error}")
