"""Composition root of the timeline functions: builds the adapters once per execution environment."""

from __future__ import annotations

from functools import lru_cache

from functions.graph.dal import FollowRepository
from functions.timeline.dal import FanoutQueue, TimelineStore
from functions.timeline.fanout import Timelines, default_executor
from functions.timeline.read import HomeTimeline
from functions.tweets.dal import TweetRepository


@lru_cache(maxsize=1)
def timelines() -> Timelines:
    """Write side (dispatcher and worker)."""
    return Timelines(
        TimelineStore(), FanoutQueue(), TweetRepository(), FollowRepository(), executor=default_executor()
    )


@lru_cache(maxsize=1)
def home_timeline() -> HomeTimeline:
    """Read side (the API)."""
    return HomeTimeline(TimelineStore(), TweetRepository(), FollowRepository(), executor=default_executor())
