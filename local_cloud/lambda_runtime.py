"""Invoking Lambda handlers in-process, the way the Lambda runtime would (gateway and pollers share it)."""

from __future__ import annotations

import importlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local_cloud.aws import ACCOUNT_ID

Handler = Callable[[dict[str, Any], Any], Any]
"""A Lambda handler: ``handler(event, context)``; its return value is the Lambda response."""


def resolve_handler(dotted: str) -> Handler:
    """Import ``package.module.callable`` (a ``Function.handler`` path) and return the callable."""
    module_name, _, attribute = dotted.rpartition(".")
    if not module_name:
        raise ValueError(f"handler path needs a module and a callable: {dotted!r}")
    handler = getattr(importlib.import_module(module_name), attribute)
    if not callable(handler):
        raise TypeError(f"{dotted} is not callable")
    return handler  # type: ignore[no-any-return]


_ENVIRONMENTS_LOCK = threading.Lock()
_ENVIRONMENTS: dict[str, threading.Lock] = {}


def environment_lock(dotted: str) -> threading.Lock:
    """The lock standing for the one warm execution environment of the function ``dotted``.

    Lambda never runs two invocations in one execution environment at once, and handler code relies
    on that: Powertools' resolvers keep the current event on the module-level ``app``. Locally every
    function has a single environment (a module is imported once per process), so invocations of
    one function — from the gateway or from a poller — take turns, while different functions still
    run side by side.
    """
    with _ENVIRONMENTS_LOCK:
        return _ENVIRONMENTS.setdefault(dotted, threading.Lock())


class LazyHandler:
    """A handler imported on first use, so starting the pollers never imports function code."""

    def __init__(self, dotted: str) -> None:
        self.dotted = dotted
        self._handler: Handler | None = None
        self._environment = environment_lock(dotted)

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        with self._environment:
            if self._handler is None:
                self._handler = resolve_handler(self.dotted)
            return self._handler(event, context)


@dataclass
class LocalLambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int = 512
    timeout_seconds: int = 10
    region: str = "us-east-1"
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _started: float = field(default_factory=time.monotonic, repr=False)

    @property
    def invoked_function_arn(self) -> str:
        return function_arn(self.function_name, self.region)

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's timeout (not enforced locally)."""
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


def function_arn(function_name: str, region: str) -> str:
    """The ARN the local cloud uses for a function (moto's default account)."""
    return f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}"
