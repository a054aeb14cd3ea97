"""Retry pacing and the boto3 clients that data-access code shares (created on first use)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with full jitter: sleep uniform(0, min(cap, base * 2**attempt))."""

    attempts: int = 8
    base_seconds: float = 0.05
    cap_seconds: float = 2.0
    sleep: Callable[[float], None] = time.sleep

    def pause(self, attempt: int) -> None:
        self.sleep(random.uniform(0, min(self.cap_seconds, self.base_seconds * 2**attempt)))


@cache
def client(service_name: str, *, validate_params: bool = True) -> Any:
    """One boto3 client per service for the process (boto3 clients are thread-safe); the standard retry
    mode handles throttling of whole requests, ``Backoff`` the unprocessed parts of batch requests.

    ``validate_params=False`` skips botocore's client-side check of the request against the API model,
    for hot paths whose requests are built in one place by typed code (the fan-out's BatchWriteItem):
    checking 25 items costs more CPU than serialising, signing and sending them (measured in
    bench/fanout_lag.py), and DynamoDB validates every request itself anyway.
    """
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"max_attempts": 5, "mode": "standard"},
        max_pool_connections=50,
        parameter_validation=validate_params,
    )
    return boto3.client(service_name, config=config)
