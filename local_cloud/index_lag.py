"""Index lag for the local cloud's moto: global secondary indexes see writes only ``lag`` later.

DynamoDB propagates a write to a table's global secondary indexes asynchronously, typically well under
a second behind (longer under load); moto's indexes are exact (PITFALLS.md). With ``LOCAL_CHAOS``
``index_lag_ms`` the moto process (``local_cloud.moto_process``) answers every Query and Scan on a
global secondary index from the table as it was ``lag`` ago: an item written since is absent, an item
updated since shows its previous image, an item deleted since is still there. Reads of the base table
(GetItem, BatchGetItem, Query, Scan, transactions) and of local secondary indexes stay exact, as on
AWS, where both can be strongly consistent.

How: moto's DynamoDB request handler (``DynamoHandler.call_action``) is wrapped. For a write (PutItem,
UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems) on a table with global indexes the items
it names are copied before it runs and compared after; each item it changed is recorded with its
previous image and the time, and records older than the lag are dropped. A read of a global index puts
each recently changed item's image as of ``now - lag`` (the previous image of its first recorded
change) in place, runs moto's own Query or Scan on that state and puts the current items back, all
inside the moto process's request gate, so no other request sees the swap. A cancelled transaction
changes nothing and so records nothing. PartiQL statements are not tracked (the service uses none).

Containment, as for every patch of moto (``local_cloud.moto_patching``): ``install`` refuses any moto
but ``SUPPORTED_MOTO_VERSION`` and checks the symbols it wraps or relies on first; ``uninstall``
restores moto exactly. Nothing is patched unless a lag is set.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from local_cloud.moto_patching import Patches, UnsupportedMotoError, moto_version, symbol_problems

SUPPORTED_MOTO_VERSION = "5.2.5"
"""The moto version the lag was checked against (tests/local_cloud/test_index_lag.py)."""

_SYMBOLS: tuple[tuple[str, str, tuple[str, ...] | None], ...] = (
    ("moto.dynamodb.responses", "DynamoHandler.call_action", None),  # wrapped (amz_crc32 decorates it)
    ("moto.dynamodb.responses", "DynamoHandler._get_action", ("self",)),
    ("moto.dynamodb.responses", "DynamoHandler.dynamodb_backend", None),
    ("moto.dynamodb.models.table", "Table.has_range_key", None),
    ("moto.dynamodb.models.dynamo_type", "DynamoType", None),
)
"""moto symbols the lag wraps, calls or reads (``Table.items``, ``hash_key_attr``, ``range_key_attr``
and ``global_indexes`` are instance attributes, checked by the tests)."""

_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
_INDEX_READS = frozenset({"Query", "Scan"})

Key = tuple[Any, Any]
"""(hash key, range key or None) as moto's DynamoType values."""


