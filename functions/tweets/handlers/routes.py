"""HTTP routes of the tweets domain: parse, call logic, shape the response. Nothing else."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.metrics import MetricUnit

from functions.core.concurrency import shared_executor
from functions.core.config import load
from functions.core.identity import caller_id
from functions.core.observability import metrics
from functions.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from functions.media.dal import MediaObjects, MediaRepository
from functions.media.logic import MediaAttachments
from functions.tweets.dal import TweetRepository
from functions.tweets.logic import TweetService
from functions.tweets.models import LikeState, RetweetState, Tweet, TweetCreate, TweetPage
from functions.tweets.settings import TweetsApiSettings

router = Router()

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size, 1..100.")]
Cursor = Annotated[
    str | None, Query(max_length=2048, description="Opaque cursor from the previous page's next_cursor.")
]


@lru_cache(maxsize=1)
def service() -> TweetService:
    settings = load(TweetsApiSettings)  # fails the first call, naming what the environment lacks
    media = MediaAttachments(MediaRepository(), MediaObjects(settings.media_bucket))
    # A page's hydration is one BatchGetItem; beyond 100 keys its calls run side by side.
    return TweetService(TweetRepository(), executor=shared_executor(), media=media)


def _caller() -> str:
    return caller_id(router.current_event)


@router.post("/tweets", tags=["tweets"], summary="Post a tweet or a reply", status_code=201)
def post_tweet(request: Annotated[TweetCreate, Body()]) -> Response[Tweet]:
    tweet = service().post(_caller(), request)
    metrics.add_metric(name="TweetsPosted", unit=MetricUnit.Count, value=1)
    return Response(status_code=201, content_type="application/json", body=tweet)


@router.get("/tweets/<tweet_id>", tags=["tweets"], summary="A tweet (404 once deleted)")
def get_tweet(tweet_id: str) -> Tweet:
    return service().get(_caller(), tweet_id)


@router.delete(
    "/tweets/<tweet_id>",
    tags=["tweets"],
    summary="Delete your tweet (author only)",
    status_code=204,
    responses={204: {"description": "Deleted; the tweet no longer appears in any response."}},
)
def delete_tweet(tweet_id: str) -> Response[None]:
    service().delete(_caller(), tweet_id)
    return Response(status_code=204)


@router.get("/tweets/<tweet_id>/replies", tags=["tweets"], summary="Replies to a tweet, newest first")
def get_replies(tweet_id: str, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT) -> TweetPage:
    return service().replies(_caller(), tweet_id, cursor, limit)


@router.post(
    "/tweets/<tweet_id>/like",
    tags=["engagements"],
    summary="Like a tweet (idempotent; 1,000 new likes per 24 hours, then 429 with Retry-After)",
)
def like(tweet_id: str) -> LikeState:
    return service().like(_caller(), tweet_id)


@router.delete("/tweets/<tweet_id>/like", tags=["engagements"], summary="Remove your like (idempotent)")
def unlike(tweet_id: str) -> LikeState:
    return service().unlike(_caller(), tweet_id)


@router.post(
    "/tweets/<tweet_id>/retweet",
    tags=["engagements"],
    summary="Retweet (idempotent; a retweet of a retweet retweets the original)",
)
def retweet(tweet_id: str) -> RetweetState:
    return service().retweet(_caller(), tweet_id)


@router.delete("/tweets/<tweet_id>/retweet", tags=["engagements"], summary="Undo your retweet (idempotent)")
def unretweet(tweet_id: str) -> RetweetState:
    return service().unretweet(_caller(), tweet_id)


@router.get(
    "/timeline/user/<user_id>",
    tags=["timelines"],
    summary="A user's tweets, replies and retweets, newest first",
    description=(
        "A retweet entry carries the original tweet's fields and `retweeted_by` names the retweeter. "
        "At most one entry per original tweet per page."
    ),
)
def user_timeline(user_id: str, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT) -> TweetPage:
    return service().user_timeline(_caller(), user_id, cursor, limit)
