"""Configuration of a function: its environment, read in one place, parsed into a pydantic model.

Each function's environment is computed from the resource definition (``infra/resources.py``,
``function_environment``) by both the CDK stack and the local runtime, which runs every function with
exactly that environment. A function's settings model names what it needs; ``load`` parses and checks
it on first use (never at import time) and keeps it for the execution environment, so a variable the
definition does not provide fails the first invocation with the variable's name.

``FromEnv`` serves PynamoDB models, whose ``Meta.table_name`` is read on each call, from the same
environment.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

S = TypeVar("S", bound="FunctionSettings")


class MissingSetting(RuntimeError):
    """The function's environment lacks a variable its settings need: the definition must grant it."""


def env(name: str, default: str | None = None) -> str:
    """One variable of the function's environment; MissingSetting when absent and no default."""
    value = os.environ.get(name, default)
    if value is None:
        raise MissingSetting(f"environment variable {name} is not set (is the resource granted?)")
    return value


def region() -> str:
    return env("AWS_REGION", "us-east-1")


class FromEnv:
    """A ``Meta`` attribute read from the environment when PynamoDB asks for it (on each call, so
    models can be declared at import time while physical names come from configuration)."""

    def __init__(self, name: str, default: str | None = None) -> None:
        self.name = name
        self.default = default

    def __get__(self, obj: Any, owner: Any) -> str:
        return env(self.name, self.default)


class FunctionSettings(BaseModel):
    """What every function reads; each function's model adds its own fields (aliases are variables)."""

    # defer_build: the validator is built when the settings are first parsed, not when a function's
    # module defines its model (a handler's import stays cheap).
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True, defer_build=True)

    stage: str = Field(default="local", alias="STAGE")
    region: str = Field(default="us-east-1", alias="AWS_REGION")

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Self:
        """Parse ``environ`` (the process environment when None); MissingSetting names what is absent."""
        source = dict(os.environ if environ is None else environ)
        try:
            return cls.model_validate(source)
        except ValidationError as exc:
            names = sorted(str(error["loc"][0]) for error in exc.errors() if error["type"] == "missing")
            if names:
                raise MissingSetting(f"{cls.__name__}: environment lacks {', '.join(names)}") from exc
            raise


class PagingSettings(FunctionSettings):
    """A function that signs page cursors: the key's value locally, its Secrets Manager ARN on AWS."""

    cursor_signing_key: str | None = Field(default=None, alias="CURSOR_SIGNING_KEY")
    cursor_secret_arn: str | None = Field(default=None, alias="CURSOR_SECRET_ARN")

    @model_validator(mode="after")
    def _one_key_source(self) -> Self:
        if not (self.cursor_signing_key or self.cursor_secret_arn):
            raise MissingSetting("CURSOR_SIGNING_KEY or CURSOR_SECRET_ARN must be set")
        return self


@cache
def load(model: type[S]) -> S:
    """The settings of this execution environment, parsed once on first use."""
    return model.from_environment()


def reload() -> None:
    """Forget parsed settings (tests that change the environment of an in-process function)."""
    load.cache_clear()


REGION = FromEnv("AWS_REGION", "us-east-1")
"""``Meta.region`` of every PynamoDB model."""
