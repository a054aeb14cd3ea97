"""What importing a handler module loads, in a fresh interpreter with the deployed environment.

Lambda imports the handler module in the init phase of every cold start. Each function's module must
load no AWS SDK, no X-Ray SDK, no PynamoDB, no image or search client and no Powertools event-handler,
batch or idempotency machinery: those load on the first invocation, which needs them
(``functions.core.entry_points``, ``functions.core.observability``). Checked by module names and counts
in ``sys.modules``, not by timing, so the guard does not depend on the machine's load.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from bench.assets import ROOT, TRACED, deployed_environment, probe
from infra.resources import SPEC, Function

DEFERRED = (
    "aws_xray_sdk",
    "boto3",
    "botocore.session",
    "botocore.client",
    "s3transfer",
    "urllib3",
    "requests",
    "pynamodb",
    "PIL",
    "opensearchpy",
    "email_validator",
    "jwt",
    "ulid",
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.idempotency",
    "aws_lambda_powertools.utilities.parameters",
    "aws_lambda_powertools.utilities.data_classes",
)
"""Packages no handler module may load at import (each one, or any of its submodules)."""

MAX_MODULES = 320
"""Modules loaded once the handler is imported and its settings parsed (the interpreter's own, Powertools'
logger and metrics, pydantic, the settings model: 285 to 291 today). Before the imports were deferred
it was over 1,000: a jump means something heavy is imported at module level again."""

DEFERRED_OWN = (".dal", ".logic", ".routes", ".wiring", ".reads", ".read", ".fanout", ".cognito", ".publish")
"""The service's own modules that load on the first invocation: data layers, logic, routes, adapters."""


def loaded_at_init(fn: Function) -> list[str]:
    report = probe(fn, deployed_environment(fn), event=None)
    modules: list[str] = report["modules"]
    return modules


def deferred_in(modules: list[str]) -> list[str]:
    return sorted(m for m in modules if any(m == d or m.startswith(d + ".") for d in DEFERRED))


@pytest.mark.parametrize("fn", SPEC.functions, ids=lambda f: f.name)
def test_importing_the_handler_loads_no_sdk_or_domain_machinery(fn: Function) -> None:
    modules = loaded_at_init(fn)
    assert deferred_in(modules) == []
    assert len(modules) <= MAX_MODULES
    own = [m for m in modules if m.startswith("functions.")]
    assert [m for m in own if m.endswith(DEFERRED_OWN) or m == "functions.core.http"] == []
    assert "functions.core.entry_points" in own or "functions.core.consumer" in own


def test_the_guard_sees_what_an_eager_import_loads() -> None:
    # The check itself: a module that imports the data layer at module level is caught.
    env = deployed_environment(SPEC.function("tweets-api")) | {"PYTHONPATH": str(ROOT)}
    code = "import functions.tweets.handlers.routes, sys, json; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True)
    modules: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    assert {"pynamodb", "aws_lambda_powertools.event_handler"} <= set(deferred_in(modules))
    assert len(modules) > MAX_MODULES


def test_the_first_invocation_builds_the_tracer_and_patches_the_sdk_when_tracing_is_on() -> None:
    # docs-api's /health needs no AWS call: the invocation runs without any backend.
    fn = SPEC.function("docs-api")
    env = deployed_environment(fn)
    assert TRACED.items() <= env.items() and "POWERTOOLS_TRACE_DISABLED" not in env
    event: dict[str, Any] = json.loads((ROOT / "events" / "api_get_users_me.json").read_text())
    event.update(path="/api/v1/health", resource="/api/v1/health")
    report = probe(fn, env, event)
    assert report["result"]["statusCode"] == 200
    assert json.loads(report["result"]["body"]) == {"status": "ok"}
    assert "aws_xray_sdk.core" not in report["modules"]
    assert "aws_xray_sdk.core" in report["done_modules"]
    # Powertools patches botocore (and with it every client created later) when the tracer is built.
    assert "aws_xray_sdk.ext.botocore.patch" in report["done_modules"]
