"""In-process moto for the benchmark: thread-safe, with a cheap transaction rollback, and a direct view
of the stored items (the capacity calculator needs the full old and new images of what a call touched).

Why in-process rather than the local cloud's ``ThreadedMotoServer``: the same moto code answers, about
3x faster per call (no HTTP), and the bench can read item images straight from moto's backend without
making extra (counted) calls. Two adjustments, both about moto's speed, neither about behaviour:

- moto is not thread-safe in-process, and the service's code issues calls from thread pools. Every
  moto request runs under one lock (as the local cloud's request gate does for the server).
- moto's ``TransactWriteItems`` deep-copies every table it touches (items and stream records) before
  each transaction, to roll back on cancellation: O(table size) per transaction, ~0.3 s at 1,000 items.
  The bench saves only the items the transaction names and the streams' lengths, and restores those
  on cancellation: the same outcome (tests/unit/test_bench_capacity.py checks a cancelled transaction
  leaves items and streams as they were).
- moto's ``Query`` walks every item of the table (~40 us each, comparing keys as moto's own types) to
  find one partition. The bench hands it only that partition's items (for an index: the items whose
  index partition key is equal, found with a plain comparison), which moto then checks, sorts, pages
  and limits exactly as before.
"""

from __future__ import annotations

import copy
import inspect
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
MOTO_LOCK = threading.RLock()
"""Held around every moto request and every direct read of moto's state."""

_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_SESSION_TOKEN": "bench",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "Chirp",
    "POWERTOOLS_SERVICE_NAME": "chirp",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
    "STAGE": "local",
    "AUTO_CONFIRM_SIGNUP": "true",
    "CURSOR_SIGNING_KEY": "bench-cursor-key",
}
_installed = False
_originals: list[tuple[Any, str, Any]] = []


def _install_lock() -> None:
    from moto.core.botocore_stubber import BotocoreStubber

    original = BotocoreStubber.__call__

    def locked(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        with MOTO_LOCK:
            return original(self, event_name, request, **kwargs)

    _originals.append((BotocoreStubber, "__call__", original))
    BotocoreStubber.__call__ = locked  # type: ignore[method-assign]


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


def install_patches() -> None:
    """The lock and the two speed-ups (idempotent; ``uninstall_patches`` undoes them)."""
    if _originals:
        return
    _install_lock()
    _install_cheap_rollback()
    _install_partition_query()


def uninstall_patches() -> None:
    while _originals:
        owner, name, original = _originals.pop()
        setattr(owner, name, original)


def install() -> None:
    """Environment and patches; idempotent. Call before any boto3/PynamoDB client exists."""
    global _installed
    if _installed:
        return
    for name, value in _ENV.items():
        os.environ[name] = value
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.pop("AWS_PROFILE", None)
    install_patches()
    _installed = True


class MotoSession:
    """A fresh in-process moto with every resource of ``infra.resources.SPEC`` provisioned."""

    def __init__(self) -> None:
        install()
        from moto import mock_aws

        self._mock = mock_aws()
        self.provisioned: Any = None

    def __enter__(self) -> MotoSession:
        import boto3

        from infra.resources import SPEC
        from local_cloud.provision import provision

        self._mock.start()
        self.provisioned = provision(SPEC, boto3.session.Session())
        os.environ.update(self.provisioned.environment())
        return self

    def __exit__(self, *exc: object) -> None:
        self._mock.stop()


def table(name: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[ACCOUNT_ID][REGION].get_table(name)


def stored_item(table_name: str, key: dict[str, Any]) -> dict[str, Any] | None:
    """The full stored item (wire format) at ``key``, or None. Read under the moto lock, no API call."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    with MOTO_LOCK:
        try:
            t = table(table_name)
        except Exception:
            return None
        try:
            hash_key = DynamoType(key[t.hash_key_attr])
            range_key = DynamoType(key[t.range_key_attr]) if t.range_key_attr else None
        except KeyError:
            return None
        item = t.get_item(hash_key, range_key)
        return None if item is None else dict(item.to_json()["Attributes"])


def key_attributes(table_name: str) -> tuple[str, str | None]:
    with MOTO_LOCK:
        t = table(table_name)
        return t.hash_key_attr, t.range_key_attr


@contextmanager
def locked() -> Iterator[None]:
    with MOTO_LOCK:
        yield


def count_items(table_name: str, attribute: str, value: str) -> int:
    """How many stored items have ``attribute`` = ``value`` (S), read directly from moto's state."""
    with MOTO_LOCK:
        return sum(
            1
            for item in table(table_name).all_items()
            if (attr := item.attrs.get(attribute)) is not None and attr.value == value
        )
