"""The one DynamoDB write primitive: labelled TransactWriteItems over PynamoDB models.

Every multi-item change of the service is one transaction whose conditions carry its invariants (exact
counters, uniqueness claims, the rate-limit charge). ``transact`` builds it, commits it and tells the
caller which *labelled* items' conditions failed, so domain code decides by name, never by position or
message text:

- cancellation reasons come back by wire position; PynamoDB sends a transaction's items grouped by
  operation (condition checks, deletes, puts, updates) whatever order they were added in, so the labels
  are mapped back through that wire order;
- a transaction that only lost a race (``TransactionConflict``) or was throttled changed nothing: it is
  rebuilt and tried again with capped exponential backoff and full jitter; one that still loses after
  the last attempt is ``Busy`` (429 with Retry-After), one still throttled is ``Unavailable`` (503
  with Retry-After), never a 500;
- any other cancellation reason (a validation error: a bug) is raised as it is.

Writes go through one PynamoDB ``Connection`` (one botocore client) per execution environment: a fresh
client costs ~180 ms, a warm call ~6 ms.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from functions.core.config import region
from functions.core.errors import Busy, Unavailable
from functions.core.observability import logger
from functions.core.retry import Backoff

CONDITION_FAILED = "ConditionalCheckFailed"
_THROTTLED = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded"})
_RETRIED = frozenset({"TransactionConflict"}) | _THROTTLED
_NO_REASON = frozenset({"", "None"})
_WIRE_ORDER = ("condition", "delete", "put", "update")
DEFAULT_BACKOFF = Backoff(attempts=5, base_seconds=0.02, cap_seconds=0.32)
"""Five attempts within about half a second: a hot item (a viral tweet's counter, a celebrity's
follower count) clears that fast; past it the caller is told to come back (429)."""


@lru_cache(maxsize=1)
def connection() -> Connection:
    """The execution environment's connection for transactions, made on first use."""
    return Connection(region=region())


class Transaction:
    """One TransactWriteItems whose items carry labels."""

    def __init__(self) -> None:
        self._tx = TransactWrite(connection=connection())
        self._labels: dict[str, list[str]] = {op: [] for op in _WIRE_ORDER}

    def put(self, label: str, model: Model, condition: Condition | None = None) -> None:
        self._tx.save(model, condition=condition)
        self._labels["put"].append(label)

    def update(
        self, label: str, model: Model, actions: list[Any], condition: Condition | None = None
    ) -> None:
        self._tx.update(model, actions=actions, condition=condition)
        self._labels["update"].append(label)

    def delete(self, label: str, model: Model, condition: Condition | None = None) -> None:
        self._tx.delete(model, condition=condition)
        self._labels["delete"].append(label)

    def commit(self) -> dict[str, str]:
        """Commit; {} on success, else {label: reason code} of the items that cancelled it."""
        try:
            with self._tx:
                pass  # the context manager commits on a clean exit
        except TransactWriteError as exc:
            wire = [label for op in _WIRE_ORDER for label in self._labels[op]]
            failed = {
                label: reason.code
                for label, reason in zip(wire, exc.cancellation_reasons or [], strict=False)
                if reason is not None and reason.code not in _NO_REASON
            }
            if not failed:
                if is_throttled(exc):
                    return {"*": "ThrottlingError"}
                raise
            return failed
        return {}


def transact(build: Callable[[Transaction], None], *, backoff: Backoff = DEFAULT_BACKOFF) -> set[str]:
    """Build and commit a transaction; return the labels of the items whose condition failed.

    Calls: 1 TransactWriteItems, plus 1 per retry after a conflict or throttling (at most
    ``backoff.attempts`` in all). Raises Busy when every attempt lost a race, Unavailable when the last
    one was throttled.
    """
    for attempt in range(backoff.attempts):
        tx = Transaction()
        build(tx)
        failed = tx.commit()
        if all(code == CONDITION_FAILED for code in failed.values()):
            return set(failed)
        unexpected = {
            label: code for label, code in failed.items() if code not in _RETRIED | {CONDITION_FAILED}
        }
        if unexpected:
            logger.error("transaction cancelled", extra={"reasons": failed})
            raise RuntimeError(f"transaction cancelled: {unexpected}")
        if attempt + 1 < backoff.attempts:
            backoff.pause(attempt)
    if failed and all(code in _THROTTLED for code in failed.values()):
        # DynamoDB refused it for capacity, not for a race: the dependency is unavailable (503).
        logger.warning("transaction still throttled after retries", extra={"attempts": backoff.attempts})
        raise Unavailable(retry_after_seconds=1)
    logger.warning("transaction still conflicting after retries", extra={"attempts": backoff.attempts})
    raise Busy("Too many changes to the same item at once; try again.", retry_after_seconds=1)


def is_condition_failure(exc: Exception) -> bool:
    """True when a single-item write (PynamoDB PutError, UpdateError, DeleteError) or a boto3 call
    failed only because its condition did not hold."""
    if isinstance(exc, PynamoDBException):
        return exc.cause_response_code == "ConditionalCheckFailedException"
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
    return False


def is_throttled(exc: Exception) -> bool:
    """True when DynamoDB refused the request for capacity after botocore's own retries."""
    code = exc.cause_response_code if isinstance(exc, PynamoDBException) else None
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code")
    return code in ("ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded")
