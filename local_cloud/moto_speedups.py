"""Three changes to moto's DynamoDB speed, none to its behaviour (the local cloud and the bench use them).

moto's cost per call grows with table size in two places, which made a local session slower with every
test and a 10,000-follower fan-out take minutes, and with response size in a third:

- ``TransactWriteItems`` deep-copies every table it touches (items and stream records) before each
  transaction, to roll back on cancellation: O(table size) per transaction, ~0.3 s at 1,000 items.
  Here only the items the transaction names and the streams' lengths are saved, and restored on
  cancellation: the same outcome (tests/local_cloud/test_moto_speedups.py checks it).
- ``Query`` sorts every item of the table (comparing keys as moto's own types, ~20 us a comparison) to
  find one partition, then sorts the partition the same way. Here it is handed only that partition's
  items (for an index: the items whose index partition key is equal, found with a plain comparison),
  already in order by plain values, which moto then checks, sorts, pages and limits exactly as before.
- Responses go through moto's generic, shape-driven serializer (~0.5 ms per returned item). Item
  operations' results are already DynamoDB JSON, so they are written with ``json.dumps`` (binary values
  base64-encoded, as the serializer does); anything else, or anything ``json`` cannot write, still
  goes through moto's serializer.

Both rely on moto's requests being serialised: the local cloud's request gate and the bench's lock
ensure it. No library offers this (it is about moto's internals), hence the hand-written patch; it is
checked against moto's own results by the tests, and ``uninstall`` restores moto exactly.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import inspect
import json
import threading
import uuid
from decimal import Decimal
from typing import Any

_originals: list[tuple[Any, str, Any]] = []
_lock = threading.Lock()


class _NoTableCopy:
    """Stands in for the ``copy`` module inside moto's transact_write_items: tables are not copied."""

    @staticmethod
    def deepcopy(obj: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        return obj if isinstance(obj, Table) else copy.deepcopy(obj, memo)

    copy = staticmethod(copy.copy)


def _install_cheap_rollback() -> None:
    import moto.dynamodb.models as models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType

    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved: list[tuple[Any, Any, Any, Any]] = []
        shards: dict[int, tuple[Any, int]] = {}
        for entry in transact_items:
            try:
                ((_, op),) = entry.items()
                table = self.tables[op["TableName"]]
                key = op.get("Item") or op["Key"]
                hash_key = DynamoType(key[table.hash_key_attr])
                range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            except (KeyError, ValueError, TypeError):
                continue  # malformed: moto itself raises a validation error before changing anything
            saved.append((table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))))
            if table.stream_shard is not None:
                shards[id(table)] = (table.stream_shard, len(table.stream_shard.items))
        models.copy = _NoTableCopy  # type: ignore[assignment]
        try:
            original(self, transact_items)
        except BaseException:
            for table, hash_key, range_key, item in reversed(saved):
                _restore(table, hash_key, range_key, item)
            for shard, length in shards.values():
                del shard.items[length:]
            raise
        finally:
            models.copy = copy  # type: ignore[assignment]

    _originals.append((DynamoDBBackend, "transact_write_items", original))
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _install_partition_query() -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    original = Table.query
    signature = inspect.signature(original)

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = signature.bind(self, hash_key, *args, **kwargs).arguments.get("index_name")
        if not isinstance(hash_key, DynamoType):
            return original(self, hash_key, *args, **kwargs)
        if index_name:
            # A cheap pre-filter on the index's partition key (moto re-checks it). Not through
            # ``Table.all_items``: that sorts the whole table with moto's own comparisons first.
            index = next((i for i in self.all_indexes() if i.name == index_name), None)
            schema = index.schema if index else []
            hashes = [k["AttributeName"] for k in schema if k["KeyType"] == "HASH"]
            ranges = [k["AttributeName"] for k in schema if k["KeyType"] == "RANGE"]
            if len(hashes) != 1:
                return original(self, hash_key, *args, **kwargs)
            attr, kind, value = hashes[0], hash_key.type, hash_key.value
            partition = [
                item
                for item in _every_item(self)
                if (v := item.attrs.get(attr)) is not None and v.type == kind and v.value == value
            ]
            order = ranges[0] if ranges else None
        elif self.has_range_key:
            partition = list(self.items.get(hash_key, {}).values())
            order = self.range_key_attr
        else:
            return original(self, hash_key, *args, **kwargs)
        if order is not None:
            _presort(partition, order)
        self.all_items = lambda: partition  # instance attribute shadows the method for this call
        try:
            return original(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    _originals.append((Table, "query", original))
    Table.query = query  # type: ignore[method-assign]


_ITEM_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(type(value).__name__)  # anything else: moto's own serializer decides


def _install_plain_json_responses() -> None:
    from moto.core.responses import ActionResult

    original = ActionResult.execute_result

    def execute_result(self: Any, context: Any) -> Any:
        result = self.result
        if (
            context.service_model.service_name == "dynamodb"
            and context.operation_model.name in _ITEM_OPERATIONS
            and isinstance(result, dict)
        ):
            try:
                body = json.dumps({k: v for k, v in result.items() if v is not None}, default=_json_default)
            except (TypeError, ValueError):
                return original(self, context)
            headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-requestid": uuid.uuid4().hex}
            return 200, headers, body
        return original(self, context)

    _originals.append((ActionResult, "execute_result", original))
    ActionResult.execute_result = execute_result  # type: ignore[method-assign]


def _every_item(table: Any) -> list[Any]:
    if not table.range_key_attr:
        return list(table.items.values())
    return [item for partition in table.items.values() for item in partition.values()]


def _presort(items: list[Any], attribute: str) -> None:
    """Order items by ``attribute`` with plain Python values, so moto's own sort (comparing its
    DynamoType objects, ~20 us a comparison) meets sorted input and makes one cheap pass. The final
    order is still moto's: this only changes how much work its sort does."""

    def native(item: Any) -> tuple[int, Any]:
        v = item.attrs.get(attribute)
        if v is None:
            return (0, "")
        if v.type == "N":
            return (1, Decimal(v.value))
        return (2, v.value)

    with contextlib.suppress(TypeError):  # mixed types: leave the order to moto
        items.sort(key=native)


def _restore(table: Any, hash_key: Any, range_key: Any, item: Any) -> None:
    if range_key is None:
        if item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
        return
    if item is None:
        partition = table.items.get(hash_key)
        if partition is not None:
            partition.pop(range_key, None)
    else:
        table.items[hash_key][range_key] = item


def install() -> None:
    """Apply both speed-ups (idempotent)."""
    with _lock:
        if _originals:
            return
        _install_cheap_rollback()
        _install_partition_query()
        _install_plain_json_responses()


def installed() -> bool:
    return bool(_originals)


def uninstall() -> None:
    """Restore moto's own methods."""
    with _lock:
        while _originals:
            owner, name, original = _originals.pop()
            setattr(owner, name, original)
