"""HTTP route of the home timeline: parse, call logic, shape the response. Nothing else."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.metrics import MetricUnit

from functions.core.identity import caller_id
from functions.core.observability import metrics
from functions.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from functions.timeline.handlers.wiring import home_timeline
from functions.tweets.models import TweetPage

router = Router()

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size, 1..100.")]
# Longer than other lists' cursors: below the cache a home cursor carries a ceiling per source.
Cursor = Annotated[
    str | None, Query(max_length=4096, description="`next_cursor` of the previous page of this list.")
]


@router.get(
    "/timeline/home",
    tags=["timelines"],
    summary="The caller's home timeline, newest first",
    description=(
        "The caller's own tweets and retweets and those of everyone they follow, newest first (by tweet "
        "ID; a retweet entry sorts by the retweet's time). A retweet entry carries the original tweet's "
        "fields and `retweeted_by`. At most one entry per original tweet per page. Paging continues past "
        "the cached window; tweets arriving while paging never cause a repeat or a skip."
    ),
)
def home(cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT) -> TweetPage:
    page = home_timeline().page(caller_id(router.current_event), cursor, limit)
    metrics.add_metric(name="HomeTimelineReads", unit=MetricUnit.Count, value=1)
    return page
