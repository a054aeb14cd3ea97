"""Settings of the timeline functions (API, fan-out dispatcher and worker)."""

from __future__ import annotations

from pydantic import Field

from functions.core.config import FunctionSettings, PagingSettings


class TimelineSettings(FunctionSettings):
    """Tunables of the hybrid fan-out; the tables come through the data layers' ``FromEnv``."""

    celebrity_follower_threshold: int = Field(default=10_000, ge=1, alias="CELEBRITY_FOLLOWER_THRESHOLD")
    timeline_max_items: int = Field(default=800, ge=1, alias="TIMELINE_MAX_ITEMS")
    inactive_after_days: int = Field(default=30, ge=1, alias="INACTIVE_AFTER_DAYS")


class TimelineApiSettings(TimelineSettings, PagingSettings):
    timelines_table: str = Field(alias="TIMELINES_TABLE_NAME")
    tweets_table: str = Field(alias="TWEETS_TABLE_NAME")
    follows_table: str = Field(alias="FOLLOWS_TABLE_NAME")
    engagements_table: str = Field(alias="ENGAGEMENTS_TABLE_NAME")
    users_table: str = Field(alias="USERS_TABLE_NAME")


class DispatcherSettings(TimelineSettings):
    timelines_table: str = Field(alias="TIMELINES_TABLE_NAME")
    tweets_table: str = Field(alias="TWEETS_TABLE_NAME")
    follows_table: str = Field(alias="FOLLOWS_TABLE_NAME")
    users_table: str = Field(alias="USERS_TABLE_NAME")
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE_NAME")
    fanout_queue_url: str = Field(alias="FANOUT_QUEUE_URL")


class WorkerSettings(TimelineSettings):
    timelines_table: str = Field(alias="TIMELINES_TABLE_NAME")
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE_NAME")
