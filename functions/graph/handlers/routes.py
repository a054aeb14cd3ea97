"""HTTP routes of the social graph: parse, call logic, shape the response. Nothing else."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from functions.core.config import load
from functions.core.identity import caller_id
from functions.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from functions.graph.dal import FollowRepository
from functions.graph.logic import GraphService
from functions.graph.models import FollowState, UserPage
from functions.graph.settings import GraphApiSettings
from functions.users.dal import UserRepository
from functions.users.models import User

router = Router()

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size, 1..100.")]
UserId = Annotated[
    str,
    Path(
        description=(
            "A user's id (at most 128 characters, no `#`). Any other value, like an id nobody has, "
            "is an unknown user: 404."
        )
    ),
]
Cursor = Annotated[
    str | None, Query(max_length=2048, description="`next_cursor` of the previous page of this list.")
]


@lru_cache(maxsize=1)
def service() -> GraphService:
    load(GraphApiSettings)  # fails the first call, naming what the environment lacks
    return GraphService(FollowRepository(), UserRepository())


@router.post(
    "/users/<user_id>/follow",
    tags=["graph"],
    summary="Follow a user (idempotent; 400 follows per 24 hours, then 429 with Retry-After)",
)
def follow(user_id: UserId) -> FollowState:
    return FollowState(following=service().follow(caller_id(router.current_event), user_id))


@router.delete("/users/<user_id>/follow", tags=["graph"], summary="Unfollow a user (idempotent)")
def unfollow(user_id: UserId) -> FollowState:
    return FollowState(following=service().unfollow(caller_id(router.current_event), user_id))


@router.get("/users/<user_id>/followers", tags=["graph"], summary="The user's followers, newest first")
def followers(user_id: UserId, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT) -> UserPage:
    return service().followers(caller_id(router.current_event), user_id, cursor, limit)


@router.get("/users/<user_id>/following", tags=["graph"], summary="Whom the user follows, newest first")
def following(user_id: UserId, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT) -> UserPage:
    return service().following(caller_id(router.current_event), user_id, cursor, limit)


@router.get("/users/by/username/<username>", tags=["users"], summary="A profile by username (any case)")
def get_by_username(username: str) -> User:
    return service().view_by_username(caller_id(router.current_event), username)


@router.get("/users/<user_id>", tags=["users"], summary="A profile by user id")
def get_user(user_id: UserId) -> User:
    return service().view(caller_id(router.current_event), user_id)
