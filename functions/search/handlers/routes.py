"""HTTP routes of search: parse, call logic, shape the response. Nothing else."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from functions.core.identity import caller_id
from functions.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from functions.search.handlers.wiring import search_service
from functions.search.models import TweetSearchPage, UserSearchPage
from functions.search.query import MAX_QUERY_CHARS

router = Router()

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size, 1..100.")]
Cursor = Annotated[
    str | None, Query(max_length=2048, description="`next_cursor` of the previous page of this search.")
]
# The length rule lives in the parser (one 422 shape for every rule); this bound only keeps a huge
# value from reaching it.
TweetQ = Annotated[
    str,
    Query(
        max_length=MAX_QUERY_CHARS * 4,
        description=(
            'Words (all must match), `"exact phrase"`, `#hashtag` and `from:username`, in any combination; '
            f"1..{MAX_QUERY_CHARS} characters. Any other character is literal text. An empty query, one "
            "over the limit, `from:` without a username or a query of operators alone is a 422."
        ),
    ),
]
UserQ = Annotated[
    str,
    Query(
        max_length=MAX_QUERY_CHARS * 4,
        description="A prefix of the username (a leading `@` is ignored) or of words of the display name.",
    ),
]


@router.get(
    "/search/tweets",
    tags=["search"],
    summary="Search tweets, newest first",
    description=(
        "A deleted tweet is never returned once its DELETE has returned; new tweets are found within "
        "seconds. Paging with `next_cursor` never repeats or skips a tweet. 503 with `Retry-After` "
        "while the search engine is unavailable."
    ),
)
def search_tweets(q: TweetQ, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT) -> TweetSearchPage:
    return search_service().search_tweets(caller_id(router.current_event), q, cursor, limit)


@router.get(
    "/search/users",
    tags=["search"],
    summary="Search users by username or display-name prefix",
    description="By username. 503 with `Retry-After` while the search engine is unavailable.",
)
def search_users(q: UserQ, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT) -> UserSearchPage:
    return search_service().search_users(caller_id(router.current_event), q, cursor, limit)
