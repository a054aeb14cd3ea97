"""No account without a profile and no profile without an account, even when a step fails."""

from __future__ import annotations

import os
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from functions.users.cognito import CognitoUserPool
from functions.users.dal import ClaimRecord, UserRecord, UserRepository, username_key
from functions.users.logic import UserService
from functions.users.models import SignUpRequest
from functions.users.settings import UsersApiSettings
from infra.grants import function_grants
from infra.resources import SPEC
from local_cloud.iam import IamGuard, statements
from tests.support.client import PASSWORD, Api, sign_up_and_log_in, unique_name


def _cognito_user_exists(username: str) -> bool:
    try:
        boto3.client("cognito-idp").admin_get_user(
            UserPoolId=os.environ["USER_POOL_ID"], Username=username.lower()
        )
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "UserNotFoundException"
        return False
    return True


class _ProfileWriteFails(UserRepository):
    def create_profile(self, profile: UserRecord, email: str) -> None:
        raise RuntimeError("DynamoDB is down")


def test_a_failed_profile_write_deletes_the_account_and_frees_the_name(api: Api, cloud: Any) -> None:
    # The users function's sign-up, run here with a profile write that fails, under the users
    # function's own environment and IAM guard (the roll-back's AdminDeleteUser must be granted).
    users_api = SPEC.function("users-api")
    settings = UsersApiSettings.from_environment(cloud.function_environment(users_api))
    guard = IamGuard(
        users_api.name, statements(function_grants(SPEC, users_api), user_pool_id=settings.user_pool_id)
    )
    pool = CognitoUserPool(
        settings.user_pool_id, settings.user_pool_client_id, client=guard.attach(boto3.client("cognito-idp"))
    )
    service = UserService(_ProfileWriteFails(), pool, auto_confirm=settings.auto_confirm_signup)
    name = unique_name()

    with pytest.raises(RuntimeError, match="DynamoDB is down"):
        service.sign_up(SignUpRequest(username=name, email=f"{name}@example.com", password=PASSWORD))

    assert not _cognito_user_exists(name)
    assert ClaimRecord.count(username_key(name)) == 0
    assert "cognito:AdminDeleteUser" in guard.used and guard.denied == []
    account = sign_up_and_log_in(api, username=name)  # nothing was left behind
    assert UserRecord.get(account.user_id).username == name


def test_log_in_completes_the_profile_of_a_sign_up_that_crashed_midway(api: Api) -> None:
    account = sign_up_and_log_in(api)
    # Simulate a Lambda that died after Cognito sign-up and before the profile write.
    UserRecord.get(account.user_id).delete()
    ClaimRecord(pk=username_key(account.username)).update(actions=[ClaimRecord.user_id.set("")])
    ClaimRecord(pk=f"email#{account.email}").update(actions=[ClaimRecord.user_id.set("")])

    login = api.post("/auth/login", json={"username": account.username, "password": PASSWORD})
    assert login.status_code == 200
    assert login.json()["user"]["user_id"] == account.user_id
    assert UserRecord.get(account.user_id).username == account.username
    assert ClaimRecord.get(username_key(account.username)).user_id == account.user_id
