"""Settings of ``stream-rescue``: the replay routes and the replay queues it may send to."""

from __future__ import annotations

import json
from typing import Any, Self

from pydantic import Field, field_validator, model_validator

from functions.core.config import FunctionSettings
from functions.streams.models import ReplayRoute


class RescueSettings(FunctionSettings):
    """Routes (JSON in STREAM_REPLAY_ROUTES) name each consumer's replay queue; the queues' own variables
    are what the function is granted to send to, and every route must stay inside them."""

    routes: tuple[ReplayRoute, ...] = Field(alias="STREAM_REPLAY_ROUTES")
    fanout_dispatcher_replay_queue_url: str = Field(alias="FANOUT_DISPATCHER_REPLAY_QUEUE_URL")
    tweets_cleanup_replay_queue_url: str = Field(alias="TWEETS_CLEANUP_REPLAY_QUEUE_URL")
    engagement_counter_replay_queue_url: str = Field(alias="ENGAGEMENT_COUNTER_REPLAY_QUEUE_URL")
    search_index_queue_url: str = Field(alias="SEARCH_INDEX_QUEUE_URL")
    """The search indexer's queue, also the replay queue of its users-stream mapping."""

    @field_validator("routes", mode="before")
    @classmethod
    def _from_json(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _routes_stay_inside_the_grants(self) -> Self:
        granted = {
            self.fanout_dispatcher_replay_queue_url,
            self.tweets_cleanup_replay_queue_url,
            self.engagement_counter_replay_queue_url,
            self.search_index_queue_url,
        }
        stray = sorted({route.queue_url for route in self.routes} - granted)
        if stray:
            raise ValueError(f"replay routes name queues this function is not granted: {stray}")
        return self
