"""One BatchGetItem across several tables, for PynamoDB models.

Written by hand because no library does it: PynamoDB's ``Model.batch_get`` reads one table per call,
and boto3's resource ``batch_get_item`` neither splits requests at DynamoDB's 100-key limit nor retries
``UnprocessedKeys``. Hydrating a page of tweets needs tweets, author profiles and the caller's
engagements; reading them in one call instead of three parallel ones saves two requests per page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from pynamodb.models import Model

from functions.core.concurrency import chunked, run_all
from functions.core.errors import RetriesExhausted
from functions.core.retry import Backoff
from functions.core.retry import client as shared_client

MAX_KEYS = 100
"""DynamoDB's limit on keys per BatchGetItem call."""

_DEFAULT_BACKOFF = Backoff()


class UnprocessedKeysError(RetriesExhausted):
    """BatchGetItem still returned UnprocessedKeys after every retry (sustained throttling)."""


@dataclass
class Read:
    """The items of one model to read: hash keys, or (hash, range) pairs for a composite key."""

    model: type[Model]
    keys: Iterable[Any]
    consistent: bool = False
    found: list[Any] = field(default_factory=list)


def _key_names(model: type[Model]) -> tuple[str, str | None]:
    hash_name = range_name = None
    for attribute in model.get_attributes().values():
        if attribute.is_hash_key:
            hash_name = attribute.attr_name
        elif attribute.is_range_key:
            range_name = attribute.attr_name
    assert hash_name is not None, model
    return hash_name, range_name


def _key(model: type[Model], key: Any) -> dict[str, dict[str, str]]:
    hash_name, range_name = _key_names(model)
    if range_name is None:
        return {hash_name: {"S": str(key)}}
    hash_value, range_value = key
    return {hash_name: {"S": str(hash_value)}, range_name: {"S": str(range_value)}}


def batch_get(
    reads: Sequence[Read],
    executor: Executor | None = None,
    client: Any = None,
    backoff: Backoff = _DEFAULT_BACKOFF,
) -> None:
    """Fill every ``Read.found`` with its model's items (string keys; missing keys are simply absent).

    Calls: ceil(total keys / 100) BatchGetItem, in parallel when an executor is given (one round trip),
    plus one per retry of UnprocessedKeys, paced by ``backoff`` (capped exponential, full jitter).
    """
    by_table: dict[str, Read] = {}
    pending: list[tuple[str, dict[str, Any]]] = []
    for read in reads:
        table = str(read.model.Meta.table_name)
        if table in by_table:
            raise ValueError(f"two reads of table {table}")
        by_table[table] = read
        seen: set[Any] = set()
        for key in read.keys:
            if key not in seen:
                seen.add(key)
                pending.append((table, _key(read.model, key)))
    chunks = chunked(pending, MAX_KEYS)
    ddb = client if client is not None else shared_client("dynamodb")

    def run(chunk: Sequence[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
        request: dict[str, Any] = {}
        for table, key in chunk:
            entry = request.setdefault(table, {"Keys": [], "ConsistentRead": by_table[table].consistent})
            entry["Keys"].append(key)
        items: list[tuple[str, dict[str, Any]]] = []
        for attempt in range(backoff.attempts):
            response = ddb.batch_get_item(RequestItems=request)
            for table, found in response.get("Responses", {}).items():
                items.extend((table, item) for item in found)
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return items
            backoff.pause(attempt)
        raise UnprocessedKeysError(f"{sum(len(r['Keys']) for r in request.values())} keys unprocessed")

    for items in run_all(executor, run, chunks):
        for table, item in items:
            read = by_table[table]
            read.found.append(read.model.from_raw_data(item))
