"""PynamoDB plumbing shared by the domains' data-access modules."""

from __future__ import annotations

import os
from typing import Any


class FromEnv:
    """A ``Meta`` attribute read from the environment when PynamoDB first asks for it.

    PynamoDB reads ``Meta.table_name`` and ``Meta.region`` on the first call, not at class creation, so
    models can be declared at import time while the physical names still come from configuration.
    """

    def __init__(self, env_var: str, default: str | None = None) -> None:
        self.env_var = env_var
        self.default = default

    def __get__(self, obj: Any, owner: Any) -> str:
        value = os.environ.get(self.env_var, self.default)
        if value is None:
            raise RuntimeError(f"environment variable {self.env_var} is not set")
        return value


REGION = FromEnv("AWS_REGION", "us-east-1")
