"""Cognito adapter: the only code that talks to the user pool. Errors become domain errors here."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import boto3
from botocore.exceptions import ClientError

from functions.core.errors import (
    AccountNotConfirmed,
    InvalidCredentials,
    Unauthorized,
    Unprocessable,
    UsernameTaken,
)


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    id_token: str
    refresh_token: str
    expires_in: int
    user_id: str


@lru_cache(maxsize=1)
def _client() -> Any:
    return boto3.client("cognito-idp")


_INVALID_TOKEN_CODES = frozenset(
    {"NotAuthorizedException", "UnsupportedTokenTypeException", "InvalidParameterException"}
)
"""RevokeToken's answers about the token itself, as opposed to the pool or the client."""


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class CognitoUserPool:
    def __init__(self, pool_id: str, client_id: str, client: Any | None = None) -> None:
        self.pool_id = pool_id
        self.client_id = client_id
        self._cognito = client

    @property
    def cognito(self) -> Any:
        return self._cognito or _client()

    def sign_up(self, username: str, email: str, password: str) -> str:
        """Create the account; returns its ``sub`` (the user_id everywhere else)."""
        try:
            response = self.cognito.sign_up(
                ClientId=self.client_id,
                Username=username.lower(),
                Password=password,
                UserAttributes=[
                    {"Name": "email", "Value": email},
                    {"Name": "preferred_username", "Value": username},
                ],
            )
        except ClientError as exc:
            code = _code(exc)
            if code in ("UsernameExistsException", "AliasExistsException"):
                raise UsernameTaken("That username is taken.") from exc
            if code in ("InvalidPasswordException", "InvalidParameterException"):
                raise Unprocessable("The password does not meet the policy.") from exc
            raise
        return str(response["UserSub"])

    def confirm(self, username: str) -> None:
        self.cognito.admin_confirm_sign_up(UserPoolId=self.pool_id, Username=username.lower())

    def delete(self, username: str) -> None:
        try:
            self.cognito.admin_delete_user(UserPoolId=self.pool_id, Username=username.lower())
        except ClientError as exc:
            if _code(exc) != "UserNotFoundException":
                raise

    def attributes(self, username: str) -> dict[str, str]:
        response = self.cognito.admin_get_user(UserPoolId=self.pool_id, Username=username.lower())
        return {a["Name"]: a["Value"] for a in response.get("UserAttributes", [])}

    def login(self, username: str, password: str) -> IssuedTokens:
        try:
            response = self.cognito.initiate_auth(
                ClientId=self.client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": username.lower(), "PASSWORD": password},
            )
        except ClientError as exc:
            code = _code(exc)
            if code in ("NotAuthorizedException", "UserNotFoundException", "PasswordResetRequiredException"):
                raise InvalidCredentials("Wrong username or password.") from exc
            if code == "UserNotConfirmedException":
                raise AccountNotConfirmed("Confirm your e-mail address before logging in.") from exc
            raise
        return self._tokens(response["AuthenticationResult"], refresh_token=None)

    def refresh(self, refresh_token: str) -> IssuedTokens:
        try:
            response = self.cognito.initiate_auth(
                ClientId=self.client_id,
                AuthFlow="REFRESH_TOKEN_AUTH",
                AuthParameters={"REFRESH_TOKEN": refresh_token},
            )
        except ClientError as exc:
            if _code(exc) in ("NotAuthorizedException", "UserNotFoundException"):
                raise Unauthorized("The refresh token is invalid or expired.") from exc
            raise
        return self._tokens(response["AuthenticationResult"], refresh_token=refresh_token)

    def revoke(self, refresh_token: str) -> None:
        """1 RevokeToken (authorised by the app client, which has token revocation enabled; no IAM grant).

        A token Cognito does not accept (unknown, already revoked, malformed or not a refresh token) is
        not an error: RFC 7009 treats revoking an invalid token as done, since there is nothing left to
        revoke and nothing the client could do about it. Any other failure is the service's and raises.
        """
        try:
            self.cognito.revoke_token(Token=refresh_token, ClientId=self.client_id)
        except ClientError as exc:
            if _code(exc) not in _INVALID_TOKEN_CODES:
                raise

    @staticmethod
    def _tokens(result: dict[str, Any], refresh_token: str | None) -> IssuedTokens:
        import jwt  # only log-in and refresh need it; keeps PyJWT/cryptography off the cold-start path

        access = str(result["AccessToken"])
        # The token came straight from Cognito over TLS in this very call, so reading its claims
        # without verifying the signature is safe; API Gateway verifies it on every later request.
        claims = jwt.decode(access, options={"verify_signature": False})
        return IssuedTokens(
            access_token=access,
            id_token=str(result["IdToken"]),
            refresh_token=str(result.get("RefreshToken") or refresh_token or ""),
            expires_in=int(result["ExpiresIn"]),
            user_id=str(claims["sub"]),
        )
