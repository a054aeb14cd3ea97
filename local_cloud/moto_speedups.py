"""Changes to moto's DynamoDB speed, none to its behaviour (the local cloud's moto process and the bench).

moto's cost per call grows with table size in two places, which made a local session slower with every
test and a 10,000-follower fan-out take minutes, and with response size in a third:

- ``TransactWriteItems`` deep-copies every table it touches (items and stream records) before each
  transaction, to roll back on cancellation: O(table size) per transaction, ~0.3 s at 1,000 items.
  Here only the items the transaction names and the streams' lengths are saved, and restored on
  cancellation: the same outcome (tests/local_cloud/test_moto_speedups.py checks it).
- ``Query`` sorts every item of the table (comparing keys as moto's own types, ~20 us a comparison) to
  find one partition, then sorts the partition the same way. Here it is handed only that partition's
  items (for an index: the items whose index partition key is equal, found with a plain comparison),
  already in order by plain values, which moto then checks, sorts, pages and limits exactly as before;
  its page of results is copied item by item rather than value by value.
- Responses go through moto's generic, shape-driven serializer (~0.5 ms per returned item). Item
  operations' results are already DynamoDB JSON, so they are written with ``json.dumps`` (binary values
  base64-encoded, as the serializer does); anything else, or anything ``json`` cannot write, still
  goes through moto's serializer. Requests likewise: item operations' bodies without binary values are
  read with ``json.loads`` instead of moto's shape-driven parser.

And per item or per request, where moto does general work for a common case (measured with profilers
on the 10,000-follower fan-out): an item's size is checked once instead of once per attribute; string
and number values answer ``size`` and ``cast_value`` before moto's chain of type tests; top-level
projections over strings and numbers skip a full (de)serialisation round trip; responses made of
plain dicts and lists skip moto's per-value questions; and the list of moto's backends (a directory
listing) and of a handler's methods (``inspect``) are computed once, not on every request.

All rely on moto's requests being serialised: the local cloud's request gate and the bench's lock
ensure it. No library offers this (it is about moto's internals), hence the hand-written patch; it is
checked against moto's own results by the tests, and ``uninstall`` restores moto exactly.

Containment, because every patch replaces a private part of moto:

- **Version guard.** ``install`` refuses (``UnsupportedMotoError``) any moto but
  ``SUPPORTED_MOTO_VERSION``, the version the equivalence tests (tests/local_cloud/test_moto_speedups.py)
  last passed on and requirements-dev.txt pins. Before patching it also checks that every moto symbol
  it replaces or relies on still exists with the parameters the patches expect, so a refactor inside
  moto fails at start rather than misbehaving later. To move to another moto: set the constant to it,
  run those tests, and keep the change only if they pass.
- **Switch.** ``LOCAL_CLOUD_MOTO_SPEEDUPS=off`` (default ``on``) makes ``install`` patch nothing, so the
  local cloud's moto process and the bench run vanilla moto: to tell a speed-up's bug from the
  service's, or to run on a moto the guard refuses. ``make test-vanilla`` runs the integration,
  end-to-end and local-cloud tests that way. ``enabled`` is the one place the variable is read.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import functools
import importlib
import inspect
import json
import os
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from local_cloud.moto_patching import Patches, UnsupportedMotoError, moto_version, resolve, symbol_problems

SUPPORTED_MOTO_VERSION = "5.2.5"
"""The one moto version the speed-ups install on: the one their equivalence tests passed on."""

SWITCH = "LOCAL_CLOUD_MOTO_SPEEDUPS"
"""Environment variable: ``on`` (default) or ``off`` (vanilla moto, nothing patched)."""

_REPLACED: tuple[tuple[str, str, tuple[str, ...] | None], ...] = (
    # (module, attribute, the parameters the replacement assumes; None: not a function)
    ("moto.dynamodb.models", "DynamoDBBackend.transact_write_items", ("self", "transact_items")),
    (
        "moto.dynamodb.models.table",
        "Table.query",
        (
            "self",
            "hash_key",
            "range_comparison",
            "range_objs",
            "limit",
            "exclusive_start_key",
            "scan_index_forward",
            "projection_expressions",
            "index_name",
            "consistent_read",
            "filter_expression",
            "hash_key_conditions",
            "range_key_conditions",
            "filter_kwargs",
        ),
    ),
    ("moto.core.responses", "ActionResult.execute_result", ("self", "context")),
    ("moto.dynamodb.models.dynamo_type", "Item.__init__", ("self", "hash_key", "range_key", "attrs")),
    ("moto.dynamodb.responses", "DynamoHandler.parse_parameters", ("self", "request")),
    ("moto.backends", "list_of_moto_modules", ()),
    ("moto.core.responses", "method_names_from_class", ("clazz",)),
    ("moto.dynamodb.models.dynamo_type", "DynamoType.size", ("self",)),
    ("moto.dynamodb.models.dynamo_type", "DynamoType.cast_value", None),
    ("moto.dynamodb.models.dynamo_type", "Item.project", ("self", "projection_expressions")),
    ("moto.dynamodb.models.utilities", "dynamo_to_dict", ("obj",)),
    ("moto.dynamodb.responses", "dynamo_to_dict", ("obj",)),
)
"""Every moto symbol ``install`` replaces."""

_RELIED_ON: tuple[tuple[str, str], ...] = (
    # Swapped for the length of one call: moto must still copy through its ``copy`` module global.
    ("moto.dynamodb.models", "copy"),
    ("moto.dynamodb.models.table", "copy"),
    # Read or called by the replacements.
    ("moto.dynamodb.models.table", "Table.all_items"),
    ("moto.dynamodb.models.table", "Table.all_indexes"),
    ("moto.dynamodb.models.table", "Table.get_item"),
    ("moto.dynamodb.models.dynamo_type", "DynamoType"),
    ("moto.dynamodb.models.dynamo_type", "LimitedSizeDict"),
    ("moto.dynamodb.models.utilities", "bytesize"),
    ("moto.dynamodb.exceptions", "ItemSizeTooLarge"),
    ("moto.dynamodb.responses", "DynamoHandler._get_action"),
)
"""moto symbols the patches read or call without replacing them."""

_patches = Patches()
_replace = _patches.replace


def enabled() -> bool:
    """Whether the speed-ups are switched on (``LOCAL_CLOUD_MOTO_SPEEDUPS``, default ``on``)."""
    value = os.environ.get(SWITCH, "on").strip().lower() or "on"
    if value not in ("on", "off"):
        raise ValueError(f"{SWITCH}={value!r}: expected 'on' (the default) or 'off' (vanilla moto)")
    return value == "on"


def check_supported() -> None:
    """Raise ``UnsupportedMotoError`` unless the installed moto is the one the speed-ups were tested
    on and has every symbol they patch or rely on, with the parameters they expect."""
    found = moto_version()
    if found != SUPPORTED_MOTO_VERSION:
        raise UnsupportedMotoError(
            f"local_cloud.moto_speedups supports moto {SUPPORTED_MOTO_VERSION} only, found moto {found}: "
            f"its patches replace moto internals that may have changed. Either run on vanilla moto "
            f"({SWITCH}=off), or set SUPPORTED_MOTO_VERSION = {found!r} in local_cloud/moto_speedups.py "
            f"and run tests/local_cloud/test_moto_speedups.py, keeping the change only if they pass."
        )
    problems = symbol_problems([*_REPLACED, *((module, path, None) for module, path in _RELIED_ON)])
    for module, path in _RELIED_ON:
        # A missing global is reported above already; one that is something else is reported here.
        if path == "copy" and vars(importlib.import_module(module)).get("copy", copy) is not copy:
            problems.append(f"{module}.copy is not the copy module")
    if problems:
        raise UnsupportedMotoError(
            f"moto {found} does not have what local_cloud.moto_speedups patches: {'; '.join(problems)}. "
            f"Run with {SWITCH}=off, or update the patches and run tests/local_cloud/test_moto_speedups.py."
        )


def _moto_own(value: Any) -> bool:
    """Whether ``value`` (a function or property) is moto's code."""
    import moto

    function = value.fget if isinstance(value, property) else value
    code = getattr(function, "__code__", None)  # functools.cache's wrapper has none: not moto's
    return code is not None and Path(code.co_filename).is_relative_to(Path(moto.__file__).parent)


