"""The users Lambda handler called directly with API Gateway events, against the local cloud's moto."""

from __future__ import annotations

import json

from functions.users.dal import UserRecord
from functions.users.handlers.api import lambda_handler
from local_cloud.lambda_runtime import LocalLambdaContext
from tests.support.client import Account
from tests.support.events import api_event_as, event


def test_get_me_reads_the_profile_of_the_verified_caller(alice: Account) -> None:
    response = lambda_handler(
        api_event_as("api_get_users_me.json", alice.user_id), LocalLambdaContext("users-api")
    )
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["username"] == alice.username


def test_patch_me_writes_the_profile_item(alice: Account) -> None:
    response = lambda_handler(
        api_event_as("api_patch_users_me.json", alice.user_id), LocalLambdaContext("users-api")
    )
    assert response["statusCode"] == 200
    assert UserRecord.get(alice.user_id).bio == "set through the handler"


def test_claims_other_than_a_verified_access_token_are_refused(alice: Account) -> None:
    ev = api_event_as("api_get_users_me.json", alice.user_id)
    ev["requestContext"]["authorizer"]["claims"]["token_use"] = "id"
    response = lambda_handler(ev, LocalLambdaContext("users-api"))
    assert response["statusCode"] == 401
    no_authorizer = event("api_get_users_me.json")
    no_authorizer["requestContext"].pop("authorizer")
    assert lambda_handler(no_authorizer, LocalLambdaContext("users-api"))["statusCode"] == 401


def test_patch_for_a_caller_without_profile_is_404_and_creates_nothing() -> None:
    ghost = "00000000-0000-4000-8000-000000000000"
    response = lambda_handler(api_event_as("api_patch_users_me.json", ghost), LocalLambdaContext("users-api"))
    assert response["statusCode"] == 404
    assert UserRecord.count(ghost) == 0
