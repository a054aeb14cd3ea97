"""Records every AWS call the service's code makes, with its capacity and its place on the critical path.

How calls are seen: handlers appended to ``botocore.handlers.BUILTIN_HANDLERS`` (``before-call`` and
``after-call``), so every botocore session created afterwards (boto3's, PynamoDB's, Powertools')
reports every call, whichever client made it. Install before any client exists.

How round trips are counted (independent of moto's speed and of thread scheduling): each thread
carries a logical clock, the number of sequential calls on its path so far. A call starts at its
thread's clock and ends at clock + 1. A task handed to a ``ThreadPoolExecutor`` starts with the clock
of the thread that submitted it, and ``Future.result()`` advances the waiting thread's clock to the
task's final clock. The critical-path depth of an operation is the largest clock reached: calls issued
side by side count once, calls that wait for each other add up. (Wall-clock overlap is not used:
moto answers one request at a time in-process, and the GIL can delay a worker thread past a short call.)
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bench import moto_local
from bench.capacity import (
    EVENTUAL,
    STRONG,
    TRANSACTIONAL,
    Capacity,
    IndexSpec,
    get_items_rcu,
    index_write_wcu,
    item_size,
    item_write_wcu,
    query_rcu,
    write_units,
)

_local = threading.local()


def _clock() -> int:
    return int(getattr(_local, "clock", 0))


def _set_clock(value: int) -> None:
    _local.clock = value


@dataclass
class Call:
    service: str
    operation: str
    tables: tuple[str, ...]
    thread: str
    start: float
    depth: int = 0
    end: float = 0.0
    error: str | None = None
    capacity: Capacity = field(default_factory=Capacity)
    tag: str = ""
    note: str = ""
    """BatchWriteItem: "put", "delete" or "put+delete"; SendMessageBatch: billed 64 KB request chunks."""


@dataclass
class Scope:
    name: str
    calls: list[Call] = field(default_factory=list)
    started: float = 0.0
    ended: float = 0.0

    @property
    def depth(self) -> int:
        return max((c.depth for c in self.calls), default=0)


def _index_specs() -> dict[str, tuple[IndexSpec, ...]]:
    from infra.resources import SPEC

    specs: dict[str, tuple[IndexSpec, ...]] = {}
    for table in SPEC.tables:
        specs[table.logical_id] = tuple(
            IndexSpec(
                index.name,
                (index.partition_key.name, *((index.sort_key.name,) if index.sort_key else ())),
                (table.partition_key.name, *((table.sort_key.name,) if table.sort_key else ())),
                index.include,
            )
            for index in table.indexes
        )
    return specs


_EQUALITY = re.compile(r"(#?[A-Za-z0-9_]+)\s*=\s*(:[A-Za-z0-9_]+)")


def _key_of(table: str, item: dict[str, Any]) -> dict[str, Any] | None:
    hash_attr, range_attr = moto_local.key_attributes(table)
    if hash_attr not in item or (range_attr and range_attr not in item):
        return None
    key = {hash_attr: item[hash_attr]}
    if range_attr:
        key[range_attr] = item[range_attr]
    return key


class Recorder:
    """Process-wide recorder. ``scope(name)`` collects the calls made while it is open."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scope: Scope | None = None
        self._indexes: dict[str, tuple[IndexSpec, ...]] | None = None
        self.capacity_enabled = True
        self._installed = False

    # ---- installation -----------------------------------------------------------------------------
    def install(self) -> None:
        if self._installed:
            return
        import botocore.handlers

        botocore.handlers.BUILTIN_HANDLERS.append(("before-call", self._before))
        botocore.handlers.BUILTIN_HANDLERS.append(("after-call", self._after))
        _patch_executor()
        self._installed = True

    # ---- scopes -----------------------------------------------------------------------------------
    @contextmanager
    def scope(self, name: str) -> Iterator[Scope]:
        scope = Scope(name, started=time.perf_counter())
        previous, saved_clock = self._scope, _clock()
        self._scope = scope
        _set_clock(0)
        try:
            yield scope
        finally:
            scope.ended = time.perf_counter()
            self._scope = previous
            _set_clock(saved_clock)

    @contextmanager
    def suppressed(self) -> Iterator[None]:
        """Calls made by the harness itself (reading streams, polling queues, seeding) are not recorded."""
        previous = getattr(_local, "suppressed", False)
        _local.suppressed = True
        try:
            yield
        finally:
            _local.suppressed = previous

    @contextmanager
    def tagged(self, tag: str) -> Iterator[None]:
        previous = getattr(_local, "tag", "")
        _local.tag = tag
        try:
            yield
        finally:
            _local.tag = previous

    # ---- botocore hooks ---------------------------------------------------------------------------
    def _before(self, model: Any = None, params: Any = None, context: Any = None, **_: Any) -> None:
        if self._scope is None or getattr(_local, "suppressed", False) or context is None or model is None:
            return None
        service = model.service_model.service_name
        request = _request_of(params)
        call = Call(
            service=service,
            operation=model.name,
            tables=_tables_of(model.name, request),
            thread=threading.current_thread().name,
            start=time.perf_counter(),
            depth=_clock(),
            tag=getattr(_local, "tag", ""),
        )
        call.note = _note(model.name, request)
        old: dict[tuple[str, str], dict[str, Any] | None] = {}
        if service == "dynamodb" and self.capacity_enabled:
            for table, key in _written_keys(model.name, request):
                old[(table, json.dumps(key, sort_keys=True))] = moto_local.stored_item(table, key)
        context["bench"] = (call, request, old, self._scope)
        return None

    def _after(
        self, http_response: Any = None, parsed: Any = None, model: Any = None, context: Any = None, **_: Any
    ) -> None:
        if context is None or "bench" not in context:
            return None
        call, request, old, scope = context.pop("bench")
        call.end = time.perf_counter()
        call.depth += 1
        _set_clock(max(_clock(), call.depth))
        parsed = parsed or {}
        error = parsed.get("Error", {}).get("Code") if isinstance(parsed, dict) else None
        call.error = error
        if call.service == "dynamodb" and self.capacity_enabled:
            try:
                call.capacity = self._capacity(call.operation, request, parsed, old, error)
            except Exception as exc:  # never let accounting break the service's call
                call.capacity = Capacity()
                call.error = f"{error or ''} capacity-error:{exc!r}"
        with self._lock:
            scope.calls.append(call)
        return None

    # ---- capacity ---------------------------------------------------------------------------------
    def _indexes_of(self, table: str) -> tuple[IndexSpec, ...]:
        if self._indexes is None:
            self._indexes = _index_specs()
        return self._indexes.get(table, ())

    def _capacity(
        self,
        operation: str,
        request: dict[str, Any],
        parsed: dict[str, Any],
        old: dict[tuple[str, str], dict[str, Any] | None],
        error: str | None,
    ) -> Capacity:
        cap = Capacity()
        if operation == "GetItem":
            table = request["TableName"]
            item = moto_local.stored_item(table, request["Key"])
            factor = STRONG if request.get("ConsistentRead") else EVENTUAL
            cap.charge(table, rcu=get_items_rcu([item_size(item)], factor))
            cap.items_read += 1 if parsed.get("Item") else 0
        elif operation == "BatchGetItem":
            unprocessed = parsed.get("UnprocessedKeys", {})
            for table, spec in request.get("RequestItems", {}).items():
                skip = {json.dumps(k, sort_keys=True) for k in unprocessed.get(table, {}).get("Keys", [])}
                keys = [k for k in spec.get("Keys", []) if json.dumps(k, sort_keys=True) not in skip]
                factor = STRONG if spec.get("ConsistentRead") else EVENTUAL
                sizes = [item_size(moto_local.stored_item(table, k)) for k in keys]
                cap.charge(table, rcu=get_items_rcu(sizes, factor))
                cap.items_read += len(parsed.get("Responses", {}).get(table, []))
        elif operation == "TransactGetItems":
            for entry in request.get("TransactItems", []):
                get = entry["Get"]
                item = moto_local.stored_item(get["TableName"], get["Key"])
                cap.charge(get["TableName"], rcu=get_items_rcu([item_size(item)], TRANSACTIONAL))
                cap.items_read += 1 if item else 0
        elif operation in ("Query", "Scan"):
            table = request["TableName"]
            items = parsed.get("Items", [])
            sizes = self._evaluated_sizes(table, request, items)
            scanned = int(parsed.get("ScannedCount", len(items)))
            if scanned > len(items) and sizes:  # filtered out: charged too; sized like the kept ones
                sizes += [sum(sizes) // len(sizes)] * (scanned - len(items))
            factor = STRONG if request.get("ConsistentRead") else EVENTUAL
            cap.charge(table, rcu=query_rcu(sizes, factor))
            cap.items_read += len(items)
        elif operation in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"):
            self._write_capacity(operation, request, parsed, old, error, cap)
        return cap

    def _evaluated_sizes(self, table: str, request: dict[str, Any], items: list[dict[str, Any]]) -> list[int]:
        """Sizes of the full items a Query/Scan read: projections and filters do not reduce the charge."""
        projected = bool(
            request.get("ProjectionExpression")
            or request.get("AttributesToGet")
            or request.get("Select") not in (None, "ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES")
        )
        if not projected:
            return [item_size(i) for i in items]
        hash_attr, _ = moto_local.key_attributes(table)
        hash_value = None
        if "IndexName" not in request:
            names = request.get("ExpressionAttributeNames", {})
            values = request.get("ExpressionAttributeValues", {})
            for name, placeholder in _EQUALITY.findall(request.get("KeyConditionExpression", "")):
                if names.get(name, name) == hash_attr and placeholder in values:
                    hash_value = values[placeholder]
        sizes = []
        for item in items:
            full = dict(item)
            if hash_value is not None:
                full.setdefault(hash_attr, hash_value)
            key = _key_of(table, full)
            stored = moto_local.stored_item(table, key) if key else None
            sizes.append(item_size(stored if stored is not None else item))
        return sizes

    def _write_capacity(
        self,
        operation: str,
        request: dict[str, Any],
        parsed: dict[str, Any],
        old: dict[tuple[str, str], dict[str, Any] | None],
        error: str | None,
        cap: Capacity,
    ) -> None:
        transactional = operation == "TransactWriteItems"
        factor = TRANSACTIONAL if transactional else 1.0
        failed = error is not None
        unprocessed = {
            (table, json.dumps(_request_key(table, r), sort_keys=True))
            for table, requests in parsed.get("UnprocessedItems", {}).items()
            for r in requests
        }
        for table, key, kind, new_item in _writes(operation, request):
            ref = (table, json.dumps(key, sort_keys=True))
            if ref in unprocessed:
                continue
            before = old.get(ref)
            if kind == "ConditionCheck":
                cap.charge(table, rcu=get_items_rcu([item_size(before)], TRANSACTIONAL))
                continue
            if failed:  # condition failed / transaction cancelled: the item's size is still charged
                cap.charge(table, wcu=write_units(item_size(before), factor))
                continue
            after: dict[str, Any] | None
            if kind == "Put":
                after = new_item
            elif kind == "Delete":
                after = None
            else:
                after = moto_local.stored_item(table, key)
            cap.charge(table, wcu=item_write_wcu(before, after, factor))
            index = index_write_wcu(self._indexes_of(table), before, after)
            cap.index_wcu += index
            cap.charge(table, wcu=index)
            cap.items_written += 1


def _request_of(params: Any) -> dict[str, Any]:
    if not isinstance(params, dict):
        return {}
    body = params.get("body")
    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8")
    if isinstance(body, str) and body.startswith("{"):
        try:
            loaded = json.loads(body)
        except ValueError:
            return {}
        return loaded if isinstance(loaded, dict) else {}
    return {}


def _note(operation: str, request: dict[str, Any]) -> str:
    if operation == "BatchWriteItem":
        kinds = {
            "put" if "PutRequest" in r else "delete"
            for requests in request.get("RequestItems", {}).values()
            for r in requests
        }
        return "+".join(sorted(kinds, reverse=True))
    if operation in ("SendMessageBatch", "SendMessage"):
        bodies = [e.get("MessageBody", "") for e in request.get("Entries", [])] or [
            request.get("MessageBody", "")
        ]
        payload = sum(len(str(b).encode()) for b in bodies)
        return str(max(1, -(-payload // 65536)))
    return ""


def _tables_of(operation: str, request: dict[str, Any]) -> tuple[str, ...]:
    if "TableName" in request:
        return (str(request["TableName"]),)
    if "RequestItems" in request:
        return tuple(sorted(request["RequestItems"]))
    if "TransactItems" in request:
        names = {next(iter(e.values())).get("TableName", "") for e in request["TransactItems"]}
        return tuple(sorted(names))
    if "QueueUrl" in request:
        return (str(request["QueueUrl"]).rsplit("/", 1)[-1],)
    return ()


def _request_key(table: str, write_request: dict[str, Any]) -> dict[str, Any] | None:
    if "PutRequest" in write_request:
        return _key_of(table, write_request["PutRequest"]["Item"])
    return write_request.get("DeleteRequest", {}).get("Key")


def _writes(operation: str, request: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], str, Any]]:
    """(table, key, kind, new item for a put) of every item a write request names."""
    if operation == "PutItem":
        table = request["TableName"]
        key = _key_of(table, request["Item"])
        if key:
            yield table, key, "Put", request["Item"]
    elif operation in ("UpdateItem", "DeleteItem"):
        yield request["TableName"], request["Key"], operation[:-4], None
    elif operation == "BatchWriteItem":
        for table, requests in request.get("RequestItems", {}).items():
            for r in requests:
                if "PutRequest" in r:
                    key = _key_of(table, r["PutRequest"]["Item"])
                    if key:
                        yield table, key, "Put", r["PutRequest"]["Item"]
                else:
                    yield table, r["DeleteRequest"]["Key"], "Delete", None
    elif operation == "TransactWriteItems":
        for entry in request.get("TransactItems", []):
            ((kind, op),) = entry.items()
            table = op["TableName"]
            if kind == "Put":
                key = _key_of(table, op["Item"])
                if key:
                    yield table, key, "Put", op["Item"]
            else:
                yield table, op["Key"], kind, None


def _written_keys(operation: str, request: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    try:
        for table, key, _, _ in _writes(operation, request):
            yield table, key
    except (KeyError, ValueError):
        return


_patched = False


def _patch_executor() -> None:
    """Carry the logical clock into pool tasks and back out through ``Future.result``."""
    global _patched
    if _patched:
        return
    original_submit = ThreadPoolExecutor.submit
    original_result = Future.result

    def submit(self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        parent = _clock()
        parent_tag = getattr(_local, "tag", "")
        parent_suppressed = getattr(_local, "suppressed", False)
        cell: dict[str, int] = {}

        def run(*a: Any, **k: Any) -> Any:
            saved = (_clock(), getattr(_local, "tag", ""), getattr(_local, "suppressed", False))
            _set_clock(parent)
            _local.tag, _local.suppressed = parent_tag, parent_suppressed
            try:
                return fn(*a, **k)
            finally:
                cell["clock"] = _clock()
                _set_clock(saved[0])
                _local.tag, _local.suppressed = saved[1], saved[2]

        future = original_submit(self, run, *args, **kwargs)
        future._bench_clock = cell  # type: ignore[attr-defined]
        return future

    def result(self: Future[Any], timeout: float | None = None) -> Any:
        try:
            return original_result(self, timeout)
        finally:
            cell = getattr(self, "_bench_clock", None)
            if cell and "clock" in cell:
                _set_clock(max(_clock(), cell["clock"]))

    ThreadPoolExecutor.submit = submit  # type: ignore[method-assign,assignment]
    Future.result = result  # type: ignore[method-assign]
    _patched = True


RECORDER = Recorder()
