"""Powertools idempotency for the fan-out consumers, built on first use (never at import time)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

EXPIRES_AFTER_SECONDS = 24 * 3600
"""How long a processed record or message is remembered: longer than any redelivery we expect
(stream retries, SQS visibility timeouts up to maxReceiveCount)."""

RecordFn = Callable[[dict[str, Any]], dict[str, Any]]


class Once:
    """``fn(record)`` applied at most once per ``record[key]`` (a stream eventID or an SQS messageId).

    A repeat returns the stored result without running ``fn``; a failure deletes the in-progress marker
    so the redelivery runs it again. Costs 1 PutItem + 1 UpdateItem on the idempotency table per record.
    Built on first use; an execution environment runs one invocation at a time (the local runtime too),
    so the config that holds the invocation's context can be shared.
    """

    def __init__(self, fn: RecordFn, key: str) -> None:
        self.fn = fn
        self.key = key
        self._built: tuple[IdempotencyConfig, Callable[..., dict[str, Any]]] | None = None

    def _state(self) -> tuple[IdempotencyConfig, Callable[..., dict[str, Any]]]:
        if self._built is None:
            persistence = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE_NAME"])
            config = IdempotencyConfig(
                event_key_jmespath=self.key, expires_after_seconds=EXPIRES_AFTER_SECONDS
            )
            wrapped = idempotent_function(
                data_keyword_argument="record", persistence_store=persistence, config=config
            )(self.fn)
            self._built = (config, wrapped)
        return self._built

    def register(self, context: Any) -> None:
        """Give Powertools the invocation's context (it bounds in-progress markers by remaining time)."""
        self._state()[0].register_lambda_context(context)

    def __call__(self, record: dict[str, Any]) -> dict[str, Any]:
        return self._state()[1](record=record)