class IndexLag:
    """The lag and the recent changes of every table with a global secondary index."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.lag_seconds = 0.0
        self.hidden = 0
        """Items an index read saw in their lagged state (absent, older, or still there)."""
        self._clock = clock
        self._lock = threading.Lock()
        # id(table) -> (table, changes in time order: (when, key, previous image or None))
        self._changes: dict[int, tuple[Any, deque[tuple[float, Key, Any]]]] = {}

    def set_lag(self, milliseconds: int) -> None:
        with self._lock:
            self.lag_seconds = max(0, milliseconds) / 1000
            if not self.lag_seconds:
                self._changes.clear()

    def remaining_seconds(self) -> float:
        """How long until every recorded change is visible to every index (0: all are)."""
        with self._lock:
            now = self._clock()
            latest = max((changes[-1][0] for _, changes in self._changes.values() if changes), default=None)
            return 0.0 if latest is None else max(0.0, latest + self.lag_seconds - now)

    # -- the wrapper's two cases -----------------------------------------------------------------
    def write(self, backend: Any, action: str, params: dict[str, Any], call: Callable[[], Any]) -> Any:
        """Run the write ``call`` and record the items of global-indexed tables it changed."""
        touched = [(t, k, _snapshot(t, k)) for t, k in _written(backend, action, params) if t.global_indexes]
        try:
            return call()
        finally:
            now = self._clock()
            with self._lock:
                for table, key, before in touched:
                    if not _same(before, _item(table, key)):
                        self._history(table).append((now, key, before))
                self._prune(now)

    def read(self, backend: Any, params: dict[str, Any], call: Callable[[], Any]) -> Any:
        """Run the Query or Scan ``call``; on a global index, against the table as of ``now - lag``."""
        table = backend.tables.get(params.get("TableName"))
        index = params.get("IndexName")
        if table is None or not index or index not in {i.name for i in table.global_indexes}:
            return call()
        with self._lock:
            self._prune(self._clock())
            entry = self._changes.get(id(table))
            lagged: dict[Key, Any] = {}
            for _, key, before in entry[1] if entry else ():
                lagged.setdefault(key, before)  # the first change since now - lag: the image back then
            self.hidden += sum(1 for key, image in lagged.items() if not _same(image, _item(table, key)))
        with _swapped(table, lagged):
            return call()

    # -- history ---------------------------------------------------------------------------------
    def _history(self, table: Any) -> deque[tuple[float, Key, Any]]:
        entry = self._changes.get(id(table))
        if entry is None or entry[0] is not table:
            entry = self._changes[id(table)] = (table, deque())
        return entry[1]

    def _prune(self, now: float) -> None:
        horizon = now - self.lag_seconds
        for table_id, (_, changes) in list(self._changes.items()):
            while changes and changes[0][0] < horizon:
                changes.popleft()
            if not changes:
                del self._changes[table_id]


def _written(backend: Any, action: str, params: dict[str, Any]) -> Iterator[tuple[Any, Key]]:
    """The (table, key) pairs a write request names (malformed ones are moto's to refuse)."""
    if action in ("PutItem", "UpdateItem", "DeleteItem"):
        attrs = params.get("Item") if action == "PutItem" else params.get("Key")
        yield from _keyed(backend, params.get("TableName"), attrs)
    elif action == "BatchWriteItem":
        for name, requests in (params.get("RequestItems") or {}).items():
            for request in requests or ():
                put, delete = request.get("PutRequest"), request.get("DeleteRequest")
                yield from _keyed(backend, name, (put or {}).get("Item") or (delete or {}).get("Key"))
    elif action == "TransactWriteItems":
        for item in params.get("TransactItems") or ():
            for kind, operation in item.items():
                if kind in ("Put", "Update", "Delete"):
                    attrs = operation.get("Item") if kind == "Put" else operation.get("Key")
                    yield from _keyed(backend, operation.get("TableName"), attrs)


def _keyed(backend: Any, name: Any, attrs: Any) -> Iterator[tuple[Any, Key]]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    table = backend.tables.get(name) if isinstance(name, str) else None
    if table is None or not isinstance(attrs, dict):
        return
    try:
        hash_key = DynamoType(attrs[table.hash_key_attr])
        range_key = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
    except (KeyError, TypeError, ValueError, AttributeError):
        return
    yield table, (hash_key, range_key)


def _item(table: Any, key: Key) -> Any:
    """The item stored under ``key`` (None: none), read without creating a partition."""
    hash_key, range_key = key
    stored = table.items.get(hash_key)
    if range_key is None or stored is None:
        return stored
    return stored.get(range_key)


def _snapshot(table: Any, key: Key) -> Any:
    item = _item(table, key)
    return None if item is None else copy.deepcopy(item)


def _same(a: Any, b: Any) -> bool:
    return a is b or (a is not None and b is not None and a == b)


def _place(table: Any, key: Key, item: Any) -> None:
    """Store ``item`` under ``key`` (None: remove it), as moto's own table does."""
    hash_key, range_key = key
    if range_key is None:
        if item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
    elif item is None:
        partition = table.items.get(hash_key)
        if partition is not None:
            partition.pop(range_key, None)
    else:
        table.items[hash_key][range_key] = item


class _swapped:
    """Within the block, ``table`` holds the lagged images; afterwards exactly its current items."""

    def __init__(self, table: Any, lagged: dict[Key, Any]) -> None:
        self._table = table
        self._lagged = lagged
        self._current: list[tuple[Key, Any]] = []

    def __enter__(self) -> None:
        for key, image in self._lagged.items():
            current = _item(self._table, key)
            if not _same(image, current):
                self._current.append((key, current))
                _place(self._table, key, image)

    def __exit__(self, *_: object) -> None:
        for key, current in reversed(self._current):
            _place(self._table, key, current)


LAG = IndexLag()
"""The moto process's one index lag."""

_patches = Patches()


def check_supported() -> None:
    """Raise ``UnsupportedMotoError`` unless moto is the version the lag was checked on, with every
    symbol it wraps or relies on."""
    found = moto_version()
    if found != SUPPORTED_MOTO_VERSION:
        raise UnsupportedMotoError(
            f"local_cloud.index_lag supports moto {SUPPORTED_MOTO_VERSION} only, found moto {found}: run "
            f"without index_lag_ms, or set SUPPORTED_MOTO_VERSION = {found!r} in local_cloud/index_lag.py "
            f"and run tests/local_cloud/test_index_lag.py, keeping the change only if they pass."
        )
    problems = symbol_problems(_SYMBOLS)
    if problems:
        missing = "; ".join(problems)
        raise UnsupportedMotoError(f"moto {found} lacks what local_cloud.index_lag wraps: {missing}")


def install(milliseconds: int) -> None:
    """Lag global secondary indexes by ``milliseconds`` (0: exact again). Patches moto on the first
    non-zero lag; requests must be serialised (the moto process's gate does it)."""
    with _patches.lock:
        if milliseconds > 0 and not _patches:
            check_supported()
            _install_wrapper()
    LAG.set_lag(milliseconds)


def installed() -> bool:
    return bool(_patches)


def uninstall() -> None:
    """Restore moto's request handler and forget the lag."""
    with _patches.lock:
        _patches.restore_all()
    LAG.set_lag(0)


def _install_wrapper() -> None:
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        if LAG.lag_seconds <= 0:
            return original(self)
        action = self._get_action()
        if action not in _WRITES and action not in _INDEX_READS:
            return original(self)
        params: dict[str, Any] = getattr(self, "params", None) or {}
        backend = self.dynamodb_backend
        if action in _INDEX_READS:
            return LAG.read(backend, params, lambda: original(self))
        return LAG.write(backend, action, params, lambda: original(self))

    _patches.replace(DynamoHandler, "call_action", call_action)
