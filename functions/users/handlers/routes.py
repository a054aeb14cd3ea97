"""HTTP routes of the users domain: parse, call logic, shape the response. Nothing else."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.metrics import MetricUnit

from functions.core.config import load
from functions.core.identity import caller_id
from functions.core.observability import metrics
from functions.media.dal import MediaObjects, MediaRepository
from functions.media.logic import MediaAttachments
from functions.users.cognito import CognitoUserPool, IssuedTokens
from functions.users.dal import UserRepository
from functions.users.logic import UserService, to_user
from functions.users.models import (
    LoginRequest,
    LoginResponse,
    LogoutRequest,
    ProfileUpdate,
    RefreshRequest,
    SignUpRequest,
    SignUpResponse,
    Tokens,
    User,
)
from functions.users.settings import UsersApiSettings

router = Router()


@lru_cache(maxsize=1)
def service() -> UserService:
    settings = load(UsersApiSettings)
    return UserService(
        UserRepository(),
        CognitoUserPool(settings.user_pool_id, settings.user_pool_client_id),
        auto_confirm=settings.auto_confirm_signup,
        resolve_avatar=MediaAttachments(MediaRepository(), MediaObjects(settings.media_bucket)).avatar,
    )


def _tokens(tokens: IssuedTokens) -> dict[str, object]:
    return {
        "access_token": tokens.access_token,
        "id_token": tokens.id_token,
        "refresh_token": tokens.refresh_token,
        "expires_in": tokens.expires_in,
        "token_type": "Bearer",
    }


@router.post("/auth/signup", status_code=201, tags=["auth"], summary="Create an account and its profile")
def sign_up(request: Annotated[SignUpRequest, Body()]) -> SignUpResponse:
    profile = service().sign_up(request)
    metrics.add_metric(name="SignUps", unit=MetricUnit.Count, value=1)
    return SignUpResponse(user=to_user(profile, followed_by_me=False))


@router.post("/auth/login", tags=["auth"], summary="Exchange username and password for tokens")
def log_in(request: Annotated[LoginRequest, Body()]) -> LoginResponse:
    tokens, profile = service().log_in(request.username, request.password)
    return LoginResponse(**_tokens(tokens), user=to_user(profile, followed_by_me=False))  # type: ignore[arg-type]


@router.post("/auth/refresh", tags=["auth"], summary="Exchange a refresh token for new tokens")
def refresh(request: Annotated[RefreshRequest, Body()]) -> Tokens:
    return Tokens(**_tokens(service().refresh(request.refresh_token)))  # type: ignore[arg-type]


@router.post(
    "/auth/logout",
    status_code=204,
    tags=["auth"],
    summary="Revoke a refresh token",
    responses={
        204: {
            "description": (
                "The refresh token no longer refreshes, whether it was valid or not (RFC 7009); access "
                "tokens already issued stay valid until they expire, at most 15 minutes."
            )
        }
    },
)
def log_out(request: Annotated[LogoutRequest, Body()]) -> Response[None]:
    service().log_out(request.refresh_token)
    return Response(status_code=204)


@router.get("/users/me", tags=["users"], summary="The caller's profile")
def get_me() -> User:
    return to_user(service().get(caller_id(router.current_event)), followed_by_me=False)


@router.patch("/users/me", tags=["users"], summary="Update the caller's profile")
def update_me(update: Annotated[ProfileUpdate, Body()]) -> User:
    record = service().update_profile(caller_id(router.current_event), update)
    return to_user(record, followed_by_me=False)