def patched_symbols() -> list[str]:
    """The symbols the speed-ups replace that are not moto's own code right now.

    Judged from where each object's code lives, not from this module's records of what it did: an
    independent check that the switch off (or ``uninstall``) leaves moto as moto ships it.
    """
    return [f"{module}.{path}" for module, path, _ in _REPLACED if not _moto_own(resolve(module, path))]


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

    _replace(DynamoDBBackend, "transact_write_items", transact_write_items)


class _ShallowResultCopy:
    """Stands in for the ``copy`` module inside moto's Table.query: the page of results is copied
    item by item (new Item, new attribute dict) instead of value by value. Nothing after the copy
    changes a value in place (index and expression projections build new items, filters and the
    response only read), so sharing the values is safe, and it was a third of a 5,000-item Query."""

    @staticmethod
    def deepcopy(obj: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.dynamo_type import Item, LimitedSizeDict

        if isinstance(obj, list) and all(type(i) is Item for i in obj):
            copies: list[Any] = []
            for item in obj:
                twin: Any = Item.__new__(Item)
                twin.hash_key, twin.range_key = item.hash_key, item.range_key
                attrs = LimitedSizeDict.__new__(LimitedSizeDict)
                dict.update(attrs, item.attrs)
                twin.attrs = attrs
                copies.append(twin)
            return copies
        return copy.deepcopy(obj, memo)

    copy = staticmethod(copy.copy)


def _install_partition_query() -> None:
    import moto.dynamodb.models.table as table_module
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
        table_module.copy = _ShallowResultCopy  # type: ignore[assignment]
        try:
            return original(self, hash_key, *args, **kwargs)
        finally:
            table_module.copy = copy  # type: ignore[assignment]
            del self.all_items

    _replace(Table, "query", query)


_ITEM_SIZE_LIMIT = 405000
"""moto's item size limit (LimitedSizeDict): DynamoDB's 400 KB, measured between 409 and 410 KB."""

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

    _replace(ActionResult, "execute_result", execute_result)


def _install_single_size_check() -> None:
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    def __init__(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        # moto's LimitedSizeDict re-sums every attribute on each insert (quadratic in the attributes);
        # sizes only add up, so checking the total once raises exactly when moto's last insert would.
        self.hash_key = hash_key
        self.range_key = range_key
        built = LimitedSizeDict()
        total = 0
        for key, value in attrs.items():
            typed = DynamoType(value)
            total += bytesize(key) + typed.size()
            dict.__setitem__(built, key, typed)
        if total > _ITEM_SIZE_LIMIT:
            raise ItemSizeTooLarge
        self.attrs = built

    _replace(Item, "__init__", __init__)


def _install_plain_json_requests() -> None:
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.parse_parameters

    def parse_parameters(self: Any, request: Any) -> None:
        # Item operations' requests are DynamoDB JSON already; moto's shape-driven parser only turns
        # binary values (B, BS) from base64 into bytes. Without any, json.loads gives the same dict.
        if self._get_action() in _ITEM_OPERATIONS:
            data = request.data
            text = data.decode("utf-8") if isinstance(data, bytes) else data
            if text and '"B"' not in text and '"BS"' not in text:
                with contextlib.suppress(ValueError):
                    parsed = json.loads(text)
                    if isinstance(parsed, dict):
                        self.params = parsed
                        return
        original(self, request)

    _replace(DynamoHandler, "parse_parameters", parse_parameters)


def _install_scalar_fast_paths() -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    # Sizes and comparisons of every item a Query or BatchGetItem touches go through these two, which
    # test every type in turn (set? list? map? ...). Strings and numbers, nearly every value, are
    # answered first here with moto's own formulas; anything else goes to moto's code.
    original_size = DynamoType.size
    original_cast: Any = DynamoType.cast_value

    def size(self: Any) -> int:
        kind = self.type
        if kind == "S" and isinstance(self.value, str):
            return len(self.value.encode("utf-8"))
        if kind == "N":
            return len(str(self.value))
        return int(original_size(self))

    def cast_value(self: Any) -> Any:
        kind = self.type
        if kind == "S":
            return self.value
        if kind == "N":
            return Decimal(self.value)
        return original_cast.fget(self)

    _replace(DynamoType, "size", size)
    _replace(DynamoType, "cast_value", property(cast_value))


def _install_top_level_projection() -> None:
    from boto3.dynamodb.types import DYNAMODB_CONTEXT
    from moto.dynamodb.models.dynamo_type import Item

    original = Item.project

    def project(self: Any, projection_expressions: list[list[str]]) -> Any:
        # moto projects by converting the whole item to Python values and back with boto3's
        # (de)serializer. For top-level names over strings and numbers that round trip is known:
        # strings unchanged, numbers through DYNAMODB_CONTEXT twice (deserialise, serialise).
        names: list[str] = []
        for expression in projection_expressions:
            if len(expression) != 1 or "[" in expression[0]:
                return original(self, projection_expressions)
            names.append(expression[0])
        attrs: dict[str, Any] = {}
        for name in names:
            value = self.attrs.get(name)
            if value is None or name in attrs:
                continue
            if value.type == "S" and isinstance(value.value, str):
                attrs[name] = {"S": value.value}
            elif value.type == "N":
                number = DYNAMODB_CONTEXT.create_decimal(DYNAMODB_CONTEXT.create_decimal(value.value))
                attrs[name] = {"N": str(number)}
            else:
                return original(self, projection_expressions)
        return Item(hash_key=self.hash_key, range_key=self.range_key, attrs=attrs)

    _replace(Item, "project", project)


def _install_plain_result_walk() -> None:
    import moto.dynamodb.models.utilities as utilities
    import moto.dynamodb.responses as responses

    original = utilities.dynamo_to_dict

    def dynamo_to_dict(obj: Any) -> Any:
        # moto walks every response through this, asking each value five questions (datetime?
        # DynamoType? has to_json? ...). Plain dicts, lists and scalars, what item responses are made
        # of, get the same answer with one type check; anything else goes to moto's code.
        kind = type(obj)
        if kind is dict:
            return {k: dynamo_to_dict(v) for k, v in obj.items()}
        if kind is list:
            return [dynamo_to_dict(v) for v in obj]
        if kind is str or kind is int or kind is bool or obj is None:
            return obj
        return original(obj)

    for module in (utilities, responses):
        _replace(module, "dynamo_to_dict", dynamo_to_dict)


def _install_request_dispatch_caches() -> None:
    import moto.backends as backends
    import moto.core.responses as core_responses

    # Every request asked the file system which backends moto has (a listdir and ~150 stats, twice)
    # and asked ``inspect`` which methods its response class has. Neither changes while running.
    modules = tuple(backends.list_of_moto_modules())
    _replace(backends, "list_of_moto_modules", lambda: iter(modules))
    _replace(
        core_responses, "method_names_from_class", functools.cache(core_responses.method_names_from_class)
    )


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


def install() -> bool:
    """Apply every speed-up unless ``LOCAL_CLOUD_MOTO_SPEEDUPS=off`` (idempotent); return whether they
    are in place. Raises ``UnsupportedMotoError``, before patching anything, on a moto they were not
    checked against."""
    with _patches.lock:
        if _patches or not enabled():
            return bool(_patches)
        check_supported()
        try:
            _install_cheap_rollback()
            _install_partition_query()
            _install_plain_json_responses()
            _install_single_size_check()
            _install_plain_json_requests()
            _install_request_dispatch_caches()
            _install_scalar_fast_paths()
            _install_top_level_projection()
            _install_plain_result_walk()
        except BaseException:
            _patches.restore_all()
            raise
        return True


def installed() -> bool:
    return bool(_patches)


def uninstall() -> None:
    """Restore moto's own methods."""
    with _patches.lock:
        _patches.restore_all()
