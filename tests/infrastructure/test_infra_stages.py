"""What differs between dev and prod (infra/stages.py), and what prod refuses to deploy without."""

from __future__ import annotations

from typing import Any

import pytest

from infra.account import ACCOUNT_STACK
from infra.resources import SPEC
from tests.infrastructure.template_resources import STAGE_CONTEXT, ensure_layer, resources_of


def _build(stage: str, context: dict[str, Any] | None) -> Any:
    ensure_layer()
    from app import build_app

    return build_app(SPEC, stage=stage, context=context)


def test_prod_refuses_to_build_without_an_explicit_account_and_region() -> None:
    with pytest.raises(ValueError, match="explicit account and region"):
        _build("prod", {"email_sender": "no-reply@example.com"})


def test_prod_refuses_to_build_without_an_ses_sender() -> None:
    with pytest.raises(ValueError, match="SES"):
        _build("prod", {"account": "111111111111", "region": "eu-west-1"})


def test_prod_is_pinned_to_its_account_and_protected_from_deletion() -> None:
    app = _build("prod", STAGE_CONTEXT["prod"])
    stack = app.node.find_child("chirp-prod")
    assert stack.termination_protection is True
    assert (stack.account, stack.region) == ("111111111111", "eu-west-1")
    shared = app.node.find_child(ACCOUNT_STACK)
    assert shared in stack.dependencies and shared.account == "111111111111"
    dev = _build("dev", None).node.find_child("chirp-dev")
    assert dev.termination_protection is False


def test_prod_tables_and_pool_have_deletion_protection_and_dev_ones_do_not(
    prod_template: dict[str, Any], template: dict[str, Any]
) -> None:
    for table in resources_of(prod_template, "AWS::DynamoDB::Table").values():
        assert table["Properties"]["DeletionProtectionEnabled"] is True
        assert table["DeletionPolicy"] == "Retain" and table["UpdateReplacePolicy"] == "Retain"
    for table in resources_of(template, "AWS::DynamoDB::Table").values():
        assert not table["Properties"].get("DeletionProtectionEnabled")
    (pool,) = resources_of(prod_template, "AWS::Cognito::UserPool").values()
    assert pool["Properties"]["DeletionProtection"] == "ACTIVE"


def test_prod_sends_mail_through_ses_and_dev_through_cognito(
    prod_template: dict[str, Any], template: dict[str, Any]
) -> None:
    (prod_pool,) = resources_of(prod_template, "AWS::Cognito::UserPool").values()
    email = prod_pool["Properties"]["EmailConfiguration"]
    assert email["EmailSendingAccount"] == "DEVELOPER" and email["From"] == "no-reply@example.com"
    (dev_pool,) = resources_of(template, "AWS::Cognito::UserPool").values()
    assert dev_pool["Properties"].get("EmailConfiguration", {}).get("EmailSendingAccount") in (
        None,
        "COGNITO_DEFAULT",
    )


def test_the_pool_is_on_the_lite_plan_and_clients_write_only_what_sign_up_sends(
    template: dict[str, Any],
) -> None:
    (pool,) = resources_of(template, "AWS::Cognito::UserPool").values()
    assert pool["Properties"]["UserPoolTier"] == "LITE"
    (client,) = resources_of(template, "AWS::Cognito::UserPoolClient").values()
    assert sorted(client["Properties"]["WriteAttributes"]) == ["email", "preferred_username"]
    assert client["Properties"]["AccessTokenValidity"] == 15
    assert client["Properties"]["TokenValidityUnits"]["AccessToken"] == "minutes"


def test_no_stage_owns_the_account_wide_api_gateway_setting(
    template: dict[str, Any], prod_template: dict[str, Any]
) -> None:
    for stage_template in (template, prod_template):
        assert not resources_of(stage_template, "AWS::ApiGateway::Account")
    app = _build("dev", None)
    shared = app.synth().get_stack_by_name(ACCOUNT_STACK).template
    (account,) = resources_of(shared, "AWS::ApiGateway::Account").values()
    assert account["DeletionPolicy"] == "Retain"


def test_prod_throttles_are_wider_than_dev_and_auth_tighter_than_either(
    prod_template: dict[str, Any],
) -> None:
    (stage,) = resources_of(prod_template, "AWS::ApiGateway::Stage").values()
    settings = {s["ResourcePath"]: s for s in stage["Properties"]["MethodSettings"]}
    assert (settings["/*"]["ThrottlingRateLimit"], settings["/*"]["ThrottlingBurstLimit"]) == (1000, 2000)
    auth = [s for path, s in settings.items() if "auth" in path]
    assert auth and all(s["ThrottlingRateLimit"] == 50 for s in auth)
