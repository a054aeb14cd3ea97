"""Two changes to moto's DynamoDB speed, none to its behaviour (the local cloud and the bench use them).

moto's cost per call grows with table size in two places, which made a local session slower with every
test and a 10,000-follower fan-out take minutes:

- ``TransactWriteItems`` deep-copies every table it touches (items and stream records) before each
  transaction, to roll back on cancellation: O(table size) per transaction, ~0.3 s at 1,000 items.
  Here only the items the transaction names and the streams' lengths are saved, and restored on
  cancellation: the same outcome (tests/local_cloud/test_moto_speedups.py checks it).
- ``Query`` walks every item of the table (~40 us each, comparing keys as moto's own types) to find one
  partition. Here it is handed only that partition's items (for an index: the items whose index
  partition key is equal, found with a plain comparison), which moto then checks, sorts, pages and
  limits exactly as before.

Both rely on moto's requests being serialised: the local cloud's request gate and the bench's lock
ensure it. No library offers this (it is about moto's internals), hence the hand-written patch; it is
checked against moto's own results by the tests, and ``uninstall`` restores moto exactly.
"""

from __future__ import annotations

import copy
import inspect
import threading
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
    original_all_items = Table.all_items
    signature = inspect.signature(original)

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = signature.bind(self, hash_key, *args, **kwargs).arguments.get("index_name")
        if not isinstance(hash_key, DynamoType):
            return original(self, hash_key, *args, **kwargs)
        if index_name:
            # Same walk, but a cheap pre-filter on the index's partition key (moto re-checks it).
            index = next((i for i in self.all_indexes() if i.name == index_name), None)
            hashes = [k["AttributeName"] for k in (index.schema if index else []) if k["KeyType"] == "HASH"]
            if len(hashes) != 1:
                return original(self, hash_key, *args, **kwargs)
            attr, kind, value = hashes[0], hash_key.type, hash_key.value
            partition = [
                item
                for item in original_all_items(self)
                if (v := item.attrs.get(attr)) is not None and v.type == kind and v.value == value
            ]
        elif self.has_range_key:
            partition = list(self.items.get(hash_key, {}).values())
        else:
            return original(self, hash_key, *args, **kwargs)
        self.all_items = lambda: partition  # instance attribute shadows the method for this call
        try:
            return original(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    _originals.append((Table, "query", original))
    Table.query = query  # type: ignore[method-assign]


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


def installed() -> bool:
    return bool(_originals)


def uninstall() -> None:
    """Restore moto's own methods."""
    with _lock:
        while _originals:
            owner, name, original = _originals.pop()
            setattr(owner, name, original)
