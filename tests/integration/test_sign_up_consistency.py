"""No account without a profile and no profile without an account, even when a step fails."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from functions.core.config import get_settings
from functions.users.dal import ClaimRecord, UserRecord, UserRepository, username_key
from tests.support.client import PASSWORD, Api, sign_up_and_log_in, unique_name


def _cognito_user_exists(username: str) -> bool:
    try:
        boto3.client("cognito-idp").admin_get_user(
            UserPoolId=get_settings().user_pool_id, Username=username.lower()
        )
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "UserNotFoundException"
        return False
    return True


def test_a_failed_profile_write_deletes_the_account_and_frees_the_name(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = unique_name()

    def broken(self: UserRepository, profile: UserRecord, email: str) -> None:
        raise RuntimeError("DynamoDB is down")

    monkeypatch.setattr(UserRepository, "create_profile", broken)
    response = api.post(
        "/auth/signup", json={"username": name, "email": f"{name}@example.com", "password": PASSWORD}
    )
    assert response.status_code == 500 and response.json()["error"]["code"] == "internal_error"
    assert "DynamoDB is down" not in response.text
    assert not _cognito_user_exists(name)
    assert ClaimRecord.count(username_key(name)) == 0

    monkeypatch.undo()
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
