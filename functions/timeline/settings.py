"""Settings of the timeline functions (API, fan-out dispatcher and worker)."""

from __future__ import annotations

from pydantic import Field

from functions.core.config import FunctionSettings, PagingSettings
from functions.core.tables import (
    EngagementsTable,
    FollowsTable,
    IdempotencyTable,
    TimelinesTable,
    TweetsTable,
    UsersTable,
)
from functions.media.settings import MediaUrls
from functions.search.settings import PublishSettings


class TimelineSettings(FunctionSettings):
    """Tunables of the hybrid fan-out; the tables come through the data layers' ``FromEnv``."""

    celebrity_follower_threshold: int = Field(default=10_000, ge=1, alias="CELEBRITY_FOLLOWER_THRESHOLD")
    timeline_max_items: int = Field(default=800, ge=1, alias="TIMELINE_MAX_ITEMS")
    inactive_after_days: int = Field(default=30, ge=1, alias="INACTIVE_AFTER_DAYS")
    pull_cache_seconds: float = Field(default=2.0, ge=0, le=3, alias="PULL_CACHE_SECONDS")
    """How long an execution environment serves a merged account's newest entries to every reader before
    reading them again (``functions/timeline/recent.py``); 0 turns the cache off."""
    catch_up_delay_seconds: int = Field(default=30, ge=0, le=900, alias="CATCH_UP_DELAY_SECONDS")
    """How long after a follow (or a rebuild) its catch-up runs: longer than the indexes' lag. The local
    cloud, whose indexes lag only under LOCAL_CHAOS, uses 1 s unless told otherwise."""


class TimelineApiSettings(
    TimelineSettings,
    PagingSettings,
    TimelinesTable,
    TweetsTable,
    FollowsTable,
    EngagementsTable,
    UsersTable,
    MediaUrls,
):
    """The read side: the cache, the merge sources and hydration (with the reader's follow edges and
    the media URLs); a rebuild's catch-up goes to the fan-out queue."""

    fanout_queue_url: str = Field(alias="FANOUT_QUEUE_URL")


class DispatcherSettings(
    TimelineSettings, TimelinesTable, TweetsTable, FollowsTable, UsersTable, IdempotencyTable, PublishSettings
):
    """Publishing: tweet records go on to the search indexer's queue (``functions.search.publish``)."""

    fanout_queue_url: str = Field(alias="FANOUT_QUEUE_URL")


class WorkerSettings(TimelineSettings, TimelinesTable, TweetsTable, FollowsTable, IdempotencyTable):
    """Applies fan-out messages to the cache: marks check the follow edge, catch-ups read by_author."""
