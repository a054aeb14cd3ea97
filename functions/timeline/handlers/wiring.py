"""Composition root of the timeline functions: builds the adapters once per execution environment and
plugs the tweets and graph domains into the timeline's ports."""

from __future__ import annotations

from functools import lru_cache

from functions.core.concurrency import shared_executor
from functions.core.config import load
from functions.graph.audience import GraphAudience
from functions.graph.dal import FollowRepository
from functions.timeline.dal import FanoutQueue, TimelineStore
from functions.timeline.fanout import Timelines
from functions.timeline.read import HomeTimeline
from functions.timeline.settings import TimelineApiSettings
from functions.tweets.dal import TweetRepository
from functions.tweets.reads import TweetReads
from functions.users.dal import UserRepository


@lru_cache(maxsize=1)
def tweet_reader() -> TweetReads:
    """The tweets domain behind ``TweetReader``."""
    return TweetReads(TweetRepository(), executor=shared_executor())


@lru_cache(maxsize=1)
def audience() -> GraphAudience:
    """The graph domain behind ``Audience``."""
    return GraphAudience(FollowRepository(), UserRepository())


@lru_cache(maxsize=1)
def timelines() -> Timelines:
    """Write side (dispatcher and worker)."""
    return Timelines(TimelineStore(), FanoutQueue(), tweet_reader(), audience(), executor=shared_executor())


@lru_cache(maxsize=1)
def home_timeline() -> HomeTimeline:
    """Read side (the API)."""
    load(TimelineApiSettings)  # fails the first call, naming what the environment lacks
    return HomeTimeline(
        TimelineStore(), tweet_reader(), audience(), executor=shared_executor(), queue=FanoutQueue()
    )
