"""Each function's settings model against the environment the definition gives it.

The environment (``infra.grants.function_environment``) is what both the CDK stack and the local cloud
hand the function; its settings model (``Function.settings_model``) names what the code reads. So a
table or secret grant removed from the definition shows here as the variable the model misses, and a
grant nothing reads shows as a variable no model asks for.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from functions.core.config import FunctionSettings, MissingSetting
from infra.grants import DeployedNames, function_environment
from infra.resources import SPEC, TUNABLES, Function

NAMES = DeployedNames(
    tables={t.logical_id: f"physical-{t.logical_id}" for t in SPEC.tables},
    queues={q.logical_id: f"https://sqs.local/{q.logical_id}" for q in SPEC.queues},
    secrets={s.logical_id: f"arn:aws:secretsmanager:us-east-1:1:secret:{s.logical_id}" for s in SPEC.secrets},
    buckets={b.logical_id: f"physical-{b.logical_id}" for b in SPEC.buckets},
    bucket_urls={b.logical_id: f"https://cdn.example/{b.logical_id}" for b in SPEC.buckets},
    user_pool_id="pool",
    user_pool_client_id="client",
    search_endpoints={d.logical_id: f"https://search-{d.logical_id}.example" for d in SPEC.search_domains},
)


def model_of(fn: Function) -> type[FunctionSettings]:
    module, _, name = fn.settings_model.rpartition(".")
    model: type[FunctionSettings] = getattr(importlib.import_module(module), name)
    return model


def environment(fn: Function, **settings: str) -> dict[str, str]:
    return function_environment(SPEC, fn, NAMES, stage="dev", auto_confirm_signup=True, settings=settings)


def aliases(model: type[FunctionSettings]) -> set[str]:
    return {str(field.alias) for field in model.model_fields.values() if field.alias}


@pytest.mark.parametrize("fn", SPEC.functions, ids=lambda f: f.name)
def test_the_definition_gives_each_function_everything_its_settings_need(fn: Function) -> None:
    settings = model_of(fn).from_environment(environment(fn))
    assert settings.stage == "dev"


@pytest.mark.parametrize("fn", SPEC.functions, ids=lambda f: f.name)
def test_every_granted_name_is_read_by_the_functions_settings(fn: Function) -> None:
    env = environment(fn)
    model = model_of(fn)
    granted = {SPEC.table(a.table).env_var for a in fn.tables} | {SPEC.queue(q).env_var for q in fn.sends_to}
    assert granted <= aliases(model), "granted but not read: drop the grant, or read it"
    for name in sorted(granted | {s.arn_env_var for s in SPEC.secrets if s.logical_id in fn.secrets}):
        without = {k: v for k, v in env.items() if k != name}
        with pytest.raises(MissingSetting, match=name.split("_")[0]):
            model.from_environment(without)


@pytest.mark.parametrize("fn", [f for f in SPEC.functions if f.settings], ids=lambda f: f.name)
def test_configured_tunables_reach_the_functions_that_read_them(fn: Function) -> None:
    assert set(fn.settings) <= set(TUNABLES) <= aliases(model_of(fn))
    settings: Any = model_of(fn).from_environment(environment(fn, CELEBRITY_FOLLOWER_THRESHOLD="25"))
    assert settings.celebrity_follower_threshold == 25
    assert model_of(fn).from_environment(environment(fn)).celebrity_follower_threshold == 10_000


def test_a_function_sees_no_table_it_is_not_granted() -> None:
    env = environment(SPEC.function("fanout-worker"))
    assert "USERS_TABLE_NAME" not in env and "ENGAGEMENTS_TABLE_NAME" not in env
    assert env["TIMELINES_TABLE_NAME"] == "physical-timelines"
