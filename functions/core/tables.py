"""The table names a function's settings model may require, one mixin per table.

A function's settings model lists the tables it is granted by inheriting these, so the variable of
each table is named once here and the model fails on first use when the definition did not grant it.
PynamoDB models read the same variables through ``FromEnv``.
"""

from __future__ import annotations

from pydantic import Field

from functions.core.config import FunctionSettings


class UsersTable(FunctionSettings):
    users_table: str = Field(alias="USERS_TABLE_NAME")


class TweetsTable(FunctionSettings):
    tweets_table: str = Field(alias="TWEETS_TABLE_NAME")


class EngagementsTable(FunctionSettings):
    engagements_table: str = Field(alias="ENGAGEMENTS_TABLE_NAME")


class FollowsTable(FunctionSettings):
    follows_table: str = Field(alias="FOLLOWS_TABLE_NAME")


class RateLimitsTable(FunctionSettings):
    rate_limits_table: str = Field(alias="RATE_LIMITS_TABLE_NAME")


class TimelinesTable(FunctionSettings):
    timelines_table: str = Field(alias="TIMELINES_TABLE_NAME")


class IdempotencyTable(FunctionSettings):
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE_NAME")
