"""Typed settings read from the environment once, on first use (never at import time)."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, Field


class Settings(BaseModel):
    stage: str = "local"
    region: str = "us-east-1"
    users_table: str = ""
    user_pool_id: str = ""
    user_pool_client_id: str = ""
    auto_confirm_signup: bool = False
    celebrity_follower_threshold: int = Field(default=10_000, ge=1)
    timeline_max_items: int = Field(default=800, ge=1)
    inactive_after_days: int = Field(default=30, ge=1)


_ENV = {
    "stage": "STAGE",
    "region": "AWS_REGION",
    "users_table": "USERS_TABLE_NAME",
    "user_pool_id": "USER_POOL_ID",
    "user_pool_client_id": "USER_POOL_CLIENT_ID",
    "auto_confirm_signup": "AUTO_CONFIRM_SIGNUP",
    "celebrity_follower_threshold": "CELEBRITY_FOLLOWER_THRESHOLD",
    "timeline_max_items": "TIMELINE_MAX_ITEMS",
    "inactive_after_days": "INACTIVE_AFTER_DAYS",
}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Parse the environment into Settings; cached for the life of the execution environment."""
    raw = {field: os.environ[var] for field, var in _ENV.items() if var in os.environ}
    return Settings.model_validate(raw)
